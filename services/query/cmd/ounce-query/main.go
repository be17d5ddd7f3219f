// Command ounce-query serves the Ounce query API: indicators, series,
// aggregates, initiatives and savings, with /metrics, /healthz and /readyz,
// reading from ClickHouse.
//
// Every flag can be set by environment: --max-rows by OUNCE_QUERY_MAX_ROWS,
// --clickhouse-dsn by OUNCE_QUERY_CLICKHOUSE_DSN or OUNCE_CLICKHOUSE_DSN,
// --analyst-token by OUNCE_ANALYST_TOKEN.
package main

import (
	"context"
	"flag"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/ounce-data/ounce/pkg/envflag"
	"github.com/ounce-data/ounce/pkg/extch"
	"github.com/ounce-data/ounce/pkg/extnats"
	"github.com/ounce-data/ounce/pkg/logging"
	"github.com/ounce-data/ounce/services/query"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stderr)
	stop()
	os.Exit(envflag.ExitCode("ounce-query", err, os.Stderr))
}

// run parses flags and serves until ctx is cancelled.
func run(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("ounce-query", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		d                   query.Deps
		logLevel, logFormat string
	)
	d.Config.RegisterFlags(fs)
	fs.StringVar(&d.ClickHouseDSN, "clickhouse-dsn", extch.DefaultDSN, "ClickHouse to read, native protocol: clickhouse://host:port/database")
	d.NATS.RegisterFlags(fs, "", "NATS holding the ingest workers' feed status (GET /v1/feeds) and the user indicators (/v1/indicators); empty answers /v1/feeds and indicator writes 503")
	logging.RegisterFlags(fs, &logLevel, &logFormat)
	fs.Usage = envflag.Usage(fs, "QUERY")
	if err := envflag.Parse(fs, "QUERY", args, append(extnats.Flags, "clickhouse-dsn", "log-level", "log-format", "analyst-token", "read-token")...); err != nil {
		return err
	}
	if err := envflag.NoArgs(fs); err != nil {
		return err
	}
	log, err := logging.New(stderr, logLevel, logFormat)
	if err != nil {
		return envflag.AsUsage(err)
	}
	d.Log = log
	d.Registry = prometheus.NewRegistry()
	d.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return query.Serve(ctx, d)
}
