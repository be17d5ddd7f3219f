package gateway

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"time"
)

// FlagAddr is the flag that sets Config.Addr; errors about it name it.
const FlagAddr = "addr"

// Defaults of Config.
const (
	DefaultAddr           = "127.0.0.1:8081"
	DefaultMaxBodyBytes   = 16 << 20 // as sent (compressed or not)
	DefaultMaxDecoded     = 64 << 20 // after gzip
	DefaultMaxRows        = 100_000
	DefaultRateLimit      = 10 // pushes per second per key
	DefaultRateBurst      = 20
	DefaultPublishTimeout = 30 * time.Second
	DefaultPendingTimeout = 10 * time.Second
	// DefaultReadTimeout fits the largest default body (16 MiB) at 1 Mbit/s.
	DefaultReadTimeout = 3 * time.Minute
)

// Config tunes the gateway. Zero values take the defaults.
type Config struct {
	Addr         string  // host:port of the push API
	MaxBodyBytes int64   // a larger body is refused with 413
	MaxDecoded   int64   // a gzip body inflating past this is refused with 413
	MaxRows      int     // a push with more rows is refused with 400
	RateLimit    float64 // requests per second per key, shared by every replica through NATS
	RateBurst    int
	// PublishTimeout bounds the wait for JetStream to acknowledge a push.
	PublishTimeout time.Duration
	// ReadTimeout bounds reading a push's body, from its headers to its
	// last byte: a body trickling in slower is refused with 408.
	ReadTimeout time.Duration
	// PendingTimeout is how long an Idempotency-Key stays claimed by a
	// request that stopped renewing its claim (a crashed replica) before
	// another may take it over; a live request renews it every third of it.
	PendingTimeout time.Duration
	// BatchBytes caps one NATS message (observation.DefaultMaxBatchBytes when 0).
	BatchBytes int
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// RegisterFlags binds the flags of c to fs.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Addr, FlagAddr, DefaultAddr, "listen address of the push API, /metrics, /healthz, /readyz")
	fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", DefaultMaxBodyBytes, "largest body accepted, as sent")
	fs.Int64Var(&c.MaxDecoded, "max-decoded-bytes", DefaultMaxDecoded, "largest body accepted after gzip decompression")
	fs.IntVar(&c.MaxRows, "max-rows", DefaultMaxRows, "most rows in one push")
	fs.Float64Var(&c.RateLimit, "rate-limit", DefaultRateLimit, "requests per second per key, shared by every replica (each replica's own when NATS does not answer)")
	fs.IntVar(&c.RateBurst, "rate-burst", DefaultRateBurst, "requests a key may send at once above the rate")
	fs.DurationVar(&c.PublishTimeout, "publish-timeout", DefaultPublishTimeout, "wait this long for JetStream to acknowledge a push")
	fs.DurationVar(&c.ReadTimeout, "read-timeout", DefaultReadTimeout, "a push body not read in full within this is refused (408); the default fits 16 MiB at 1 Mbit/s")
}

// WithDefaults fills zero fields.
func (c Config) WithDefaults() Config {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MaxDecoded == 0 {
		c.MaxDecoded = DefaultMaxDecoded
	}
	if c.MaxRows == 0 {
		c.MaxRows = DefaultMaxRows
	}
	if c.RateLimit == 0 {
		c.RateLimit = DefaultRateLimit
	}
	if c.RateBurst == 0 {
		c.RateBurst = DefaultRateBurst
	}
	if c.PublishTimeout == 0 {
		c.PublishTimeout = DefaultPublishTimeout
	}
	if c.PendingTimeout == 0 {
		c.PendingTimeout = DefaultPendingTimeout
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate reports settings that cannot work.
func (c Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("addr %q: want host:port, e.g. %s (--%s): %w", c.Addr, DefaultAddr, FlagAddr, err))
	}
	if c.MaxBodyBytes < 0 || c.MaxDecoded < c.MaxBodyBytes {
		errs = append(errs, fmt.Errorf("max-body-bytes %d and max-decoded-bytes %d: want 0 < max-body-bytes <= max-decoded-bytes", c.MaxBodyBytes, c.MaxDecoded))
	}
	if c.MaxRows < 1 {
		errs = append(errs, fmt.Errorf("max-rows %d: want at least 1", c.MaxRows))
	}
	if c.RateLimit < 0 || c.RateBurst < 1 {
		errs = append(errs, errors.New("rate-limit must be positive and rate-burst at least 1"))
	}
	if c.PublishTimeout < 0 {
		errs = append(errs, fmt.Errorf("publish-timeout %s: want a positive duration", c.PublishTimeout))
	}
	if c.ReadTimeout < 0 {
		errs = append(errs, fmt.Errorf("read-timeout %s: want a positive duration", c.ReadTimeout))
	}
	return errors.Join(errs...)
}
