package worldbank

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/testenv"
)

// validJSON is the scanner's answer to "is b one JSON value?".
func validJSON(b []byte) bool {
	s := scanner{buf: b}
	if err := s.skip(0); err != nil {
		return false
	}
	s.ws()
	return s.eof()
}

// FuzzScan checks the scanner against encoding/json: it accepts exactly
// what json.Valid accepts, and decodes strings as json.Unmarshal does.
func FuzzScan(f *testing.F) {
	data, err := os.ReadFile(filepath.Join(testenv.SharedDataDir(f), "worldbank", "api_v2", "indicator_NY.GDP.MKTP.CD_JPN-USA_footnote.json"))
	require.NoError(f, err)
	f.Add(data[:1500])
	for _, s := range []string{
		`"a\u00e9\ud83d\ude00\ud800x\/\b\f\n\r\t"`, `-0.5e+10`, `[1,2,{"a":[true,false,null]}]`, `01`, `1.`, `1e`, `"\x"`,
		`"\ud800\u0041"`, `{"a" 1}`, `[1,]`, `{"a":1,}`, "\"a\tb\"", `nul`, `-`, ` [ ] `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		require.Equal(t, json.Valid(b), validJSON(b), "%q", b)
		if len(b) > 0 && b[0] == '"' && json.Valid(b) {
			s := scanner{buf: b}
			got, err := s.str()
			require.NoError(t, err)
			var want string
			require.NoError(t, json.Unmarshal(b, &want))
			// encoding/json replaces invalid UTF-8 with U+FFFD; the scanner
			// keeps the bytes. Compare where the input is valid UTF-8.
			if string(got) == want || !utf8.Valid(got) {
				return
			}
			require.Equal(t, want, string(got), "%q", b)
		}
	})
}

func TestValidJSONAgreesWithEncodingJSON(t *testing.T) {
	for _, s := range []string{
		`[]`, `{}`, `""`, `0`, `-0`, `1.5e-3`, `[{"a":"\u00e9"}]`, ` null `, `true`, `false`,
		``, ` `, `[`, `]`, `{"a"}`, `{"a":}`, `[1 2]`, `01`, `.5`, `+1`, `1.e1`, `"\u12"`, `"\q"`, "\"\x01\"", `[] []`, `NaN`, `tru`,
	} {
		require.Equal(t, json.Valid([]byte(s)), validJSON([]byte(s)), "%q", s)
	}
}

func TestParseNumberEqualsStrconv(t *testing.T) {
	for _, s := range []string{
		"0", "-0", "1", "0.015", "5.54080975848282", "2817414584665.11", "77721714917.8506", "4954806619995.19",
		"123456789012345", "1234567890123456", "12345678901234567890", "0.1", "0.3", "1e-05", "-3.2", "1E+22", "9007199254740993",
		"0.000000000000000000000001", "1.7976931348623157e308", "4.9e-324", "0.00000000000000000000000000000000123",
	} {
		want, err := strconv.ParseFloat(s, 64)
		require.NoError(t, err, s)
		got, err := parseNumber([]byte(s))
		require.NoError(t, err, s)
		require.Equal(t, math.Float64bits(want), math.Float64bits(got), s)
	}
	for s, want := range map[string]error{"": errNotNumber, "n/a": errNotNumber, "1,5": errNotNumber, "0x10": errNotNumber,
		"Inf": errNotNumber, "NaN": errNotNumber, " 1": errNotNumber, "1e999": errRange, "-1e999": errRange} {
		_, err := parseNumber([]byte(s))
		require.ErrorIs(t, err, want, s)
	}
}

// FuzzParseNumber checks the fast path against strconv on every JSON number.
func FuzzParseNumber(f *testing.F) {
	for _, s := range []string{"0", "5.54080975848282", "-0.0001", "123456789012345.6", "1e5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseNumber([]byte(s))
		if n, ok := numberLen([]byte(s)); !ok || n != len(s) {
			require.Error(t, err)
			return
		}
		want, werr := strconv.ParseFloat(s, 64)
		if werr != nil {
			require.ErrorIs(t, err, errRange, s)
			return
		}
		require.NoError(t, err, s)
		require.Equal(t, math.Float64bits(want), math.Float64bits(got), s)
	})
}
