package query

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/ounce-data/ounce/pkg/envflag"
	"github.com/ounce-data/ounce/pkg/extch"
	"github.com/ounce-data/ounce/pkg/extnats"
	"github.com/ounce-data/ounce/pkg/httpapi"
)

// StartupTimeout bounds connecting to ClickHouse and applying the
// migrations and catalogues at start.
const StartupTimeout = time.Minute

// RegisterFlags binds the flags of a standalone query service to c.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Addr, FlagAddr, DefaultAddr, "host:port to serve the query API on")
	fs.IntVar(&c.MaxRows, "max-rows", DefaultMaxRows, "a series request matching more rows is refused (422 range_too_large)")
	fs.IntVar(&c.RowsCeiling, "max-rows-ceiling", DefaultRowsCeiling, "the most rows a request may ask for with max_rows= (the explicit override of --max-rows)")
	fs.IntVar(&c.MaxGeos, "max-geos", DefaultMaxGeos, "most places one series request may name")
	fs.DurationVar(&c.QueryTimeout, "query-timeout", DefaultQueryTimeout, "how long ClickHouse gets to answer one request")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", DefaultShutdownTimeout, "how long in-flight requests get to finish on SIGTERM")
	fs.StringVar(&c.AnalystToken, "analyst-token", "", "bearer token that authorises writes (initiatives); empty disables writes. Prefer the environment (OUNCE_ANALYST_TOKEN) to a flag, which other users can see")
	fs.StringVar(&c.ReadToken, "read-token", "", "when set, reading /v1/ needs this token (or the analyst token); empty leaves reads open")
	fs.Func("cors-origins", "comma-separated origins whose pages may read the API from a browser (https://dash.example.org), or *; empty allows none", func(s string) error {
		origins, err := httpapi.ParseOrigins(s)
		c.CORS.Origins = origins
		return err
	})
	fs.BoolVar(&c.CORS.Writes, "cors-writes", false, "let those origins also write (initiatives) from a browser; off, they can only read")
}

// Deps is what a standalone query process needs.
type Deps struct {
	Config        Config
	ClickHouseDSN string
	// NATS, when it names a server, is where GET /v1/feeds reads the feed
	// status and where the user indicators are kept (/v1/indicators);
	// without one, /v1/feeds and the writes of /v1/indicators answer 503.
	NATS     extnats.Client
	Log      zerolog.Logger
	Registry *prometheus.Registry
}

// Serve sets up ClickHouse (extch.Setup) and serves the query API until
// ctx ends.
//
// d.Config is taken as RegisterFlags sets it, every field given: a zero
// limit is refused, not defaulted. The configuration is checked, and the
// address taken, before ClickHouse or NATS is dialled, so a mistake is
// reported at once.
func Serve(ctx context.Context, d Deps) (err error) {
	if err := errors.Join(d.Config.Validate(), d.NATS.Validate()); err != nil {
		return envflag.AsUsage(err)
	}
	cfg := d.Config.WithDefaults()
	ln, err := httpapi.Listen(ctx, cfg.Addr, FlagAddr)
	if err != nil {
		return err
	}
	defer func() { _ = ln.Close() }() // closed by the server once it serves

	startCtx, cancel := context.WithTimeout(ctx, StartupTimeout)
	ch, err := extch.Setup(startCtx, d.ClickHouseDSN)
	cancel()
	if err != nil {
		return err
	}
	conn := ch.Conn
	defer func() {
		if cerr := conn.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close clickhouse: %w", cerr))
		}
	}()
	if len(ch.Applied) > 0 {
		d.Log.Info().Uints32("versions", ch.Applied).Msg("applied clickhouse migrations")
	}
	if d.NATS.URL != "" {
		// nc and js are declared apart so that the deferred drain joins its
		// error into Serve's err, not into a shadowing one.
		nc, js, cerr := extnats.Connect(d.NATS, "ounce-query", d.Log)
		if cerr != nil {
			return cerr
		}
		defer func() {
			if derr := extnats.Drain(nc, 10*time.Second); derr != nil {
				err = errors.Join(err, derr)
			}
		}()
		// The user indicators' bucket is written here, and may not exist
		// yet on a NATS no other service has set up.
		ectx, cancel := context.WithTimeout(ctx, StartupTimeout)
		err = extnats.Topology{}.Ensure(ectx, js)
		cancel()
		if err != nil {
			return err
		}
		cfg.JetStream = js
	}
	cfg.Places = ch.Places
	svc, err := New(cfg, conn, ch.Indicators, d.Log, d.Registry)
	if err != nil {
		return err
	}
	if cfg.AnalystToken == "" {
		d.Log.Warn().Msg("no analyst token (OUNCE_ANALYST_TOKEN): initiative writes are disabled")
	}
	d.Log.Info().Str("addr", ln.Addr().String()).Int("max_rows", cfg.MaxRows).
		Bool("reads_need_token", cfg.ReadToken != "").Msg("query service starting")
	return svc.Serve(ctx, ln)
}
