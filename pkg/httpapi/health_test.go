package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/httpapi"
)

func TestHealth(t *testing.T) {
	failing := errors.New("connection refused")
	tests := []struct {
		name        string
		checks      map[string]httpapi.CheckFunc
		shutdown    bool
		wantStatus  int
		wantFailing []string
		errContains string
	}{
		{name: "no checks", wantStatus: http.StatusOK, wantFailing: []string{}},
		{name: "all pass", checks: map[string]httpapi.CheckFunc{
			"clickhouse": func(context.Context) error { return nil },
		}, wantStatus: http.StatusOK, wantFailing: []string{}},
		{name: "one fails", checks: map[string]httpapi.CheckFunc{
			"clickhouse": func(context.Context) error { return failing },
		}, wantStatus: http.StatusServiceUnavailable, wantFailing: []string{"clickhouse"}, errContains: "connection refused"},
		{name: "a check that hangs is cut off", checks: map[string]httpapi.CheckFunc{
			"nats": func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() },
		}, wantStatus: http.StatusServiceUnavailable, wantFailing: []string{"nats"}, errContains: "deadline exceeded"},
		{name: "shutting down", shutdown: true, wantStatus: http.StatusServiceUnavailable, wantFailing: []string{"shutdown"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := httpapi.NewHealth(50 * time.Millisecond)
			for name, c := range tt.checks {
				h.Register(name, c)
			}
			if tt.shutdown {
				h.Shutdown()
			}

			rec := httptest.NewRecorder()
			h.Live(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
			require.Equal(t, http.StatusOK, rec.Code, "alive whatever the checks say")
			require.JSONEq(t, `{"status":"ok"}`, rec.Body.String())

			rec = httptest.NewRecorder()
			h.Ready(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
			require.Equal(t, tt.wantStatus, rec.Code)
			var got httpapi.Readiness
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
			require.Equal(t, tt.wantStatus == http.StatusOK, got.Ready)
			require.Equal(t, tt.wantFailing, got.Failing)
			if tt.errContains != "" {
				require.Len(t, got.Checks, 1)
				require.False(t, got.Checks[0].OK)
				require.Contains(t, got.Checks[0].Error, tt.errContains)
			}
		})
	}
}
