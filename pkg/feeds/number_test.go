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
