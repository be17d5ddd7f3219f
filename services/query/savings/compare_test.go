package savings_test

import (
	"encoding/json"
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/services/query/savings"
)

func TestProjectExactLine(t *testing.T) {
	series := map[int]float64{}
	for y := 2010; y <= 2015; y++ {
		series[y] = 9 + 0.5*float64(y-2010)
	}
	p, err := savings.Project(series, 3)
	require.NoError(t, err)
	require.Equal(t, 0.5, p.Line.Slope)
	require.Equal(t, 2015, p.Line.LastYear)
	require.Equal(t, []savings.ProjectedPoint{
		{Year: 2016, Value: 12, Low: 12, High: 12},
		{Year: 2017, Value: 12.5, Low: 12.5, High: 12.5},
		{Year: 2018, Value: 13, Low: 13, High: 13},
	}, p.Points)
}

// TestProjectWithNoise uses the series of TestITSWithNoise (x = year −
// 2010, y = 1, 3, 2, 5, 4): projected one year on (x = 5) the line gives
// 1.4 + 0.8 · 5 = 5.4 with half-width t(0.975, 3) · √(1.2 (1 + 1/5 + 9/10)).
func TestProjectWithNoise(t *testing.T) {
	p, err := savings.Project(map[int]float64{2010: 1, 2011: 3, 2012: 2, 2013: 5, 2014: 4, 2009: math.NaN()}, 1)
	require.NoError(t, err)
	require.Len(t, p.Points, 1)
	half := 3.182446305284263 * math.Sqrt(1.2*(1+1.0/5+9.0/10))
	require.InDelta(t, 5.4, p.Points[0].Value, 1e-12)
	require.InDelta(t, 5.4-half, p.Points[0].Low, 1e-9)
	require.InDelta(t, 5.4+half, p.Points[0].High, 1e-9)

	_, err = savings.Project(map[int]float64{2010: 1, 2011: 2}, 5)
	var ne *savings.NotEnoughDataError
	require.True(t, errors.As(err, &ne))
	require.Equal(t, 3, ne.Need)
	require.Equal(t, 2, ne.Have)
}

func TestCompare(t *testing.T) {
	r, err := savings.Compute(flatExample(t), "", savings.Data{})
	require.NoError(t, err)
	cost := savings.Series{Indicator: "SH.XPD.CHEX.GD.ZS", Geo: "GBR", Unit: "% of GDP",
		Values:  map[int]float64{2016: 9, 2017: 9.5, 2018: 10, 2019: 10.5, 2020: 11, 2021: 11.5},
		Sources: []savings.Source{{Source: "worldbank-health-expenditure", Licence: "CC BY 4.0", RetrievedAt: retrieved}}}
	c, err := savings.Compare(r, cost)
	require.NoError(t, err)
	require.Equal(t, "flat", c.Initiative)
	require.Equal(t, "% of GDP", c.CostIndicator.Unit)
	require.Len(t, c.Series, 6)
	require.Equal(t, 2023, c.Projection.Points[len(c.Projection.Points)-1].Year, "projected to the report's last year")
	require.Len(t, c.Years, 4)
	for i, y := range c.Years {
		require.Equal(t, r.Years[i].Benefit, y.Savings)
		require.Equal(t, r.Years[i].PVBenefit, y.PVSavings)
		require.InDelta(t, 11+0.5*float64(i), y.CostProjected, 1e-12)
		require.InDelta(t, 0.5*float64(i), y.ProjectedRise, 1e-12, "rise since 2020")
	}
	require.Equal(t, 11.5, *c.Years[1].CostObserved)
	require.Nil(t, c.Years[2].CostObserved, "no value for 2022")
	require.Equal(t, "cost", c.Provenance[len(c.Provenance)-1].Role)
	b, err := json.Marshal(c)
	require.NoError(t, err)
	require.Contains(t, string(b), `"savings":50,`)

	cost.Values = map[int]float64{2019: 1}
	_, err = savings.Compare(r, cost)
	requireInputError(t, err, savings.CodeInsufficientData, "indicator", "needs at least 3 years of the cost series")
}
