package httpapi

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// OpsMux is the operations listener every service serves: /metrics from
// reg, /healthz and /readyz from health, and the Go profiles under
// /debug/pprof/. Serve it with a Server whose Health is health, so that it
// reports not-ready as soon as shutdown begins.
func OpsMux(reg *prometheus.Registry, health *Health) *Mux {
	mux := NewMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", health.Live)
	mux.HandleFunc("GET /readyz", health.Ready)
	HandleProfiling(mux)
	return mux
}
