// Package web is the dashboard the query service serves at /: an indicator
// explorer, the savings of initiatives and the health of the feeds, drawn in
// the browser from the query API. Every asset is embedded in the binary and
// the page loads nothing from elsewhere, so it works offline.
package web

import (
	"embed"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"

	"github.com/ounce-data/ounce/pkg/httpapi"
)

// AssetPrefix is the path under which the dashboard's assets are served.
const AssetPrefix = "/ui/"

// Patterns are the mux patterns Handler answers: the page itself and its
// assets. Nothing else, so that unknown API paths keep their JSON 404.
var Patterns = []string{"GET /{$}", "GET " + AssetPrefix}

// contentSecurityPolicy lets the page load only from its own origin: no CDN,
// no remote fonts, no inline script.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// contentTypes by file extension; fixed here rather than read from the
// system's mime tables, which differ between machines.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
}

//go:embed assets
var assets embed.FS

// asset is one embedded file, ready to serve.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// loadAssets reads every embedded file once, with its type and ETag.
var loadAssets = sync.OnceValues(func() (map[string]asset, error) {
	files := map[string]asset{}
	err := fs.WalkDir(assets, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := assets.ReadFile(p)
		if err != nil {
			return fmt.Errorf("read embedded %s: %w", p, err)
		}
		ct, ok := contentTypes[path.Ext(p)]
		if !ok {
			return fmt.Errorf("embedded %s: no content type for its extension", p)
		}
		files[strings.TrimPrefix(p, "assets/")] = asset{body: body, contentType: ct, etag: httpapi.ETag(body)}
		return nil
	})
	return files, err
})

// Handler serves the dashboard page at / and its assets under AssetPrefix,
// each with a strong ETag (304 on If-None-Match). Register it for each of
// Patterns.
func Handler() http.Handler {
	return http.HandlerFunc(serve)
}

func serve(w http.ResponseWriter, r *http.Request) {
	files, err := loadAssets()
	if err != nil {
		// Only a build with a bad asset gets here; every test of this package would show it.
		httpapi.WriteError(w, httpapi.Errorf(httpapi.CodeInternal, "", "the dashboard assets are broken: %v", err))
		return
	}
	name := "index.html"
	if r.URL.Path != "/" {
		name = strings.TrimPrefix(r.URL.Path, AssetPrefix)
	}
	a, ok := files[name]
	if !ok || name == "index.html" && r.URL.Path != "/" {
		httpapi.WriteError(w, httpapi.Errorf(httpapi.CodeNotFound, "", "no dashboard asset %s", r.URL.Path))
		return
	}
	h := w.Header()
	h.Set("ETag", a.etag)
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("Referrer-Policy", "no-referrer")
	if inm := r.Header.Get("If-None-Match"); inm != "" && httpapi.ETagMatch(inm, a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", a.contentType)
	h.Set("Content-Length", strconv.Itoa(len(a.body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	// A failed write means the client went away; there is no one to tell.
	_, _ = w.Write(a.body)
}
