// Command ounce-gateway serves the partner push API.
package main

import (
	"context"
	"flag"
	"fmt"
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
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "ounce-gateway:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("ounce-gateway", flag.ContinueOnError)
	var (
		cfg       gateway.Config
		natsURL   = fs.String("nats-url", extnats.DefaultURL, "NATS server or cluster URL")
		logLevel  = fs.String("log-level", "info", "debug, info, warn or error")
		logFormat = fs.String("log-format", logging.FormatJSON, "json or console")
	)
	cfg.RegisterFlags(fs)
	fs.Usage = envflag.Usage(fs, "GATEWAY")
	if err := envflag.Parse(fs, "GATEWAY", args, "nats-url", "log-level", "log-format"); err != nil {
		return err
	}
	log, err := logging.Stderr(*logLevel, *logFormat)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return gateway.Serve(ctx, gateway.Deps{Config: cfg, NATSURL: *natsURL, Log: log, Registry: reg})
}
