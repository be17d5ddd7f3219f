package extnats_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/extnats"
	"github.com/ounce-data/ounce/pkg/testenv"
)

func TestEnsureIsIdempotentAndDeduplicates(t *testing.T) {
	ns := testenv.StartNATS(t) // Ensure ran once
	ctx := context.Background()
	require.NoError(t, extnats.Topology{}.Ensure(ctx, ns.JS))
	s, err := ns.JS.Stream(ctx, extnats.StreamObservations)
	require.NoError(t, err)
	info, err := s.Info(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"obs.v1.>"}, info.Config.Subjects)
	require.Equal(t, extnats.DefaultDuplicateWindow, info.Config.Duplicates)
	require.Equal(t, jetstream.LimitsPolicy, info.Config.Retention)
	require.True(t, info.Config.AllowAtomicPublish, "the embedded server (%s) takes atomic batches", ns.Conn.ConnectedServerVersion())

	a1, err := ns.JS.Publish(ctx, "obs.v1.carbon.x", []byte("{}"), jetstream.WithMsgID("same"))
	require.NoError(t, err)
	a2, err := ns.JS.Publish(ctx, "obs.v1.carbon.x", []byte("{}"), jetstream.WithMsgID("same"))
	require.NoError(t, err)
	require.False(t, a1.Duplicate)
	require.True(t, a2.Duplicate)
	for _, b := range []string{extnats.BucketCheckpoints, extnats.BucketPartners, extnats.BucketUserIndicators, extnats.BucketIdempotency, extnats.BucketBatches} {
		_, err = ns.JS.KeyValue(ctx, b)
		require.NoError(t, err, b)
	}
	kv, err := ns.JS.KeyValue(ctx, extnats.BucketIdempotency)
	require.NoError(t, err)
	st, err := kv.Status(ctx)
	require.NoError(t, err)
	require.Equal(t, extnats.DefaultIdempotencyTTL, st.TTL())
}

func TestEnsureFeedBuckets(t *testing.T) {
	ns := testenv.StartNATS(t) // Ensure ran with the defaults
	ctx := context.Background()
	status, err := ns.JS.KeyValue(ctx, extnats.BucketFeedStatus)
	require.NoError(t, err)
	st, err := status.Status(ctx)
	require.NoError(t, err)
	require.Zero(t, st.TTL(), "feed status is kept until overwritten")

	leases, err := ns.JS.KeyValue(ctx, extnats.BucketFeedLeases)
	require.NoError(t, err)
	st, err = leases.Status(ctx)
	require.NoError(t, err)
	require.Equal(t, extnats.DefaultLeaseTTL, st.TTL())

	// Ensure again with another lease TTL updates the bucket in place.
	require.NoError(t, extnats.Topology{LeaseTTL: 5 * time.Second}.Ensure(ctx, ns.JS))
	st, err = leases.Status(ctx)
	require.NoError(t, err)
	require.Equal(t, 5*time.Second, st.TTL())
}
