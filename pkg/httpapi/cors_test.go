package httpapi

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseOrigins(t *testing.T) {
	got, err := ParseOrigins(" https://dash.example.org , http://127.0.0.1:8888/,*")
	require.NoError(t, err)
	require.Equal(t, []string{"https://dash.example.org", "http://127.0.0.1:8888", "*"}, got)
	got, err = ParseOrigins("")
	require.NoError(t, err)
	require.Empty(t, got)
	for _, bad := range []string{"dash.example.org", "ftp://x", "https://x/path", "https://"} {
		_, err := ParseOrigins(bad)
		require.ErrorContains(t, err, "want * or scheme://host[:port]", bad)
	}
}

func TestCORS(t *testing.T) {
	var reached int
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached++
		w.WriteHeader(http.StatusOK)
	})
	do := func(h http.Handler, method, origin, preflightMethod string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "/v1/series", nil)
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		if preflightMethod != "" {
			r.Header.Set("Access-Control-Request-Method", preflightMethod)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}

	t.Run("none configured writes no header", func(t *testing.T) {
		w := do(CORS{}.Middleware(next), http.MethodGet, "https://a.example", "")
		require.Empty(t, w.Header().Get("Access-Control-Allow-Origin"))
		require.Equal(t, http.StatusOK, w.Code)
	})

	listed := CORS{Origins: []string{"https://a.example"}}.Middleware(next)
	t.Run("listed origin reads", func(t *testing.T) {
		w := do(listed, http.MethodGet, "https://a.example", "")
		require.Equal(t, "https://a.example", w.Header().Get("Access-Control-Allow-Origin"))
		require.Contains(t, w.Header().Get("Access-Control-Expose-Headers"), "ETag")
		require.Contains(t, w.Header().Values("Vary"), "Origin")
	})
	t.Run("other origin gets nothing", func(t *testing.T) {
		w := do(listed, http.MethodGet, "https://b.example", "")
		require.Empty(t, w.Header().Get("Access-Control-Allow-Origin"))
	})
	t.Run("preflight of a read", func(t *testing.T) {
		before := reached
		w := do(listed, http.MethodOptions, "https://a.example", http.MethodGet)
		require.Equal(t, http.StatusNoContent, w.Code)
		require.Equal(t, before, reached, "a preflight is answered by the middleware")
		require.Equal(t, "https://a.example", w.Header().Get("Access-Control-Allow-Origin"))
		require.Equal(t, "GET, HEAD", w.Header().Get("Access-Control-Allow-Methods"))
		require.Contains(t, w.Header().Get("Access-Control-Allow-Headers"), "Authorization")
		require.Equal(t, "600", w.Header().Get("Access-Control-Max-Age"))
	})
	t.Run("writes are not allowed unless configured", func(t *testing.T) {
		w := do(listed, http.MethodOptions, "https://a.example", http.MethodPost)
		require.Equal(t, http.StatusNoContent, w.Code)
		require.Empty(t, w.Header().Get("Access-Control-Allow-Origin"))
		w = do(listed, http.MethodPost, "https://a.example", "")
		require.Empty(t, w.Header().Get("Access-Control-Allow-Origin"))

		writes := CORS{Origins: []string{"https://a.example"}, Writes: true}.Middleware(next)
		w = do(writes, http.MethodOptions, "https://a.example", http.MethodPut)
		require.Equal(t, "https://a.example", w.Header().Get("Access-Control-Allow-Origin"))
		require.Contains(t, w.Header().Get("Access-Control-Allow-Methods"), "PUT")
	})
	t.Run("any origin", func(t *testing.T) {
		w := do(CORS{Origins: []string{"*"}}.Middleware(next), http.MethodGet, "https://z.example", "")
		require.Equal(t, "*", w.Header().Get("Access-Control-Allow-Origin"))
	})
	t.Run("same-origin requests pass untouched", func(t *testing.T) {
		w := do(listed, http.MethodGet, "", "")
		require.Empty(t, w.Header().Values("Vary"))
		require.Equal(t, http.StatusOK, w.Code)
	})
}
