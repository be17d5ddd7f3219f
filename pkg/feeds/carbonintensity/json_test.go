package carbonintensity

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/jsonscan"
)

func TestNumbers(t *testing.T) {
	for _, tok := range []string{"0", "-0", "183", "6.2", "33.6", "0.05", "98.5", "100", "1e3", "-2.5E-3",
		"123456789012345678", "0.1", "0.30000000000000004", "1.7976931348623157e308", "5e-324", "999999999999999.9"} {
		s := jsonscan.New([]byte(tok))
		got, err := number(s)
		require.NoError(t, err, tok)
		want, err := strconv.ParseFloat(tok, 64)
		require.NoError(t, err)
		if want == 0 {
			want = 0
		}
		require.Equal(t, want, got, tok)
		require.Equal(t, len(tok), s.Pos(), tok)
	}
	for tok, want := range map[string]valueError{
		"1e999":  {offset: 0, value: []byte("1e999"), reason: "is out of the range of a 64-bit float"},
		"1.":     {offset: 0, value: []byte("1."), reason: "the body ends inside a number; it was probably cut short"},
		"-":      {offset: 0, value: []byte("-"), reason: "the body ends inside a number; it was probably cut short"},
		"1.x":    {offset: 0, value: []byte("1.x"), reason: "is not a well-formed JSON number"},
		" -1ex]": {offset: 1, value: []byte("-1ex"), reason: "is not a well-formed JSON number"},
		`"x"`:    {offset: 0, value: []byte(`"x"`), reason: "is a string, not a number"},
		"":       {offset: 0, reason: "the body ends where a number was expected; it was probably cut short"},
	} {
		s := jsonscan.New([]byte(tok))
		_, err := number(s)
		ve := asValueError(s.Data(), err)
		require.NotNil(t, ve, "%q: %v", tok, err)
		require.Equal(t, want, *ve, tok)
	}
	s := jsonscan.New([]byte("01"))
	v, err := number(s) // reads 0; the 1 is left for the caller to refuse
	require.NoError(t, err)
	require.Zero(t, v)
	require.Equal(t, 1, s.Pos())
}

// TestSyntaxErrorsArePlaced: a malformed literal is placed at its start, as
// a malformed number is; other errors where the body goes wrong.
func TestSyntaxErrorsArePlaced(t *testing.T) {
	for body, offset := range map[string]int{
		`[1, nul`:     4,
		`[1, nulx]`:   4,
		`[1, 2.x]`:    4,
		`["ab\x"]`:    4,
		"[\"a\x01\"]": 3,
		`["abc`:       5,
		`[1 2]`:       3,
		`[1,]`:        3,
	} {
		s := jsonscan.New([]byte(body))
		err := s.Skip()
		ve := asValueError(s.Data(), err)
		require.NotNil(t, ve, "%q: %v", body, err)
		require.Equal(t, offset, ve.offset, "%q: %v", body, err)
	}
	s := jsonscan.New([]byte(`[1,]`))
	first := true
	more, err := element(s, &first)
	require.True(t, more)
	require.NoError(t, err)
	require.NoError(t, s.Skip())
	_, err = element(s, &first)
	require.ErrorContains(t, err, "want a value after ','")
}

// FuzzNumber: number reads what strconv reads (-0 as 0), and an error is
// placed within the body.
func FuzzNumber(f *testing.F) {
	for _, s := range []string{"0", "-0", "0.5", "1e3", "-2.5E-3", "123456789012345678", "1e999", "01", "1.", "-", "1.x", `"x"`, "[1]", "tru"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := jsonscan.New(data)
		got, err := number(s)
		if err != nil {
			ve := asValueError(data, err)
			require.NotNil(t, ve, "%v", err)
			require.GreaterOrEqual(t, ve.offset, 0)
			require.LessOrEqual(t, ve.offset, len(data))
			return
		}
		tok := strings.TrimLeft(string(data[:s.Pos()]), " \t\r\n")
		require.True(t, json.Valid([]byte(tok)), "%q", tok)
		want, werr := strconv.ParseFloat(tok, 64)
		require.NoError(t, werr, "%q", tok)
		if want == 0 {
			want = 0 // -0 is read as 0
		}
		require.Equal(t, want, got, "%q", tok)
	})
}
