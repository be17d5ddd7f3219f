// Package query is the analyst and dashboard API of Ounce: the indicator
// catalogue with its coverage, and series of observations read from
// ClickHouse with their provenance, behind /metrics, /healthz and /readyz.
package query

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ounce-data/ounce/pkg/feedcat"
	"github.com/ounce-data/ounce/pkg/httpapi"
	"github.com/ounce-data/ounce/pkg/places"
)

// FlagAddr is the command-line flag that sets Config.Addr; errors about the
// listen address name it.
const FlagAddr = "addr"

// Defaults of Config.
const (
	DefaultAddr            = "127.0.0.1:8080"
	DefaultMaxRows         = 100_000
	DefaultRowsCeiling     = 1_000_000
	DefaultMaxGeos         = 500
	DefaultQueryTimeout    = 30 * time.Second
	DefaultShutdownTimeout = 10 * time.Second
	// MinTokenLength is the shortest analyst or read token accepted.
	MinTokenLength = 16
)

// Config tunes the query service. Zero values take the defaults.
type Config struct {
	Addr    string // host:port to listen on
	MaxRows int    // a series request matching more rows is refused with range_too_large
	// RowsCeiling is the most a request may raise its row limit to with
	// max_rows=: the explicit override of MaxRows, itself bounded.
	RowsCeiling     int
	MaxGeos         int           // most places one series request may name
	QueryTimeout    time.Duration // ClickHouse gets this long to answer one request
	ShutdownTimeout time.Duration // in-flight requests get this long to finish on shutdown
	// FreshnessInterval is how long a data watermark read from ClickHouse
	// is trusted: If-None-Match is answered 304 from memory meanwhile, so
	// data written by others is seen by pollers within this interval.
	FreshnessInterval time.Duration
	// AnalystToken authorises writes (initiatives) as Authorization: Bearer.
	// Empty disables writes: they answer 401 saying so.
	AnalystToken string
	// ReadToken, when set, is required (or the analyst token) to read data;
	// empty leaves reads open. Health, metrics and /openapi.yaml stay open.
	ReadToken string
	// JetStream reads the feed status the ingest workers record, for
	// GET /v1/feeds, and holds the user indicators (their bucket, which
	// POST, PUT and DELETE /v1/indicators write and every lookup reads);
	// nil answers /v1/feeds and those writes 503 unavailable, and serves
	// the catalogue's indicators only.
	JetStream jetstream.JetStream
	// Feeds is the feed catalogue GET /v1/feeds lists; nil loads the one
	// under schemas/feeds.
	Feeds []feedcat.Feed
	// Places is the place catalogue that geo parameters and initiatives
	// are checked against; nil loads the one under schemas/places.
	Places *places.Catalogue
	// CORS lets pages on other origins read the API (and write, when
	// CORS.Writes); the zero value allows none.
	CORS httpapi.CORS
}

// WithDefaults fills zero fields.
func (c Config) WithDefaults() Config {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.MaxRows == 0 {
		c.MaxRows = DefaultMaxRows
	}
	if c.RowsCeiling == 0 {
		c.RowsCeiling = max(DefaultRowsCeiling, c.MaxRows)
	}
	if c.MaxGeos == 0 {
		c.MaxGeos = DefaultMaxGeos
	}
	if c.QueryTimeout == 0 {
		c.QueryTimeout = DefaultQueryTimeout
	}
	if c.FreshnessInterval == 0 {
		c.FreshnessInterval = DefaultFreshnessInterval
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	return c
}

// Validate reports settings that cannot work.
func (c Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("addr %q: want host:port, e.g. %s (--%s): %w", c.Addr, DefaultAddr, FlagAddr, err))
	}
	if c.RowsCeiling < c.MaxRows {
		errs = append(errs, fmt.Errorf("rows ceiling %d: must be at least max rows %d", c.RowsCeiling, c.MaxRows))
	}
	if c.MaxRows < 1 {
		errs = append(errs, fmt.Errorf("max rows %d: must be at least 1", c.MaxRows))
	}
	if c.MaxGeos < 1 {
		errs = append(errs, fmt.Errorf("max geos %d: must be at least 1", c.MaxGeos))
	}
	if c.QueryTimeout < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("query timeout %s: must be at least 10ms", c.QueryTimeout))
	}
	for name, tok := range map[string]string{"analyst token": c.AnalystToken, "read token": c.ReadToken} {
		if tok != "" && len(tok) < MinTokenLength {
			errs = append(errs, fmt.Errorf("%s: must be at least %d characters; generate one with `openssl rand -hex 24`", name, MinTokenLength))
		}
	}
	if c.AnalystToken != "" && c.AnalystToken == c.ReadToken {
		errs = append(errs, errors.New("read token equals the analyst token: a reader could write; use two different tokens"))
	}
	if c.FreshnessInterval < 0 || c.FreshnessInterval > time.Hour {
		errs = append(errs, fmt.Errorf("freshness interval %s: must be between 0 and 1h", c.FreshnessInterval))
	}
	if c.ShutdownTimeout < 0 {
		errs = append(errs, fmt.Errorf("shutdown timeout %s: must not be negative", c.ShutdownTimeout))
	}
	return errors.Join(errs...)
}
