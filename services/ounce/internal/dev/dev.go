// Package dev runs the whole of Ounce in one process: an embedded NATS
// server with JetStream, a ClickHouse server started from the local install
// (or an existing one by DSN), the loader, the query service and the ingest
// workers, stopped together on SIGINT or SIGTERM.
package dev

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"

	"github.com/ounce-data/ounce/pkg/chserver"
	"github.com/ounce-data/ounce/pkg/envflag"
	"github.com/ounce-data/ounce/pkg/extch"
	"github.com/ounce-data/ounce/pkg/extnats"
	"github.com/ounce-data/ounce/pkg/feedcat"
	"github.com/ounce-data/ounce/pkg/httpapi"
	"github.com/ounce-data/ounce/pkg/lifecycle"
	"github.com/ounce-data/ounce/pkg/logging"
	"github.com/ounce-data/ounce/pkg/natsserver"
	"github.com/ounce-data/ounce/services/gateway"
	"github.com/ounce-data/ounce/services/ingest"
	"github.com/ounce-data/ounce/services/loader"
	"github.com/ounce-data/ounce/services/query"
)

// Config of ounce dev; every field is a flag with an OUNCE_* fallback.
type Config struct {
	DataDir            string
	NATS               extnats.Client // external NATS; empty URL runs an embedded server
	NATSPort           int
	ClickHouseDSN      string
	ClickHouseTCPPort  int
	ClickHouseHTTPPort int
	Database           string
	QueryAddr          string
	GatewayAddr        string
	AnalystToken       string
	Mirror             string
	NoIngest           bool
	CORSOrigins        string
	LogLevel           string
	LogFormat          string
	Loader             loader.Config
}

func (c *Config) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.StringVar(&c.DataDir, "data-dir", "./.ounce", "JetStream store, ClickHouse data and logs")
	c.NATS.RegisterFlags(fs, "", "external NATS server or cluster; empty runs an embedded server, whose services nkey is <data-dir>/nats-services.nk")
	fs.IntVar(&c.NATSPort, "nats-port", 4222, "port of the embedded NATS server")
	fs.StringVar(&c.ClickHouseDSN, "clickhouse-dsn", "", "existing ClickHouse (clickhouse://host:9000/db); empty starts one from the local install")
	fs.IntVar(&c.ClickHouseTCPPort, "clickhouse-tcp-port", chserver.DefaultTCPPort, "native port of the ClickHouse ounce dev starts")
	fs.IntVar(&c.ClickHouseHTTPPort, "clickhouse-http-port", chserver.DefaultHTTPPort, "HTTP port of the ClickHouse ounce dev starts")
	fs.StringVar(&c.Database, "database", "ounce", "ClickHouse database of the ClickHouse ounce dev starts")
	fs.StringVar(&c.QueryAddr, "query-addr", query.DefaultAddr, "listen address of the query API and dashboard")
	fs.StringVar(&c.AnalystToken, "analyst-token", "", "bearer token for writes to the query API (initiatives), at least 16 characters; empty generates one and prints it")
	fs.StringVar(&c.GatewayAddr, "gateway-addr", gateway.DefaultAddr, "listen address of the partner gateway")
	fs.StringVar(&c.Mirror, "mirror", "", "read feeds from this directory of recorded files instead of their URLs")
	fs.BoolVar(&c.NoIngest, "no-ingest", false, "do not run the feeds")
	fs.StringVar(&c.CORSOrigins, "cors-origins", "*", "origins whose pages may read the query API from a browser, comma-separated; empty allows none")
	logging.RegisterFlags(fs, &c.LogLevel, &c.LogFormat)
	return fs
}

// parse parses args into fs (which binds its flags to fields of the
// caller's config) and builds the logger; every mistake is a UsageError.
func parse(fs *flag.FlagSet, args []string, stderr io.Writer, level, format *string) (zerolog.Logger, error) {
	fs.SetOutput(stderr)
	fs.Usage = envflag.Usage(fs, "")
	if err := envflag.Parse(fs, "", args); err != nil {
		return zerolog.Nop(), err
	}
	if err := envflag.NoArgs(fs); err != nil {
		return zerolog.Nop(), err
	}
	log, err := logging.New(stderr, *level, *format)
	return log, envflag.AsUsage(err)
}

// Run is `ounce dev`. Every setting is checked, and the query and gateway
// addresses are taken, before NATS or ClickHouse is started, so a mistake
// is reported at once and names the flag of ounce dev to change.
func Run(ctx context.Context, args []string, stderr io.Writer) (err error) {
	var c Config
	log, err := parse(c.flags("ounce dev"), args, stderr, &c.LogLevel, &c.LogFormat)
	if err != nil {
		return err
	}
	token, generated, err := analystToken(c.AnalystToken)
	if err != nil {
		return err
	}
	origins, err := httpapi.ParseOrigins(c.CORSOrigins)
	if err != nil {
		return envflag.Usagef("--cors-origins: %w", err)
	}
	qcfg := query.Config{Addr: c.QueryAddr, AnalystToken: token, CORS: httpapi.CORS{Origins: origins}}
	gcfg := gateway.Config{Addr: c.GatewayAddr}
	if err := errors.Join(qcfg.WithDefaults().Validate(), gcfg.WithDefaults().Validate(), c.Loader.WithDefaults().Validate(), c.NATS.Validate()); err != nil {
		return envflag.AsUsage(err)
	}
	queryLn, err := httpapi.Listen(ctx, c.QueryAddr, "query-addr")
	if err != nil {
		return err
	}
	defer func() { _ = queryLn.Close() }() // closed by the query service once it serves
	gatewayLn, err := httpapi.Listen(ctx, c.GatewayAddr, "gateway-addr")
	if err != nil {
		return err
	}
	defer func() { _ = gatewayLn.Close() }()
	if err := os.MkdirAll(c.DataDir, 0o755); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}

	natsc := c.NATS
	var embedded *natsserver.Server
	if natsc.URL == "" {
		seedFile := filepath.Join(c.DataDir, natsserver.ServicesNKeyFile)
		_, public, err := natsserver.ServicesSeed(seedFile)
		if err != nil {
			return err
		}
		embedded, err = natsserver.Start(natsserver.Config{
			Port: c.NATSPort, StoreDir: filepath.Join(c.DataDir, "nats"), PortFlag: "--nats-port", ServicesKey: public,
		})
		if err != nil {
			return err
		}
		defer func() {
			embedded.Shutdown()
			embedded.WaitForShutdown()
			log.Info().Msg("embedded nats stopped")
		}()
		natsc = extnats.Client{URL: embedded.ClientURL(), NKey: seedFile}
		log.Info().Str("nats_url", natsc.URL).Str("store", filepath.Join(c.DataDir, "nats")).Str("services_nkey", seedFile).
			Str("admits", "the services nkey and registered partners' nkeys").Msg("embedded nats started")
	}

	dsn := c.ClickHouseDSN
	var child *chserver.Supervisor // the ClickHouse ounce dev runs, when it runs one
	if dsn == "" {
		log.Info().Int("tcp_port", c.ClickHouseTCPPort).Msg("starting clickhouse from the local install")
		chcfg := chserver.Config{
			Dir: filepath.Join(c.DataDir, "clickhouse"), TCPPort: c.ClickHouseTCPPort, HTTPPort: c.ClickHouseHTTPPort,
			TCPPortFlag: "--clickhouse-tcp-port", HTTPPortFlag: "--clickhouse-http-port",
		}
		srv, err := chserver.Start(ctx, chcfg)
		if err != nil {
			return err
		}
		child = chserver.Supervise(srv, chcfg, log.With().Str("svc", "clickhouse").Logger())
		defer func() {
			if serr := child.Stop(); serr != nil {
				err = errors.Join(err, serr)
			}
			log.Info().Msg("clickhouse stopped")
		}()
		dsn = srv.DSN(c.Database)
		log.Info().Str("clickhouse_dsn", dsn).Int("http_port", srv.HTTPPort).Str("dir", srv.Dir).Msg("clickhouse started")
	}
	ch, err := extch.Setup(ctx, dsn)
	if err != nil {
		return err
	}
	extch.LogReady(log, dsn, ch)
	conn := ch.Conn
	defer func() {
		if cerr := conn.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close clickhouse: %w", cerr))
		}
	}()

	nc, js, err := extnats.Connect(natsc, "ounce-dev", log)
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
	if embedded != nil {
		// The server started moments ago, so its leases are those of an
		// ounce dev that died mid-run. (A worker of its own that connected
		// in these seconds would lose its lease and stop its run; data is
		// never duplicated, as storage is idempotent.)
		feeds, err := ingest.ReleaseAllLeases(ctx, js)
		if err != nil {
			return err
		}
		if len(feeds) > 0 {
			log.Info().Strs("feeds", feeds).Msg("released the feed leases of a previous run that did not stop")
		}
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	cat := ch.Indicators
	ld, err := loader.New(c.Loader, js, conn, log.With().Str("svc", "loader").Logger(), reg)
	if err != nil {
		return err
	}
	qcfg.JetStream = js
	qcfg.Places = ch.Places
	q, err := query.New(qcfg, conn, cat, log.With().Str("svc", "query").Logger(), reg)
	if err != nil {
		return err
	}
	q.Health().Register("loader", ld.Ready)
	if child != nil {
		q.Health().Register("clickhouse server", child.Ready)
	}
	gw, err := gateway.New(ctx, gcfg, js, cat, log.With().Str("svc", "gateway").Logger(), reg)
	if err != nil {
		return err
	}
	components := []lifecycle.Component{
		{Name: "loader", Run: ld.Run},
		{Name: "query", Run: func(ctx context.Context) error { return q.Serve(ctx, queryLn) }},
		{Name: "gateway", Run: func(ctx context.Context) error { return gw.Serve(ctx, gatewayLn) }},
	}
	if child != nil {
		components = append(components, lifecycle.Component{Name: "clickhouse supervisor", Run: child.Run})
	}
	if embedded != nil {
		users := partnerUsers(embedded, log.With().Str("svc", "nats").Logger())
		components = append(components, lifecycle.Component{Name: "nats partner users", Run: func(ctx context.Context) error { return users.Run(ctx, js) }})
	}
	if !c.NoIngest {
		feeds, err := feedcat.Load()
		if err != nil {
			return err
		}
		ing, err := ingest.New(ingest.Config{MirrorDir: c.Mirror}, js, feeds, cat, ch.Places, log.With().Str("svc", "ingest").Logger(), reg)
		if err != nil {
			return err
		}
		components = append(components, lifecycle.Component{Name: "ingest", Run: ing.Run})
	}
	if generated {
		// Printed, not logged: the token is for the person at the terminal,
		// and log collectors should not keep it.
		fmt.Fprintf(stderr, "\nanalyst token (writes to the query API; set OUNCE_ANALYST_TOKEN to choose your own):\n  export OUNCE_ANALYST_TOKEN=%s\n\n", token)
	}
	log.Info().Str("query", "http://"+c.QueryAddr).Str("gateway", "http://"+c.GatewayAddr).Str("nats", natsc.Redacted()).Str("clickhouse", extch.RedactDSN(dsn)).
		Str("mirror", c.Mirror).Msg("ounce dev is up; Ctrl-C stops everything")
	return lifecycle.Run(ctx, components...)
}

// analystToken is the configured token, or a new random one (generated true).
func analystToken(configured string) (token string, generated bool, err error) {
	if configured != "" {
		return configured, false, nil
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", false, fmt.Errorf("generate an analyst token: %w", err)
	}
	return hex.EncodeToString(b), true, nil
}
