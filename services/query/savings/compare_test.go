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
	p, err := savings.Project(series, []int{2016, 2017, 2018})
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
	p, err := savings.Project(map[int]float64{2010: 1, 2011: 3, 2012: 2, 2013: 5, 2014: 4, 2009: math.NaN()}, []int{2015})
	require.NoError(t, err)
	require.Len(t, p.Points, 1)
	half := 3.182446305284263 * math.Sqrt(1.2*(1+1.0/5+9.0/10))
	require.InDelta(t, 5.4, p.Points[0].Value, 1e-12)
	require.InDelta(t, 5.4-half, p.Points[0].Low, 1e-9)
	require.InDelta(t, 5.4+half, p.Points[0].High, 1e-9)

	_, err = savings.Project(map[int]float64{2010: 1, 2011: 2}, []int{2015})
	var ne *savings.NotEnoughDataError
	require.True(t, errors.As(err, &ne))
	require.Equal(t, 3, ne.Need)
	require.Equal(t, 2, ne.Have)
}

func TestCompare(t *testing.T) {
	r, err := savings.Compute(flatExample(t), "", savings.Data{})
	require.NoError(t, err)
	require.Equal(t, 2020, r.Years[0].CalendarYear)
	// Fitted on 2016-2019 only (the years before the start): the 2020 and
	// 2021 values, off the line, change nothing.
	cost := savings.Series{Indicator: "SH.XPD.CHEX.GD.ZS", Geo: "GBR", Unit: "% of GDP",
		Values:  map[int]float64{2016: 9, 2017: 9.5, 2018: 10, 2019: 10.5, 2020: 13, 2021: 7},
		Sources: []savings.Source{{Source: "worldbank-health-expenditure", Licence: "CC BY 4.0", RetrievedAt: retrieved}}}
	gdp := savings.Series{Indicator: "NY.GDP.MKTP.CD", Geo: "GBR", Unit: "current US$",
		Values:  map[int]float64{2020: 1000, 2021: 1100, 2022: 1200},
		Sources: []savings.Source{{Source: "worldbank-gdp", Licence: "CC BY 4.0", RetrievedAt: retrieved}}}
	conv := savings.Conversion{Kind: savings.ConvertShareOfGDP, Scale: 0.01, Via: &gdp, Formula: "share / 100 × GDP"}
	c, err := savings.Compare(r, cost, savings.CompareOptions{Conversion: conv})
	require.NoError(t, err)
	require.Equal(t, "flat", c.Initiative)
	require.Equal(t, "% of GDP", c.CostIndicator.Unit)
	require.Equal(t, savings.Fit{From: 2016, To: 2019, Rule: "default"}, c.Fit)
	require.Len(t, c.Series, 6)
	require.Len(t, c.Projection.Points, 4, "one point per report year, recorded years included")
	require.Equal(t, 2020, c.Projection.Points[0].Year)
	require.Equal(t, "NY.GDP.MKTP.CD", c.Conversion.ViaIndicator)
	require.Equal(t, savings.Nominal, c.Conversion.Prices)
	require.Len(t, c.Years, 4)
	for i, y := range c.Years {
		require.Equal(t, r.Years[i].Benefit, y.Savings)
		require.Equal(t, r.Years[i].PVBenefit, y.PVSavings)
		share := 11 + 0.5*float64(i)
		require.InDelta(t, share, y.CostProjected, 1e-12)
		require.InDelta(t, 0.5*float64(i), y.ProjectedRiseUnit, 1e-12, "rise since 2020, in %% of GDP")
		g, has := gdp.Values[y.CalendarYear]
		if !has {
			require.Nil(t, y.CostProjectedMoney, "no GDP in %d", y.CalendarYear)
			require.Nil(t, y.ShareOffset)
			require.Contains(t, y.Note, "NY.GDP.MKTP.CD has no value for GBR in 2023")
			continue
		}
		require.InDelta(t, share/100*g, *y.CostProjectedMoney, 0.005)
		rise := share/100*g - 11.0/100*1000
		require.InDelta(t, rise, *y.ProjectedRise, 0.005, "in money: projected cost(t) - projected cost(2020)")
		savingsF := r.Years[i].Benefit.Float64()
		require.InDelta(t, savingsF/(g/100), *y.SavingsInCostUnit, 1e-12, "savings in points of GDP")
		if i == 0 {
			require.Nil(t, y.ShareOffset, "no rise in the start year")
			require.Contains(t, y.Note, "the start year")
		} else {
			require.InDelta(t, savingsF/rise, *y.ShareOffset, 1e-9)
		}
	}
	require.Equal(t, 13.0, *c.Years[0].CostObserved)
	require.InDelta(t, 130, *c.Years[0].CostObservedMoney, 1e-9)
	require.Nil(t, c.Years[2].CostObserved, "no value for 2022")
	roles := []string{c.Provenance[len(c.Provenance)-2].Role, c.Provenance[len(c.Provenance)-1].Role}
	require.Equal(t, []string{"cost", "gdp"}, roles)
	b, err := json.Marshal(c)
	require.NoError(t, err)
	require.Contains(t, string(b), `"savings":50,`)

	// fit_from/fit_to: every year held, 2016-2021.
	c, err = savings.Compare(r, cost, savings.CompareOptions{FitFrom: 2016, FitTo: 2021})
	require.NoError(t, err)
	require.Equal(t, savings.Fit{From: 2016, To: 2021, Rule: "request"}, c.Fit)
	require.Equal(t, savings.ConvertNone, c.Conversion.Kind)
	require.Nil(t, c.Years[1].ProjectedRise)

	cost.Values = map[int]float64{2019: 1, 2021: 2, 2022: 3}
	_, err = savings.Compare(r, cost, savings.CompareOptions{})
	requireInputError(t, err, savings.CodeInsufficientData, "indicator", "needs at least 3 years of the cost series")
	requireInputError(t, err, savings.CodeInsufficientData, "indicator", "the trend is fitted on the years up to 2019")
}
