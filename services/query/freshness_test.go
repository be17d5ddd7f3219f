package query_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/catalogue"
	"github.com/ounce-data/ounce/pkg/extch"
	"github.com/ounce-data/ounce/pkg/httpapi"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/pkg/testenv"
	"github.com/ounce-data/ounce/services/query"
)

// TestIntegrationRevalidationNeedsNoClickHouse cuts the connection to
// ClickHouse after a first answer: while the data watermark is fresh,
// If-None-Match is still answered 304, from memory; a request without it,
// or once the watermark is stale, has to ask ClickHouse and gets 503.
func TestIntegrationRevalidationNeedsNoClickHouse(t *testing.T) {
	ch := testenv.StartClickHouse(t)
	seedSeries(t, ch)
	host := strings.TrimPrefix(ch.ServerDSN, "clickhouse://")
	host, _, _ = strings.Cut(host, "/")
	proxy := testenv.StartProxy(t, host)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := extch.Open(ctx, strings.Replace(ch.DSN, host, proxy.Addr(), 1))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	cat, err := catalogue.Load()
	require.NoError(t, err)
	const interval = 2 * time.Second
	svc, err := query.New(query.Config{FreshnessInterval: interval, QueryTimeout: time.Second}, conn, cat, zerolog.Nop(), prometheus.NewRegistry())
	require.NoError(t, err)
	h := svc.Handler()

	const target = "/v1/series?indicator=owid.co2_per_capita&geo=GBR"
	first := do(h, http.MethodGet, target)
	require.Equal(t, http.StatusOK, first.Code, first.Body.String())
	tag := first.Header().Get("ETag")
	primed := time.Now()

	proxy.SetDown(true)
	rec := do(h, http.MethodGet, target, "If-None-Match", tag)
	require.Less(t, time.Since(primed), interval, "the machine was too slow for this test's interval")
	require.Equal(t, http.StatusNotModified, rec.Code, rec.Body.String())
	require.Equal(t, tag, rec.Header().Get("ETag"))
	rec = do(h, http.MethodGet, target)
	require.Equal(t, http.StatusServiceUnavailable, rec.Code, "without If-None-Match the body is needed")

	time.Sleep(time.Until(primed.Add(interval + 100*time.Millisecond)))
	rec = do(h, http.MethodGet, target, "If-None-Match", tag)
	require.Equal(t, http.StatusServiceUnavailable, rec.Code, "a stale watermark must be read again")
	require.Equal(t, httpapi.CodeUnavailable, decode[httpapi.Envelope](t, rec).Error.Code)

	proxy.SetDown(false)
	require.Eventually(t, func() bool {
		return do(h, http.MethodGet, target, "If-None-Match", tag).Code == http.StatusNotModified
	}, 10*time.Second, 50*time.Millisecond, "unchanged data revalidates again once ClickHouse is back")

	// A write moves the watermark; merges do not change the answer's tag.
	insert(t, ch, obs("owid.co2_per_capita", "GBR", observation.Year(2020), 4.9, 3, nil))
	require.Eventually(t, func() bool {
		return do(h, http.MethodGet, target, "If-None-Match", tag).Code == http.StatusOK
	}, 2*interval+time.Second, 50*time.Millisecond)
	newTag := do(h, http.MethodGet, target).Header().Get("ETag")
	require.NoError(t, ch.Conn.Exec(ctx, "OPTIMIZE TABLE observations FINAL"))
	time.Sleep(interval + 100*time.Millisecond)
	require.Equal(t, http.StatusNotModified, do(h, http.MethodGet, target, "If-None-Match", newTag).Code)
}
