package loader

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/ounce-data/ounce/pkg/extch"
	"github.com/ounce-data/ounce/pkg/extnats"
	"github.com/ounce-data/ounce/pkg/httpapi"
	"github.com/ounce-data/ounce/pkg/lifecycle"
)

// DefaultAddr is where a standalone loader serves /metrics, health and
// /debug/pprof/.
const DefaultAddr = "127.0.0.1:8082"

// RegisterFlags binds the tuning flags of c to fs.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Durable, "durable", DefaultDurable, "durable consumer name shared by every loader replica")
	fs.IntVar(&c.BatchRows, "batch-rows", DefaultBatchRows, "flush when the open batch has this many rows")
	fs.IntVar(&c.BatchBytes, "batch-bytes", DefaultBatchBytes, "or this many bytes of messages")
	fs.DurationVar(&c.FlushInterval, "flush-interval", DefaultFlushInterval, "or its first message is this old")
	fs.BoolVar(&c.HoldWhenCaughtUp, "hold-when-caught-up", false, "batch by rows, bytes and flush interval only, even when the stream has nothing more to deliver (fewer, larger inserts under a trickle)")
	fs.IntVar(&c.MaxDeliver, "max-deliver", DefaultMaxDeliver, "failed loads before a message is dead-lettered")
	fs.DurationVar(&c.AckWait, "ack-wait", DefaultAckWait, "JetStream redelivers a message not acked within this")
	fs.DurationVar(&c.DrainTimeout, "drain-timeout", DefaultDrainTimeout, "on SIGTERM, what ClickHouse has not taken within this is handed back to JetStream unacked")
}

// Deps is what a standalone loader process needs.
type Deps struct {
	Config        Config
	NATS          extnats.Client
	ClickHouseDSN string
	Addr          string
	Log           zerolog.Logger
	Registry      *prometheus.Registry
}

// Serve connects, migrates, and runs the loader with its ops endpoints until
// ctx ends.
//
// The configuration is checked, and the ops address taken, before NATS or
// ClickHouse is dialled, so a mistake is reported at once.
func Serve(ctx context.Context, d Deps) (err error) {
	if err := errors.Join(d.Config.WithDefaults().Validate(), d.NATS.Validate()); err != nil {
		return fmt.Errorf("loader config: %w", err)
	}
	ln, err := httpapi.Listen(ctx, d.Addr, "addr")
	if err != nil {
		return err
	}
	defer func() { _ = ln.Close() }() // closed by the ops server once it serves
	nc, js, err := extnats.Connect(d.NATS, "ounce-loader", d.Log)
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
	ch, err := extch.Setup(ctx, d.ClickHouseDSN)
	if err != nil {
		return err
	}
	conn := ch.Conn
	defer func() {
		if cerr := conn.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close clickhouse: %w", cerr))
		}
	}()
	l, err := New(d.Config, js, conn, d.Log, d.Registry)
	if err != nil {
		return err
	}
	health := httpapi.NewHealth(0)
	health.Register("loader", l.Ready)
	srv := &httpapi.Server{Handler: httpapi.OpsMux(d.Registry, health), Log: d.Log, Health: health}
	return lifecycle.Run(ctx,
		lifecycle.Component{Name: "loader", Run: l.Run},
		lifecycle.Component{Name: "ops http", Run: func(ctx context.Context) error { return srv.Serve(ctx, ln) }},
	)
}
