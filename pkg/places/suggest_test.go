package places_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/places"
)

func suggested(ps []places.Place) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Code
	}
	return out
}

func TestSuggestFindsWhatWasMeant(t *testing.T) {
	c, err := places.Load()
	require.NoError(t, err)
	fra, ok := c.Place("FRA")
	require.True(t, ok)
	for _, q := range []string{"fra", "FR", "fr", fra.Name, "france"} {
		got := suggested(c.Suggest(q, 3))
		require.NotEmpty(t, got, q)
		require.Equal(t, "FRA", got[0], "%q", q)
	}
	require.Equal(t, "GBR", suggested(c.Suggest("UK", 3))[0], "UK is how people (and Eurostat) write GB")
	require.Equal(t, "GRC", suggested(c.Suggest("EL", 3))[0])
	require.Contains(t, suggested(c.Suggest("Frnace", 5)), "FRA", "a typo of the name")
	require.Empty(t, c.Suggest("zzzzzzzz", 3))
	require.Len(t, c.Suggest("united", 2), 2, "at most n")
}

func TestDidYouMeanNamesTheSuggestions(t *testing.T) {
	c, err := places.Load()
	require.NoError(t, err)
	hint, codes := c.DidYouMean("France")
	require.Equal(t, "; did you mean FRA (France)?", hint)
	require.Equal(t, []string{"FRA"}, codes)
	hint, codes = c.DidYouMean("united")
	require.Len(t, codes, places.HintSuggestions, "at most HintSuggestions")
	require.Equal(t, 2, strings.Count(hint, " or "), hint)
	hint, codes = c.DidYouMean("manchester")
	require.Equal(t, "; did you mean GB-MAN (Manchester) or us-place:3345140 (Manchester, NH)?", hint, "the exact name first")
	require.Equal(t, []string{"GB-MAN", "us-place:3345140"}, codes)
	hint, codes = c.DidYouMean("zzzzzzzz")
	require.Empty(t, hint)
	require.Empty(t, codes)
}

func TestEntityReviewIsChecked(t *testing.T) {
	c, err := places.Load()
	require.NoError(t, err)
	country, ok := c.EntityCountry("OWID_KOS")
	require.True(t, ok)
	require.Equal(t, "XKX", country)
	_, ok = c.EntityCountry("owid:africa")
	require.False(t, ok, "an aggregate is no country")

	fsys := fstest.MapFS{
		"p/a.yaml": {Data: []byte("places:\n  - {code: WLD, name: World, level: world}\n  - {code: \"m49:150\", name: Europe, level: region, parent: WLD}\n  - {code: FRA, name: France, level: country, parent: \"m49:150\"}\n  - {code: \"x:agg\", name: A group, level: aggregate}\n")},
		"p/e.yaml": {Data: []byte("entities:\n  countries:\n    - {entity: \"x:fr\", country: FRA}\n    - {entity: \"x:fr\", country: FRA}\n    - {entity: \"x:no\", country: NOPE}\n    - {entity: \"x:agg\", country: FRA}\n  aggregates: [\"x:missing\"]\n")},
	}
	_, err = places.LoadFS(fsys, "p")
	require.ErrorContains(t, err, "entity x:fr is listed twice")
	require.ErrorContains(t, err, "country NOPE is not a country of the catalogue")
	require.ErrorContains(t, err, "entity x:agg is the country FRA, so it must not be a place of its own")
	require.ErrorContains(t, err, "entity x:missing is listed as an aggregate but is no aggregate place")
}
