package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/httpapi"
)

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := httpapi.NewMetrics(reg, "demo")
	require.NoError(t, err)

	mux := httpapi.NewMux()
	mux.HandleFunc("GET /v1/items/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "missing" {
			httpapi.WriteError(w, httpapi.Errorf(httpapi.CodeNotFound, "id", "no item"))
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	h := httpapi.RequestIDs(m.Middleware(mux))

	for _, p := range []string{"/v1/items/1", "/v1/items/2", "/v1/items/missing", "/nope/1", "/nope/2"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
		require.NotEmpty(t, rec.Header().Get(httpapi.RequestIDHeader))
	}

	want := `
# HELP ounce_demo_http_requests_total HTTP requests answered, by route pattern and status code.
# TYPE ounce_demo_http_requests_total counter
ounce_demo_http_requests_total{code="200",route="GET /v1/items/{id}"} 2
ounce_demo_http_requests_total{code="404",route="GET /v1/items/{id}"} 1
ounce_demo_http_requests_total{code="404",route="unmatched"} 2
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want), "ounce_demo_http_requests_total"))
	require.Equal(t, 2, testutil.CollectAndCount(reg, "ounce_demo_http_request_duration_seconds"),
		"one histogram per route pattern, never per raw path")

	mfs, err := reg.Gather()
	require.NoError(t, err)
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	require.NoError(t, err)
	require.Empty(t, problems)
}

func TestNewMetricsRejectsBadServiceName(t *testing.T) {
	for _, svc := range []string{"", "Query", "query-api", "1query"} {
		_, err := httpapi.NewMetrics(prometheus.NewRegistry(), svc)
		require.ErrorContains(t, err, "snake_case", svc)
	}
}

func TestRequestIDs(t *testing.T) {
	var seen string
	h := httpapi.RequestIDs(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		seen = httpapi.RequestID(r.Context())
	}))
	tests := []struct {
		name     string
		incoming string
		wantSame bool
	}{
		{name: "caller's id is kept", incoming: "abc-123", wantSame: true},
		{name: "none given", incoming: ""},
		{name: "unsafe id is replaced", incoming: "x\"; rm -rf /"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			if tt.incoming != "" {
				req.Header.Set(httpapi.RequestIDHeader, tt.incoming)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			require.Equal(t, seen, rec.Header().Get(httpapi.RequestIDHeader))
			if tt.wantSame {
				require.Equal(t, tt.incoming, seen)
			} else {
				require.Regexp(t, `^[0-9a-f]{16}$`, seen)
			}
		})
	}
}
