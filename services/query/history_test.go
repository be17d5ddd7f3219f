package query_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/testenv"
	"github.com/ounce-data/ounce/services/query"
)

// insertLoadedAt stores one yearly value of owid.co2_per_capita for geo
// as if loaded at loaded, through the observations table (so its
// history view fills as a loader insert fills it).
func insertLoadedAt(t *testing.T, ch *testenv.ClickHouse, geo string, year int, value float64, version uint64, batch string, loaded time.Time) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := ch.Conn.PrepareBatch(ctx, `INSERT INTO observations (indicator, geo, grain, period_start, period_end, dims, source,
 value, unit, version, initiative, source_url, licence, retrieved_at, batch_id, loaded_at)`)
	require.NoError(t, err)
	start := time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC)
	require.NoError(t, b.Append("owid.co2_per_capita", geo, "year", start.Unix(), start.AddDate(1, 0, 0).Unix(), "", "owid-co2",
		value, "t CO2/person", version, "", "https://github.com/owid/co2-data", "CC BY 4.0", retrieved, batch, loaded))
	require.NoError(t, b.Send())
}

// TestIntegrationHistoryAndAsOf: a revised value keeps its previous
// versions in GET /v1/series/history, and as_of serves the data as it
// stood then, in series and aggregates, although observations itself has
// merged the old version away.
func TestIntegrationHistoryAndAsOf(t *testing.T) {
	f := newFixture(t, query.Config{})
	jan, feb := time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC), time.Date(2026, 2, 10, 9, 0, 0, 0, time.UTC)
	insertLoadedAt(t, f.ch, "FRA", 2018, 5.0, 1, "owid-co2-1", jan)
	insertLoadedAt(t, f.ch, "FRA", 2018, 4.9, 2, "owid-co2-2", feb) // the revision
	insertLoadedAt(t, f.ch, "FRA", 2018, 4.9, 2, "owid-co2-2", feb) // a redelivery: stored twice, listed once
	insertLoadedAt(t, f.ch, "DEU", 2018, 9.0, 1, "owid-co2-1", jan)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, f.ch.Conn.Exec(ctx, "OPTIMIZE TABLE observations FINAL"))
	var stored uint64
	require.NoError(t, f.ch.Conn.QueryRow(ctx, "SELECT count() FROM observations WHERE geo = 'FRA'").Scan(&stored))
	require.Equal(t, uint64(1), stored, "the merge kept one version in observations")

	rec := f.get(t, "/v1/series/history?indicator=owid.co2_per_capita&geo=FRA&period=2018")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	h := decode[query.HistoryResponse](t, rec)
	require.Equal(t, 2, h.Count)
	require.Equal(t, 5.0, *h.Versions[0].Value)
	require.Equal(t, "owid-co2-1", h.Versions[0].Batch)
	require.Equal(t, jan, h.Versions[0].LoadedAt)
	require.False(t, h.Versions[0].Served)
	require.Equal(t, 4.9, *h.Versions[1].Value)
	require.True(t, h.Versions[1].Served)

	value := func(target string) float64 {
		t.Helper()
		rec := f.get(t, target)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		se := decode[query.SeriesResponse](t, rec).Series
		require.Len(t, se, 1)
		require.Len(t, se[0].Points, 1)
		return *se[0].Points[0].Value
	}
	base := "/v1/series?indicator=owid.co2_per_capita&geo=FRA"
	require.Equal(t, 4.9, value(base))
	require.Equal(t, 5.0, value(base+"&as_of=2026-01-31"), "as it stood at the end of January")
	require.Equal(t, 4.9, value(base+"&as_of=2026-02-10T09:00:00Z"))

	rec = f.get(t, "/v1/aggregate?indicator=owid.co2_per_capita&geo=FRA,DEU&agg=max&by=geo&as_of=2026-01-31")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	for _, g := range decode[query.AggregateResponse](t, rec).Groups {
		if g.Geo == "FRA" {
			require.Equal(t, 5.0, *g.Value)
		}
	}

	for target, field := range map[string]string{
		base + "&as_of=2999-01-01":                                                 "as_of",
		base + "&as_of=yesterday":                                                  "as_of",
		"/v1/series/history?indicator=owid.co2_per_capita&geo=FRA":                 "period",
		"/v1/series/history?indicator=owid.co2_per_capita&period=2018":             "geo",
		"/v1/series/history?indicator=owid.co2_per_capita&geo=FRA,DEU&period=2018": "geo",
	} {
		rec := f.get(t, target)
		require.Equal(t, http.StatusBadRequest, rec.Code, target)
		require.Contains(t, rec.Body.String(), `"field":"`+field+`"`, target)
	}
}
