package extnats

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ounce-data/ounce/pkg/observation"
)

// Names of the JetStream assets Ounce uses.
const (
	StreamObservations = "OBS"
	StreamDeadLetter   = "OBS_DLQ"
	BucketCheckpoints  = "ounce_feed_checkpoints"
	// BucketPartners holds the partner registry: grants and key hashes.
	BucketPartners = "ounce_partners"
	// BucketIdempotency holds the gateway's answers by Idempotency-Key.
	BucketIdempotency = "ounce_gateway_idempotency"
	// BucketBatches holds where a batch stands: published (by the gateway)
	// and loaded (one key per message, by the loader).
	BucketBatches = "ounce_batches"
	// BucketFeedStatus holds each feed's health after its last run, written
	// by the ingest workers after every run and read by GET /v1/feeds.
	BucketFeedStatus = "ounce_feed_status"
	// BucketFeedLeases holds which ingest worker runs a feed right now; a
	// lease not renewed within LeaseTTL expires.
	BucketFeedLeases = "ounce_feed_leases"
	// BucketGatewayRates holds each partner key's request budget (a token
	// bucket), shared by every gateway replica. In memory: a restart only
	// refills the budgets.
	BucketGatewayRates = "ounce_gateway_rates"
	// BucketUserIndicators holds the indicators users registered
	// (POST /v1/indicators on the query service), one key per code: the
	// one source every service reads them from (pkg/userindicators).
	BucketUserIndicators = "ounce_user_indicators"
)

// Topology is the JetStream layout. Zero fields take the defaults below.
type Topology struct {
	Replicas         int           // 1 on one machine, 3 on a cluster
	DuplicateWindow  time.Duration // JetStream Nats-Msg-Id window
	ObservationsAge  time.Duration // how long observations stay in the stream
	DeadLetterMaxAge time.Duration
	IdempotencyTTL   time.Duration // how long the gateway remembers an Idempotency-Key
	BatchStatusAge   time.Duration // how long batch status stays readable
	LeaseTTL         time.Duration // a feed lease not renewed for this long expires
}

// Defaults of Topology.
const (
	DefaultDuplicateWindow  = 2 * time.Hour
	DefaultObservationsAge  = 7 * 24 * time.Hour
	DefaultDeadLetterMaxAge = 30 * 24 * time.Hour
	DefaultIdempotencyTTL   = 24 * time.Hour
	DefaultBatchStatusAge   = 7 * 24 * time.Hour
	DefaultLeaseTTL         = 30 * time.Second
)

func (t Topology) withDefaults() Topology {
	if t.Replicas <= 0 {
		t.Replicas = 1
	}
	if t.DuplicateWindow <= 0 {
		t.DuplicateWindow = DefaultDuplicateWindow
	}
	if t.ObservationsAge <= 0 {
		t.ObservationsAge = DefaultObservationsAge
	}
	if t.DeadLetterMaxAge <= 0 {
		t.DeadLetterMaxAge = DefaultDeadLetterMaxAge
	}
	if t.IdempotencyTTL <= 0 {
		t.IdempotencyTTL = DefaultIdempotencyTTL
	}
	if t.BatchStatusAge <= 0 {
		t.BatchStatusAge = DefaultBatchStatusAge
	}
	if t.LeaseTTL <= 0 {
		t.LeaseTTL = DefaultLeaseTTL
	}
	return t
}

// ObservationsStream is the config of the observations stream.
func (t Topology) ObservationsStream() jetstream.StreamConfig {
	t = t.withDefaults()
	return jetstream.StreamConfig{
		Name:        StreamObservations,
		Description: "observation batches from feeds and partners, obs.v1.<domain>.<source>",
		Subjects:    []string{observation.SubjectAll},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    t.Replicas,
		Duplicates:  t.DuplicateWindow,
		MaxAge:      t.ObservationsAge,
		Discard:     jetstream.DiscardOld,
		// The gateway publishes an atomic push that spans several
		// messages as one atomic batch: stored whole or not at all.
		// Ensure leaves it off on servers older than 2.12.
		AllowAtomicPublish: true,
	}
}

// supportsAtomicPublish reports whether a server of version v (as in its
// INFO, "2.12.0") accepts atomic batch publishing, new in 2.12.
func supportsAtomicPublish(v string) bool {
	var major, minor int
	if _, err := fmt.Sscanf(v, "%d.%d", &major, &minor); err != nil {
		return false
	}
	return major > 2 || major == 2 && minor >= 12
}

// DeadLetterStream is the config of the dead-letter stream.
func (t Topology) DeadLetterStream() jetstream.StreamConfig {
	t = t.withDefaults()
	return jetstream.StreamConfig{
		Name:        StreamDeadLetter,
		Description: "observations the loader could not load, with the reason in the Ounce-Error header",
		Subjects:    []string{observation.DeadLetterAll},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    t.Replicas,
		MaxAge:      t.DeadLetterMaxAge,
	}
}

// Buckets are the configs of the key-value buckets.
func (t Topology) Buckets() []jetstream.KeyValueConfig {
	t = t.withDefaults()
	return []jetstream.KeyValueConfig{{
		Bucket:      BucketCheckpoints,
		Description: "per-feed checkpoints: ETag, Last-Modified, last success",
		History:     5,
		Storage:     jetstream.FileStorage,
		Replicas:    t.Replicas,
	}, {
		Bucket:      BucketPartners,
		Description: "partner registry: name, granted indicators and places, key hashes",
		History:     5,
		Storage:     jetstream.FileStorage,
		Replicas:    t.Replicas,
	}, {
		Bucket:      BucketUserIndicators,
		Description: "indicators users registered (user.<namespace>.<name>): the document of each, by code",
		History:     10,
		Storage:     jetstream.FileStorage,
		Replicas:    t.Replicas,
	}, {
		Bucket:      BucketIdempotency,
		Description: "gateway answers by partner and Idempotency-Key",
		TTL:         t.IdempotencyTTL,
		Storage:     jetstream.FileStorage,
		Replicas:    t.Replicas,
	}, {
		Bucket:      BucketBatches,
		Description: "batch status: <batch> published by the gateway, <batch>.<msg> loaded by the loader",
		TTL:         t.BatchStatusAge,
		Storage:     jetstream.FileStorage,
		Replicas:    t.Replicas,
	}, {
		Bucket:      BucketFeedStatus,
		Description: "per-feed health after every run: last attempt, success and error, next run",
		History:     10,
		Storage:     jetstream.FileStorage,
		Replicas:    t.Replicas,
	}, {
		Bucket:      BucketGatewayRates,
		Description: "gateway request budget per partner key, shared by every replica",
		TTL:         time.Hour, // an idle key's budget is full again long before
		Storage:     jetstream.MemoryStorage,
		Replicas:    t.Replicas,
	}, {
		Bucket:      BucketFeedLeases,
		Description: "per-feed lease: the ingest worker running the feed; expires when not renewed",
		TTL:         t.LeaseTTL,
		Storage:     jetstream.FileStorage,
		Replicas:    t.Replicas,
	}}
}

// Ensure creates or updates the streams and the key-value buckets. It is
// idempotent and safe to run from every service at start.
func (t Topology) Ensure(ctx context.Context, js jetstream.JetStream) error {
	t = t.withDefaults()
	obs := t.ObservationsStream()
	obs.AllowAtomicPublish = supportsAtomicPublish(js.Conn().ConnectedServerVersion())
	for _, cfg := range []jetstream.StreamConfig{obs, t.DeadLetterStream()} {
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("create or update stream %s: %w", cfg.Name, err)
		}
	}
	for _, cfg := range t.Buckets() {
		if _, err := js.CreateOrUpdateKeyValue(ctx, cfg); err != nil {
			return fmt.Errorf("create or update key-value bucket %s: %w", cfg.Bucket, err)
		}
	}
	return nil
}
