// Package feedtest loads a declared feed and its recording for the tests
// of a feed format's package, as httptest serves HTTP tests.
package feedtest

import (
	"iter"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/feedcat"
	"github.com/ounce-data/ounce/pkg/feeds"
	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/pkg/places"
	"github.com/ounce-data/ounce/pkg/testenv"
)

// Recorded is a feed of schemas/feeds with what its reader needs.
type Recorded struct {
	Feed      feedcat.Feed
	Meta      feeds.Meta              // stamped with a fixed retrieval time and version
	Catalogue *indicators.File        // its indicator catalogue file
	Columns   map[string]feeds.Column // its catalogue's columns
	Places    *places.Catalogue       // the embedded place catalogue
	Data      []byte                  // its recording under the shared data directory
}

// Load reads feed id, its catalogue columns and its mirror recording.
func Load(tb testing.TB, id string) Recorded {
	tb.Helper()
	all, err := feedcat.Load()
	require.NoError(tb, err)
	f, ok := feedcat.ByID(all, id)
	require.True(tb, ok, "feed %s is not in schemas/feeds", id)
	cat, err := indicators.Load()
	require.NoError(tb, err)
	cf, ok := cat.Files[f.Catalogue]
	require.True(tb, ok, "catalogue %s of feed %s", f.Catalogue, id)
	cols, err := feeds.Columns(cf)
	require.NoError(tb, err)
	pl, err := places.Load()
	require.NoError(tb, err)
	data, err := os.ReadFile(filepath.Join(testenv.SharedDataDir(tb), filepath.FromSlash(f.Mirror)))
	require.NoError(tb, err)
	return Recorded{
		Feed: f,
		Meta: feeds.Meta{Source: f.ID, URL: f.URL, Licence: f.Licence,
			RetrievedAt: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC), Version: 1_700_000_000_000},
		Catalogue: cf, Columns: cols, Places: pl, Data: data,
	}
}

// Drain reads seq to its end or its first error, requiring every
// observation yielded to be valid and to carry a value.
func Drain(tb testing.TB, seq iter.Seq2[observation.Observation, error]) ([]observation.Observation, error) {
	tb.Helper()
	var obs []observation.Observation
	for o, err := range seq {
		if err != nil {
			return obs, err
		}
		require.NoError(tb, o.Validate())
		require.NotNil(tb, o.Value)
		obs = append(obs, o)
	}
	return obs, nil
}

// ReadAll reads every observation of src, as opened by a format's
// NewReader (src, err), and returns them with its stats: the first error,
// of the opening or of the body, ends it.
func ReadAll[S feeds.Source](src S, err error) ([]observation.Observation, feeds.Stats, error) {
	if err != nil {
		return nil, feeds.Stats{}, err
	}
	var out []observation.Observation
	for o, err := range src.All() {
		if err != nil {
			return nil, src.Stats(), err
		}
		out = append(out, o)
	}
	return out, src.Stats(), nil
}
