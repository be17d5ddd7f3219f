package eurostat_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/catalogue"
	"github.com/ounce-data/ounce/pkg/feedcat"
	"github.com/ounce-data/ounce/pkg/feeds"
	"github.com/ounce-data/ounce/pkg/feeds/eurostat"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/pkg/places"
	"github.com/ounce-data/ounce/pkg/testenv"
)

const feedID = "eurostat-waste-treatment"

// setup returns the declared feed's mapping and its recording.
func setup(tb testing.TB) (eurostat.Mapping, []byte) {
	tb.Helper()
	all, err := feedcat.Load()
	require.NoError(tb, err)
	f, ok := feedcat.ByID(all, feedID)
	require.True(tb, ok, "feed %s is not in schemas/feeds", feedID)
	cat, err := catalogue.Load()
	require.NoError(tb, err)
	cols, err := feeds.Columns(cat.Files[f.Catalogue])
	require.NoError(tb, err)
	fields, err := eurostat.ParseFields(f.Mapping)
	require.NoError(tb, err)
	pc, err := places.Load()
	require.NoError(tb, err)
	pl, err := eurostat.NewPlaces(pc, eurostat.EurostatPrefix)
	require.NoError(tb, err)
	data, err := os.ReadFile(filepath.Join(testenv.SharedDataDir(tb), filepath.FromSlash(f.Mirror)))
	require.NoError(tb, err)
	return eurostat.Mapping{
		Meta: feeds.Meta{Source: f.ID, URL: f.URL, Licence: f.Licence,
			RetrievedAt: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC), Version: 1_700_000_000_000},
		Columns: cols, Fields: fields, Places: pl,
	}, data
}

// readAll runs a reader over body to its end, checking every observation
// and that Stats counts what was yielded.
func readAll(tb testing.TB, body []byte, m eurostat.Mapping) ([]observation.Observation, eurostat.Stats, error) {
	tb.Helper()
	rd, err := eurostat.NewReader(bytes.NewReader(body), m)
	if err != nil {
		return nil, eurostat.Stats{}, err
	}
	var obs []observation.Observation
	for o, err := range rd.All() {
		if err != nil {
			return obs, rd.Stats(), err
		}
		require.NoError(tb, o.Validate())
		obs = append(obs, o)
	}
	require.Equal(tb, len(obs), rd.Stats().Observations)
	return obs, rd.Stats(), nil
}
