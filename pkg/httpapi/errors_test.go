package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/ounce-data/ounce/pkg/httpapi"
	"github.com/ounce-data/ounce/schemas"
)

// TestCodesMatchSchema keeps the Code constants and schemas/errors.yaml in
// step, in both directions and with the same statuses.
func TestCodesMatchSchema(t *testing.T) {
	var doc struct {
		Codes map[string]struct {
			Status  int    `yaml:"status"`
			Meaning string `yaml:"meaning"`
		} `yaml:"codes"`
	}
	require.NoError(t, yaml.Unmarshal(schemas.ErrorCodes, &doc))
	require.NotEmpty(t, doc.Codes)

	inGo := map[string]int{}
	for _, c := range httpapi.Codes() {
		inGo[string(c)] = c.Status()
	}
	for code, spec := range doc.Codes {
		status, ok := inGo[code]
		require.Truef(t, ok, "errors.yaml code %q has no httpapi constant", code)
		require.Equalf(t, spec.Status, status, "status of %q", code)
		require.NotEmptyf(t, spec.Meaning, "meaning of %q", code)
	}
	for code := range inGo {
		_, ok := doc.Codes[code]
		require.Truef(t, ok, "httpapi code %q is not in schemas/errors.yaml", code)
	}
	require.Equal(t, http.StatusInternalServerError, httpapi.Code("no_such_code").Status())
}

func TestWriteError(t *testing.T) {
	tests := []struct {
		name       string
		err        *httpapi.Error
		wantStatus int
		wantBody   string
	}{
		{
			name:       "bad request names the field",
			err:        httpapi.BadRequest("from", "period %q: want 2018", "x"),
			wantStatus: http.StatusBadRequest,
			wantBody:   `{"error":{"code":"bad_request","message":"period \"x\": want 2018","field":"from"}}`,
		},
		{
			name:       "field is left out when empty",
			err:        httpapi.Errorf(httpapi.CodeRangeTooLarge, "", "narrow <the> range"),
			wantStatus: http.StatusUnprocessableEntity,
			wantBody:   `{"error":{"code":"range_too_large","message":"narrow <the> range"}}`,
		},
		{
			name:       "nil is an internal error",
			err:        nil,
			wantStatus: http.StatusInternalServerError,
			wantBody:   `{"error":{"code":"internal","message":"an error was reported without details"}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			rec.Header().Set("ETag", `"stale"`)
			httpapi.WriteError(rec, tt.err)
			require.Equal(t, tt.wantStatus, rec.Code)
			require.Equal(t, "application/json; charset=utf-8", rec.Header().Get("Content-Type"))
			require.Empty(t, rec.Header().Get("ETag"))
			require.JSONEq(t, tt.wantBody, rec.Body.String())
		})
	}
}

func TestWriteJSON(t *testing.T) {
	rec := httptest.NewRecorder()
	require.NoError(t, httpapi.WriteJSON(rec, http.StatusCreated, map[string]any{"a": 1, "b": "<x>"}))
	require.Equal(t, http.StatusCreated, rec.Code)
	require.Equal(t, "{\"a\":1,\"b\":\"<x>\"}\n", rec.Body.String())

	rec = httptest.NewRecorder()
	err := httpapi.WriteJSON(rec, http.StatusOK, map[string]any{"bad": make(chan int)})
	require.ErrorContains(t, err, "encode json response")
	require.Equal(t, http.StatusInternalServerError, rec.Code)
	var env httpapi.Envelope
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &env))
	require.Equal(t, httpapi.CodeInternal, env.Error.Code)
}

func TestWriteJSONWithETag(t *testing.T) {
	v := map[string]int{"count": 3}
	rec := httptest.NewRecorder()
	require.NoError(t, httpapi.WriteJSONWithETag(rec, httptest.NewRequest(http.MethodGet, "/", nil), v))
	require.Equal(t, http.StatusOK, rec.Code)
	tag := rec.Header().Get("ETag")
	require.Regexp(t, `^"[A-Za-z0-9_-]+"$`, tag)
	require.Equal(t, httpapi.ETag(rec.Body.Bytes()), tag)

	tests := []struct {
		name        string
		ifNoneMatch string
		wantStatus  int
	}{
		{name: "same tag", ifNoneMatch: tag, wantStatus: http.StatusNotModified},
		{name: "weak form of the tag", ifNoneMatch: "W/" + tag, wantStatus: http.StatusNotModified},
		{name: "tag in a list", ifNoneMatch: `"other", ` + tag, wantStatus: http.StatusNotModified},
		{name: "star", ifNoneMatch: "*", wantStatus: http.StatusNotModified},
		{name: "other tag", ifNoneMatch: `"other"`, wantStatus: http.StatusOK},
		{name: "unquoted tag", ifNoneMatch: tag[1 : len(tag)-1], wantStatus: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.Header.Set("If-None-Match", tt.ifNoneMatch)
			rec := httptest.NewRecorder()
			require.NoError(t, httpapi.WriteJSONWithETag(rec, req, v))
			require.Equal(t, tt.wantStatus, rec.Code)
			require.Equal(t, tag, rec.Header().Get("ETag"))
			if tt.wantStatus == http.StatusNotModified {
				require.Empty(t, rec.Body.String())
			} else {
				require.JSONEq(t, `{"count":3}`, rec.Body.String())
			}
		})
	}

	rec = httptest.NewRecorder()
	require.NoError(t, httpapi.WriteJSONWithETag(rec, httptest.NewRequest(http.MethodGet, "/", nil), map[string]int{"count": 4}))
	require.NotEqual(t, tag, rec.Header().Get("ETag"), "a different body has a different tag")
}
