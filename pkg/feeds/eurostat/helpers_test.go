package eurostat_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/feeds"
	"github.com/ounce-data/ounce/pkg/feeds/eurostat"
	"github.com/ounce-data/ounce/pkg/feeds/feedtest"
	"github.com/ounce-data/ounce/pkg/observation"
)

const feedID = "eurostat-waste-treatment"

// setup returns the declared feed's mapping and its recording.
func setup(tb testing.TB) (eurostat.Mapping, []byte) {
	tb.Helper()
	rec := feedtest.Load(tb, feedID)
	fields, err := eurostat.ParseFields(rec.Feed.Mapping)
	require.NoError(tb, err)
	pl, err := eurostat.NewPlaces(rec.Places, eurostat.EurostatPrefix)
	require.NoError(tb, err)
	return eurostat.Mapping{Meta: rec.Meta, Columns: rec.Columns, Fields: fields, Places: pl}, rec.Data
}

// readAll runs a reader over body to its end, checking every observation
// and that Stats counts what was yielded.
func readAll(tb testing.TB, body []byte, m eurostat.Mapping) ([]observation.Observation, feeds.Stats, error) {
	tb.Helper()
	rd, err := eurostat.NewReader(bytes.NewReader(body), m)
	if err != nil {
		return nil, feeds.Stats{}, err
	}
	obs, err := feedtest.Drain(tb, rd.All())
	require.Equal(tb, len(obs), rd.Stats().Observations)
	return obs, rd.Stats(), err
}
