package httpapi

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultCheckTimeout bounds each readiness check.
const DefaultCheckTimeout = 2 * time.Second

// CheckFunc reports whether a dependency is usable; nil means it is.
type CheckFunc func(ctx context.Context) error

// Health serves /healthz (the process is alive: always 200) and /readyz
// (200 only when every registered check passes and shutdown has not begun).
// The zero value is not usable; call NewHealth.
type Health struct {
	timeout  time.Duration
	mu       sync.RWMutex
	checks   []namedCheck
	stopping atomic.Bool
}

type namedCheck struct {
	name  string
	check CheckFunc
}

// NewHealth returns a Health with no checks, whose checks each get at most
// timeout (DefaultCheckTimeout when zero or negative).
func NewHealth(timeout time.Duration) *Health {
	if timeout <= 0 {
		timeout = DefaultCheckTimeout
	}
	return &Health{timeout: timeout}
}

// Register adds a readiness check under name.
func (h *Health) Register(name string, check CheckFunc) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.checks = append(h.checks, namedCheck{name: name, check: check})
}

// Shutdown makes /readyz fail from now on, so load balancers stop sending
// requests before the server stops accepting them.
func (h *Health) Shutdown() { h.stopping.Store(true) }

// CheckResult is the outcome of one readiness check.
type CheckResult struct {
	Name  string `json:"name"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// Readiness is the body of /readyz.
type Readiness struct {
	Ready   bool          `json:"ready"`
	Failing []string      `json:"failing"`
	Checks  []CheckResult `json:"checks"`
}

// Check runs every check concurrently and reports the outcome.
func (h *Health) Check(ctx context.Context) Readiness {
	h.mu.RLock()
	checks := append([]namedCheck(nil), h.checks...)
	h.mu.RUnlock()

	results := make([]CheckResult, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, h.timeout)
			defer cancel()
			results[i] = CheckResult{Name: c.name, OK: true}
			if err := c.check(cctx); err != nil {
				results[i] = CheckResult{Name: c.name, Error: err.Error()}
			}
		})
	}
	wg.Wait()

	out := Readiness{Ready: true, Failing: []string{}, Checks: results}
	if h.stopping.Load() {
		out.Ready = false
		out.Failing = append(out.Failing, "shutdown")
	}
	for _, r := range results {
		if !r.OK {
			out.Ready = false
			out.Failing = append(out.Failing, r.Name)
		}
	}
	return out
}

// Live serves /healthz: 200 {"status":"ok"} while the process can answer.
func (h *Health) Live(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	_ = WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// Ready serves /readyz: 200 when every check passes, else 503; the body
// lists every check and names the failing ones.
func (h *Health) Ready(w http.ResponseWriter, r *http.Request) {
	res := h.Check(r.Context())
	status := http.StatusOK
	if !res.Ready {
		status = http.StatusServiceUnavailable
	}
	w.Header().Set("Cache-Control", "no-store")
	_ = WriteJSON(w, status, res)
}
