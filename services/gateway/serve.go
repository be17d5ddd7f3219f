package gateway

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/ounce-data/ounce/pkg/catalogue"
	"github.com/ounce-data/ounce/pkg/extnats"
)

// Deps is what a standalone gateway process needs.
type Deps struct {
	Config   Config
	NATSURL  string
	Log      zerolog.Logger
	Registry *prometheus.Registry
}

// Serve connects to NATS, ensures the topology and serves the gateway until
// ctx ends; then in-flight pushes finish and the connection drains.
func Serve(ctx context.Context, d Deps) (err error) {
	nc, js, err := extnats.Connect(d.NATSURL, "ounce-gateway", d.Log)
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
	cat, err := catalogue.Load()
	if err != nil {
		return err
	}
	s, err := New(ctx, d.Config, js, cat, d.Log, d.Registry)
	if err != nil {
		return err
	}
	return s.Run(ctx)
}
