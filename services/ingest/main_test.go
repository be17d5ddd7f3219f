package ingest_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/places"
	"github.com/ounce-data/ounce/pkg/testenv"
)

// TestMain fails the package when a test leaves goroutines behind: a feed
// run that returned must not leave fetches or publishes running.
func TestMain(m *testing.M) {
	testenv.Main(m)
}

// testPlaces is the embedded place catalogue.
func testPlaces(tb testing.TB) *places.Catalogue {
	tb.Helper()
	pl, err := places.Load()
	require.NoError(tb, err)
	return pl
}

// testPlacesCatalogue is the embedded place catalogue, for expectations
// computed outside a test's body.
var testPlacesCatalogue = func() *places.Catalogue {
	pl, err := places.Load()
	if err != nil {
		panic(err)
	}
	return pl
}()
