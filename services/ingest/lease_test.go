package ingest_test

import (
	"bytes"
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/extnats"
	"github.com/ounce-data/ounce/pkg/feedcat"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/pkg/testenv"
	"github.com/ounce-data/ounce/services/ingest"
)

// worker is a second ingester on its own connection to the env's NATS.
func (e *env) worker(t *testing.T, cfg ingest.Config) (*ingest.Ingester, *prometheus.Registry) {
	t.Helper()
	_, js := e.nats.Connect(t, "second ingest worker")
	if cfg.Clock == nil {
		cfg.Clock = func() time.Time { return fixedClock }
	}
	reg := prometheus.NewRegistry()
	in, err := ingest.New(cfg, js, []feedcat.Feed{e.feed}, e.cat, testPlaces(t), zerolog.New(zerolog.NewTestWriter(t)), reg)
	require.NoError(t, err)
	return in, reg
}

// runAll runs every ingester until stop returns true, then cancels them
// and waits for them to return.
func runAll(t *testing.T, stop func() bool, ins ...*ingest.Ingester) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, in := range ins {
		wg.Go(func() { require.NoError(t, in.Run(ctx)) })
	}
	require.Eventually(t, stop, 2*time.Minute, 20*time.Millisecond)
	cancel()
	wg.Wait()
}

func feedValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	return value(t, reg, name, map[string]string{"feed": feedID})
}

func TestTwoWorkersPullAFeedOnce(t *testing.T) {
	dir := testenv.SharedDataDir(t)
	e := newEnv(t, ingest.Config{MirrorDir: dir, Worker: "worker-a", LeaseRetry: 20 * time.Millisecond})
	b, regB := e.worker(t, ingest.Config{MirrorDir: dir, Worker: "worker-b", LeaseRetry: 20 * time.Millisecond})
	due := float64(fixedClock.Add(e.feed.Schedule).Unix())

	// Both run every feed on its schedule until each has looked at the feed
	// after the run and planned its next look a schedule later.
	runAll(t, func() bool {
		return feedValue(t, e.reg, "ounce_ingest_feed_next_check_timestamp_seconds") >= due &&
			feedValue(t, regB, "ounce_ingest_feed_next_check_timestamp_seconds") >= due
	}, e.in, b)

	// One pull between them, the other worker waited on the lease.
	success := runs(t, e, ingest.ResultSuccess) + value(t, regB, "ounce_ingest_feed_runs_total", map[string]string{"feed": feedID, "result": ingest.ResultSuccess})
	require.Equal(t, 1.0, success, "the feed was pulled once")
	require.Equal(t, 0.0, runs(t, e, ingest.ResultError))
	require.Positive(t, feedValue(t, e.reg, "ounce_ingest_feed_lease_conflicts_total")+feedValue(t, regB, "ounce_ingest_feed_lease_conflicts_total"),
		"the second worker found the lease taken while the first ran")
	require.Zero(t, feedValue(t, e.reg, "ounce_ingest_feed_lease_held"))
	require.Zero(t, feedValue(t, regB, "ounce_ingest_feed_lease_held"))

	ctx := ctxT(t)
	cps, err := e.nats.JS.KeyValue(ctx, extnats.BucketCheckpoints)
	require.NoError(t, err)
	hist, err := cps.History(ctx, feedID)
	require.NoError(t, err)
	require.Len(t, hist, 1, "one checkpoint version")
	leases, err := e.nats.JS.KeyValue(ctx, extnats.BucketFeedLeases)
	require.NoError(t, err)
	_, err = leases.Get(ctx, feedID)
	require.ErrorIs(t, err, jetstream.ErrKeyNotFound, "the lease is released on stop")

	// Every observation of the file is in the stream once.
	data, err := os.ReadFile(dataPath(t, dir, e.feed))
	require.NoError(t, err)
	want := nonEmptyCells(t, e, data)
	keys := map[string]int{}
	n := 0
	for _, m := range e.streamMessages(t) {
		b, err := observation.Decode(m.Data())
		require.NoError(t, err)
		for _, o := range b.Observations {
			keys[o.Indicator+"|"+o.Geo+"|"+o.Period.Code()+"|"+o.Dims.Canonical()]++
			n++
		}
	}
	require.Equal(t, want, n)
	require.Len(t, keys, want, "no observation twice")
}

func TestCrashedWorkersLeaseExpires(t *testing.T) {
	dir := headMirror(t, headRows)
	e := newEnv(t, ingest.Config{MirrorDir: dir, Worker: "worker-b", LeaseRetry: 50 * time.Millisecond, Clock: time.Now})
	const ttl = time.Second
	ctx := ctxT(t)
	require.NoError(t, extnats.Topology{LeaseTTL: ttl}.Ensure(ctx, e.nats.JS))
	leases, err := e.nats.JS.KeyValue(ctx, extnats.BucketFeedLeases)
	require.NoError(t, err)
	// A worker took the lease and died without releasing it.
	taken := time.Now()
	_, err = leases.Create(ctx, feedID, []byte("worker-a"))
	require.NoError(t, err)

	runAll(t, func() bool {
		_, ok, err := e.in.Status(ctx, feedID)
		return err == nil && ok
	}, e.in)
	got := e.status(t)
	require.Equal(t, "worker-b", got.Worker)
	require.Equal(t, ingest.ResultSuccess, got.Result)
	require.False(t, got.LastAttempt.Before(taken.Add(ttl)), "the run started %s after the dead worker's lease was taken; its TTL is %s", got.LastAttempt.Sub(taken), ttl)
	require.Positive(t, metric(t, e, "ounce_ingest_feed_lease_conflicts_total"))
	require.Equal(t, 1.0, runs(t, e, ingest.ResultSuccess))
	t.Logf("run started %s after the lease was taken", got.LastAttempt.Sub(taken))
}

// A lease left by a process that died is released at once by
// ReleaseAllLeases (what ounce dev does on its embedded server's start),
// and the feed runs without waiting for the lease's TTL.
func TestReleaseAllLeasesFreesADeadWorkersFeeds(t *testing.T) {
	dir := headMirror(t, headRows)
	e := newEnv(t, ingest.Config{MirrorDir: dir, Worker: "worker-b", LeaseRetry: 50 * time.Millisecond, Clock: time.Now})
	ctx := ctxT(t)
	require.NoError(t, extnats.Topology{LeaseTTL: time.Hour}.Ensure(ctx, e.nats.JS))
	none, err := ingest.ReleaseAllLeases(ctx, e.nats.JS)
	require.NoError(t, err)
	require.Empty(t, none)
	leases, err := e.nats.JS.KeyValue(ctx, extnats.BucketFeedLeases)
	require.NoError(t, err)
	_, err = leases.Create(ctx, feedID, []byte("worker-a")) // taken, and never released
	require.NoError(t, err)

	released, err := ingest.ReleaseAllLeases(ctx, e.nats.JS)
	require.NoError(t, err)
	require.Equal(t, []string{feedID}, released)
	runAll(t, func() bool {
		_, ok, err := e.in.Status(ctx, feedID)
		return err == nil && ok
	}, e.in)
	require.Equal(t, ingest.ResultSuccess, e.status(t).Result, "ran within the test's bound, not after an hour's TTL")
	require.Zero(t, metric(t, e, "ounce_ingest_feed_lease_conflicts_total"))
}

func TestLeaseLostStopsTheRun(t *testing.T) {
	e := newEnv(t, ingest.Config{MirrorDir: headMirror(t, headRows), Worker: "worker-a", MaxInFlight: 1})
	ctx := ctxT(t)
	require.NoError(t, extnats.Topology{LeaseTTL: time.Second}.Ensure(ctx, e.nats.JS))
	leases, err := e.nats.JS.KeyValue(ctx, extnats.BucketFeedLeases)
	require.NoError(t, err)

	lost := make(chan struct{})
	var once sync.Once
	log := zerolog.New(writerFunc(func(p []byte) {
		if bytes.Contains(p, []byte("lease lost")) {
			once.Do(func() { close(lost) })
		}
	}))
	in, err := ingest.New(ingest.Config{MirrorDir: headMirror(t, headRows), Worker: "worker-a", MaxInFlight: 1,
		Clock: func() time.Time { return fixedClock }}, e.nats.JS, []feedcat.Feed{e.feed}, e.cat, testPlaces(t), log, prometheus.NewRegistry())
	require.NoError(t, err)

	stolen := false
	_, err = in.RunFeedWith(ctx, feedID, ingest.RunOptions{Lease: true, Progress: func(p ingest.Progress) {
		if p.Phase != ingest.PhasePublish || p.Messages != 1 || stolen {
			return
		}
		// As if the lease had expired and another worker taken it.
		stolen = true
		require.NoError(t, leases.Delete(ctx, feedID))
		_, err := leases.Create(ctx, feedID, []byte("worker-b"))
		require.NoError(t, err)
		select {
		case <-lost:
		case <-time.After(30 * time.Second):
			t.Error("the renewal did not notice the lease was lost")
		}
	}})
	require.True(t, stolen)
	require.ErrorContains(t, err, "lease lost")
	e2, err := leases.Get(ctx, feedID)
	require.NoError(t, err)
	require.Equal(t, "worker-b", string(e2.Value()), "the other worker's lease is left alone")
	_, ok, err := in.Status(ctx, feedID)
	require.NoError(t, err)
	require.False(t, ok, "a run stopped by a lost lease is not the feed's failure")
}

type writerFunc func(p []byte)

func (f writerFunc) Write(p []byte) (int, error) { f(p); return len(p), nil }

func TestRunWaitsForTheNextRun(t *testing.T) {
	// A status written by another worker says the feed is not due for an
	// hour: Run does not pull it and plans its next look then.
	e := newEnv(t, ingest.Config{MirrorDir: headMirror(t, 10), LeaseRetry: 20 * time.Millisecond})
	ctx := ctxT(t)
	kv, err := e.nats.JS.KeyValue(ctx, extnats.BucketFeedStatus)
	require.NoError(t, err)
	next := fixedClock.Add(time.Hour)
	_, err = kv.Put(ctx, feedID, []byte(`{"feed":"owid-co2","result":"success","next_run":"`+next.Format(time.RFC3339)+`"}`))
	require.NoError(t, err)
	runAll(t, func() bool {
		return metric(t, e, "ounce_ingest_feed_next_check_timestamp_seconds") >= float64(next.Unix())
	}, e.in)
	require.Zero(t, runs(t, e, ingest.ResultSuccess)+runs(t, e, ingest.ResultError))
	require.Less(t, metric(t, e, "ounce_ingest_feed_next_check_timestamp_seconds"), float64(next.Add(4*time.Minute).Unix()), "at most 5%% jitter")
	require.Zero(t, e.streamCount(t))
}

func TestLeaseSettings(t *testing.T) {
	c := ingest.Config{}.WithDefaults()
	require.NotEmpty(t, c.Worker)
	require.NotEqual(t, c.Worker, ingest.Config{}.WithDefaults().Worker, "two default workers differ")
	require.Equal(t, ingest.DefaultLeaseRetry, c.LeaseRetry)
	c.LeaseRetry = time.Millisecond
	require.ErrorContains(t, c.Validate(), "lease retry 1ms: must be at least 10ms")

	// A lease bucket without a TTL would keep a crashed worker's lease for
	// ever: refused.
	e := newEnv(t, ingest.Config{MirrorDir: headMirror(t, 10)})
	ctx := ctxT(t)
	require.NoError(t, e.nats.JS.DeleteKeyValue(ctx, extnats.BucketFeedLeases))
	_, err := e.nats.JS.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: extnats.BucketFeedLeases})
	require.NoError(t, err)
	_, err = e.in.RunFeedWith(ctx, feedID, ingest.RunOptions{Lease: true})
	require.ErrorContains(t, err, "a lease must expire")
}
