package socrata_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/feedcat"
	"github.com/ounce-data/ounce/pkg/feeds/feedtest"
	"github.com/ounce-data/ounce/pkg/feeds/socrata"
	"github.com/ounce-data/ounce/pkg/observation"
)

// The Socrata feeds of schemas/feeds and their recordings.
var feedIDs = []string{
	"cdc-vsrr-quarterly-mortality",
	"cdc-death-rates-1900-2018",
	"cdc-leading-causes",
	"cdc-leading-causes-rows",
	"cdc-500-cities",
	"cdc-dhds-disability",
}

// recorded returns declared feed id, the reader's mapping of it and its
// recording.
func recorded(tb testing.TB, id string) (feedcat.Feed, socrata.Mapping, []byte) {
	tb.Helper()
	rec := feedtest.Load(tb, id)
	fields, err := socrata.ParseFields(rec.Feed.Mapping)
	require.NoError(tb, err)
	return rec.Feed, socrata.Mapping{Meta: rec.Meta, Indicators: rec.Columns, Fields: fields}, rec.Data
}

// open picks the reader of the feed's format.
func open(tb testing.TB, f feedcat.Feed, body []byte, m socrata.Mapping) (*socrata.Reader, error) {
	tb.Helper()
	if f.Format == "socrata-rows-json" {
		return socrata.NewRowsReader(bytesReader(body), m)
	}
	return socrata.NewReader(bytesReader(body), m)
}

// readAll runs a reader to its end, checking that every observation is
// valid and that Stats counts what was yielded.
func readAll(tb testing.TB, rd *socrata.Reader) ([]observation.Observation, error) {
	tb.Helper()
	var obs []observation.Observation
	for o, err := range rd.All() {
		if err != nil {
			return obs, err
		}
		require.NoError(tb, o.Validate())
		obs = append(obs, o)
	}
	require.Equal(tb, len(obs), rd.Stats().Observations)
	return obs, nil
}
