package savings_test

import (
	"math/big"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/services/query/savings"
)

func TestOptimismBias(t *testing.T) {
	// 1000 × (1 − 0.1) = 900; 150000 × (1 + 0.05) = 157500 (docs/savings.md's example cost).
	b, c := savings.OptimismBias(rat(t, "1000"), rat(t, "150000"), rat(t, "0.1"), rat(t, "0.05"))
	require.Zero(t, rat(t, "900").Cmp(b), b.String())
	require.Zero(t, rat(t, "157500").Cmp(c), c.String())
}

func TestBenefitProfile(t *testing.T) {
	ratStrings := func(rs []*big.Rat) []string {
		out := make([]string, len(rs))
		for i, r := range rs {
			if r == nil {
				out[i] = "-"
			} else {
				out[i] = r.RatString()
			}
		}
		return out
	}
	tests := []struct {
		name                      string
		lag, persistence, horizon int
		dropOff                   string
		want                      []string
	}{
		// B(1+lag+j) = 100 · (1 − 0.25)^j: 100, 75, 56.25.
		{"drop-off", 0, 3, 4, "0.25", []string{"-", "100", "75", "225/4", "-"}},
		{"lag", 2, 2, 5, "0", []string{"-", "-", "-", "100", "100", "-"}},
		{"cut at the horizon", 1, 5, 3, "0.5", []string{"-", "-", "100", "50"}},
		{"full drop-off", 0, 3, 3, "1", []string{"-", "100", "0", "0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := savings.BenefitProfile(rat(t, "100"), tt.lag, tt.persistence, rat(t, tt.dropOff), tt.horizon)
			require.Equal(t, tt.want, ratStrings(got))
		})
	}
}

func TestModelledOutcomes(t *testing.T) {
	// docs/savings.md's example: 100 × 0.8 × 0.25 = 20 outcomes; × (1 − 0.2) × (1 − 0.1) = 14.4.
	got := savings.ModelledOutcomes(rat(t, "100"), rat(t, "0.8"), rat(t, "0.25"), rat(t, "0.2"), rat(t, "0.1"), rat(t, "0"), rat(t, "1"))
	require.Zero(t, rat(t, "14.4").Cmp(got), got.FloatString(6))
	// SROI-style: × (1 − 0.5 displacement) × 0.5 attribution = 3.6.
	got = savings.ModelledOutcomes(rat(t, "100"), rat(t, "0.8"), rat(t, "0.25"), rat(t, "0.2"), rat(t, "0.1"), rat(t, "0.5"), rat(t, "0.5"))
	require.Zero(t, rat(t, "3.6").Cmp(got), got.FloatString(6))
}
