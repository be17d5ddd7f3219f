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

	"github.com/ounce-data/ounce/pkg/extch"
	"github.com/ounce-data/ounce/pkg/httpapi"
	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/pkg/testenv"
	"github.com/ounce-data/ounce/services/query"
)

// TestIntegrationRevalidationNeedsNoClickHouse cuts the connection to
// ClickHouse after a first answer: while the data watermark is fresh,
// If-None-Match is still answered 304, from memory; a request without it,
// or once the watermark is stale, has to ask ClickHouse and gets 503. The
// service's clock moves only when the test moves it.
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
	cat, err := indicators.Load()
	require.NoError(t, err)
	const interval = time.Minute
	svc, err := query.New(query.Config{FreshnessInterval: interval, QueryTimeout: time.Second}, conn, cat, zerolog.Nop(), prometheus.NewRegistry())
	require.NoError(t, err)
	clock := query.NewClock()
	svc.SetClock(clock.Now)
	h := svc.Handler()

	const target = "/v1/series?indicator=owid.co2_per_capita&geo=GBR"
	first := do(h, http.MethodGet, target)
	require.Equal(t, http.StatusOK, first.Code, first.Body.String())
	tag := first.Header().Get("ETag")

	proxy.SetDown(true)
	clock.Advance(interval - time.Nanosecond)
	rec := do(h, http.MethodGet, target, "If-None-Match", tag)
	require.Equal(t, http.StatusNotModified, rec.Code, "the watermark is still fresh: %s", rec.Body.String())
	require.Equal(t, tag, rec.Header().Get("ETag"))
	rec = do(h, http.MethodGet, target)
	require.Equal(t, http.StatusServiceUnavailable, rec.Code, "without If-None-Match the body is needed")

	clock.Advance(time.Nanosecond)
	rec = do(h, http.MethodGet, target, "If-None-Match", tag)
	require.Equal(t, http.StatusServiceUnavailable, rec.Code, "a stale watermark must be read again")
	require.Equal(t, httpapi.CodeUnavailable, decode[httpapi.Envelope](t, rec).Error.Code)

	// A failed read is not trusted: once ClickHouse is back, the next
	// request reads the watermark again, the clock unmoved.
	proxy.SetDown(false)
	require.Equal(t, http.StatusNotModified, do(h, http.MethodGet, target, "If-None-Match", tag).Code,
		"unchanged data revalidates again once ClickHouse is back")

	// A write by another process is seen once the interval has passed, not
	// before; merges do not change the answer's tag.
	insert(t, ch, obs("owid.co2_per_capita", "GBR", observation.Year(2020), 4.9, 3, nil))
	require.Equal(t, http.StatusNotModified, do(h, http.MethodGet, target, "If-None-Match", tag).Code,
		"the watermark read just now is trusted for the interval")
	clock.Advance(interval)
	rec = do(h, http.MethodGet, target, "If-None-Match", tag)
	require.Equal(t, http.StatusOK, rec.Code, "the new watermark shows the write")
	newTag := rec.Header().Get("ETag")
	require.NotEqual(t, tag, newTag)
	require.NoError(t, ch.Conn.Exec(ctx, "OPTIMIZE TABLE observations FINAL"))
	clock.Advance(interval)
	require.Equal(t, http.StatusNotModified, do(h, http.MethodGet, target, "If-None-Match", newTag).Code)
}
