package query_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/httpapi"
	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/services/query"
)

// TestUnavailable points the service at an address where nothing listens:
// the API answers 503 unavailable, /readyz fails, /healthz still passes.
func TestUnavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := ln.Addr().String()
	require.NoError(t, ln.Close())

	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{dead}, DialTimeout: time.Second})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, conn.Close()) })
	cat, err := indicators.Load()
	require.NoError(t, err)
	reg := prometheus.NewRegistry()
	svc, err := query.New(query.Config{}, conn, cat, zerolog.Nop(), reg)
	require.NoError(t, err)
	h := svc.Handler()

	tests := []struct {
		name       string
		target     string
		wantStatus int
		wantCode   httpapi.Code
	}{
		{name: "series", target: "/v1/series?indicator=owid.co2&geo=GBR", wantStatus: http.StatusServiceUnavailable, wantCode: httpapi.CodeUnavailable},
		{name: "indicators", target: "/v1/indicators", wantStatus: http.StatusServiceUnavailable, wantCode: httpapi.CodeUnavailable},
		{name: "client mistakes are still 4xx", target: "/v1/series?indicator=nope", wantStatus: http.StatusNotFound, wantCode: httpapi.CodeUnknownIndicator},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := do(h, http.MethodGet, tt.target)
			require.Equal(t, tt.wantStatus, rec.Code, rec.Body.String())
			env := decode[httpapi.Envelope](t, rec)
			require.Equal(t, tt.wantCode, env.Error.Code)
		})
	}

	require.Equal(t, http.StatusOK, do(h, http.MethodGet, "/healthz").Code)
	rec := do(h, http.MethodGet, "/readyz")
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	ready := decode[httpapi.Readiness](t, rec)
	require.Equal(t, []string{"clickhouse"}, ready.Failing)

	lint(t, reg)
}

// TestNewRejects checks New's arguments.
func TestNewRejects(t *testing.T) {
	cat, err := indicators.Load()
	require.NoError(t, err)
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{"127.0.0.1:1"}})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, conn.Close()) })
	tests := []struct {
		name        string
		cfg         query.Config
		nilConn     bool
		nilCat      bool
		nilReg      bool
		errContains string
	}{
		{name: "bad config", cfg: query.Config{MaxRows: -1}, errContains: "max rows"},
		{name: "no connection", nilConn: true, errContains: "connection is nil"},
		{name: "no catalogue", nilCat: true, errContains: "catalogue is nil"},
		{name: "no registry", nilReg: true, errContains: "registry is nil"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, k, r := conn, cat, prometheus.NewRegistry()
			if tt.nilConn {
				c = nil
			}
			if tt.nilCat {
				k = nil
			}
			if tt.nilReg {
				r = nil
			}
			_, err := query.New(tt.cfg, c, k, zerolog.Nop(), r)
			require.ErrorContains(t, err, tt.errContains)
		})
	}
}

func lintRegistry(reg *prometheus.Registry) ([]promlint.Problem, error) {
	mfs, err := reg.Gather()
	if err != nil {
		return nil, err
	}
	return promlint.NewWithMetricFamilies(mfs).Lint()
}

// A request whose client went away while ClickHouse worked is counted as a
// client abort, not as a ClickHouse error (which an operator alerts on).
func TestIntegrationClientAbortsAreNotClickHouseErrors(t *testing.T) {
	f := newFixture(t, query.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, target := range []string{"/v1/series?indicator=owid.co2&geo=GBR", "/v1/aggregate?indicator=owid.co2&geo=GBR&agg=sum", "/v1/initiatives"} {
		req := httptest.NewRequest(http.MethodGet, target, nil).WithContext(ctx)
		rec := httptest.NewRecorder()
		f.h.ServeHTTP(rec, req)
		require.Equal(t, http.StatusServiceUnavailable, rec.Code, "%s: %s", target, rec.Body.String())
	}
	aborts, chErrors := 0.0, 0.0
	mfs, err := f.reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			switch mf.GetName() {
			case "ounce_query_client_aborts_total":
				aborts += m.GetCounter().GetValue()
			case "ounce_query_clickhouse_errors_total":
				chErrors += m.GetCounter().GetValue()
			}
		}
	}
	require.GreaterOrEqual(t, aborts, 3.0)
	require.Zero(t, chErrors)
}
