package httpapi

import (
	"net/http"
	"strings"
)

// Mux is an http.ServeMux whose own answers (no route, method not allowed)
// are the JSON error envelope rather than plain text. Register routes with
// Handle and HandleFunc as on a ServeMux, using Go 1.22 patterns such as
// "GET /v1/series".
type Mux struct {
	*http.ServeMux
}

// NewMux returns an empty Mux.
func NewMux() *Mux { return &Mux{ServeMux: http.NewServeMux()} }

// ServeHTTP dispatches r to the handler of the matching pattern, setting
// r.Pattern as ServeMux does, or writes not_found / method_not_allowed.
func (m *Mux) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, pattern := m.ServeMux.Handler(r)
	if pattern != "" {
		m.ServeMux.ServeHTTP(w, r)
		return
	}
	// ServeMux's own 404 or 405 handler: run it on a scratch writer to learn
	// which one it is (and the Allow header), then answer in JSON.
	var rec headerRecorder
	h.ServeHTTP(&rec, r)
	switch rec.status {
	case http.StatusMethodNotAllowed:
		allow := rec.Header().Get("Allow")
		if allow != "" {
			w.Header().Set("Allow", allow)
		}
		WriteError(w, Errorf(CodeMethodNotAllowed, "", "%s is not allowed on %s; use %s",
			r.Method, r.URL.Path, strings.ReplaceAll(allow, ", ", " or ")))
	default:
		WriteError(w, Errorf(CodeNotFound, "", "no route for %s %s", r.Method, r.URL.Path))
	}
}

// headerRecorder keeps the status and headers a handler writes, discarding
// its body.
type headerRecorder struct {
	header http.Header
	status int
}

func (h *headerRecorder) Header() http.Header {
	if h.header == nil {
		h.header = http.Header{}
	}
	return h.header
}

func (h *headerRecorder) WriteHeader(status int) {
	if h.status == 0 {
		h.status = status
	}
}

func (h *headerRecorder) Write(b []byte) (int, error) {
	h.WriteHeader(http.StatusOK)
	return len(b), nil
}
