package httpapi_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/httpapi"
)

func TestListenAddressInUse(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = taken.Close() })

	tests := []struct {
		name        string
		addr        string
		errContains []string
	}{
		{name: "taken", addr: taken.Addr().String(), errContains: []string{"already in use", "--addr", taken.Addr().String()}},
		{name: "malformed", addr: "127.0.0.1:notaport", errContains: []string{"--addr", "host:port"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := httpapi.Listen(t.Context(), tt.addr, "addr")
			require.Error(t, err)
			for _, s := range tt.errContains {
				require.ErrorContains(t, err, s)
			}
			srv := &httpapi.Server{Handler: http.NotFoundHandler(), Log: zerolog.Nop()}
			require.ErrorContains(t, srv.ListenAndServe(t.Context(), tt.addr, "addr"), "--addr")
		})
	}
}

// TestServerGracefulShutdown cancels the server's context while a request is
// in flight: readiness fails at once, the request still completes, and Serve
// returns nil.
func TestServerGracefulShutdown(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	health := httpapi.NewHealth(time.Second)
	mux := httpapi.NewMux()
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, _ *http.Request) {
		close(entered)
		<-release
		_, _ = w.Write([]byte("done"))
	})
	mux.HandleFunc("GET /readyz", health.Ready)

	ln, err := httpapi.Listen(t.Context(), "127.0.0.1:0", "addr")
	require.NoError(t, err)
	base := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	srv := &httpapi.Server{Handler: mux, Log: zerolog.Nop(), Health: health, ShutdownTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()

	resp, err := http.Get(base + "/readyz")
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)

	type result struct {
		body string
		err  error
	}
	slow := make(chan result, 1)
	go func() {
		resp, err := http.Get(base + "/slow")
		if err != nil {
			slow <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		slow <- result{body: string(b), err: err}
	}()
	<-entered
	cancel()
	require.Eventually(t, func() bool { return !health.Check(t.Context()).Ready },
		5*time.Second, 5*time.Millisecond)
	close(release)

	res := <-slow
	require.NoError(t, res.err)
	require.Equal(t, "done", res.body)
	require.NoError(t, <-served)

	_, err = http.Get(base + "/readyz")
	require.Error(t, err, "the listener is closed after shutdown")
}
