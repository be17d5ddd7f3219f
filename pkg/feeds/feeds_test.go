package feeds_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/catalogue"
	"github.com/ounce-data/ounce/pkg/feeds"
	"github.com/ounce-data/ounce/pkg/observation"
)

func TestColumnsFromCatalogue(t *testing.T) {
	cat, err := catalogue.Load()
	require.NoError(t, err)
	f := cat.Files["owid-co2"]
	require.NotNil(t, f)
	cols, err := feeds.Columns(f)
	require.NoError(t, err)
	for _, ind := range f.Indicators {
		if ind.Column == "" {
			continue
		}
		require.Equal(t, feeds.Column{Indicator: ind.Code, Unit: ind.Unit}, cols[ind.Column])
	}
}

func TestColumnsErrors(t *testing.T) {
	_, err := feeds.Columns(&catalogue.File{Name: "x", Indicators: []catalogue.Indicator{
		{Code: "a.one", Column: "c", Unit: "u"},
		{Code: "a.two", Column: "c", Unit: "u"},
	}})
	require.ErrorContains(t, err, `catalogue x: column "c" is mapped by both a.one and a.two`)
	_, err = feeds.Columns(&catalogue.File{Name: "y", Indicators: []catalogue.Indicator{{Code: "a.one", Unit: "u"}}})
	require.ErrorContains(t, err, "catalogue y: no indicator names a source column")
}

func TestCheckAndStamp(t *testing.T) {
	meta := feeds.Meta{Source: "feed-x", URL: "https://example.org/x.csv", Licence: "CC BY 4.0",
		RetrievedAt: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), Version: 42}
	cols := map[string]feeds.Column{"c": {Indicator: "x.c", Unit: "t"}}
	require.NoError(t, feeds.Check(meta, cols))

	var o observation.Observation
	meta.Stamp(&o)
	require.Equal(t, "feed-x", o.Source)
	require.Equal(t, uint64(42), o.Version)
	require.Equal(t, observation.Provenance{URL: meta.URL, Licence: meta.Licence, RetrievedAt: meta.RetrievedAt}, o.Provenance)

	bad := meta
	bad.Licence = ""
	err := feeds.Check(bad, cols)
	require.ErrorContains(t, err, "provenance.licence")
	require.NotContains(t, err.Error(), `column "c"`, "a problem of the meta is reported once, not per column")

	err = feeds.Check(meta, map[string]feeds.Column{"b": {Indicator: "x b", Unit: "t"}, "a": {Indicator: "x.a"}})
	require.ErrorContains(t, err, `check mapping of column "a": unit`)
	require.ErrorContains(t, err, `check mapping of column "b": indicator`)
	require.ErrorContains(t, feeds.Check(meta, nil), "no columns are mapped")
}
