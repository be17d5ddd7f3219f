package extch_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/batchstatus"
	"github.com/ounce-data/ounce/pkg/extch"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/pkg/testenv"
)

// TestIntegrationClassify: a partner's rows are imported, updated or
// ignored against what other batches stored, and a message classified
// again after its own insert (a redelivery) gets the same answer.
func TestIntegrationClassify(t *testing.T) {
	ch := testenv.StartClickHouse(t)
	ctx := t.Context()
	at := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	obs := func(geo string, year int, value float64, version uint64, source string) observation.Observation {
		return observation.Observation{Indicator: "who.NCD_PAA", Geo: geo, Period: observation.Year(year),
			Dims: observation.Dims{"sex": "female"}, Value: observation.Float(value), Unit: "%", Source: source,
			Version: version, Provenance: observation.Provenance{Licence: "partner", RetrievedAt: at}}
	}
	var first extch.Columns
	for _, o := range []observation.Observation{
		obs("GBR", 2020, 31.5, 10, "partner:a"),
		obs("GBR", 2021, 30, 10, "partner:a"),
		obs("FRA", 2020, 20, 30, "partner:a"),
		obs("DEU", 2020, 25, 10, "partner:b"), // another source: never compared
	} {
		first.Add(&o, "batch-1")
	}
	require.NoError(t, first.Insert(ctx, ch.Conn))

	var next extch.Columns
	for _, o := range []observation.Observation{
		obs("GBR", 2020, 31.5, 20, "partner:a"), // same value: ignored
		obs("GBR", 2021, 29, 20, "partner:a"),   // new value: updated
		obs("FRA", 2020, 21, 20, "partner:a"),   // older than the stored version: ignored
		obs("DEU", 2020, 26, 20, "partner:a"),   // only partner:b held it: imported
		obs("GBR", 2022, 28, 20, "partner:a"),   // new key: imported
	} {
		next.Add(&o, "batch-2")
	}
	want := batchstatus.RowChanges{Imported: 2, Updated: 1, Ignored: 2}
	got, err := extch.Classify(ctx, ch.Conn, &next, 0, next.Len())
	require.NoError(t, err)
	require.Equal(t, want, got)

	require.NoError(t, next.Insert(ctx, ch.Conn))
	again, err := extch.Classify(ctx, ch.Conn, &next, 0, next.Len())
	require.NoError(t, err)
	require.Equal(t, want, again, "the batch's own rows do not count")

	part, err := extch.Classify(ctx, ch.Conn, &next, 1, 2)
	require.NoError(t, err)
	require.Equal(t, batchstatus.RowChanges{Updated: 1}, part)
	none, err := extch.Classify(ctx, ch.Conn, &next, 2, 2)
	require.NoError(t, err)
	require.Zero(t, none)
}
