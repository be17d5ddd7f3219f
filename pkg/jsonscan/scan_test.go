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
	`-0`, `1E5`, `"é"`, "\"\xff\"", "\"a\x01\"", "0\x00", "\x00", `"\ud83d\ude00\ud800\u0041"`, `{"a":tru}`, `[1.]`,
}

func TestValidAgreesWithEncodingJSON(t *testing.T) {
	for _, b := range bodies {
		require.Equal(t, json.Valid([]byte(b)), valid([]byte(b)), "%q", b)
	}
	nested := func(n int, in string) []byte {
		return []byte(strings.Repeat("[", n) + in + strings.Repeat("]", n))
	}
	for _, n := range []int{jsonscan.MaxDepth - 1, jsonscan.MaxDepth, jsonscan.MaxDepth + 1, jsonscan.MaxDepth + 2} {
		for _, in := range []string{"", "1", "{}"} {
			b := nested(n, in)
			require.Equal(t, json.Valid(b), valid(b), "%d arrays around %q", n, in)
		}
	}
}

func TestNestingBound(t *testing.T) {
	s := jsonscan.New([]byte(`[[[1]]]`))
	s.SetMaxDepth(3)
	require.NoError(t, s.Skip())
	s.Reset([]byte(`[[[[1]]]]`))
	require.ErrorContains(t, s.Skip(), "values nested deeper than 3", "the bound is kept by Reset")
	s.Reset([]byte(`[[1]]`))
	require.NoError(t, s.SkipIn(1), "two arrays inside one the caller opened")
	s.Reset([]byte(`[[1]]`))
	require.ErrorContains(t, s.SkipIn(2), "nested deeper than 3")
	s.Reset([]byte(`[[1]]`))
	raw, err := s.RawIn(1)
	require.NoError(t, err)
	require.Equal(t, `[[1]]`, string(raw))
	s.SetMaxDepth(0)
	s.Reset([]byte(`[[1]]`))
	require.NoError(t, s.SkipIn(jsonscan.MaxDepth-2))
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

func TestTextDecodesAsEncodingJSON(t *testing.T) {
	for _, b := range []string{`"plain"`, "\"caf\xc3\xa9\"", "\"a\xffb\xed\xa0\x80c\"", "\"\\n\xc3\"", `"\ud800"`} {
		var want string
		require.NoError(t, json.Unmarshal([]byte(b), &want))
		got, err := jsonscan.New([]byte(b)).Text()
		require.NoError(t, err, b)
		require.Equal(t, want, string(got), "%q", b)
	}
	body := []byte(`"plain"`)
	got, err := jsonscan.New(body).Text()
	require.NoError(t, err)
	require.Same(t, &body[1], &got[0], "plain text aliases the body")
}

func TestWhiteSpace(t *testing.T) {
	for _, b := range []string{"1", "        1", "         \n\t        \r 1", "                 "} {
		s := jsonscan.New([]byte(b))
		s.WS()
		require.Equal(t, strings.IndexByte(b, '1') < 0, s.AtEnd(), "%q", b)
		if !s.AtEnd() {
			require.Equal(t, strings.IndexByte(b, '1'), s.Pos(), "%q", b)
		}
	}
}

// TestErrorOffsets: an error is at the byte that goes wrong (an escape's
// at its backslash), or at the end of a body cut short; Start is where the
// token the error is in begins.
func TestErrorOffsets(t *testing.T) {
	for _, tc := range []struct {
		body          string
		offset, start int
		eof           bool
		msg           string
	}{
		{body: `["ab\x"]`, offset: 4, start: 1, msg: `invalid escape \x in a string`},
		{body: `["ab\u12g4"]`, offset: 4, start: 1, msg: `invalid \u escape in a string`},
		{body: "[\"ab\\\n\"]", offset: 4, start: 1, msg: `invalid escape: byte 0x0a after a backslash in a string`},
		{body: `["ab\u12`, offset: 8, start: 1, eof: true},
		{body: "[\"a\x01\"]", offset: 3, start: 1, msg: "control character 0x01 in a string"},
		{body: `[ "abc`, offset: 6, start: 2, eof: true},
		{body: `[1, -x]`, offset: 5, start: 4, msg: `malformed number, found 'x'`},
		{body: `[1, 2.`, offset: 6, start: 4, eof: true},
		{body: `[1, nul`, offset: 7, start: 4, eof: true},
		{body: `[1, nulx]`, offset: 4, start: 4, msg: `want null, found 'n'`},
		{body: `[1 2]`, offset: 3, start: 3, msg: `want ',' or ']' after an array element, found '2'`},
		{body: `{"a" 1}`, offset: 5, start: 5, msg: `want ':', found '1'`},
		{body: `[1,`, offset: 3, start: 3, eof: true},
	} {
		err := jsonscan.New([]byte(tc.body)).Skip()
		var se *jsonscan.SyntaxError
		require.True(t, errors.As(err, &se), "%q: %v", tc.body, err)
		require.Equal(t, jsonscan.SyntaxError{Offset: tc.offset, Start: tc.start, EOF: tc.eof, Msg: tc.msg}, *se, "%q", tc.body)
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
	for _, b := range []string{"0", "-0", "1", "0.1", "0.3", "123456789012345", "1234567890123456", "1234567890123456789",
		"12345678901234567890", "1.5e3", "-2.25E-7", "0.000001", "9007199254740993", "0.015", "5.54080975848282",
		"2817414584665.11", "77721714917.8506", "4954806619995.19", "1e-05", "-3.2", "1E+22", "999999999999999.9",
		"0.000000000000000000000001", "1.7976931348623157e308", "4.9e-324", "0.00000000000000000000000000000000123"} {
		want, err := strconv.ParseFloat(b, 64)
		require.NoError(t, err)
		got, err := jsonscan.ParseFloat([]byte(b))
		require.NoError(t, err)
		require.Equal(t, math.Float64bits(want), math.Float64bits(got), b)
		got, err = jsonscan.New([]byte(b)).Float()
		require.NoError(t, err)
		require.Equal(t, math.Float64bits(want), math.Float64bits(got), b)
	}
	for _, b := range []string{"1e999", "-1e999"} {
		_, err := jsonscan.ParseFloat([]byte(b))
		require.ErrorIs(t, err, jsonscan.ErrRange)
		s := jsonscan.New([]byte(b))
		_, err = s.Float()
		require.ErrorIs(t, err, jsonscan.ErrRange)
		require.Equal(t, len(b), s.Pos(), "past the number")
	}
	for _, b := range []string{"", "01", "1.", "+1", "NaN", "Inf", "0x10", "1e", "n/a", "1,5", " 1"} {
		_, err := jsonscan.ParseFloat([]byte(b))
		require.ErrorIs(t, err, jsonscan.ErrNotNumber, b)
	}
	_, err := jsonscan.New([]byte("-x")).Float()
	var se *jsonscan.SyntaxError
	require.True(t, errors.As(err, &se))
	require.Equal(t, 1, se.Offset)
}

// FuzzParseFloat checks ParseFloat against strconv on any text.
func FuzzParseFloat(f *testing.F) {
	for _, s := range []string{"0", "5.54080975848282", "-0.0001", "123456789012345.6", "1e5", "01", "1e999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := jsonscan.ParseFloat([]byte(s))
		if n, ok := jsonscan.NumberLen([]byte(s)); !ok || n != len(s) {
			require.ErrorIs(t, err, jsonscan.ErrNotNumber)
			return
		}
		want, werr := strconv.ParseFloat(s, 64)
		if werr != nil {
			require.ErrorIs(t, err, jsonscan.ErrRange, s)
			return
		}
		require.NoError(t, err, s)
		require.Equal(t, math.Float64bits(want), math.Float64bits(got), s)
	})
}

// FuzzScanner: the scanner accepts exactly what encoding/json accepts, its
// strings decode as encoding/json decodes them (Text always, String where
// the text is UTF-8), and its numbers as strconv reads them; an error is
// within the body.
func FuzzScanner(f *testing.F) {
	for _, b := range bodies {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if valid(body) != json.Valid(body) {
			t.Fatalf("scanner says %v, encoding/json %v, for %q", valid(body), json.Valid(body), body)
		}
		if !json.Valid(body) {
			var se *jsonscan.SyntaxError
			if err := jsonscan.New(body).Skip(); errors.As(err, &se) {
				require.True(t, se.Start >= 0 && se.Start <= se.Offset && se.Offset <= len(body), "%+v", se)
				require.Equal(t, se.EOF, se.Offset == len(body), "%+v", se)
			}
			return
		}
		var v any
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.UseNumber()
		require.NoError(t, dec.Decode(&v))
		switch want := v.(type) {
		case string:
			text, err := jsonscan.New(body).Text()
			require.NoError(t, err)
			require.Equal(t, want, string(text))
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
			ff, ferr := jsonscan.New(body).Float()
			require.NoError(t, ferr)
			require.Equal(t, math.Float64bits(wf), math.Float64bits(ff))
		}
	})
}

// rawAgrees checks that RawString reads body's first value as Text does:
// the same error or none, the same position after, and the same bytes
// exactly when it says they are verbatim (no escapes, UTF-8).
func rawAgrees(t *testing.T, body []byte) {
	t.Helper()
	s, r := jsonscan.New(body), jsonscan.New(body)
	text, serr := s.Text()
	raw, verbatim, rerr := r.RawString()
	require.Equal(t, serr, rerr, "%q", body)
	require.Equal(t, s.Pos(), r.Pos(), "%q", body)
	if rerr != nil {
		return
	}
	require.Equal(t, !strings.Contains(string(raw), `\`) && utf8.Valid(raw), verbatim, "%q", body)
	if verbatim {
		require.Equal(t, string(text), string(raw), "%q", body)
	}
}

// membersAgree checks that MemberRaw steps through body's object as Member
// does, its values skipped: the same keys (as written, where they are
// verbatim), the same error or none, at the same place.
func membersAgree(t *testing.T, body []byte) {
	t.Helper()
	s, r := jsonscan.New(body), jsonscan.New(body)
	sfirst, rfirst := true, true
	for {
		key, more, serr := s.Member(&sfirst)
		raw, verbatim, rmore, rerr := r.MemberRaw(&rfirst)
		require.Equal(t, serr, rerr, "%q", body)
		require.Equal(t, more, rmore, "%q", body)
		require.Equal(t, s.Pos(), r.Pos(), "%q", body)
		if !more || serr != nil {
			return
		}
		if verbatim {
			require.Equal(t, string(key), string(raw), "%q", body)
		}
		serr, rerr = s.Skip(), r.Skip()
		require.Equal(t, serr, rerr, "%q", body)
		if serr != nil {
			return
		}
	}
}

var rawBodies = []string{
	`"plain"`, `""`, ` "é\ud83d\ude00"`, `"é"`, "\"caf\xc3\"", "{\"k\xff\":1}", `"a\"b\\c\/d\b\f\n\r\t"`, `"\ud800\u12"`, `"\u00E9x"`, "\"a\xffb\"",
	`"abc`, `"ab\`, `"ab\q"`, `"\u12g4"`, `"\u12`, "\"a\x01\"", `x`, ``,
	`{}`, ` { "a" : 1 , "b\n" : [ "x" ] , "c" : {} } `, `{"a\u0062":null,"":""}`,
	`{`, `{"a"`, `{"a" 1}`, `{"a":1,}`, `{"a":1 "b":2}`, `{1:2}`, `{"a\q":1}`, `[]`, `{"a":[1,}`,
}

func TestRawStringAndMemberRawReadAsStringAndMember(t *testing.T) {
	for _, b := range append(rawBodies, bodies...) {
		rawAgrees(t, []byte(b))
		membersAgree(t, []byte(b))
	}
	body := []byte(`{"k\n\u00e9":"v\t\ud83d\ude00","plain":"x"}`)
	allocs := testing.AllocsPerRun(100, func() {
		s := jsonscan.New(body)
		for first := true; ; {
			_, _, more, err := s.MemberRaw(&first)
			if err != nil || !more {
				break
			}
			if _, _, err := s.RawString(); err != nil {
				break
			}
		}
	})
	require.Zero(t, allocs, "escaped keys and strings, read raw, allocate nothing")
}

// FuzzRaw: RawString reads any body as String does, and MemberRaw steps
// through it as Member does.
func FuzzRaw(f *testing.F) {
	for _, b := range append(rawBodies, bodies...) {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		rawAgrees(t, body)
		membersAgree(t, body)
	})
}
