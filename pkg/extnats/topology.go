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
	ConsumerLoader     = "loader"
)

// Topology is the JetStream layout. Zero fields take the defaults below.
type Topology struct {
	Replicas         int           // 1 on one machine, 3 on a cluster
	DuplicateWindow  time.Duration // JetStream Nats-Msg-Id window
	ObservationsAge  time.Duration // how long observations stay in the stream
	DeadLetterMaxAge time.Duration
}

// Defaults of Topology.
const (
	DefaultDuplicateWindow  = 2 * time.Hour
	DefaultObservationsAge  = 7 * 24 * time.Hour
	DefaultDeadLetterMaxAge = 30 * 24 * time.Hour
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
	}
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

// Ensure creates or updates the streams and the checkpoint bucket. It is
// idempotent and safe to run from every service at start.
func (t Topology) Ensure(ctx context.Context, js jetstream.JetStream) error {
	t = t.withDefaults()
	for _, cfg := range []jetstream.StreamConfig{t.ObservationsStream(), t.DeadLetterStream()} {
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("create or update stream %s: %w", cfg.Name, err)
		}
	}
	if _, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      BucketCheckpoints,
		Description: "per-feed checkpoints: ETag, Last-Modified, last success",
		History:     5,
		Storage:     jetstream.FileStorage,
		Replicas:    t.Replicas,
	}); err != nil {
		return fmt.Errorf("create or update key-value bucket %s: %w", BucketCheckpoints, err)
	}
	return nil
}
