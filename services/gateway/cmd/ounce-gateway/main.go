// Command ounce-gateway serves the partner push API.
package main

import (
	"context"
	"errors"
	"flag"
	"os"
	"os/signal"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/ounce-data/ounce/pkg/envflag"
	"github.com/ounce-data/ounce/pkg/extnats"
	"github.com/ounce-data/ounce/pkg/logging"
	"github.com/ounce-data/ounce/services/gateway"
)

func main() {
	os.Exit(envflag.ExitCode("ounce-gateway", run(os.Args[1:]), os.Stderr))
}

func run(args []string) error {
	fs := flag.NewFlagSet("ounce-gateway", flag.ContinueOnError)
	var (
		cfg                 gateway.Config
		natsc               extnats.Client
		logLevel, logFormat string
	)
	cfg.RegisterFlags(fs)
	natsc.RegisterFlags(fs, extnats.DefaultURL, "NATS server or cluster URL")
	logging.RegisterFlags(fs, &logLevel, &logFormat)
	fs.Usage = envflag.Usage(fs, "GATEWAY")
	if err := envflag.Parse(fs, "GATEWAY", args, append(extnats.Flags, "log-level", "log-format")...); err != nil {
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
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return gateway.Serve(ctx, gateway.Deps{Config: cfg, NATS: natsc, Log: log, Registry: reg})
}
