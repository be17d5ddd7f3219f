package carbonintensity

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var scanSeeds = []string{
	`{"data":[{"from":"2019-08-25T12:30Z","intensity":{"forecast":183,"actual":null}}]}`,
	`[1, -0, 0.5, 1e3, -2.5E-3, 123456789012345678, 0.000001, 1.7976931348623157e308]`,
	`"a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00\ud800x"`,
	"\"caf\xc3\xa9 \xff\"",
	`{"a":[true,false,null,{}],"b":[]}`,
	`{"a":1,}`, `[1,]`, `[01]`, `[1.]`, `[.5]`, `[1e]`, `[-]`, `{"a" 1}`, `{"a":tru}`, `"abc`, "\"a\x01\"",
	`1e999`, `  {"x" : [ 1 , 2 ] }  `,
}

// FuzzScanner checks the scanner against encoding/json: skip accepts
// exactly what json.Valid accepts (below the nesting limit), strings decode
// as json.Unmarshal decodes them, and numbers read as strconv.ParseFloat
// reads them.
func FuzzScanner(f *testing.F) {
	for _, s := range scanSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := scanner{data: data}
		err := s.skip(0)
		ok := err == nil && s.atEnd()
		var se *scanError
		deep := errors.As(err, &se) && strings.Contains(se.reason, "nested deeper")
		if !deep {
			require.Equal(t, json.Valid(data), ok, "skip and json.Valid disagree on %q (err %v)", data, err)
		}
		if err != nil {
			require.True(t, errors.As(err, &se), "skip error %v is a scanError", err)
			require.GreaterOrEqual(t, se.offset, 0)
			require.LessOrEqual(t, se.offset, len(data))
		}
		if !ok {
			return
		}
		s = scanner{data: data}
		switch c := s.peek(); {
		case c == '"':
			got, err := s.str()
			require.NoError(t, err)
			var want string
			require.NoError(t, json.Unmarshal(data, &want))
			require.Equal(t, want, string(got))
		case c == '-' || (c >= '0' && c <= '9'):
			got, err := s.number()
			want, perr := strconv.ParseFloat(strings.TrimSpace(string(data)), 64)
			if perr != nil {
				require.Error(t, err, "%q", data)
				return
			}
			require.NoError(t, err, "%q", data)
			if want == 0 {
				want = 0 // the scanner reads -0 as 0
			}
			require.Equal(t, want, got, "%q", data)
		}
	})
}

func TestScannerNumbers(t *testing.T) {
	for _, tok := range []string{"0", "-0", "183", "6.2", "33.6", "0.05", "98.5", "100", "1e3", "-2.5E-3",
		"123456789012345678", "0.1", "0.30000000000000004", "1.7976931348623157e308", "5e-324", "999999999999999.9"} {
		s := scanner{data: []byte(tok)}
		got, err := s.number()
		require.NoError(t, err, tok)
		want, err := strconv.ParseFloat(tok, 64)
		require.NoError(t, err)
		if want == 0 {
			want = 0
		}
		require.Equal(t, want, got, tok)
		require.Equal(t, len(tok), s.pos, tok)
	}
	for tok, reason := range map[string]string{
		"1e999": "out of the range",
		"01":    "",
		"1.":    "cut short",
		"-":     "cut short",
		"1.x":   "not a well-formed JSON number",
	} {
		s := scanner{data: []byte(tok)}
		_, err := s.number()
		if tok == "01" { // reads 0; the 1 is left for the caller to refuse
			require.NoError(t, err)
			require.Equal(t, 1, s.pos)
			continue
		}
		require.ErrorContains(t, err, reason, tok)
	}
}
