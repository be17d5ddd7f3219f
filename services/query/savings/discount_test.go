package savings_test

import (
	"math"
	"math/big"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/services/query/savings"
)

func TestGreenBookRate(t *testing.T) {
	for _, tt := range []struct {
		year int
		want string
	}{
		{0, "0"}, {1, "0.035"}, {30, "0.035"}, {31, "0.03"}, {75, "0.03"}, {76, "0.025"},
		{125, "0.025"}, {126, "0.02"}, {200, "0.02"}, {201, "0.015"}, {300, "0.015"}, {301, "0.01"}, {1000, "0.01"},
	} {
		require.Zerof(t, rat(t, tt.want).Cmp(savings.GreenBookRate(tt.year)), "year %d: %s", tt.year, savings.GreenBookRate(tt.year).FloatString(4))
	}
}

// TestGreenBookDiscountFactors checks DF(t) at the changes of rate against
// the product formula: DF(30) = 1.035^-30, DF(31) = 1.035^-30 · 1.03^-1,
// DF(75) = 1.035^-30 · 1.03^-45, DF(76) = DF(75) / 1.025 — exactly (as
// rationals built from integer powers) and as floats from math.Pow.
func TestGreenBookDiscountFactors(t *testing.T) {
	dfs := savings.DiscountFactors(savings.GreenBook, 130)
	require.Len(t, dfs, 131)
	require.Zero(t, big.NewRat(1, 1).Cmp(dfs[0]), "DF(0) = 1")

	// (1000/1035)^a · (1000/1030)^b · (1000/1025)^c, exactly.
	product := func(a, b, c int64) *big.Rat {
		num := new(big.Int).Exp(big.NewInt(1000), big.NewInt(a+b+c), nil)
		den := new(big.Int).Exp(big.NewInt(1035), big.NewInt(a), nil)
		den.Mul(den, new(big.Int).Exp(big.NewInt(1030), big.NewInt(b), nil))
		den.Mul(den, new(big.Int).Exp(big.NewInt(1025), big.NewInt(c), nil))
		return new(big.Rat).SetFrac(num, den)
	}
	for _, tt := range []struct {
		t       int
		a, b, c int64
		float   float64
	}{
		{1, 1, 0, 0, 1 / 1.035},
		{30, 30, 0, 0, math.Pow(1.035, -30)},
		{31, 30, 1, 0, math.Pow(1.035, -30) / 1.03},
		{75, 30, 45, 0, math.Pow(1.035, -30) * math.Pow(1.03, -45)},
		{76, 30, 45, 1, math.Pow(1.035, -30) * math.Pow(1.03, -45) / 1.025},
		{125, 30, 45, 50, math.Pow(1.035, -30) * math.Pow(1.03, -45) * math.Pow(1.025, -50)},
	} {
		require.Zerof(t, product(tt.a, tt.b, tt.c).Cmp(dfs[tt.t]), "DF(%d) exactly", tt.t)
		got, _ := dfs[tt.t].Float64()
		require.InEpsilonf(t, tt.float, got, 1e-12, "DF(%d)", tt.t)
	}
	require.InEpsilon(t, 0.3562784, mustFloat(dfs[30]), 1e-6, "DF(30) as printed in Green Book tables (0.3563)")
}

func mustFloat(r *big.Rat) float64 {
	f, _ := r.Float64()
	return f
}

func TestFlatDiscountFactors(t *testing.T) {
	rate, err := savings.ParseNum("0.035")
	require.NoError(t, err)
	dfs := savings.DiscountFactors(savings.Discount{Rate: rate}, 40)
	for i := range dfs {
		require.InEpsilonf(t, math.Pow(1.035, -float64(i)), mustFloat(dfs[i]), 1e-12, "DF(%d)", i)
	}
	zero := savings.DiscountFactors(savings.Discount{}, 3)
	for _, df := range zero {
		require.Zero(t, big.NewRat(1, 1).Cmp(df), "a flat rate of 0 does not discount")
	}
}
