package gateway

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/ounce-data/ounce/pkg/extnats"
	"github.com/ounce-data/ounce/pkg/httpapi"
	"github.com/ounce-data/ounce/pkg/indicators"
)

// Deps is what a standalone gateway process needs.
type Deps struct {
	Config   Config
	NATS     extnats.Client
	Log      zerolog.Logger
	Registry *prometheus.Registry
}

// Serve connects to NATS, ensures the topology and serves the gateway until
// ctx ends; then in-flight pushes finish and the connection drains.
//
// The configuration is checked, and the address taken, before NATS is
// dialled, so a mistake is reported at once.
func Serve(ctx context.Context, d Deps) (err error) {
	if err := errors.Join(d.Config.WithDefaults().Validate(), d.NATS.Validate()); err != nil {
		return fmt.Errorf("gateway config: %w", err)
	}
	ln, err := httpapi.Listen(ctx, d.Config.WithDefaults().Addr, FlagAddr)
	if err != nil {
		return err
	}
	defer func() { _ = ln.Close() }() // closed by the server once it serves
	nc, js, err := extnats.Connect(d.NATS, "ounce-gateway", d.Log)
	if err != nil {
		return err
	}
	defer func() {
		if derr := extnats.Drain(nc, 10*time.Second); derr != nil {
			err = errors.Join(err, derr)
		}
	}()
	if err := (extnats.Topology{}).Ensure(ctx, js); err != nil {
		return err
	}
	cat, err := indicators.Load()
	if err != nil {
		return err
	}
	s, err := New(ctx, d.Config, js, cat, d.Log, d.Registry)
	if err != nil {
		return err
	}
	return s.Serve(ctx, ln)
}
