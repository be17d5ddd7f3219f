package query

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMoneyUnit reads the units of money the catalogue uses, and refuses
// those that cannot be turned into a currency at current prices.
func TestMoneyUnit(t *testing.T) {
	type want struct {
		currency  string
		scale     float64
		perCapita bool
		ok        bool
	}
	for unit, w := range map[string]want{
		"current US$":                  {"USD", 1, false, true},
		"current US$ per person":       {"USD", 1, true, true},
		"million EUR":                  {"EUR", 1e6, false, true},
		"EUR per inhabitant":           {"EUR", 1, true, true},
		"billion GBP":                  {"GBP", 1e9, false, true},
		"million EUR (2020 prices)":    {},
		"million national currency":    {},
		"% of GDP":                     {},
		"people":                       {},
		"million PPS (EU27 from 2020)": {},
	} {
		c, s, p, ok := moneyUnit(unit)
		require.Equal(t, w, want{c, s, p, ok}, unit)
	}
	require.True(t, isShareOfGDP("% of GDP"))
	require.False(t, isShareOfGDP("% of adults"))
}
