package ingest_test

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"strconv"
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
				if country, ok := pl.EntityCountry(o.Geo); ok {
					t.Fatalf("observation at entity %s, which the place catalogue reviews as %s", o.Geo, country)
				}
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

// OWID's entities without an ISO code that are countries (Kosovo as
// OWID_KOS, "Micronesia", "Reunion") are filed under the country's code,
// with the values of their rows in the raw file.
func TestEntitiesReviewedAsCountriesFileUnderTheirCode(t *testing.T) {
	dir := testenv.SharedDataDir(t)
	all, err := feedcat.Load()
	require.NoError(t, err)
	f, ok := feedcat.ByID(all, "owid-co2")
	require.True(t, ok)
	cat, err := indicators.Load()
	require.NoError(t, err)
	body, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Mirror)))
	require.NoError(t, err)
	obs, err := ingest.ParseBody(f, cat, testPlaces(t), body, fixedClock)
	require.NoError(t, err)
	got := map[string]float64{}
	for o, err := range obs {
		require.NoError(t, err)
		if o.Indicator == "owid.co2" {
			got[o.Geo+" "+o.Period.Code()] = *o.Value
		}
	}
	recs, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	require.NoError(t, err)
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	want := map[string]string{"Kosovo": "XKX", "Micronesia": "FSM", "Reunion": "REU"}
	checked := 0
	for _, r := range recs[1:] {
		country, ok := want[r[col["country"]]]
		if !ok || r[col["co2"]] == "" {
			continue
		}
		v, err := strconv.ParseFloat(r[col["co2"]], 64)
		require.NoError(t, err)
		k := country + " " + r[col["year"]]
		require.Contains(t, got, k, "the row of %s", r[col["country"]])
		require.Equal(t, v, got[k], k)
		checked++
	}
	require.Greater(t, checked, 100, "rows of the three entities with a CO2 value")
}
