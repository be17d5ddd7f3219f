// Command ounce-query serves the Ounce query API: indicators, series,
// /metrics, /healthz and /readyz, reading from ClickHouse.
//
// Every flag can be set by environment: --max-rows by OUNCE_QUERY_MAX_ROWS,
// --clickhouse-dsn by OUNCE_QUERY_CLICKHOUSE_DSN or OUNCE_CLICKHOUSE_DSN,
// --analyst-token by OUNCE_ANALYST_TOKEN.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/ounce-data/ounce/pkg/catalogue"
	"github.com/ounce-data/ounce/pkg/envflag"
	"github.com/ounce-data/ounce/pkg/extch"
	"github.com/ounce-data/ounce/pkg/extnats"
	"github.com/ounce-data/ounce/pkg/httpapi"
	"github.com/ounce-data/ounce/pkg/logging"
	"github.com/ounce-data/ounce/pkg/places"
	"github.com/ounce-data/ounce/services/query"
)

const (
	envPrefix      = "QUERY"
	startupTimeout = time.Minute
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stderr)
	stop()
	os.Exit(envflag.ExitCode("ounce-query", err, os.Stderr))
}

// run parses flags, connects, migrates and serves until ctx is cancelled.
func run(ctx context.Context, args []string, stderr io.Writer) (err error) {
	fs := flag.NewFlagSet("ounce-query", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = envflag.Usage(fs, envPrefix)
	addr := fs.String(query.FlagAddr, query.DefaultAddr, "host:port to serve the query API on")
	dsn := fs.String("clickhouse-dsn", extch.DefaultDSN, "ClickHouse to read, native protocol: clickhouse://host:port/database")
	maxRows := fs.Int("max-rows", query.DefaultMaxRows, "a series request matching more rows is refused (422 range_too_large)")
	rowsCeiling := fs.Int("max-rows-ceiling", query.DefaultRowsCeiling, "the most rows a request may ask for with max_rows= (the explicit override of --max-rows)")
	maxGeos := fs.Int("max-geos", query.DefaultMaxGeos, "most places one series request may name")
	queryTimeout := fs.Duration("query-timeout", query.DefaultQueryTimeout, "how long ClickHouse gets to answer one request")
	shutdownTimeout := fs.Duration("shutdown-timeout", query.DefaultShutdownTimeout, "how long in-flight requests get to finish on SIGTERM")
	analystToken := fs.String("analyst-token", "", "bearer token that authorises writes (initiatives); empty disables writes. Prefer the environment (OUNCE_ANALYST_TOKEN) to a flag, which other users can see")
	readToken := fs.String("read-token", "", "when set, reading /v1/ needs this token (or the analyst token); empty leaves reads open")
	var natsc extnats.Client
	natsc.RegisterFlags(fs, "", "NATS holding the ingest workers' feed status, for GET /v1/feeds; empty answers that route 503")
	corsOrigins := fs.String("cors-origins", "", "comma-separated origins whose pages may read the API from a browser (https://dash.example.org), or *; empty allows none")
	corsWrites := fs.Bool("cors-writes", false, "let those origins also write (initiatives) from a browser; off, they can only read")
	var logLevel, logFormat string
	logging.RegisterFlags(fs, &logLevel, &logFormat)
	if err := envflag.Parse(fs, envPrefix, args, append(extnats.Flags, "clickhouse-dsn", "log-level", "log-format", "analyst-token", "read-token")...); err != nil {
		return err
	}
	if err := envflag.NoArgs(fs); err != nil {
		return err
	}
	log, err := logging.New(stderr, logLevel, logFormat)
	if err != nil {
		return envflag.AsUsage(err)
	}
	origins, err := httpapi.ParseOrigins(*corsOrigins)
	if err != nil {
		return envflag.Usagef("--cors-origins: %w", err)
	}
	cfg := query.Config{
		CORS:            httpapi.CORS{Origins: origins, Writes: *corsWrites},
		Addr:            *addr,
		MaxRows:         *maxRows,
		MaxGeos:         *maxGeos,
		RowsCeiling:     *rowsCeiling,
		QueryTimeout:    *queryTimeout,
		ShutdownTimeout: *shutdownTimeout,
		AnalystToken:    *analystToken,
		ReadToken:       *readToken,
	}
	if err := errors.Join(cfg.Validate(), natsc.Validate()); err != nil {
		return envflag.AsUsage(err)
	}

	// Listen first, so a taken port is reported before a slow connect.
	ln, err := httpapi.Listen(ctx, cfg.Addr, query.FlagAddr)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = ln.Close()
		}
	}()

	startCtx, cancel := context.WithTimeout(ctx, startupTimeout)
	defer cancel()
	conn, err := extch.Open(startCtx, *dsn)
	if err != nil {
		return fmt.Errorf("connect to clickhouse (set --clickhouse-dsn or OUNCE_CLICKHOUSE_DSN): %w", err)
	}
	defer func() {
		if cerr := conn.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close clickhouse: %w", cerr))
		}
	}()
	applied, err := extch.Migrate(startCtx, conn)
	if err != nil {
		return fmt.Errorf("migrate clickhouse: %w", err)
	}
	if len(applied) > 0 {
		log.Info().Uints32("versions", applied).Msg("applied clickhouse migrations")
	}
	cat, err := catalogue.Load()
	if err != nil {
		return fmt.Errorf("load catalogue: %w", err)
	}
	if err := extch.SyncCatalogue(startCtx, conn, cat); err != nil {
		return fmt.Errorf("sync catalogue: %w", err)
	}
	pl, err := places.Load()
	if err != nil {
		return err
	}
	if err := extch.SyncPlaces(startCtx, conn, pl); err != nil {
		return fmt.Errorf("sync places: %w", err)
	}
	cancel()

	reg := prometheus.NewRegistry()
	if err := errors.Join(
		reg.Register(collectors.NewGoCollector()),
		reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})),
	); err != nil {
		return fmt.Errorf("register runtime metrics: %w", err)
	}
	if natsc.URL != "" {
		nc, js, err := extnats.Connect(natsc, "ounce-query", log)
		if err != nil {
			return err
		}
		defer func() {
			if derr := extnats.Drain(nc, 10*time.Second); derr != nil {
				err = errors.Join(err, derr)
			}
		}()
		cfg.JetStream = js
	}
	svc, err := query.New(cfg, conn, cat, log, reg)
	if err != nil {
		return err
	}
	if cfg.AnalystToken == "" {
		log.Warn().Msg("no analyst token (OUNCE_ANALYST_TOKEN): initiative writes are disabled")
	}
	log.Info().Str("addr", ln.Addr().String()).Int("max_rows", cfg.MaxRows).
		Bool("reads_need_token", cfg.ReadToken != "").Msg("query service starting")
	return svc.Serve(ctx, ln)
}
