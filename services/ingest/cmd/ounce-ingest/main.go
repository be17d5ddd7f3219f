// Command ounce-ingest runs the feed workers: every feed of the catalogue on
// its schedule, or one feed once with --feed.
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
	"github.com/ounce-data/ounce/pkg/extnats"
	"github.com/ounce-data/ounce/pkg/logging"
	"github.com/ounce-data/ounce/services/ingest"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stderr))
}

// run is the whole command; it returns the exit code: 0 success, 1 failure,
// 2 bad usage.
func run(ctx context.Context, args []string, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return envflag.ExitCode("ounce-ingest", serve(ctx, args, stderr), stderr)
}

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("ounce-ingest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		d                   ingest.Deps
		logLevel, logFormat string
	)
	d.Config.RegisterFlags(fs)
	d.NATS.RegisterFlags(fs, extnats.DefaultURL, "NATS server with JetStream")
	fs.StringVar(&d.Feed, "feed", "", "run this one feed once and exit")
	fs.StringVar(&d.Addr, "addr", ingest.DefaultAddr, "serve /metrics, /healthz, /readyz and /debug/pprof/ here; empty to disable")
	logging.RegisterFlags(fs, &logLevel, &logFormat)
	fs.Usage = envflag.Usage(fs, "INGEST")
	if err := envflag.Parse(fs, "INGEST", args, append(extnats.Flags, "mirror", "log-level", "log-format")...); err != nil {
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
	return ingest.Serve(ctx, d)
}
