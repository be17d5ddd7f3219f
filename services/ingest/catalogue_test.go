package ingest_test

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/feedcat"
	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/services/ingest"
)

// Every declared feed can run: its format has an adapter and its indicator
// catalogue exists. A feed added to schemas/feeds without its adapter or
// catalogue fails here, not at 3 a.m. in production.
func TestEveryFeedHasAnAdapterAndACatalogue(t *testing.T) {
	feeds, err := feedcat.Load()
	require.NoError(t, err)
	require.NotEmpty(t, feeds)
	cat, err := indicators.Load()
	require.NoError(t, err)
	formats := ingest.Formats()
	for _, f := range feeds {
		require.True(t, slices.Contains(formats, f.Format), "feed %s: format %q is not in the formats table (have %v)", f.ID, f.Format, formats)
		cf, ok := cat.Files[f.Catalogue]
		require.True(t, ok, "feed %s: catalogue %q is not in schemas/catalogue", f.ID, f.Catalogue)
		require.NotEmpty(t, cf.Indicators, "feed %s: catalogue %q has no indicators", f.ID, f.Catalogue)
		require.NotEmpty(t, f.Licence, "feed %s has no licence", f.ID)
	}
}
