package chserver

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Supervision defaults.
const (
	DefaultMaxRestarts  = 5
	DefaultRestartDelay = time.Second
)

// Supervisor keeps a started server running: when the process exits
// unasked, it starts it again on the same ports and directory after a
// delay that doubles with each failed attempt, and gives up after
// MaxRestarts attempts in a row. Ready reports whether it is up.
type Supervisor struct {
	MaxRestarts  int           // DefaultMaxRestarts when zero
	RestartDelay time.Duration // first delay; DefaultRestartDelay when zero
	Log          zerolog.Logger

	cfg Config
	mu  sync.Mutex
	cur *Server
	up  bool
}

// Supervise returns a Supervisor of s, started with cfg.
func Supervise(s *Server, cfg Config, log zerolog.Logger) *Supervisor {
	cfg.Dir, cfg.Host, cfg.TCPPort, cfg.HTTPPort = s.Dir, s.Host, s.TCPPort, s.HTTPPort
	return &Supervisor{Log: log, cfg: cfg, cur: s, up: true}
}

// Ready is nil while the server runs.
func (v *Supervisor) Ready(context.Context) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.up {
		return errors.New("the clickhouse server ounce started has exited; restarting it")
	}
	return nil
}

// Run watches the server until ctx ends. It returns an error when the
// server could not be started again MaxRestarts times in a row.
func (v *Supervisor) Run(ctx context.Context) error {
	maxRestarts, delay0 := v.MaxRestarts, v.RestartDelay
	if maxRestarts <= 0 {
		maxRestarts = DefaultMaxRestarts
	}
	if delay0 <= 0 {
		delay0 = DefaultRestartDelay
	}
	for {
		v.mu.Lock()
		s := v.cur
		v.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil
		case <-s.Done():
		}
		v.mu.Lock()
		v.up = false
		v.mu.Unlock()
		v.Log.Error().Err(s.waitErr).Str("log", s.logHint()).Msg("clickhouse exited; restarting it")
		delay := delay0
		var err error
		for attempt := 1; ; attempt++ {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(delay):
			}
			var next *Server
			next, err = Start(ctx, v.cfg)
			if err == nil {
				v.mu.Lock()
				v.cur, v.up = next, true
				v.mu.Unlock()
				v.Log.Info().Int("attempt", attempt).Int("tcp_port", next.TCPPort).Msg("clickhouse restarted")
				break
			}
			if ctx.Err() != nil {
				return nil
			}
			v.Log.Warn().Err(err).Int("attempt", attempt).Int("of", maxRestarts).Msg("restart clickhouse")
			if attempt == maxRestarts {
				return fmt.Errorf("clickhouse exited and could not be started again (%d attempts): %w", maxRestarts, err)
			}
			delay *= 2
		}
	}
}

// Stop stops the server that runs now.
func (v *Supervisor) Stop() error {
	v.mu.Lock()
	s := v.cur
	v.mu.Unlock()
	return s.Stop()
}
