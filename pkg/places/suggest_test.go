package places_test

import (
	"testing"

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
