package feedcat_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/feedcat"
	"github.com/ounce-data/ounce/pkg/indicators"
)

func TestSourceOrdersNameFeedsOfTheirCatalogue(t *testing.T) {
	cat, err := indicators.Load()
	require.NoError(t, err)
	feeds, err := feedcat.Load()
	require.NoError(t, err)
	require.NoError(t, feedcat.CheckSources(cat, feeds), "every declared source order of the catalogue")

	wb := cat.Files["worldbank"]
	require.NotNil(t, wb)
	wb.Indicators[0].Sources = []string{"worldbank-health-expenditure", "no-such-feed", "owid-co2", "partner:nhs"}
	err = feedcat.CheckSources(cat, feeds)
	require.ErrorContains(t, err, `sources names "no-such-feed", which is not a feed of schemas/feeds`)
	require.ErrorContains(t, err, "sources names feed owid-co2, which reads catalogue owid-co2, not worldbank")
	require.NotContains(t, err.Error(), "partner:nhs")
}
