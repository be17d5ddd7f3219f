package savings_test

import (
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/services/query/savings"
)

// TestITSExactLine: pre-period values on y = 50 − 1.5 (year − 2010) have no
// residual, so the counterfactual is the line and the interval has width 0.
func TestITSExactLine(t *testing.T) {
	target := map[int]float64{}
	for y := 2010; y <= 2015; y++ {
		target[y] = 50 - 1.5*float64(y-2010)
	}
	target[2016] = 1000 // post-period: not fitted
	line, err := savings.InterruptedTimeSeries(target, 2016)
	require.NoError(t, err)
	require.Equal(t, 6, line.N)
	require.Equal(t, -1.5, line.Slope)
	require.Zero(t, line.ResidualSD)
	for _, y := range []int{2016, 2020, 2045} {
		e := savings.ITSEstimate(line, y)
		require.Equal(t, 50-1.5*float64(y-2010), e.Value, "year %d", y)
		require.Equal(t, e.Value, e.Low)
		require.Equal(t, e.Value, e.High)
	}
}

// TestITSWithNoise checks the fit and the 95 % prediction interval against
// the closed forms, computed here from sums over x = year − 2010:
// x = 0…4, y = 1, 3, 2, 5, 4: Σx = 10, Σy = 15, Σxy = 38, Σx² = 30, so
// slope = (5·38 − 10·15) / (5·30 − 10²) = 0.8, intercept = (15 − 0.8·10)/5
// = 1.4, residuals −0.4, 0.8, −1, 1.2, −0.6, SSR = 3.6, s² = 3.6/3 = 1.2.
// In 2016 (x = 6): ŷ = 6.2, se = √(1.2 (1 + 1/5 + (6 − 2)²/10)) = √3.36,
// half-width = t(0.975, 3) · se = 3.182446305284263 · 1.833030277982336.
func TestITSWithNoise(t *testing.T) {
	ys := []float64{1, 3, 2, 5, 4}
	target := map[int]float64{}
	var sx, sy, sxy, sxx float64
	for i, y := range ys {
		target[2010+i] = y
		x := float64(i)
		sx, sy, sxy, sxx = sx+x, sy+y, sxy+x*y, sxx+x*x
	}
	n := float64(len(ys))
	slope := (n*sxy - sx*sy) / (n*sxx - sx*sx)
	intercept := (sy - slope*sx) / n
	var ssr float64
	for i, y := range ys {
		r := y - (intercept + slope*float64(i))
		ssr += r * r
	}
	require.InDelta(t, 0.8, slope, 1e-12)
	require.InDelta(t, 1.4, intercept, 1e-12)
	require.InDelta(t, 3.6, ssr, 1e-12)

	line, err := savings.InterruptedTimeSeries(target, 2015)
	require.NoError(t, err)
	require.InDelta(t, slope, line.Slope, 1e-12)
	require.InDelta(t, math.Sqrt(ssr/(n-2)), line.ResidualSD, 1e-12)
	for _, x := range []float64{6, 10} {
		e := savings.ITSEstimate(line, 2010+int(x))
		yhat := intercept + slope*x
		xbar := sx / n
		half := 3.182446305284263 * math.Sqrt(ssr/(n-2)*(1+1/n+(x-xbar)*(x-xbar)/(sxx-sx*sx/n)))
		require.InDelta(t, yhat, e.Value, 1e-9)
		require.InDelta(t, yhat-half, e.Low, 1e-9)
		require.InDelta(t, yhat+half, e.High, 1e-9)
		require.True(t, e.HasInterval)
	}
	e := savings.ITSEstimate(line, 2016)
	require.InDelta(t, 6.2, e.Value, 1e-12)
	require.InDelta(t, 3.182446305284263*math.Sqrt(3.36), e.High-e.Value, 1e-9)
}

func TestITSNeedsThreePreYears(t *testing.T) {
	_, err := savings.InterruptedTimeSeries(map[int]float64{2014: 1, 2015: 2, 2016: 3, 2017: math.NaN()}, 2016)
	var ne *savings.NotEnoughDataError
	require.True(t, errors.As(err, &ne), "%v", err)
	require.Equal(t, 3, ne.Need)
	require.Equal(t, 2, ne.Have)
	require.Equal(t, []int{2014, 2015}, ne.Years)
	require.ErrorContains(t, err, "needs at least 3")
	require.ErrorContains(t, err, "there are 2 (2014, 2015)")

	// A non-finite pre-period value does not count.
	_, err = savings.InterruptedTimeSeries(map[int]float64{2013: math.Inf(1), 2014: 1, 2015: 2}, 2016)
	require.True(t, errors.As(err, &ne))
	require.Equal(t, 2, ne.Have)
}

// TestDiD is a hand case: the target's pre-period mean is (10 + 12)/2 = 11.
// Place A: pre mean 21, 24 in 2016, change +3; place B: pre mean 6, 8 in
// 2016, change +2. Counterfactual 2016 = 11 + (3 + 2)/2 = 13.5. The places
// imply 14 and 13: sd = √0.5, interval 13.5 ± t(0.975, 1) · √0.5 / √2 =
// 13.5 ± 12.706204736 · 0.5.
func TestDiD(t *testing.T) {
	target := map[int]float64{2014: 10, 2015: 12, 2016: 12.5}
	comps := map[string]map[int]float64{
		"AAA": {2014: 20, 2015: 22, 2016: 24, 2017: 25},
		"BBB": {2014: 5, 2015: 7, 2016: 8},
		"CCC": {2016: 100}, // no pre-period: left out
	}
	did, err := savings.DifferenceInDifferences(target, []string{"AAA", "BBB", "CCC"}, comps, 2016)
	require.NoError(t, err)
	require.Len(t, did.Places, 2)
	require.Equal(t, []int{2014, 2015}, did.Places[0].PreYears)
	require.Equal(t, 11.0, did.Places[0].TargetMean)
	require.Equal(t, 21.0, did.Places[0].PlaceMean)

	e, ok := did.At(2016)
	require.True(t, ok)
	require.InDelta(t, 13.5, e.Value, 1e-12)
	half := math.Tan(math.Pi*0.475) * 0.5
	require.InDelta(t, 13.5-half, e.Low, 1e-9)
	require.InDelta(t, 13.5+half, e.High, 1e-9)

	// 2017: only AAA has a value: 11 + (25 − 21) = 15, no interval.
	e, ok = did.At(2017)
	require.True(t, ok)
	require.Equal(t, 15.0, e.Value)
	require.False(t, e.HasInterval)
	_, ok = did.At(2018)
	require.False(t, ok)

	_, err = savings.DifferenceInDifferences(target, []string{"CCC"}, comps, 2016)
	var ne *savings.NotEnoughDataError
	require.True(t, errors.As(err, &ne))
	require.Equal(t, 1, ne.Need)
	require.Equal(t, 0, ne.Have)
}

func TestAvoided(t *testing.T) {
	cf := savings.Estimate{Value: 10, Low: 8, High: 13, HasInterval: true}
	sign, ok := savings.Sign(indicators.LowerIsBetter)
	require.True(t, ok)
	v, lo, hi := savings.Avoided(cf, 7, sign) // lower is better: 10 − 7 = 3 avoided
	require.Equal(t, []float64{3, 1, 6}, []float64{v, lo, hi})

	sign, ok = savings.Sign(indicators.HigherIsBetter)
	require.True(t, ok)
	v, lo, hi = savings.Avoided(cf, 12, sign) // higher is better: (10 − 12) · −1 = 2
	require.Equal(t, []float64{2, -1, 4}, []float64{v, lo, hi})

	_, ok = savings.Sign(indicators.Neutral)
	require.False(t, ok)
}
