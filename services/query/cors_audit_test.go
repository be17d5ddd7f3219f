package query_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/httpapi"
	"github.com/ounce-data/ounce/pkg/testenv"
	"github.com/ounce-data/ounce/services/query"
)

// A page on an allowed origin may read the API and preflight a read; it
// may not write unless writes are configured; other origins get nothing.
func TestIntegrationCORS(t *testing.T) {
	f := newFixture(t, query.Config{AnalystToken: testAnalystToken, CORS: httpapi.CORS{Origins: []string{"https://notebook.example"}}})
	rec := f.get(t, "/v1/indicators", "Origin", "https://notebook.example")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "https://notebook.example", rec.Header().Get("Access-Control-Allow-Origin"))
	require.Contains(t, rec.Header().Get("Access-Control-Expose-Headers"), "ETag")

	rec = do(f.h, http.MethodOptions, "/v1/series", "Origin", "https://notebook.example", "Access-Control-Request-Method", "GET",
		"Access-Control-Request-Headers", "authorization, if-none-match")
	require.Equal(t, http.StatusNoContent, rec.Code)
	require.Equal(t, "https://notebook.example", rec.Header().Get("Access-Control-Allow-Origin"))
	require.Contains(t, rec.Header().Get("Access-Control-Allow-Headers"), "If-None-Match")

	rec = do(f.h, http.MethodOptions, "/v1/initiatives", "Origin", "https://notebook.example", "Access-Control-Request-Method", "POST")
	require.Empty(t, rec.Header().Get("Access-Control-Allow-Origin"), "writes are not cross-origin unless configured")
	rec = f.send(t, http.MethodPost, "/v1/initiatives", initiativeDoc, "Origin", "https://notebook.example", "Authorization", "Bearer "+testAnalystToken)
	require.Empty(t, rec.Header().Get("Access-Control-Allow-Origin"))

	rec = f.get(t, "/v1/indicators", "Origin", "https://elsewhere.example")
	require.Equal(t, http.StatusOK, rec.Code, "same answer, but the browser withholds it")
	require.Empty(t, rec.Header().Get("Access-Control-Allow-Origin"))

	plain := newFixture(t, query.Config{})
	require.Empty(t, plain.get(t, "/v1/indicators", "Origin", "https://notebook.example").Header().Get("Access-Control-Allow-Origin"),
		"no CORS unless configured")
}

// Every analyst write is logged as an audit line (who, what, which
// version, request id) and counted by action.
func TestIntegrationAnalystWritesAudited(t *testing.T) {
	var logs testenv.SyncBuffer
	f := newFixtureLogging(t, query.Config{AnalystToken: testAnalystToken}, zerolog.New(&logs))
	auth := []string{"Authorization", "Bearer " + testAnalystToken, httpapi.RequestIDHeader, "req-audit-1"}
	require.Equal(t, http.StatusCreated, f.send(t, http.MethodPost, "/v1/initiatives", initiativeDoc, auth...).Code)
	changed := strings.Replace(initiativeDoc, `"name": "Diabetes prevention programme"`, `"name": "NHS DPP"`, 1)
	require.Equal(t, http.StatusOK, f.send(t, http.MethodPut, "/v1/initiatives/nhs-dpp-england", changed, auth...).Code)
	require.Equal(t, http.StatusNoContent, f.send(t, http.MethodDelete, "/v1/initiatives/nhs-dpp-england", "", auth...).Code)

	var actions []string
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var e struct {
			Audit      bool   `json:"audit"`
			Who        string `json:"who"`
			Action     string `json:"action"`
			Initiative string `json:"initiative"`
			RequestID  string `json:"request_id"`
			Version    uint64 `json:"version"`
		}
		require.NoError(t, json.Unmarshal([]byte(line), &e), line)
		if !e.Audit {
			continue
		}
		require.Equal(t, "nhs-dpp-england", e.Initiative)
		require.Equal(t, "req-audit-1", e.RequestID)
		require.Equal(t, "analyst token", e.Who)
		require.NotZero(t, e.Version)
		actions = append(actions, e.Action)
	}
	require.Equal(t, []string{"create", "replace", "delete"}, actions)

	body := f.get(t, "/metrics").Body.String()
	for _, a := range []string{"create", "replace", "delete"} {
		require.Contains(t, body, `ounce_query_analyst_writes_total{action="`+a+`"} 1`)
	}
}
