package indicators_test

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"testing"

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
