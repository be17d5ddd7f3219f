package httpapi

import (
	"net/http/pprof"
)

// HandleProfiling serves the Go runtime profiles under /debug/pprof/ on m.
// Mount it only on an operations listener (loopback by default), never on a
// public API: a profile reveals the process's internals and costs CPU.
func HandleProfiling(m *Mux) {
	m.HandleFunc("GET /debug/pprof/", pprof.Index)
	m.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	m.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	m.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	m.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
}
