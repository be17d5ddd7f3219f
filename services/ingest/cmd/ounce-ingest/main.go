// Command ounce-ingest runs the feed workers: every feed of the catalogue on
// its schedule, or one feed once with --feed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/ounce-data/ounce/pkg/catalogue"
	"github.com/ounce-data/ounce/pkg/envflag"
	"github.com/ounce-data/ounce/pkg/extnats"
	"github.com/ounce-data/ounce/pkg/feedcat"
	"github.com/ounce-data/ounce/pkg/logging"
	"github.com/ounce-data/ounce/services/ingest"
)

// DefaultListen serves /metrics, /healthz and /readyz.
const DefaultListen = "127.0.0.1:8083"

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stderr))
}

// run is the whole command; it returns the exit code: 0 success, 1 failure,
// 2 bad usage.
func run(ctx context.Context, args []string, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	fs := flag.NewFlagSet("ounce-ingest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = envflag.Usage(fs, "INGEST")
	var natsc extnats.Client
	natsc.RegisterFlags(fs, extnats.DefaultURL, "NATS server with JetStream")
	mirror := fs.String("mirror", "", "read feeds from this mirror directory instead of the network, at each feed's mirror path (also OUNCE_MIRROR)")
	feedID := fs.String("feed", "", "run this one feed once and exit")
	listen := fs.String("listen", DefaultListen, "serve /metrics, /healthz and /readyz here; empty to disable")
	httpTimeout := fs.Duration("http-timeout", ingest.DefaultHTTPTimeout, "bound on one HTTP fetch, body included")
	var logLevel, logFormat string
	logging.RegisterFlags(fs, &logLevel, &logFormat)
	err := envflag.Parse(fs, "INGEST", args, append(extnats.Flags, "mirror")...)
	if err == nil {
		err = envflag.NoArgs(fs)
	}
	if err == nil {
		err = envflag.AsUsage(natsc.Validate())
	}
	if err != nil {
		return envflag.ExitCode("ounce-ingest", err, stderr)
	}
	log, err := logging.New(stderr, logLevel, logFormat)
	if err != nil {
		return envflag.ExitCode("ounce-ingest", envflag.AsUsage(err), stderr)
	}
	if err := serve(ctx, log, options{
		nats: natsc, mirror: *mirror, feedID: *feedID, listen: *listen, httpTimeout: *httpTimeout,
	}); err != nil {
		var ue *envflag.UsageError
		if errors.As(err, &ue) {
			return envflag.ExitCode("ounce-ingest", err, stderr)
		}
		log.Error().Err(err).Msg("ounce-ingest stopped")
		return envflag.ExitFailure
	}
	return envflag.ExitOK
}

type options struct {
	nats                   extnats.Client
	mirror, feedID, listen string
	httpTimeout            time.Duration
}

func serve(ctx context.Context, log zerolog.Logger, o options) (err error) {
	feeds, err := feedcat.Load()
	if err != nil {
		return fmt.Errorf("load feed catalogue: %w", err)
	}
	cat, err := catalogue.Load()
	if err != nil {
		return fmt.Errorf("load indicator catalogue: %w", err)
	}
	if o.feedID != "" {
		f, ok := feedcat.ByID(feeds, o.feedID)
		if !ok {
			return envflag.Usagef("--feed %s: no such feed in the catalogue", o.feedID)
		}
		feeds = []feedcat.Feed{f}
	}
	if o.mirror != "" {
		if st, err := os.Stat(o.mirror); err != nil || !st.IsDir() {
			return envflag.Usagef("--mirror %s: not a directory", o.mirror)
		}
	}

	var ln net.Listener
	if o.feedID == "" && o.listen != "" {
		ln, err = net.Listen("tcp", o.listen)
		if err != nil {
			return fmt.Errorf("listen on %s (%w); choose another address with --listen", o.listen, err)
		}
		defer func() { _ = ln.Close() }() // closed by Shutdown on the normal path
	}

	nc, js, err := extnats.Connect(o.nats, "ounce-ingest", log)
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

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	in, err := ingest.New(ingest.Config{MirrorDir: o.mirror, HTTPTimeout: o.httpTimeout}, js, feeds, cat, log, reg)
	if err != nil {
		return err
	}

	if o.feedID != "" {
		_, err := in.RunFeedWith(ctx, o.feedID, ingest.RunOptions{Lease: true})
		return err
	}

	errc := make(chan error, 1)
	var srv *http.Server
	if ln != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
		mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, "ok\n")
		})
		mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
			if !nc.IsConnected() {
				http.Error(w, "not connected to nats", http.StatusServiceUnavailable)
				return
			}
			_, _ = io.WriteString(w, "ok\n")
		})
		srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("serve http on %s: %w", o.listen, err)
			}
		}()
	}
	log.Info().Int("feeds", len(feeds)).Str("nats_url", o.nats.Redacted()).Str("mirror", o.mirror).Str("listen", o.listen).Msg("ounce-ingest started")

	rctx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = in.Run(rctx) // returns when rctx is cancelled
	}()
	var serveErr error
	select {
	case <-ctx.Done():
		log.Info().Msg("shutting down")
	case serveErr = <-errc:
	}
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			serveErr = errors.Join(serveErr, fmt.Errorf("shut down http: %w", err))
		}
	}
	stopRun()
	<-done
	return serveErr
}
