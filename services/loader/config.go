// Package loader moves observation batches from the JetStream stream into
// ClickHouse exactly once as far as queries can tell: it pulls from one durable
// consumer, batches by rows, bytes and time, inserts with an explicit column
// list, and acks only after ClickHouse confirmed the insert. Observations that
// can never load go to the dead-letter stream with the reason; the rest of
// their message loads.
package loader

import (
	"errors"
	"fmt"
	"time"
)

// Defaults of Config.
const (
	DefaultBatchRows        = 50_000
	DefaultBatchBytes       = 32 << 20
	DefaultFlushInterval    = time.Second
	DefaultMaxDeliver       = 5
	DefaultAckWait          = 15 * time.Second
	DefaultMaxAckPending    = 20_000
	DefaultRetryMin         = 200 * time.Millisecond
	DefaultRetryMax         = 10 * time.Second
	DefaultCatalogueRefresh = 30 * time.Second
	DefaultDurable          = "loader"
	DefaultDrainTimeout     = 15 * time.Second
)

// Config tunes the loader. Zero values take the defaults.
type Config struct {
	Durable          string        // durable consumer name, shared by every loader replica
	BatchRows        int           // flush when the open batch has this many rows
	BatchBytes       int           // or this many bytes of messages
	FlushInterval    time.Duration // or its first message is this old
	MaxDeliver       int           // a message that fails to load this many times is dead-lettered
	AckWait          time.Duration // JetStream redelivers a message not acked within this
	MaxAckPending    int
	RetryMin         time.Duration // backoff while ClickHouse is down, doubling up to RetryMax
	RetryMax         time.Duration
	CatalogueRefresh time.Duration // how often the set of known indicators is re-read
	// DrainTimeout bounds the shutdown: what ClickHouse has not taken by
	// then is handed back to JetStream unacked.
	DrainTimeout time.Duration
	// HoldWhenCaughtUp keeps the open batch until it is full or
	// FlushInterval old even when the stream has nothing more to deliver.
	// By default the loader then inserts it at once, if no insert is
	// running and none started within FlushInterval/4: the end of a
	// backlog is queryable without waiting, and a trickle makes at most
	// four inserts a second.
	HoldWhenCaughtUp bool
}

// WithDefaults fills zero fields.
func (c Config) WithDefaults() Config {
	if c.Durable == "" {
		c.Durable = DefaultDurable
	}
	if c.BatchRows == 0 {
		c.BatchRows = DefaultBatchRows
	}
	if c.BatchBytes == 0 {
		c.BatchBytes = DefaultBatchBytes
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	if c.MaxDeliver == 0 {
		c.MaxDeliver = DefaultMaxDeliver
	}
	if c.AckWait == 0 {
		c.AckWait = DefaultAckWait
	}
	if c.MaxAckPending == 0 {
		c.MaxAckPending = DefaultMaxAckPending
	}
	if c.RetryMin == 0 {
		c.RetryMin = DefaultRetryMin
	}
	if c.RetryMax == 0 {
		c.RetryMax = DefaultRetryMax
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = DefaultDrainTimeout
	}
	if c.CatalogueRefresh == 0 {
		c.CatalogueRefresh = DefaultCatalogueRefresh
	}
	return c
}

// Validate reports settings that cannot work.
func (c Config) Validate() error {
	var errs []error
	if c.BatchRows < 1 {
		errs = append(errs, fmt.Errorf("batch rows %d: must be at least 1", c.BatchRows))
	}
	if c.BatchBytes < 1<<20 {
		errs = append(errs, fmt.Errorf("batch bytes %d: must be at least 1 MiB (one NATS message)", c.BatchBytes))
	}
	if c.FlushInterval < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("flush interval %s: must be at least 10ms", c.FlushInterval))
	}
	if c.DrainTimeout < 0 {
		errs = append(errs, fmt.Errorf("drain timeout %s: must not be negative", c.DrainTimeout))
	}
	if c.MaxDeliver < 1 {
		errs = append(errs, fmt.Errorf("max deliver %d: must be at least 1", c.MaxDeliver))
	}
	if c.AckWait < 3*c.FlushInterval {
		errs = append(errs, fmt.Errorf("ack wait %s: must be at least three flush intervals (%s)", c.AckWait, 3*c.FlushInterval))
	}
	if c.RetryMin <= 0 || c.RetryMax < c.RetryMin {
		errs = append(errs, fmt.Errorf("retry backoff %s..%s: need 0 < min <= max", c.RetryMin, c.RetryMax))
	}
	return errors.Join(errs...)
}
