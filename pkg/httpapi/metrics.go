package httpapi

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// UnmatchedRoute is the route label of requests that matched no pattern, so
// that unknown paths cannot grow the label set.
const UnmatchedRoute = "unmatched"

var serviceNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Metrics counts and times HTTP requests per route pattern:
// ounce_<svc>_http_requests_total{route,code} and
// ounce_<svc>_http_request_duration_seconds{route}.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics registers the HTTP metrics of service svc (lower-case
// snake_case, e.g. "query") on reg. Registering the same svc twice on one
// registry is a programming error, which promauto reports by panicking.
func NewMetrics(reg prometheus.Registerer, svc string) (*Metrics, error) {
	if !serviceNameRE.MatchString(svc) {
		return nil, fmt.Errorf("metrics service name %q: want lower-case snake_case", svc)
	}
	f := promauto.With(reg)
	return &Metrics{
		requests: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "ounce",
			Subsystem: svc,
			Name:      "http_requests_total",
			Help:      "HTTP requests answered, by route pattern and status code.",
		}, []string{"route", "code"}),
		duration: f.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "ounce",
			Subsystem: svc,
			Name:      "http_request_duration_seconds",
			Help:      "Time to answer an HTTP request, by route pattern.",
			Buckets:   []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
		}, []string{"route"}),
	}, nil
}

// Middleware records every request to next. The route label is the pattern
// that http.ServeMux (or Mux) stored in r.Pattern, so next must be the mux
// itself or pass r on unchanged (not a copy from r.WithContext).
func (m *Metrics) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		route := r.Pattern
		if route == "" {
			route = UnmatchedRoute
		}
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
		m.duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

// statusWriter remembers the status written through it.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(status int) {
	if s.status == 0 {
		s.status = status
	}
	s.ResponseWriter.WriteHeader(status)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer (Flush,
// deadlines).
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
