package socrata_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/catalogue"
	"github.com/ounce-data/ounce/pkg/feedcat"
	"github.com/ounce-data/ounce/pkg/feeds"
	"github.com/ounce-data/ounce/pkg/feeds/socrata"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/pkg/testenv"
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

func loadFeed(tb testing.TB, id string) feedcat.Feed {
	tb.Helper()
	all, err := feedcat.Load()
	require.NoError(tb, err)
	f, ok := feedcat.ByID(all, id)
	require.True(tb, ok, "feed %s is not in schemas/feeds", id)
	return f
}

// mappingOf builds the reader's mapping of a declared feed.
func mappingOf(tb testing.TB, f feedcat.Feed) socrata.Mapping {
	tb.Helper()
	cat, err := catalogue.Load()
	require.NoError(tb, err)
	cf, ok := cat.Files[f.Catalogue]
	require.True(tb, ok, "catalogue %s", f.Catalogue)
	cols, err := feeds.Columns(cf)
	require.NoError(tb, err)
	fields, err := socrata.ParseFields(f.Mapping)
	require.NoError(tb, err)
	return socrata.Mapping{
		Meta: feeds.Meta{
			Source: f.ID, URL: f.URL, Licence: f.Licence,
			RetrievedAt: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC),
			Version:     1_700_000_000_000,
		},
		Indicators: cols,
		Fields:     fields,
	}
}

func sharedFile(tb testing.TB, rel string) []byte {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.SharedDataDir(tb), filepath.FromSlash(rel)))
	require.NoError(tb, err)
	return data
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
