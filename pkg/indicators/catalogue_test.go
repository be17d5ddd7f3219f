package indicators_test

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/testenv"
)

func TestLoadEmbeddedCatalogue(t *testing.T) {
	c, err := indicators.Load()
	require.NoError(t, err)
	ind, ok := c.Indicator("owid.co2_per_capita")
	require.True(t, ok)
	require.Equal(t, "co2_per_capita", ind.Column)
	require.Equal(t, indicators.LowerIsBetter, ind.Polarity)
	require.Equal(t, "CC BY 4.0", ind.Licence, "file-level licence applies to entries")
	require.NotEmpty(t, ind.Producer)
}

// Every value column of the OWID codebook has a catalogue entry.
func TestCatalogueCoversOWIDCodebook(t *testing.T) {
	f, err := os.Open(filepath.Join(testenv.SharedDataDir(t), "owid", "co2", "owid-co2-codebook.csv"))
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	c, err := indicators.Load()
	require.NoError(t, err)
	byColumn := map[string]bool{}
	for _, ind := range c.Files["owid-co2"].Indicators {
		byColumn[ind.Column] = true
	}
	n := 0
	for _, r := range rows[1:] {
		switch r[0] {
		case "iso_code", "country", "year":
			continue
		}
		require.True(t, byColumn[r[0]], "codebook column %s has no indicator", r[0])
		n++
	}
	require.Equal(t, n, len(byColumn))
}

func TestParseRejectsBadEntries(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, errContains string
	}{
		{"unknown field", "licence: x\nindicators:\n  - {code: a, name: A, unit: u, polarity: lower, colour: red}\n", "field colour not found"},
		{"bad polarity", "licence: x\nindicators:\n  - {code: a, name: A, unit: u, polarity: up}\n", `indicators[0] (a): polarity "up" is not lower, higher or neutral`},
		{"no unit", "licence: x\nindicators:\n  - {code: a, name: A, polarity: lower}\n", "unit is missing"},
		{"no licence", "indicators:\n  - {code: a, name: A, unit: u, polarity: lower}\n", "licence is missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := indicators.Parse([]byte(tc.yaml))
			require.ErrorContains(t, err, tc.errContains)
		})
	}
}

func TestEveryRateDeclaresHowItCombines(t *testing.T) {
	for _, tc := range []struct {
		code, unit string
		rate       bool
	}{
		{"owid.co2_per_capita", "t CO2/person", true},
		{"cdc.vsrr.death_rate", "deaths per 100,000", true},
		{"eurostat.nama.gdp_per_capita_eur", "EUR per inhabitant", true},
		{"x.energy_intensity", "kWh/$", true},
		{"waw.msw_generated", "t/year", false},
		{"owid.co2", "Mt CO2", false},
		{"SH.XPD.CHEX.GD.ZS", "% of GDP", false},
	} {
		require.Equal(t, tc.rate, indicators.Indicator{Code: tc.code, Unit: tc.unit}.IsRate(), "%s in %s", tc.code, tc.unit)
	}
	_, err := indicators.Parse([]byte(`licence: CC0
indicators:
  - {code: a.per_capita, name: A, unit: "t/person", polarity: lower}
  - {code: b, name: B, unit: "kWh/$", polarity: lower, aggregation: {rollup: mean, reason: x}}
  - {code: c, name: C, unit: "deaths per 100,000", polarity: lower, aggregation: {rollup: none}}
  - {code: d, name: D, unit: "t", polarity: lower}
  - {code: e, name: E, unit: "t/person", polarity: lower, ratio: {numerator: d, denominator: d, scale: 1}, aggregation: {rollup: none, reason: y}}
  - {code: f, name: F, unit: "t/person", polarity: lower, aggregation: {rollup: none, reason: "no population here"}}
`))
	require.ErrorContains(t, err, `a.per_capita (unit "t/person") is a rate: declare its ratio`)
	require.ErrorContains(t, err, `aggregation.rollup "mean" is not "none"`)
	require.ErrorContains(t, err, "aggregation.reason is missing")
	require.ErrorContains(t, err, "aggregation and ratio are both given")
	require.NotContains(t, err.Error(), "(f)", "a rate with a reason is fine")

	cat, err := indicators.Load()
	require.NoError(t, err, "every rate of the catalogue declares its parts or why it has none")
	n := 0
	for _, ind := range cat.Indicators() {
		if ind.IsRate() {
			n++
			require.True(t, ind.Ratio != nil || ind.Aggregation != nil, ind.Code)
		}
	}
	require.Greater(t, n, 20, "the catalogue's rates")
}

// The user. prefix belongs to indicators users register: a catalogue file
// that uses it fails to load, so a user indicator never shadows an entry.
func TestCatalogueRefusesTheUserPrefix(t *testing.T) {
	fsys := fstest.MapFS{
		"cat/ok.yaml":   {Data: []byte("licence: CC0\nindicators:\n  - {code: a.count, name: A, unit: t, polarity: lower}\n")},
		"cat/user.yaml": {Data: []byte("licence: CC0\nindicators:\n  - {code: user.council.screening, name: S, unit: people, polarity: higher}\n")},
	}
	_, err := indicators.LoadFS(fsys, "cat")
	require.ErrorContains(t, err, `indicator user.council.screening: codes starting with "user." belong to indicators users register`)

	delete(fsys, "cat/user.yaml")
	c, err := indicators.LoadFS(fsys, "cat")
	require.NoError(t, err)
	_, ok := c.Indicator("a.count")
	require.True(t, ok)

	embedded, err := indicators.Load()
	require.NoError(t, err)
	for _, ind := range embedded.Indicators() {
		require.False(t, strings.HasPrefix(ind.Code, indicators.UserPrefix), ind.Code)
	}
}
