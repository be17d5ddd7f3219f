package feeds

import (
	"math"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

var numberSeeds = []string{
	"0", "0.0", "0.015", "7663783.0", "19494799360.0", "-3.2", "1e-05", "475.0", "-0",
	"1.", ".5", "-", ".", "", "1,5", "NaN", "inf", "0x1p3", "1_000", "+1", "1e999",
	"123456789012345.6", "1234567890123456.7", "0.000000000000000000000001",
	"99999999999999999999", "4.35", "0.1", "2.675",
}

func TestParseNumberMatchesParseFloat(t *testing.T) {
	for _, s := range numberSeeds {
		checkNumber(t, s)
	}
}

// FuzzParseNumber checks that ParseNumber accepts only finite plain
// decimals and reads them exactly as strconv.ParseFloat does.
func FuzzParseNumber(f *testing.F) {
	for _, s := range numberSeeds {
		f.Add(s)
	}
	f.Fuzz(checkNumber)
}

func checkNumber(t *testing.T, s string) {
	got, err := ParseNumber(s)
	want, werr := strconv.ParseFloat(s, 64)
	plain := werr == nil && !math.IsInf(want, 0) && !math.IsNaN(want)
	for i := 0; i < len(s) && plain; i++ {
		c := s[i]
		plain = (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E'
	}
	if !plain {
		require.Error(t, err, "%q", s)
		return
	}
	require.NoError(t, err, "%q", s)
	require.Equal(t, math.Float64bits(want), math.Float64bits(got), "%q: got %v, want %v", s, got, want)
}

func TestParseNumberErrors(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
		err  string
	}{
		{"0.25", 0.25, ""},
		{"-3", -3, ""},
		{"1e-05", 1e-05, ""},
		{"NaN", 0, "is not a number"},
		{"Inf", 0, "is not a number"},
		{"0x10", 0, "is not a number"},
		{"1,5", 0, "is not a number"},
		{"1e999", 0, "is out of the range of a 64-bit float"},
		{"1e", 0, "is not a number"},
		{"", 0, "is not a number"},
	} {
		got, err := ParseNumber(tc.in)
		if tc.err != "" {
			require.EqualError(t, err, tc.err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
}

func TestSnakeCase(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"SEX", "sex"},
		{"AGEGROUP", "agegroup"},
		{"Residence Area Type", "residence_area_type"},
		{"  WEALTH-QUINTILE  ", "wealth_quintile"},
		{"__", ""},
		{"5YEAR", "5year"},
		{"District of Columbia", "district_of_columbia"},
		{"Washington, D.C.", "washington_d_c"},
		{"United States, DC & Territories", "united_states_dc_territories"},
	} {
		require.Equal(t, tc.want, SnakeCase(tc.in), tc.in)
	}
}
