package ingest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ounce-data/ounce/pkg/extnats"
)

// A feed lease is a key of the bucket extnats.BucketFeedLeases named after
// the feed, holding the worker's id. It is taken with Create (which fails
// while another worker's key exists), renewed with a revision-checked
// Update every third of the bucket's TTL, and released with a
// revision-checked Delete. A crashed worker stops renewing: its key expires
// with the bucket's TTL and another worker's Create succeeds.

var (
	// errLeaseHeld is a lease another worker holds.
	errLeaseHeld = errors.New("lease is held by another worker")
	// errLeaseLost cancels a run whose lease could not be renewed.
	errLeaseLost = errors.New("lease lost")
	// errLeaseReleased ends a lease's context once the run is over.
	errLeaseReleased = errors.New("lease released")
)

// lease is one feed's lease held by this worker. Its context is cancelled
// with errLeaseLost when a renewal finds another worker's key or no key, or
// when renewals have failed for longer than the TTL allows.
type lease struct {
	in     *Ingester
	kv     jetstream.KeyValue
	feed   string
	ttl    time.Duration
	rev    uint64 // written by keep until done is closed
	ctx    context.Context
	cancel context.CancelCauseFunc
	done   chan struct{}
}

// acquireLease takes feed's lease, or fails with an error wrapping
// errLeaseHeld that names the holder. The lease's context derives from ctx.
func (in *Ingester) acquireLease(ctx context.Context, feed string) (*lease, error) {
	kv, ttl, err := in.leaseBucket(ctx)
	if err != nil {
		return nil, err
	}
	rev, err := kv.Create(ctx, feed, []byte(in.cfg.Worker))
	if errors.Is(err, jetstream.ErrKeyExists) {
		holder := "unknown"
		if e, gerr := kv.Get(ctx, feed); gerr == nil {
			holder = string(e.Value())
		}
		in.m.leaseConflicts.WithLabelValues(feed).Inc()
		return nil, fmt.Errorf("feed %s: %w (%s)", feed, errLeaseHeld, holder)
	}
	if err != nil {
		return nil, fmt.Errorf("take lease of feed %s: %w", feed, err)
	}
	lctx, cancel := context.WithCancelCause(ctx)
	l := &lease{in: in, kv: kv, feed: feed, ttl: ttl, rev: rev, ctx: lctx, cancel: cancel, done: make(chan struct{})}
	in.m.leaseHeld.WithLabelValues(feed).Set(1)
	in.log.Debug().Str("feed", feed).Str("worker", in.cfg.Worker).Uint64("revision", rev).Msg("lease taken")
	go l.keep()
	return l, nil
}

// waitLease takes feed's lease, trying again every LeaseRetry while another
// worker holds it, until ctx ends.
func (in *Ingester) waitLease(ctx context.Context, feed string) (*lease, error) {
	for {
		l, err := in.acquireLease(ctx, feed)
		if !errors.Is(err, errLeaseHeld) {
			return l, err
		}
		in.log.Info().Str("feed", feed).Str("reason", err.Error()).Dur("retry_in_seconds", in.cfg.LeaseRetry).Msg("waiting for the feed's lease")
		t := time.NewTimer(in.cfg.LeaseRetry)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("wait for lease of feed %s: %w", feed, ctx.Err())
		case <-t.C:
		}
	}
}

// keep renews the lease until its context ends.
func (l *lease) keep() {
	defer close(l.done)
	every := l.ttl / 3
	t := time.NewTicker(every)
	defer t.Stop()
	renewed := time.Now()
	for {
		select {
		case <-l.ctx.Done():
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(l.ctx, every)
		rev, err := l.kv.Update(rctx, l.feed, []byte(l.in.cfg.Worker), l.rev)
		cancel()
		switch {
		case err == nil:
			l.rev, renewed = rev, time.Now()
			continue
		case l.ctx.Err() != nil:
			return
		case errors.Is(err, jetstream.ErrKeyRevisionMismatch), errors.Is(err, jetstream.ErrKeyExists),
			errors.Is(err, jetstream.ErrKeyNotFound):
			// Expired and maybe taken by another worker: stop at once.
		case time.Since(renewed)+every < l.ttl:
			l.in.log.Warn().Err(err).Str("feed", l.feed).Msg("renew lease failed; retrying")
			continue
		}
		l.in.log.Error().Err(err).Str("feed", l.feed).Str("worker", l.in.cfg.Worker).Msg("lease lost; stopping the run")
		l.cancel(fmt.Errorf("feed %s: %w: %w", l.feed, errLeaseLost, err))
		return
	}
}

// release stops renewing and deletes the key if it is still this lease's,
// so another worker can take the feed at once.
func (l *lease) release() {
	l.cancel(errLeaseReleased)
	<-l.done
	l.in.m.leaseHeld.WithLabelValues(l.feed).Set(0)
	if errors.Is(context.Cause(l.ctx), errLeaseLost) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.kv.Delete(ctx, l.feed, jetstream.LastRevision(l.rev)); err != nil {
		// It expires with the TTL anyway.
		l.in.log.Warn().Err(err).Str("feed", l.feed).Msg("release lease failed")
	}
}

// leaseBucket opens the lease bucket and reads its TTL, which must be set:
// without one a crashed worker's lease would never expire.
func (in *Ingester) leaseBucket(ctx context.Context) (jetstream.KeyValue, time.Duration, error) {
	kv, err := in.openBucket(ctx, extnats.BucketFeedLeases, &in.leaseKV)
	if err != nil {
		return nil, 0, err
	}
	in.kvMu.Lock()
	defer in.kvMu.Unlock()
	if in.leaseTTL == 0 {
		st, err := kv.Status(ctx)
		if err != nil {
			return nil, 0, fmt.Errorf("read status of key-value bucket %s: %w", extnats.BucketFeedLeases, err)
		}
		if st.TTL() < 100*time.Millisecond {
			return nil, 0, fmt.Errorf("key-value bucket %s has a TTL of %s: a lease must expire (extnats.Topology.LeaseTTL)", extnats.BucketFeedLeases, st.TTL())
		}
		in.leaseTTL = st.TTL()
	}
	return kv, in.leaseTTL, nil
}

// ReleaseAllLeases deletes every feed lease and returns the feeds whose
// lease it deleted. Call it only on a NATS server no ingest worker can be
// connected to yet — ounce dev's embedded server, just started — where
// every lease belongs to a process that died: waiting for their TTL would
// only delay the feeds that process was running.
func ReleaseAllLeases(ctx context.Context, js jetstream.JetStream) ([]string, error) {
	kv, err := js.KeyValue(ctx, extnats.BucketFeedLeases)
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", extnats.BucketFeedLeases, err)
	}
	keys, err := kv.Keys(ctx)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list feed leases: %w", err)
	}
	for _, k := range keys {
		if err := kv.Delete(ctx, k); err != nil {
			return nil, fmt.Errorf("release the lease of feed %s: %w", k, err)
		}
	}
	return keys, nil
}
