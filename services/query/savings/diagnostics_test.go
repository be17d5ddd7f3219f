package savings

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// A series with a known level and slope change at the start: the segmented
// model recovers both exactly; the pre-period line fits perfectly (R² 1).
func TestDiagnoseITSSegmentedRecoversAKnownBreak(t *testing.T) {
	const t0, a, b, c, d = 2010, 50.0, -0.8, -3.0, -0.5
	target := map[int]float64{}
	for y := 2000; y <= 2018; y++ {
		v := a + b*float64(y-t0)
		if y >= t0 {
			v += c + d*float64(y-t0)
		}
		target[y] = v
	}
	line, err := InterruptedTimeSeries(target, t0)
	require.NoError(t, err)
	diag := DiagnoseITS(line, target, t0, 2018)
	require.Len(t, diag.Pre, 10)
	require.InDelta(t, 1, diag.RSquared, 1e-12)
	require.InDelta(t, b, diag.Slope.Estimate, 1e-9)
	require.Nil(t, diag.DurbinWatson, "no residuals: no Durbin–Watson")
	require.NotNil(t, diag.Segmented)
	require.InDelta(t, c, diag.Segmented.LevelChange.Estimate, 1e-9)
	require.InDelta(t, d, diag.Segmented.SlopeChange.Estimate, 1e-9)
	require.Equal(t, 19, diag.Segmented.N)
}

// Durbin–Watson is Σ(Δe)²/Σe²: residuals alternating ±1 about the line give
// 4(n−1)/n; the slope interval is the OLS one, t·s/√Sxx.
func TestDiagnoseITSDurbinWatsonAndSlopeInterval(t *testing.T) {
	target := map[int]float64{}
	for i := 0; i < 10; i++ {
		target[2000+i] = 10 + 2*float64(i) + float64(1-2*(i%2))
	}
	line, err := InterruptedTimeSeries(target, 2010)
	require.NoError(t, err)
	diag := DiagnoseITS(line, target, 2010, 2015)
	require.NotNil(t, diag.DurbinWatson)
	// Residuals about the fitted line (not the true one): recompute them.
	var num, den float64
	prev := math.NaN()
	for i := 0; i < 10; i++ {
		e := target[2000+i] - line.at(float64(2000+i))
		den += e * e
		if !math.IsNaN(prev) {
			num += (e - prev) * (e - prev)
		}
		prev = e
	}
	require.InDelta(t, num/den, *diag.DurbinWatson, 1e-12)
	require.Greater(t, *diag.DurbinWatson, 3.0, "alternating residuals: strongly negative autocorrelation")
	half := line.T * line.ResidualSD / math.Sqrt(line.Sxx)
	require.InDelta(t, line.Slope-half, diag.Slope.Low, 1e-12)
	require.InDelta(t, line.Slope+half, diag.Slope.High, 1e-12)
	require.Nil(t, diag.Segmented, "no post-period years: no segmented model")
}

// A target drifting away from its comparison by 0.5 a year before the
// start: the pre-period gap's slope is 0.5 and its interval excludes 0; a
// place without a pre-period year is named as unused.
func TestDiagnoseDiDParallelTrends(t *testing.T) {
	target, comp := map[int]float64{}, map[int]float64{}
	for y := 2000; y < 2015; y++ {
		comp[y] = 20 + 0.3*float64(y-2000) + 0.1*float64(y%3)
		target[y] = comp[y] + 5 + 0.5*float64(y-2000) + 0.05*float64(y%2)
	}
	late := map[int]float64{2012: 1, 2013: 2}
	did, err := DifferenceInDifferences(target, []string{"A", "LATE"}, map[string]map[int]float64{"A": comp, "LATE": late}, 2010)
	require.NoError(t, err)
	diag := DiagnoseDiD(did, target, []string{"A", "LATE"}, 2010)
	require.Len(t, diag.PreGap, 10)
	require.NotNil(t, diag.GapSlope)
	require.InDelta(t, 0.5, diag.GapSlope.Estimate, 0.01)
	require.True(t, diag.GapSlope.excludesZero())
	require.Equal(t, []ComparisonUse{{Geo: "A", Used: true}, {Geo: "LATE", Used: false, Reason: "no value in a year before 2010 in which the target has one"}}, diag.Places)
}

func TestInvert4(t *testing.T) {
	m := [4][4]float64{{4, 1, 0, 2}, {1, 3, 1, 0}, {0, 1, 5, 1}, {2, 0, 1, 6}}
	inv, ok := invert4(m)
	require.True(t, ok)
	for i := 0; i < 4; i++ {
		for j := 0; j < 4; j++ {
			var s float64
			for k := 0; k < 4; k++ {
				s += m[i][k] * inv[k][j]
			}
			want := 0.0
			if i == j {
				want = 1
			}
			require.InDelta(t, want, s, 1e-12)
		}
	}
	_, ok = invert4([4][4]float64{{1, 2, 0, 0}, {2, 4, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}})
	require.False(t, ok)
}
