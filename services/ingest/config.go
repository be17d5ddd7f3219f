// Package ingest is the feed worker: it fetches each declared feed on its
// schedule (over HTTP with conditional GET, or from a local mirror
// directory), parses it with the adapter for the feed's format, and publishes
// the observations to JetStream in batches whose Nats-Msg-Id is derived from
// their content, so a re-run of unchanged data is absorbed by the stream's
// duplicate window and, beyond it, by the storage's versioning. A feed is
// published only whole: the body is parsed completely before the first
// message is sent, so a malformed body publishes nothing. Each feed's last
// success is checkpointed in the JetStream key-value bucket of checkpoints.
package ingest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"time"

	"github.com/ounce-data/ounce/pkg/observation"
)

// Defaults of Config.
const (
	DefaultHTTPTimeout    = 5 * time.Minute
	DefaultUserAgent      = "ounce-ingest/1 (+https://github.com/ounce-data/ounce)"
	DefaultBatchBytes     = observation.DefaultMaxBatchBytes
	DefaultMaxBodyBytes   = 512 << 20
	DefaultFetchAttempts  = 4
	DefaultRetryMin       = time.Second
	DefaultRetryMax       = 30 * time.Second
	DefaultFailureBackoff = 5 * time.Minute
	DefaultAckTimeout     = 30 * time.Second
	DefaultMaxInFlight    = 64
	DefaultEncodeChunk    = 20_000
	DefaultLeaseRetry     = 15 * time.Second
)

// Config tunes the ingester. Zero values take the defaults.
type Config struct {
	// MirrorDir, when set, is read instead of the network: feed f is the
	// file MirrorDir/f.Mirror.
	MirrorDir string
	// HTTPTimeout bounds one HTTP attempt, body included.
	HTTPTimeout time.Duration
	// UserAgent is sent with every HTTP request.
	UserAgent string
	// BatchBytes is the largest message body published.
	BatchBytes int
	// MaxBodyBytes is the largest feed body accepted.
	MaxBodyBytes int64
	// FetchAttempts is how many times a fetch is tried on network errors,
	// 5xx and 429 answers, waiting RetryMin doubling up to RetryMax (with
	// jitter) between attempts.
	FetchAttempts int
	RetryMin      time.Duration
	RetryMax      time.Duration
	// FailureBackoff is how long Run waits after a failed run before the
	// next try, doubling on each failure up to the feed's schedule.
	FailureBackoff time.Duration
	// AckTimeout bounds the wait for one message's PubAck.
	AckTimeout time.Duration
	// MaxInFlight is how many published messages may await their PubAck.
	MaxInFlight int
	// EncodeChunk is how many observations are held before encoding them
	// into messages; it bounds memory, not the messages' content.
	EncodeChunk int
	// Worker names this ingester in feed leases and feed status; empty
	// takes DefaultWorker().
	Worker string
	// LeaseRetry is how long Run waits before trying again a feed whose
	// lease another worker holds.
	LeaseRetry time.Duration
	// HTTPClient fetches feeds; nil uses a client of its own.
	HTTPClient *http.Client
	// Clock gives the time; nil uses time.Now.
	Clock func() time.Time
}

// WithDefaults fills zero fields.
func (c Config) WithDefaults() Config {
	if c.HTTPTimeout == 0 {
		c.HTTPTimeout = DefaultHTTPTimeout
	}
	if c.UserAgent == "" {
		c.UserAgent = DefaultUserAgent
	}
	if c.BatchBytes == 0 {
		c.BatchBytes = DefaultBatchBytes
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.FetchAttempts == 0 {
		c.FetchAttempts = DefaultFetchAttempts
	}
	if c.RetryMin == 0 {
		c.RetryMin = DefaultRetryMin
	}
	if c.RetryMax == 0 {
		c.RetryMax = DefaultRetryMax
	}
	if c.FailureBackoff == 0 {
		c.FailureBackoff = DefaultFailureBackoff
	}
	if c.AckTimeout == 0 {
		c.AckTimeout = DefaultAckTimeout
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.EncodeChunk == 0 {
		c.EncodeChunk = DefaultEncodeChunk
	}
	if c.Worker == "" {
		c.Worker = DefaultWorker()
	}
	if c.LeaseRetry == 0 {
		c.LeaseRetry = DefaultLeaseRetry
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	return c
}

// Validate reports settings that cannot work.
func (c Config) Validate() error {
	var errs []error
	if c.HTTPTimeout < time.Second {
		errs = append(errs, fmt.Errorf("http timeout %s: must be at least 1s", c.HTTPTimeout))
	}
	if c.UserAgent == "" {
		errs = append(errs, errors.New("user agent: must not be empty"))
	}
	if c.BatchBytes < 4<<10 {
		errs = append(errs, fmt.Errorf("batch bytes %d: must be at least 4 KiB", c.BatchBytes))
	}
	if c.MaxBodyBytes < 1<<10 {
		errs = append(errs, fmt.Errorf("max body bytes %d: must be at least 1 KiB", c.MaxBodyBytes))
	}
	if c.FetchAttempts < 1 {
		errs = append(errs, fmt.Errorf("fetch attempts %d: must be at least 1", c.FetchAttempts))
	}
	if c.RetryMin <= 0 || c.RetryMax < c.RetryMin {
		errs = append(errs, fmt.Errorf("retry backoff %s..%s: need 0 < min <= max", c.RetryMin, c.RetryMax))
	}
	if c.FailureBackoff <= 0 {
		errs = append(errs, fmt.Errorf("failure backoff %s: must be positive", c.FailureBackoff))
	}
	if c.AckTimeout < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("ack timeout %s: must be at least 100ms", c.AckTimeout))
	}
	if c.MaxInFlight < 1 {
		errs = append(errs, fmt.Errorf("max in flight %d: must be at least 1", c.MaxInFlight))
	}
	if c.EncodeChunk < 1 {
		errs = append(errs, fmt.Errorf("encode chunk %d: must be at least 1", c.EncodeChunk))
	}
	if c.Worker == "" || len(c.Worker) > 200 {
		errs = append(errs, fmt.Errorf("worker %q: must be 1 to 200 bytes", c.Worker))
	}
	if c.LeaseRetry < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("lease retry %s: must be at least 10ms", c.LeaseRetry))
	}
	return errors.Join(errs...)
}

// DefaultWorker is <hostname>-<pid>-<4 random hex digits>: unique among
// the workers sharing one NATS, and readable in the lease and status.
func DefaultWorker() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "ingest"
	}
	return fmt.Sprintf("%s-%d-%04x", host, os.Getpid(), rand.N(1<<16))
}
