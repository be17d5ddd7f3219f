package quality_test

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/pkg/quality"
)

func years(n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = time.Date(2000+i, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	}
	return out
}

// A spike is an outlier; a steady trend, however steep, is not; a series
// shorter than MinSeries is not scored.
func TestOutliers(t *testing.T) {
	trend := make([]float64, 20)
	for i := range trend {
		trend[i] = 100 + 7*float64(i) + 0.5*math.Sin(float64(i)) // a trend with a little noise
	}
	require.Empty(t, quality.Outliers(years(20), trend))

	spiked := append([]float64(nil), trend...)
	spiked[11] += 60
	require.Equal(t, []int{11}, quality.Outliers(years(20), spiked))

	// Order comes from the periods, not the slice: reversed, the same point.
	rs, rv := years(20), append([]float64(nil), spiked...)
	for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
		rs[i], rs[j] = rs[j], rs[i]
		rv[i], rv[j] = rv[j], rv[i]
	}
	require.Equal(t, []int{8}, quality.Outliers(rs, rv))

	// A straight line has deviations of zero (MAD = 0): not scored, even
	// with a step off the line.
	line := make([]float64, 12)
	for i := range line {
		line[i] = float64(i)
	}
	line[6] = 30
	require.Empty(t, quality.Outliers(years(12), line))

	// A deviation unusual for the series but small against its level is no
	// outlier: under MinShift of the running median.
	level := make([]float64, 20)
	for i := range level {
		level[i] = 1000 + 0.5*math.Sin(float64(i))
	}
	level[9] += 20 // 2 %: far out in z, not material
	require.Empty(t, quality.Outliers(years(20), level))
	level[9] += 300
	require.Equal(t, []int{9}, quality.Outliers(years(20), level))

	require.Empty(t, quality.Outliers(years(quality.MinSeries-1), []float64{1, 1, 1, 1, 100, 1, 1}[:quality.MinSeries-1]))
}

// An assessment flags by ordinal: out of range, part above its whole,
// period outside the feed's range, outlier; counts each code.
func TestAssessment(t *testing.T) {
	cat, err := indicators.Load()
	require.NoError(t, err)
	whole, part := "eurostat.waste.disposal", "eurostat.waste.landfill"
	ind, ok := cat.Indicator(part)
	require.True(t, ok)
	require.Equal(t, whole, ind.PartOf, "the catalogue declares landfill part of disposal")
	require.True(t, cat.IsWhole(whole))

	obs := func(code string, year int, v float64) observation.Observation {
		return observation.Observation{Indicator: code, Geo: "DNK", Period: observation.Year(year), Value: &v, Unit: "t",
			Source: "eurostat-waste-treatment", Version: 1, Provenance: observation.Provenance{Licence: "CC BY 4.0", RetrievedAt: time.Now()}}
	}
	in := []observation.Observation{
		obs(whole, 2010, 100), obs(part, 2010, 80), // fine
		obs(whole, 2012, 100), obs(part, 2012, 120), // part above whole
		obs(part, 1990, -5), // out of range (tonnes are not negative) and before the feed's range
	}
	a := quality.New(quality.Rules{Indicators: cat, Periods: quality.Periods{From: 2004}})
	for i := range in {
		a.Add(&in[i])
	}
	a.Finish()
	got := make([][]string, len(in))
	for i := range in {
		a.Apply(i, &in[i])
		got[i] = in[i].Quality
		require.NoError(t, in[i].Validate(), "codes are valid and in order")
	}
	require.Equal(t, [][]string{nil, nil, nil, {observation.QualityExceedsWhole},
		{observation.QualityOutOfRange, observation.QualityPeriodOutOfRange}}, got)
	require.Equal(t, map[string]int{observation.QualityExceedsWhole: 1, observation.QualityOutOfRange: 1, observation.QualityPeriodOutOfRange: 1}, a.Counts)
}
