package indicators_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/indicators"
)

func TestPlausibleDefaultsByUnit(t *testing.T) {
	for unit, want := range map[string]indicators.Bounds{
		"%":                           {Min: 0, Max: 100},
		"% of GDP":                    {Min: 0, Max: 100},
		"% change on previous period": {Min: -100, Max: indicators.MaxMagnitude},
		"people":                      {Min: 0, Max: indicators.MaxPeople},
		"deaths per 100,000":          {Min: 0, Max: indicators.MaxPer100k},
		"deaths":                      {Min: 0, Max: indicators.MaxMagnitude},
		"t":                           {Min: 0, Max: indicators.MaxMagnitude},
		"Mt CO2":                      {Min: -indicators.MaxMagnitude, Max: indicators.MaxMagnitude},
	} {
		ind := indicators.Indicator{Unit: unit}
		require.Equal(t, want, ind.Plausible(), unit)
	}
	lo := -1e12
	ind := indicators.Indicator{Unit: "%", Range: &indicators.Range{Min: &lo}}
	require.Equal(t, indicators.Bounds{Min: -1e12, Max: 100}, ind.Plausible(), "a declared end replaces only that end")
	b := ind.Plausible()
	require.True(t, b.Contains(-5))
	require.False(t, b.Contains(101))
	require.False(t, b.Contains(math.NaN()))
	require.False(t, b.Contains(math.Inf(-1)))
}

func TestRangeIsChecked(t *testing.T) {
	_, err := indicators.Parse([]byte(`licence: CC0
indicators:
  - {code: a, name: A, unit: "%", polarity: lower, range: {min: 5, max: 1}}
  - {code: b, name: B, unit: "%", polarity: lower, range: {max: .inf}}
`))
	require.ErrorContains(t, err, "range.min 5 must be below range.max 1")
	require.ErrorContains(t, err, "range.max +Inf must be a finite number")
}

// Every indicator of the catalogue has a non-empty plausible range, and the
// declared ranges are read.
func TestCatalogueRanges(t *testing.T) {
	cat, err := indicators.Load()
	require.NoError(t, err)
	for _, ind := range cat.Indicators() {
		b := ind.Plausible()
		require.Less(t, b.Min, b.Max, ind.Code)
	}
	ind, ok := cat.Indicator("owid.co2_growth_prct")
	require.True(t, ok)
	require.NotNil(t, ind.Range, "a growth rate in %% declares its range")
}
