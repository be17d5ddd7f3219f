package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/httpapi"
)

func TestMux(t *testing.T) {
	mux := httpapi.NewMux()
	mux.HandleFunc("GET /v1/things/{id}", func(w http.ResponseWriter, r *http.Request) {
		_ = httpapi.WriteJSON(w, http.StatusOK, map[string]string{"id": r.PathValue("id"), "pattern": r.Pattern})
	})
	mux.HandleFunc("POST /v1/things/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})

	tests := []struct {
		name       string
		method     string
		path       string
		wantStatus int
		wantCode   httpapi.Code
		wantAllow  string
		wantBody   string
	}{
		{name: "match", method: http.MethodGet, path: "/v1/things/7", wantStatus: http.StatusOK,
			wantBody: `{"id":"7","pattern":"GET /v1/things/{id}"}`},
		{name: "no route", method: http.MethodGet, path: "/v2/nothing", wantStatus: http.StatusNotFound, wantCode: httpapi.CodeNotFound},
		{name: "wrong method", method: http.MethodDelete, path: "/v1/things/7", wantStatus: http.StatusMethodNotAllowed,
			wantCode: httpapi.CodeMethodNotAllowed, wantAllow: "GET, HEAD, POST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
			require.Equal(t, tt.wantStatus, rec.Code)
			if tt.wantBody != "" {
				require.JSONEq(t, tt.wantBody, rec.Body.String())
				return
			}
			var env httpapi.Envelope
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &env))
			require.Equal(t, tt.wantCode, env.Error.Code)
			require.Contains(t, env.Error.Message, tt.path)
			require.Equal(t, tt.wantAllow, rec.Header().Get("Allow"))
		})
	}
}
