package jsonscan_test

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/jsonscan"
)

// valid reports whether s reads body as one JSON value and nothing after.
func valid(body []byte) bool {
	s := jsonscan.New(body)
	return s.Skip() == nil && s.AtEnd()
}

var bodies = []string{
	`{}`, `[]`, `null`, `true`, `false`, `0`, `-0.5e+3`, `"a\u00e9\ud83d\ude00\n"`,
	`{"a":[1,2,{"b":null}],"c":"d"}`, ` [ 1 , "x" ] `,
	``, `{`, `[1,]`, `{"a":1,}`, `01`, `1.`, `.5`, `+1`, `"\x"`, "\"a\tb\"", `"\ud800"`, `nul`, `tru`,
	`{"a" 1}`, `[1 2]`, `{1:2}`, `"abc`, `[`, `{"a":`, `1e`, `-`, `"\u12"`, `[1]x`,
}

func TestValidAgreesWithEncodingJSON(t *testing.T) {
	for _, b := range bodies {
		require.Equal(t, json.Valid([]byte(b)), valid([]byte(b)), "%q", b)
	}
	deep := strings.Repeat("[", jsonscan.MaxDepth+2) + strings.Repeat("]", jsonscan.MaxDepth+2)
	require.False(t, valid([]byte(deep)), "nesting is bounded")
}

func TestStringDecodesAsEncodingJSON(t *testing.T) {
	for _, b := range []string{`"plain"`, `"a\"b\\c\/d\b\f\n\r\t"`, `"\u00e9\ud83d\ude00"`, `"\ud800x"`, `"\udc00\ud800"`, `""`} {
		var want string
		require.NoError(t, json.Unmarshal([]byte(b), &want))
		got, err := jsonscan.New([]byte(b)).String()
		require.NoError(t, err, b)
		require.Equal(t, want, string(got), b)
	}
}

func TestErrorsSayWhere(t *testing.T) {
	s := jsonscan.New([]byte(`{"a": [1, 2 3]}`))
	err := s.Skip()
	var se *jsonscan.SyntaxError
	require.True(t, errors.As(err, &se), "%v", err)
	require.Equal(t, 12, se.Offset)
	require.Equal(t, `malformed JSON at byte 12: want ',' or ']' after an array element, found '3'`, err.Error())

	err = jsonscan.New([]byte(`{"a": [1, 2`)).Skip()
	require.True(t, errors.As(err, &se))
	require.True(t, se.EOF)
	require.Contains(t, err.Error(), "cut short")
}

func TestMemberAndElementWalkAsObjectAndArray(t *testing.T) {
	body := []byte(`{"a": [1, "x", null], "b": {}, "c": []}`)
	var keys []string
	var elems int
	s := jsonscan.New(body)
	first := true
	for {
		key, more, err := s.Member(&first)
		require.NoError(t, err)
		if !more {
			break
		}
		keys = append(keys, string(key))
		if s.Peek() != '[' {
			require.NoError(t, s.Skip())
			continue
		}
		efirst := true
		for {
			more, err := s.Element(&efirst)
			require.NoError(t, err)
			if !more {
				break
			}
			elems++
			require.NoError(t, s.Skip())
		}
	}
	require.True(t, s.AtEnd())
	require.Equal(t, []string{"a", "b", "c"}, keys)
	require.Equal(t, 3, elems)
}

func TestParseFloatEqualsStrconv(t *testing.T) {
	for _, b := range []string{"0", "-0", "1", "0.1", "123456789012345", "1234567890123456789", "1.5e3", "-2.25E-7", "0.000001", "9007199254740993"} {
		want, err := strconv.ParseFloat(b, 64)
		require.NoError(t, err)
		got, err := jsonscan.ParseFloat([]byte(b))
		require.NoError(t, err)
		require.Equal(t, math.Float64bits(want), math.Float64bits(got), b)
	}
	_, err := jsonscan.ParseFloat([]byte("1e999"))
	require.ErrorIs(t, err, jsonscan.ErrRange)
	for _, b := range []string{"", "01", "1.", "+1", "NaN", "0x10", "1e"} {
		_, err := jsonscan.ParseFloat([]byte(b))
		require.ErrorIs(t, err, jsonscan.ErrNotNumber, b)
	}
}

// FuzzScanner: the scanner accepts exactly what encoding/json accepts, its
// strings decode as encoding/json decodes them, and its numbers as strconv.
func FuzzScanner(f *testing.F) {
	for _, b := range bodies {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if valid(body) != json.Valid(body) {
			t.Fatalf("scanner says %v, encoding/json %v, for %q", valid(body), json.Valid(body), body)
		}
		if !json.Valid(body) {
			return
		}
		var v any
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.UseNumber()
		require.NoError(t, dec.Decode(&v))
		switch want := v.(type) {
		case string:
			got, err := jsonscan.New(body).String()
			require.NoError(t, err)
			if !utf8.Valid(got) {
				return // kept as written, not replaced by U+FFFD: callers check text
			}
			require.Equal(t, want, string(got))
		case json.Number:
			tok, err := jsonscan.New(body).Number()
			require.NoError(t, err)
			wf, werr := strconv.ParseFloat(string(want), 64)
			gf, gerr := jsonscan.ParseFloat(tok)
			if werr != nil || math.IsInf(wf, 0) {
				require.Error(t, gerr)
				return
			}
			require.NoError(t, gerr)
			require.Equal(t, math.Float64bits(wf), math.Float64bits(gf))
		}
	})
}
