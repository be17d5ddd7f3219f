package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/ounce-data/ounce/pkg/catalogue"
	"github.com/ounce-data/ounce/pkg/extnats"
	"github.com/ounce-data/ounce/pkg/feedcat"
	"github.com/ounce-data/ounce/pkg/feeds"
	"github.com/ounce-data/ounce/pkg/observation"
)

// Result is what one feed run did.
type Result struct {
	Feed         string
	Source       string // URL or mirror file read
	Version      uint64 // version stamped on the observations
	Rows         int    // source rows read
	Observations int    // observations published (new and duplicate)
	Messages     int    // messages published
	Duplicates   int    // messages JetStream acknowledged as duplicates
	NotModified  bool   // the source answered 304: nothing was published
	Duration     time.Duration
}

// Checkpoint is a feed's state after its last successful run, stored as
// JSON in the key-value bucket extnats.BucketCheckpoints under the feed id.
type Checkpoint struct {
	Feed         string    `json:"feed"`
	LastSuccess  time.Time `json:"last_success"`
	Source       string    `json:"source"`
	Version      uint64    `json:"version"`
	Rows         int       `json:"rows"`
	Observations int       `json:"observations"`
	Messages     int       `json:"messages"`
	ETag         string    `json:"etag,omitempty"`
	LastModified string    `json:"last_modified,omitempty"`
	SHA256       string    `json:"sha256,omitempty"`
}

// Ingester runs feeds. Its methods are safe for concurrent use, but one
// feed should be run by one caller at a time.
type Ingester struct {
	cfg   Config
	js    jetstream.JetStream
	feeds []feedcat.Feed
	byID  map[string]*feedState
	log   zerolog.Logger
	m     *metrics

	kvMu sync.Mutex
	kv   jetstream.KeyValue
}

type feedState struct {
	feed    feedcat.Feed
	cat     *catalogue.File
	open    adapter
	subject string
}

// New checks cfg and every feed (a known format, a catalogue file that maps
// columns, a valid subject) and builds an ingester. It does not touch NATS
// or the network until a feed runs.
func New(cfg Config, js jetstream.JetStream, fs []feedcat.Feed, cat *catalogue.Catalogue, log zerolog.Logger, reg prometheus.Registerer) (*Ingester, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("ingest config: %w", err)
	}
	if js == nil {
		return nil, errors.New("ingest: jetstream is required")
	}
	if cat == nil {
		return nil, errors.New("ingest: indicator catalogue is required")
	}
	if mp := js.Conn().MaxPayload(); mp > 0 && int64(cfg.BatchBytes)+4<<10 > mp {
		return nil, fmt.Errorf("ingest config: batch bytes %d plus headers exceed the server's max payload of %d", cfg.BatchBytes, mp)
	}
	in := &Ingester{cfg: cfg, js: js, byID: map[string]*feedState{}, log: log}
	var errs []error
	ids := make([]string, 0, len(fs))
	for _, f := range fs {
		st, err := checkFeed(f, cat)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if _, dup := in.byID[f.ID]; dup {
			errs = append(errs, fmt.Errorf("feed %s is given twice", f.ID))
			continue
		}
		in.byID[f.ID] = st
		in.feeds = append(in.feeds, f)
		ids = append(ids, f.ID)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("ingest feeds: %w", err)
	}
	in.m = newMetrics(reg, ids)
	return in, nil
}

func checkFeed(f feedcat.Feed, cat *catalogue.Catalogue) (*feedState, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	open, ok := adapters[f.Format]
	if !ok {
		return nil, fmt.Errorf("feed %s (%s): format %q has no adapter; known formats: %v", f.ID, f.File, f.Format, Formats())
	}
	cf, ok := cat.Files[f.Catalogue]
	if !ok {
		return nil, fmt.Errorf("feed %s (%s): catalogue %q is not under schemas/catalogue", f.ID, f.File, f.Catalogue)
	}
	if _, err := feeds.Columns(cf); err != nil {
		return nil, fmt.Errorf("feed %s (%s): %w", f.ID, f.File, err)
	}
	open, err := bindMapping(f, cf, open)
	if err != nil {
		return nil, fmt.Errorf("feed %s (%s): %w", f.ID, f.File, err)
	}
	subject, err := observation.Subject(f.Domain, f.ID)
	if err != nil {
		return nil, fmt.Errorf("feed %s (%s): %w", f.ID, f.File, err)
	}
	return &feedState{feed: f, cat: cf, open: open, subject: subject}, nil
}

// Feeds returns the feeds the ingester runs.
func (in *Ingester) Feeds() []feedcat.Feed { return append([]feedcat.Feed(nil), in.feeds...) }

// Run runs every feed on its schedule, the first time at once, until ctx is
// cancelled; then it waits for runs in progress to stop and returns nil. A
// failed run is retried after FailureBackoff, doubling up to the schedule.
func (in *Ingester) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, f := range in.feeds {
		wg.Go(func() { in.loop(ctx, f) })
	}
	wg.Wait()
	return nil
}

func (in *Ingester) loop(ctx context.Context, f feedcat.Feed) {
	wait := time.Duration(0)
	backoff := in.cfg.FailureBackoff
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		_, err := in.RunFeed(ctx, f.ID)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			wait = min(backoff, f.Schedule)
			backoff = min(2*backoff, f.Schedule)
		default:
			wait = f.Schedule
			backoff = in.cfg.FailureBackoff
		}
		// Up to 5% jitter, so feeds and replicas drift apart.
		wait += rand.N(wait/20 + 1)
		in.log.Debug().Str("feed", f.ID).Dur("next_in", wait).Msg("feed scheduled")
		t.Reset(wait)
	}
}

// RunFeed fetches, parses and publishes feed feedID once, waiting for every
// PubAck, then records the checkpoint.
func (in *Ingester) RunFeed(ctx context.Context, feedID string) (Result, error) {
	st, ok := in.byID[feedID]
	if !ok {
		return Result{Feed: feedID}, fmt.Errorf("run feed %s: no such feed", feedID)
	}
	start := time.Now()
	res, err := in.runFeed(ctx, st)
	res.Feed = feedID
	res.Duration = time.Since(start)
	in.m.duration.WithLabelValues(feedID).Observe(res.Duration.Seconds())
	log := in.log.With().Str("feed", feedID).Logger()
	if err != nil {
		in.m.runs.WithLabelValues(feedID, ResultError).Inc()
		log.Error().Err(err).Dur("duration", res.Duration).Int("messages", res.Messages).Msg("feed run failed")
		return res, fmt.Errorf("run feed %s: %w", feedID, err)
	}
	result := ResultSuccess
	if res.NotModified {
		result = ResultNotModified
	}
	in.m.runs.WithLabelValues(feedID, result).Inc()
	in.m.lastSuccess.WithLabelValues(feedID).Set(float64(in.cfg.Clock().UnixMilli()) / 1000)
	log.Info().Str("result", result).Str("source", res.Source).Uint64("version", res.Version).
		Int("rows", res.Rows).Int("observations", res.Observations).Int("messages", res.Messages).
		Int("duplicates", res.Duplicates).Dur("duration", res.Duration).Msg("feed run finished")
	return res, nil
}

func (in *Ingester) runFeed(ctx context.Context, st *feedState) (Result, error) {
	f := st.feed
	var res Result
	cp, _, err := in.Checkpoint(ctx, f.ID)
	if err != nil {
		return res, err
	}
	got, err := in.fetch(ctx, f, cp)
	if err != nil {
		return res, err
	}
	res.Source = got.source
	if got.notModified {
		res.NotModified = true
		res.Version = cp.Version
		cp.LastSuccess = in.cfg.Clock().UTC()
		cp.ETag, cp.LastModified = got.etag, got.lastModified
		return res, in.saveCheckpoint(ctx, cp)
	}
	sum := sha256.Sum256(got.body)
	digest := hex.EncodeToString(sum[:])
	meta := feeds.Meta{
		Source:      f.ID,
		URL:         f.URL,
		Licence:     f.Licence,
		RetrievedAt: got.retrievedAt,
		Version:     version(got, cp, digest),
	}
	res.Version = meta.Version

	// Parse the whole body first: a body that fails anywhere publishes nothing.
	p, err := st.open(bytes.NewReader(got.body), st.cat, meta)
	if err != nil {
		return res, fmt.Errorf("parse %s: %w", got.source, err)
	}
	n := 0
	for _, err := range p.All() {
		if err != nil {
			return res, fmt.Errorf("parse %s: %w", got.source, err)
		}
		n++
	}
	// Rows without a single observation mean a mapping that no longer fits
	// the source; no rows at all is an empty answer (WHO GHO answers an
	// unmatched filter with "value": []), a run that publishes nothing.
	if n == 0 && p.Rows() > 0 {
		return res, fmt.Errorf("parse %s: the body holds no observations (%d rows)", got.source, p.Rows())
	}
	ev := in.log.Info().Str("feed", f.ID).Int("rows", p.Rows()).Int("observations", n)
	p.Describe(ev)
	ev.Msg("feed parsed")

	p, err = st.open(bytes.NewReader(got.body), st.cat, meta)
	if err != nil {
		return res, fmt.Errorf("parse %s: %w", got.source, err)
	}
	pub := &publisher{in: in, subject: st.subject, feed: f.ID}
	batchID := f.ID + "-" + strconv.FormatUint(meta.Version, 10)
	err = pub.publishAll(ctx, batchID, p)
	res.Rows = p.Rows()
	res.Observations, res.Messages, res.Duplicates = pub.observations, pub.messages, pub.duplicates
	if err != nil {
		return res, err
	}
	return res, in.saveCheckpoint(ctx, Checkpoint{
		Feed:         f.ID,
		LastSuccess:  in.cfg.Clock().UTC(),
		Source:       got.source,
		Version:      meta.Version,
		Rows:         res.Rows,
		Observations: res.Observations,
		Messages:     res.Messages,
		ETag:         got.etag,
		LastModified: got.lastModified,
		SHA256:       digest,
	})
}

// version is the source's modification time in Unix milliseconds; without
// one, the version of the last run when the body is byte for byte the same
// (so its messages are recognised as duplicates), else the retrieval time.
// A body that differs from the last run's never gets a version at or below
// the last run's, even when the source's date did not move: the newest
// version of a key wins in storage.
func version(got fetched, cp Checkpoint, digest string) uint64 {
	same := cp.Version > 0 && cp.Source == got.source
	var v uint64
	switch {
	case !got.modified.IsZero() && got.modified.UnixMilli() > 0:
		v = uint64(got.modified.UnixMilli())
	case same && cp.SHA256 == digest:
		return cp.Version
	default:
		v = uint64(got.retrievedAt.UnixMilli())
	}
	if same && cp.SHA256 != "" && cp.SHA256 != digest && v <= cp.Version {
		v = max(uint64(got.retrievedAt.UnixMilli()), cp.Version+1)
	}
	return v
}

// publisher publishes one feed run's messages, keeping at most MaxInFlight
// awaiting their PubAck.
type publisher struct {
	in       *Ingester
	subject  string
	feed     string
	inflight []inflight

	observations, messages, duplicates int
}

type inflight struct {
	fut   jetstream.PubAckFuture
	count int
}

// publishAll encodes the observations of p into messages and publishes
// them. Observations are encoded EncodeChunk at a time; the last, partly
// filled message of a chunk is encoded again with the next chunk, so the
// messages are exactly those of encoding every observation at once.
func (p *publisher) publishAll(ctx context.Context, batchID string, src parsed) error {
	chunk := p.in.cfg.EncodeChunk
	pending := make([]observation.Observation, 0, chunk)
	carried := 0
	for o, err := range src.All() {
		if err != nil {
			return fmt.Errorf("parse: %w", err)
		}
		pending = append(pending, o)
		if len(pending) < carried+chunk {
			continue
		}
		msgs, err := observation.Encode(batchID, pending, p.in.cfg.BatchBytes)
		if err != nil {
			return fmt.Errorf("encode observations: %w", err)
		}
		last := msgs[len(msgs)-1]
		for _, m := range msgs[:len(msgs)-1] {
			if err := p.publish(ctx, m); err != nil {
				return err
			}
		}
		carried = copy(pending, pending[len(pending)-last.Count:])
		clear(pending[carried:])
		pending = pending[:carried]
	}
	if len(pending) > 0 {
		msgs, err := observation.Encode(batchID, pending, p.in.cfg.BatchBytes)
		if err != nil {
			return fmt.Errorf("encode observations: %w", err)
		}
		for _, m := range msgs {
			if err := p.publish(ctx, m); err != nil {
				return err
			}
		}
	}
	for len(p.inflight) > 0 {
		if err := p.awaitOldest(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (p *publisher) publish(ctx context.Context, m observation.Message) error {
	for len(p.inflight) >= p.in.cfg.MaxInFlight {
		if err := p.awaitOldest(ctx); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("publish to %s: %w", p.subject, err)
	}
	msg := &nats.Msg{Subject: p.subject, Data: m.Data, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, m.MsgID)
	fut, err := p.in.js.PublishMsgAsync(msg)
	if err != nil {
		return fmt.Errorf("publish to %s: %w", p.subject, err)
	}
	p.inflight = append(p.inflight, inflight{fut: fut, count: m.Count})
	return nil
}

func (p *publisher) awaitOldest(ctx context.Context) error {
	f := p.inflight[0]
	p.inflight = p.inflight[1:]
	t := time.NewTimer(p.in.cfg.AckTimeout)
	defer t.Stop()
	select {
	case ack := <-f.fut.Ok():
		p.messages++
		p.observations += f.count
		if ack.Duplicate {
			p.duplicates++
			p.in.m.duplicates.WithLabelValues(p.feed).Inc()
		} else {
			p.in.m.published.WithLabelValues(p.feed).Add(float64(f.count))
		}
		return nil
	case err := <-f.fut.Err():
		return fmt.Errorf("publish to %s: %w", p.subject, err)
	case <-t.C:
		return fmt.Errorf("publish to %s: no acknowledgement within %s", p.subject, p.in.cfg.AckTimeout)
	case <-ctx.Done():
		return fmt.Errorf("publish to %s: %w", p.subject, ctx.Err())
	}
}

// Checkpoint returns the stored checkpoint of feedID; ok is false when the
// feed has never succeeded.
func (in *Ingester) Checkpoint(ctx context.Context, feedID string) (cp Checkpoint, ok bool, err error) {
	kv, err := in.bucket(ctx)
	if err != nil {
		return Checkpoint{}, false, err
	}
	e, err := kv.Get(ctx, feedID)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Checkpoint{Feed: feedID}, false, nil
	}
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("get checkpoint %s: %w", feedID, err)
	}
	if err := json.Unmarshal(e.Value(), &cp); err != nil {
		// A checkpoint only saves work: start afresh rather than stop.
		in.log.Warn().Err(err).Str("feed", feedID).Msg("checkpoint unreadable; ignoring it")
		return Checkpoint{Feed: feedID}, false, nil
	}
	return cp, true, nil
}

func (in *Ingester) saveCheckpoint(ctx context.Context, cp Checkpoint) error {
	kv, err := in.bucket(ctx)
	if err != nil {
		return err
	}
	data, err := json.Marshal(cp)
	if err != nil {
		return fmt.Errorf("encode checkpoint %s: %w", cp.Feed, err)
	}
	if _, err := kv.Put(ctx, cp.Feed, data); err != nil {
		return fmt.Errorf("put checkpoint %s: %w", cp.Feed, err)
	}
	return nil
}

func (in *Ingester) bucket(ctx context.Context) (jetstream.KeyValue, error) {
	in.kvMu.Lock()
	defer in.kvMu.Unlock()
	if in.kv != nil {
		return in.kv, nil
	}
	kv, err := in.js.KeyValue(ctx, extnats.BucketCheckpoints)
	if err != nil {
		return nil, fmt.Errorf("open key-value bucket %s: %w", extnats.BucketCheckpoints, err)
	}
	in.kv = kv
	return kv, nil
}
