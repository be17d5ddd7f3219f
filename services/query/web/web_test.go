package web

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/httpapi"
)

func get(h http.Handler, target string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// embedded lists every file under assets/ by its name below it.
func embedded(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	require.NoError(t, fs.WalkDir(assets, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := assets.ReadFile(p)
		out[strings.TrimPrefix(p, "assets/")] = body
		return err
	}))
	require.Contains(t, out, "index.html")
	return out
}

func TestHandlerServesEveryAsset(t *testing.T) {
	h := Handler()
	for name, body := range embedded(t) {
		t.Run(name, func(t *testing.T) {
			target := AssetPrefix + name
			if name == "index.html" {
				target = "/"
			}
			rec := get(h, target)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			require.Equal(t, body, rec.Body.Bytes())
			require.Equal(t, contentTypes[name[strings.LastIndex(name, "."):]], rec.Header().Get("Content-Type"))
			require.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
			require.Contains(t, rec.Header().Get("Content-Security-Policy"), "default-src 'none'")
			tag := rec.Header().Get("ETag")
			require.Equal(t, httpapi.ETag(body), tag)

			rec = get(h, target, "If-None-Match", tag)
			require.Equal(t, http.StatusNotModified, rec.Code)
			require.Empty(t, rec.Body.Bytes())

			rec = get(h, target, "If-None-Match", `"something-else"`)
			require.Equal(t, http.StatusOK, rec.Code)
		})
	}
}

func TestHandlerUnknownAsset(t *testing.T) {
	h := Handler()
	for _, target := range []string{AssetPrefix + "nope.js", AssetPrefix + "index.html", AssetPrefix, AssetPrefix + "../web.go"} {
		rec := get(h, target)
		require.Equal(t, http.StatusNotFound, rec.Code, target)
		var env httpapi.Envelope
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &env), rec.Body.String())
		require.Equal(t, httpapi.CodeNotFound, env.Error.Code)
	}
}

// TestAssetsLoadNothingFromElsewhere keeps the page usable offline: no
// script, style, font or image comes from another origin.
func TestAssetsLoadNothingFromElsewhere(t *testing.T) {
	files := embedded(t)
	external := regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:)?//`)
	require.NotRegexp(t, external, string(files["index.html"]))
	for _, ref := range regexp.MustCompile(`(?i)(?:src|href)\s*=\s*"([^"#]+)"`).FindAllStringSubmatch(string(files["index.html"]), -1) {
		if ref[1] == "/openapi.yaml" || ref[1] == "/readyz" {
			continue // links to API documents, not resources of the page
		}
		require.Contains(t, files, strings.TrimPrefix(ref[1], AssetPrefix), "index.html refers to %s, which is not embedded", ref[1])
		require.True(t, strings.HasPrefix(ref[1], AssetPrefix), ref[1])
	}
	// The only absolute URL a script names is the SVG namespace; the others
	// are matched by a pattern (links to a value's source open in a new tab).
	urlRE := regexp.MustCompile(`https?://[^'"\s)]*`)
	for name, body := range files {
		switch {
		case strings.HasSuffix(name, ".css"):
			require.NotRegexp(t, `(?i)@import|url\(|@font-face`, string(body), name)
		case strings.HasSuffix(name, ".js"):
			for _, u := range urlRE.FindAllString(string(body), -1) {
				require.Equal(t, "http://www.w3.org/2000/svg", u, "%s names %s", name, u)
			}
			require.NotContains(t, string(body), "innerHTML", "%s: build elements with textContent, never markup from data", name)
		}
	}
}

func TestPatternsLeaveAPIPathsAlone(t *testing.T) {
	mux := http.NewServeMux()
	for _, p := range Patterns {
		mux.Handle(p, Handler())
	}
	for _, target := range []string{"/v1/undocumented", "/metrics", "/index.html"} {
		_, pattern := mux.Handler(httptest.NewRequest(http.MethodGet, target, nil))
		require.Empty(t, pattern, "%s must not reach the dashboard", target)
	}
	for _, target := range []string{"/", AssetPrefix + "app.js"} {
		_, pattern := mux.Handler(httptest.NewRequest(http.MethodGet, target, nil))
		require.NotEmpty(t, pattern, target)
	}
}
