package ingest_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/feedcat"
	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/places"
	"github.com/ounce-data/ounce/pkg/testenv"
	"github.com/ounce-data/ounce/services/ingest"
)

// uncataloguedSchemes are place-code schemes a feed may emit that the
// place catalogue deliberately does not list, each with its reason. Keep it
// empty unless a scheme cannot be catalogued.
var uncataloguedSchemes = map[string]string{}

// Every place code a feed's adapter gives to an observation of the feed's
// recording is in the place catalogue (so that it has a name, a level and a
// parent to roll up along), or belongs to a scheme listed in
// uncataloguedSchemes.
func TestEveryRecordedPlaceIsCatalogued(t *testing.T) {
	dir := testenv.SharedDataDir(t)
	all, err := feedcat.Load()
	require.NoError(t, err)
	cat, err := indicators.Load()
	require.NoError(t, err)
	pl, err := places.Load()
	require.NoError(t, err)
	ran := 0
	for _, f := range all {
		if f.Mirror == "" {
			continue
		}
		t.Run(f.ID, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Mirror)))
			require.NoError(t, err)
			obs, err := ingest.ParseBody(f, cat, testPlaces(t), body, fixedClock)
			require.NoError(t, err)
			n := 0
			missing := map[string]int{}
			for o, err := range obs {
				require.NoError(t, err)
				n++
				if _, ok := pl.Place(o.Geo); ok {
					continue
				}
				if scheme, _, ok := strings.Cut(o.Geo, ":"); ok {
					if _, listed := uncataloguedSchemes[scheme+":"]; listed {
						continue
					}
				}
				missing[o.Geo]++
			}
			require.NotZero(t, n, "the recording gives observations")
			codes := make([]string, 0, len(missing))
			for c := range missing {
				codes = append(codes, c)
			}
			slices.Sort(codes)
			require.Empty(t, codes, "feed %s gives observations at %d places not in schemas/places", f.ID, len(codes))
		})
		ran++
	}
	require.Greater(t, ran, 15, "feeds with a recording")
}
