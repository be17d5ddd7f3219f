package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ounce-data/ounce/pkg/httpapi"
)

func TestHandleProfilingServesIndexAndProfiles(t *testing.T) {
	m := httpapi.NewMux()
	httpapi.HandleProfiling(m)

	for _, c := range []struct{ path, want string }{
		{"/debug/pprof/", "goroutine"},
		{"/debug/pprof/goroutine?debug=1", "goroutine profile"},
		{"/debug/pprof/cmdline", ""},
	} {
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, c.path, nil))
		if rec.Code != http.StatusOK {
			t.Errorf("GET %s: status %d, want 200", c.path, rec.Code)
			continue
		}
		if !strings.Contains(rec.Body.String(), c.want) {
			t.Errorf("GET %s: body lacks %q:\n%.300s", c.path, c.want, rec.Body.String())
		}
	}

	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/debug/pprof/", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /debug/pprof/: status %d, want 405", rec.Code)
	}
}
