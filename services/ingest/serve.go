package ingest

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/ounce-data/ounce/pkg/envflag"
	"github.com/ounce-data/ounce/pkg/extnats"
	"github.com/ounce-data/ounce/pkg/feedcat"
	"github.com/ounce-data/ounce/pkg/httpapi"
	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/lifecycle"
	"github.com/ounce-data/ounce/pkg/places"
)

// DefaultAddr is where a standalone ingest worker serves /metrics, health
// and /debug/pprof/.
const DefaultAddr = "127.0.0.1:8083"

// RegisterFlags binds the flags of a standalone worker to c.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.MirrorDir, "mirror", "", "read feeds from this mirror directory instead of the network, at each feed's mirror path (also OUNCE_MIRROR)")
	fs.DurationVar(&c.HTTPTimeout, "http-timeout", DefaultHTTPTimeout, "bound on one HTTP fetch, body included")
}

// Deps is what a standalone ingest process needs.
type Deps struct {
	Config Config
	NATS   extnats.Client
	// Feed, when set, runs that one feed once (taking its lease) and returns.
	Feed     string
	Addr     string // the ops listener; empty serves none
	Log      zerolog.Logger
	Registry *prometheus.Registry
}

// Serve runs every feed of the catalogue on its schedule, with the ops
// endpoints, until ctx ends; or, with Deps.Feed, that feed once.
//
// The configuration is checked, and the ops address taken, before NATS is
// dialled, so a mistake is reported at once.
func Serve(ctx context.Context, d Deps) (err error) {
	feeds, err := feedcat.Load()
	if err != nil {
		return fmt.Errorf("load feed catalogue: %w", err)
	}
	cat, err := indicators.Load()
	if err != nil {
		return fmt.Errorf("load indicator catalogue: %w", err)
	}
	pl, err := places.Load()
	if err != nil {
		return fmt.Errorf("load place catalogue: %w", err)
	}
	if d.Feed != "" {
		f, ok := feedcat.ByID(feeds, d.Feed)
		if !ok {
			return envflag.Usagef("--feed %s: no such feed in the catalogue", d.Feed)
		}
		feeds = []feedcat.Feed{f}
	}
	if dir := d.Config.MirrorDir; dir != "" {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return envflag.Usagef("--mirror %s: not a directory", dir)
		}
	}
	if err := errors.Join(d.Config.WithDefaults().Validate(), d.NATS.Validate()); err != nil {
		return envflag.AsUsage(err)
	}
	var ln net.Listener
	if d.Feed == "" && d.Addr != "" {
		if ln, err = httpapi.Listen(ctx, d.Addr, "addr"); err != nil {
			return err
		}
		defer func() { _ = ln.Close() }() // closed by the ops server once it serves
	}

	nc, js, err := extnats.Connect(d.NATS, "ounce-ingest", d.Log)
	if err != nil {
		return err
	}
	defer func() {
		if derr := extnats.Drain(nc, 10*time.Second); derr != nil {
			err = errors.Join(err, derr)
		}
	}()
	ectx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = extnats.Topology{}.Ensure(ectx, js)
	cancel()
	if err != nil {
		return err
	}
	in, err := New(d.Config, js, feeds, cat, pl, d.Log, d.Registry)
	if err != nil {
		return err
	}
	if d.Feed != "" {
		_, err := in.RunFeedWith(ctx, d.Feed, RunOptions{Lease: true})
		return err
	}
	components := []lifecycle.Component{{Name: "ingest", Run: in.Run}}
	if ln != nil {
		health := httpapi.NewHealth(0)
		health.Register("nats", func(context.Context) error {
			if !nc.IsConnected() {
				return errors.New("not connected to nats")
			}
			return nil
		})
		ops := &httpapi.Server{Handler: httpapi.OpsMux(d.Registry, health), Log: d.Log, Health: health}
		components = append(components, lifecycle.Component{Name: "ops http", Run: func(ctx context.Context) error { return ops.Serve(ctx, ln) }})
	}
	d.Log.Info().Int("feeds", len(feeds)).Str("nats_url", d.NATS.Redacted()).Str("mirror", d.Config.MirrorDir).Str("addr", d.Addr).Msg("ounce-ingest started")
	return lifecycle.Run(ctx, components...)
}
