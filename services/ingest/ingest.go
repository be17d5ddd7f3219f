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

	"github.com/ounce-data/ounce/pkg/extnats"
	"github.com/ounce-data/ounce/pkg/feedcat"
	"github.com/ounce-data/ounce/pkg/feeds"
	"github.com/ounce-data/ounce/pkg/feedstatus"
	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/pkg/places"
	"github.com/ounce-data/ounce/pkg/quality"
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
	// Incomplete says what the body lacks of what the source declares (see
	// feeds.Stats.Incomplete); what it holds was published.
	Incomplete string
	// Quality counts the observations the data-quality rules flagged, by
	// code (pkg/quality); they were published with their codes.
	Quality map[string]int
	// UnknownFlags counts flag letters the feed's code list lacks, by
	// letter; their observations were published with the flag as given.
	UnknownFlags map[string]int
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

	kvMu     sync.Mutex
	kv       jetstream.KeyValue // checkpoints
	statusKV jetstream.KeyValue
	leaseKV  jetstream.KeyValue
	leaseTTL time.Duration
}

type feedState struct {
	feed    feedcat.Feed
	open    feeds.Opener
	pager   *feeds.Pager // nil when the format is not paged
	subject string
	rules   quality.Rules
	flags   feedcat.CodeList // the feed's code list; empty when it names none
}

// New checks cfg and every feed (a known format, a catalogue file that maps
// columns, a valid subject) against the indicator and place catalogues and
// builds an ingester. It does not touch NATS or the network until a feed
// runs.
func New(cfg Config, js jetstream.JetStream, fs []feedcat.Feed, cat *indicators.Catalogue, pl *places.Catalogue, log zerolog.Logger, reg *prometheus.Registry) (*Ingester, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("ingest config: %w", err)
	}
	if js == nil {
		return nil, errors.New("ingest: jetstream is required")
	}
	if cat == nil || pl == nil {
		return nil, errors.New("ingest: the indicator and place catalogues are required")
	}
	if mp := js.Conn().MaxPayload(); mp > 0 && int64(cfg.BatchBytes)+4<<10 > mp {
		return nil, fmt.Errorf("ingest config: batch bytes %d plus headers exceed the server's max payload of %d", cfg.BatchBytes, mp)
	}
	in := &Ingester{cfg: cfg, js: js, byID: map[string]*feedState{}, log: log}
	lists, err := feedcat.LoadFlags()
	if err != nil {
		return nil, err
	}
	errs := []error{feedcat.CheckFlags(fs, lists)}
	ids := make([]string, 0, len(fs))
	for _, f := range fs {
		st, err := checkFeed(f, cat, pl)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if _, dup := in.byID[f.ID]; dup {
			errs = append(errs, fmt.Errorf("feed %s is given twice", f.ID))
			continue
		}
		st.rules = quality.Rules{Indicators: cat}
		if f.Periods != nil {
			st.rules.Periods = quality.Periods{From: f.Periods.From, To: f.Periods.To}
		}
		st.flags = lists[f.Flags]
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

func checkFeed(f feedcat.Feed, cat *indicators.Catalogue, pl *places.Catalogue) (*feedState, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	cf, ok := cat.Files[f.Catalogue]
	if !ok {
		return nil, fmt.Errorf("feed %s (%s): catalogue %q is not under schemas/catalogue", f.ID, f.File, f.Catalogue)
	}
	if _, err := feeds.Columns(cf); err != nil {
		return nil, fmt.Errorf("feed %s (%s): %w", f.ID, f.File, err)
	}
	open, pager, err := bind(f, cf, pl)
	if err != nil {
		return nil, fmt.Errorf("feed %s (%s): %w", f.ID, f.File, err)
	}
	subject, err := observation.Subject(f.Domain, f.ID)
	if err != nil {
		return nil, fmt.Errorf("feed %s (%s): %w", f.ID, f.File, err)
	}
	return &feedState{feed: f, open: open, pager: pager, subject: subject}, nil
}

// Feeds returns the feeds the ingester runs.
func (in *Ingester) Feeds() []feedcat.Feed { return append([]feedcat.Feed(nil), in.feeds...) }

// Run runs every feed on its schedule, the first time at once, until ctx is
// cancelled; then it waits for runs in progress to stop and returns nil. A
// failed run is retried after FailureBackoff, doubling up to the schedule.
//
// Several ingesters may Run the same feeds on one NATS: a feed runs only
// under its lease (see lease.go), and the schedule is the NextRun of the
// feed's status, which every worker reads, so each due run happens once.
func (in *Ingester) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, f := range in.feeds {
		wg.Go(func() { in.loop(ctx, f) })
	}
	wg.Wait()
	return nil
}

func (in *Ingester) loop(ctx context.Context, f feedcat.Feed) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		wait := in.turn(ctx, f)
		if ctx.Err() != nil {
			return
		}
		// Up to 5% jitter, so feeds and replicas drift apart.
		wait += rand.N(wait/20 + 1)
		in.m.nextRun.WithLabelValues(f.ID).Set(unixSeconds(in.cfg.Clock().Add(wait)))
		in.log.Debug().Str("feed", f.ID).Dur("next_in_seconds", wait).Msg("feed scheduled")
		t.Reset(wait)
	}
}

// turn takes feed f's lease and, when the feed is due, runs it; it returns
// how long to wait before the next turn: until the feed is due again, or
// LeaseRetry when another worker holds the lease or NATS is not answering.
func (in *Ingester) turn(ctx context.Context, f feedcat.Feed) time.Duration {
	log := in.log.With().Str("feed", f.ID).Logger()
	l, err := in.acquireLease(ctx, f.ID)
	if err != nil {
		if !errors.Is(err, errLeaseHeld) && ctx.Err() == nil {
			log.Warn().Err(err).Dur("retry_in_seconds", in.cfg.LeaseRetry).Msg("take feed lease failed")
		}
		return in.cfg.LeaseRetry
	}
	defer l.release()
	st, ok, err := in.Status(l.ctx, f.ID)
	if err != nil {
		log.Warn().Err(err).Msg("feed status unreadable; running the feed")
	}
	if now := in.cfg.Clock(); ok && st.NextRun.After(now) {
		return st.NextRun.Sub(now)
	}
	_, st, _ = in.run(l.ctx, f.ID, RunOptions{})
	if st.NextRun.IsZero() { // stopped by ctx or the lease lost
		return in.cfg.LeaseRetry
	}
	return max(st.NextRun.Sub(in.cfg.Clock()), 0)
}

// RunFeed fetches, parses and publishes feed feedID once, waiting for every
// PubAck, then records the checkpoint and the feed's status. It does not
// take the feed's lease: see RunFeedWith.
func (in *Ingester) RunFeed(ctx context.Context, feedID string) (Result, error) {
	return in.RunFeedWith(ctx, feedID, RunOptions{})
}

// RunFeedWith is RunFeed with options: progress reports, an unconditional
// fetch, the feed's lease.
func (in *Ingester) RunFeedWith(ctx context.Context, feedID string, o RunOptions) (Result, error) {
	if !o.Lease {
		res, _, err := in.run(ctx, feedID, o)
		return res, err
	}
	if _, ok := in.byID[feedID]; !ok {
		return Result{Feed: feedID}, fmt.Errorf("run feed %s: no such feed", feedID)
	}
	l, err := in.waitLease(ctx, feedID)
	if err != nil {
		return Result{Feed: feedID}, fmt.Errorf("run feed %s: %w", feedID, err)
	}
	defer l.release()
	res, _, err := in.run(l.ctx, feedID, o)
	if cause := context.Cause(l.ctx); err != nil && errors.Is(cause, errLeaseLost) {
		err = fmt.Errorf("%w (%w)", err, cause)
	}
	return res, err
}

// run is one run of feedID and the status it recorded (zero when none was).
func (in *Ingester) run(ctx context.Context, feedID string, o RunOptions) (Result, feedstatus.Status, error) {
	st, ok := in.byID[feedID]
	if !ok {
		return Result{Feed: feedID}, feedstatus.Status{}, fmt.Errorf("run feed %s: no such feed", feedID)
	}
	start := time.Now()
	startAt := in.cfg.Clock().UTC()
	pr := &progress{fn: o.Progress}
	res, err := in.runFeed(ctx, st, pr, o)
	res.Feed = feedID
	res.Duration = time.Since(start)
	status := in.recordRun(ctx, st.feed, startAt, res, err)
	in.m.duration.WithLabelValues(feedID).Observe(res.Duration.Seconds())
	log := in.log.With().Str("feed", feedID).Logger()
	if err != nil {
		in.m.runs.WithLabelValues(feedID, ResultError).Inc()
		log.Error().Err(err).Dur("duration_seconds", res.Duration).Int("messages", res.Messages).Msg("feed run failed")
		return res, status, fmt.Errorf("run feed %s: %w", feedID, err)
	}
	result := ResultSuccess
	if res.NotModified {
		result = ResultNotModified
	}
	in.m.runs.WithLabelValues(feedID, result).Inc()
	in.m.lastSuccess.WithLabelValues(feedID).Set(unixSeconds(in.cfg.Clock()))
	log.Info().Str("result", result).Str("source", res.Source).Uint64("version", res.Version).
		Int("rows", res.Rows).Int("observations", res.Observations).Int("messages", res.Messages).
		Int("duplicates", res.Duplicates).Dur("duration_seconds", res.Duration).Msg("feed run finished")
	return res, status, nil
}

func (in *Ingester) runFeed(ctx context.Context, st *feedState, pr *progress, o RunOptions) (Result, error) {
	f := st.feed
	var res Result
	cp, _, err := in.Checkpoint(ctx, f.ID)
	if err != nil {
		return res, failed(feedstatus.KindCheckpoint, err)
	}
	fcp := cp
	if o.Unconditional {
		fcp.ETag, fcp.LastModified = "", ""
	}
	got, err := in.fetch(ctx, f, fcp, pr)
	if err != nil {
		return res, failed(feedstatus.KindFetch, err)
	}
	res.Source = got.source
	if got.notModified {
		res.NotModified = true
		res.Version = cp.Version
		cp.LastSuccess = in.cfg.Clock().UTC()
		cp.ETag, cp.LastModified = got.etag, got.lastModified
		pr.start(PhaseDone, 0)
		return res, failed(feedstatus.KindCheckpoint, in.saveCheckpoint(ctx, cp))
	}
	sum := sha256.Sum256(got.body)
	digest := hex.EncodeToString(sum[:])
	meta := feeds.Meta{
		Source:  f.ID,
		URL:     f.URL,
		Licence: f.Licence,
		// Whole seconds, as ClickHouse stores it: the message ids leave the
		// retrieval time out, but where a run's messages split depends on
		// every byte, and RFC 3339 with fractions varies in length from one
		// run to the next, which would shift the split and give a repeated
		// run new ids for the same observations.
		RetrievedAt: got.retrievedAt.Truncate(time.Second),
		Version:     version(got, cp, digest),
	}
	res.Version = meta.Version

	// Parse the whole body first: a body that fails anywhere publishes nothing.
	size := int64(len(got.body))
	pr.start(PhaseParse, size)
	p, err := st.open(pr.reader(bytes.NewReader(got.body)), meta)
	if err != nil {
		return res, failed(feedstatus.KindParse, fmt.Errorf("parse %s: %w", got.source, err))
	}
	n := 0
	qa := quality.New(st.rules)
	for o, err := range p.All() {
		if err != nil {
			return res, failed(feedstatus.KindParse, fmt.Errorf("parse %s: %w", got.source, err))
		}
		qa.Add(&o)
		if o.Flag != "" && st.feed.Flags != "" {
			if _, unknown := st.flags.Meanings(o.Flag); len(unknown) > 0 {
				for _, l := range unknown {
					feeds.Count(&res.UnknownFlags, l, 1)
				}
			}
		}
		n++
		if n%parseReportEvery == 0 && pr.fn != nil {
			pr.p.Rows, pr.p.Observations = p.Stats().Rows, n
			pr.report()
		}
	}
	// Rows without a single observation mean a mapping that no longer fits
	// the source; no rows at all is an empty answer (WHO GHO answers an
	// unmatched filter with "value": []), a run that publishes nothing.
	stats := p.Stats()
	if n == 0 && stats.Rows > 0 {
		return res, failed(feedstatus.KindParse, fmt.Errorf("parse %s: the body holds no observations (%d rows)", got.source, stats.Rows))
	}
	ev := in.log.Info().Str("feed", f.ID).Int("rows", stats.Rows).Int("observations", n)
	describe(ev, stats)
	ev.Msg("feed parsed")
	if res.Incomplete = stats.Incomplete; res.Incomplete != "" {
		in.log.Warn().Str("feed", f.ID).Str("missing", res.Incomplete).Msg("feed body is partial; publishing what it holds")
	}
	qa.Finish()
	res.Quality = qa.Counts
	if len(qa.Counts) > 0 {
		in.log.Info().Str("feed", f.ID).Interface("quality", qa.Counts).Msg("values flagged by the data-quality rules; published with their codes")
	}
	if len(res.UnknownFlags) > 0 {
		in.log.Warn().Str("feed", f.ID).Str("code_list", f.Flags).Interface("unknown_flags", res.UnknownFlags).
			Msg("flag letters the feed's code list lacks; published as given: add them to schemas/flags")
	}

	pr.start(PhasePublish, size)
	pr.p.ObservationsTotal = n
	p, err = st.open(pr.reader(bytes.NewReader(got.body)), meta)
	if err != nil {
		return res, failed(feedstatus.KindParse, fmt.Errorf("parse %s: %w", got.source, err))
	}
	pub := &publisher{in: in, subject: st.subject, feed: f.ID, pr: pr, quality: qa}
	batchID := f.ID + "-" + strconv.FormatUint(meta.Version, 10)
	err = pub.publishAll(ctx, batchID, p)
	res.Rows = p.Stats().Rows
	res.Observations, res.Messages, res.Duplicates = pub.observations, pub.messages, pub.duplicates
	if err != nil {
		return res, err
	}
	pr.p.Phase, pr.p.Rows = PhaseDone, res.Rows
	pr.report()
	return res, failed(feedstatus.KindCheckpoint, in.saveCheckpoint(ctx, Checkpoint{
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
	}))
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
	pr       *progress
	quality  *quality.Assessment // gives each observation its codes, by ordinal
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
func (p *publisher) publishAll(ctx context.Context, batchID string, src feeds.Source) error {
	chunk := p.in.cfg.EncodeChunk
	pending := make([]observation.Observation, 0, chunk)
	carried := 0
	ordinal := 0
	for o, err := range src.All() {
		if err != nil {
			return failed(feedstatus.KindParse, fmt.Errorf("parse: %w", err))
		}
		if p.quality != nil {
			p.quality.Apply(ordinal, &o)
		}
		ordinal++
		p.pr.p.Rows = src.Stats().Rows
		pending = append(pending, o)
		if len(pending) < carried+chunk {
			continue
		}
		msgs, err := observation.Encode(batchID, pending, p.in.cfg.BatchBytes)
		if err != nil {
			return failed(feedstatus.KindParse, fmt.Errorf("encode observations: %w", err))
		}
		last := msgs[len(msgs)-1]
		for _, m := range msgs[:len(msgs)-1] {
			if err := p.publish(ctx, m); err != nil {
				return failed(feedstatus.KindPublish, err)
			}
		}
		carried = copy(pending, pending[len(pending)-last.Count:])
		clear(pending[carried:])
		pending = pending[:carried]
	}
	if len(pending) > 0 {
		msgs, err := observation.Encode(batchID, pending, p.in.cfg.BatchBytes)
		if err != nil {
			return failed(feedstatus.KindParse, fmt.Errorf("encode observations: %w", err))
		}
		for _, m := range msgs {
			if err := p.publish(ctx, m); err != nil {
				return failed(feedstatus.KindPublish, err)
			}
		}
	}
	for len(p.inflight) > 0 {
		if err := p.awaitOldest(ctx); err != nil {
			return failed(feedstatus.KindPublish, err)
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
		p.pr.p.Messages, p.pr.p.Observations = p.messages, p.observations
		p.pr.report()
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
	return in.openBucket(ctx, extnats.BucketCheckpoints, &in.kv)
}

// openBucket opens key-value bucket name once, keeping it in *kv.
func (in *Ingester) openBucket(ctx context.Context, name string, kv *jetstream.KeyValue) (jetstream.KeyValue, error) {
	in.kvMu.Lock()
	defer in.kvMu.Unlock()
	if *kv != nil {
		return *kv, nil
	}
	b, err := in.js.KeyValue(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("open key-value bucket %s: %w", name, err)
	}
	*kv = b
	return b, nil
}
