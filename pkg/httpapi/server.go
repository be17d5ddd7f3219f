package httpapi

import (
	"context"
	"errors"
	"fmt"
	stdlog "log"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/rs/zerolog"
)

// Server defaults.
const (
	DefaultShutdownTimeout   = 10 * time.Second
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultIdleTimeout       = 2 * time.Minute
)

// Listen opens a TCP listener on addr. When addr cannot be used it returns
// an error that names the flag to change (flag without dashes, e.g. "addr").
func Listen(ctx context.Context, addr, flag string) (net.Listener, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	switch {
	case err == nil:
		return ln, nil
	case errors.Is(err, syscall.EADDRINUSE):
		return nil, fmt.Errorf("listen on %s: the address is already in use; stop the other process or choose another address with --%s: %w", addr, flag, err)
	case errors.Is(err, syscall.EACCES):
		return nil, fmt.Errorf("listen on %s: permission denied; choose a port above 1023 with --%s: %w", addr, flag, err)
	default:
		return nil, fmt.Errorf("listen on %q: set --%s to a host:port this machine can listen on: %w", addr, flag, err)
	}
}

// Server runs an http.Server until its context is cancelled, then shuts it
// down gracefully: readiness fails first, in-flight requests get up to
// ShutdownTimeout to finish.
type Server struct {
	Handler http.Handler
	Log     zerolog.Logger
	// Health, when set, is marked not ready as shutdown begins.
	Health *Health
	// ShutdownTimeout bounds the graceful shutdown (DefaultShutdownTimeout when zero).
	ShutdownTimeout time.Duration
}

// ListenAndServe listens on addr (see Listen for flag) and serves until ctx
// is cancelled.
func (s *Server) ListenAndServe(ctx context.Context, addr, flag string) error {
	ln, err := Listen(ctx, addr, flag)
	if err != nil {
		return err
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx is cancelled, then shuts down gracefully and
// returns nil; it returns an error when serving stops for any other reason
// or the shutdown does not finish in time. It closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.Handler,
		ReadHeaderTimeout: DefaultReadHeaderTimeout,
		IdleTimeout:       DefaultIdleTimeout,
		ErrorLog:          stdlog.New(s.Log.With().Str("component", "http_server").Logger(), "", 0),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	addr := ln.Addr().String()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.Log.Info().Str("addr", addr).Msg("http server listening")

	select {
	case err := <-errc:
		return fmt.Errorf("serve http on %s: %w", addr, err)
	case <-ctx.Done():
	}

	if s.Health != nil {
		s.Health.Shutdown()
	}
	timeout := s.ShutdownTimeout
	if timeout <= 0 {
		timeout = DefaultShutdownTimeout
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	s.Log.Info().Str("addr", addr).Dur("timeout_seconds", timeout).Msg("http server shutting down")
	err := srv.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		return errors.Join(fmt.Errorf("shut down http server on %s: %w", addr, err), srv.Close())
	}
	s.Log.Info().Str("addr", addr).Msg("http server stopped")
	return nil
}
