// Command ounce-loader moves observations from NATS JetStream into ClickHouse.
package main

import (
	"context"
	"errors"
	"flag"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/ounce-data/ounce/pkg/envflag"
	"github.com/ounce-data/ounce/pkg/extch"
	"github.com/ounce-data/ounce/pkg/extnats"
	"github.com/ounce-data/ounce/pkg/logging"
	"github.com/ounce-data/ounce/services/loader"
)

func main() {
	os.Exit(envflag.ExitCode("ounce-loader", run(os.Args[1:]), os.Stderr))
}

func run(args []string) error {
	fs := flag.NewFlagSet("ounce-loader", flag.ContinueOnError)
	var (
		cfg                 loader.Config
		natsc               extnats.Client
		dsn                 = fs.String("clickhouse-dsn", extch.DefaultDSN, "ClickHouse native-protocol DSN")
		addr                = fs.String("addr", loader.DefaultAddr, "listen address for /metrics, /healthz, /readyz")
		logLevel, logFormat string
		memLimit            = fs.Int64("memory-limit", 160<<20, "soft memory limit in bytes for the Go runtime (GOMEMLIMIT wins when set); 0 for none")
	)
	cfg.RegisterFlags(fs)
	natsc.RegisterFlags(fs, extnats.DefaultURL, "NATS server or cluster URL")
	logging.RegisterFlags(fs, &logLevel, &logFormat)
	fs.Usage = envflag.Usage(fs, "LOADER")
	if err := envflag.Parse(fs, "LOADER", args, append(extnats.Flags, "clickhouse-dsn", "log-level", "log-format")...); err != nil {
		return err
	}
	if err := envflag.NoArgs(fs); err != nil {
		return err
	}
	if err := errors.Join(cfg.WithDefaults().Validate(), natsc.Validate()); err != nil {
		return envflag.AsUsage(err)
	}
	log, err := logging.Stderr(logLevel, logFormat)
	if err != nil {
		return envflag.AsUsage(err)
	}
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set && *memLimit > 0 {
		debug.SetMemoryLimit(*memLimit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return loader.Serve(ctx, loader.Deps{
		Config: cfg, NATS: natsc, ClickHouseDSN: *dsn, Addr: *addr, Log: log, Registry: reg,
	})
}
