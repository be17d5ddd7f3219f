package loader

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/ounce-data/ounce/pkg/batchstatus"
	"github.com/ounce-data/ounce/pkg/deadletter"
	"github.com/ounce-data/ounce/pkg/extch"
	"github.com/ounce-data/ounce/pkg/extnats"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/pkg/userindicators"
)

// Loader is one replica of the loader service.
type Loader struct {
	cfg  Config
	js   jetstream.JetStream
	conn driver.Conn
	log  zerolog.Logger
	m    *metrics

	clickhouseOK atomic.Bool
	natsOK       atomic.Bool

	known   map[string]bool
	knownAt time.Time
	knownMu sync.Mutex
	// users is the live view of the indicators users registered, watched
	// from their bucket, which is where the loader looks a user code up
	// (reading through on a miss), not the ClickHouse mirror: a row the
	// gateway took the moment its indicator was registered loads at once.
	users *userindicators.Watcher

	open *batch              // being collected by Run's goroutine
	dec  observation.Decoder // used by Run's goroutine only; a batch is copied into open's columns
	free chan *batch         // loaded batches, reused to keep their memory

	lastCommit time.Time    // owned by the inserter goroutine
	handedBack atomic.Int64 // messages nakked because shutdown came before ClickHouse took them

	// Owned by Run's goroutine: whether the last message received was the
	// last the stream held (its NumPending was 0), and when the open batch
	// was last handed off because of that.
	caughtUp        bool
	caughtUpFlushAt time.Time

	// batches, when the topology has it, receives a load report per
	// message of a batch with an id (see reportLoaded).
	batches jetstream.KeyValue
}

// batch is a set of messages loaded by one INSERT: their rows, already in
// columns, and the messages to settle.
type batch struct {
	pend  []*pending
	cols  extch.Columns
	bytes int
	since time.Time
}

func (b *batch) reset() {
	clear(b.pend)
	b.pend, b.bytes = b.pend[:0], 0
	b.cols.Reset()
}

type pending struct {
	msg      jetstream.Msg
	meta     *jetstream.MsgMetadata
	batchID  string
	from, to int // its rows in the batch's columns
	rejects  []deadletter.Reject
}

// New builds a loader. It does not touch NATS or ClickHouse until Run.
func New(cfg Config, js jetstream.JetStream, conn driver.Conn, log zerolog.Logger, reg *prometheus.Registry) (*Loader, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("loader config: %w", err)
	}
	l := &Loader{cfg: cfg, js: js, conn: conn, log: log, m: newMetrics(reg)}
	if js != nil {
		l.users = userindicators.NewWatcher(userindicators.NewStore(js), log)
	}
	return l, nil
}

// Ready reports why the loader cannot load now, or nil.
func (l *Loader) Ready(context.Context) error {
	var errs []error
	if !l.natsOK.Load() {
		errs = append(errs, errors.New("loader: not consuming from JetStream"))
	}
	if !l.clickhouseOK.Load() {
		errs = append(errs, errors.New("loader: clickhouse is not accepting inserts"))
	}
	return errors.Join(errs...)
}

// ConsumerConfig is the durable pull consumer every loader replica shares.
// MaxDeliver is unlimited on the server: the loader itself dead-letters a
// message after cfg.MaxDeliver failed loads, so a message redelivered after a
// crash is never stranded.
func (l *Loader) ConsumerConfig() jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       l.cfg.Durable,
		Description:   "loader: observations into ClickHouse",
		FilterSubject: observation.SubjectAll,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       l.cfg.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: l.cfg.MaxAckPending,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
}

// Run consumes until ctx is cancelled, then drains: it stops pulling, loads
// and acks what it already received, and returns.
func (l *Loader) Run(ctx context.Context) error {
	cons, err := l.js.CreateOrUpdateConsumer(ctx, extnats.StreamObservations, l.ConsumerConfig())
	if err != nil {
		return fmt.Errorf("create loader consumer: %w", err)
	}
	if err := l.conn.Ping(ctx); err != nil {
		l.log.Warn().Err(err).Msg("clickhouse not answering at start; will retry on first batch")
	} else {
		l.setClickHouse(true)
	}
	if err := l.refreshKnown(ctx); err != nil {
		l.log.Warn().Err(err).Msg("read indicator catalogue")
	}
	if l.users != nil {
		usersCtx, stopUsers := context.WithCancel(ctx)
		usersDone := make(chan error, 1)
		go func() { usersDone <- l.users.Run(usersCtx) }()
		defer func() {
			stopUsers()
			if err := <-usersDone; err != nil {
				l.log.Warn().Err(err).Msg("user indicators not watched; each is read from its bucket when a row names it")
			}
		}()
	}
	if kv, err := l.js.KeyValue(ctx, extnats.BucketBatches); err == nil {
		l.batches = kv
	} else {
		l.log.Warn().Err(err).Msg("no batch status bucket; batches will not be reported loaded")
	}
	iter, err := cons.Messages(jetstream.PullMaxMessagesWithBytesLimit(1000, 16<<20))
	if err != nil {
		return fmt.Errorf("pull from loader consumer: %w", err)
	}
	l.natsOK.Store(true)
	defer l.natsOK.Store(false)

	msgs := make(chan jetstream.Msg, 4)
	go func() {
		defer close(msgs)
		for {
			msg, err := iter.Next()
			if err != nil {
				if !errors.Is(err, jetstream.ErrMsgIteratorClosed) {
					l.log.Error().Err(err).Msg("pull messages")
				}
				return
			}
			msgs <- msg
		}
	}()
	lagCtx, stopLag := context.WithCancel(ctx)
	defer stopLag()
	go l.watchLag(lagCtx, cons)

	// One goroutine inserts while this one decodes the next batch.
	insCtx, cancelIns := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelIns()
	full := make(chan *batch)
	inserted := make(chan struct{})
	l.free = make(chan *batch, 2)
	l.free <- &batch{}
	l.free <- &batch{}
	go func() {
		defer close(inserted)
		for b := range full {
			l.load(insCtx, b)
			b.reset()
			l.free <- b
		}
	}()
	l.open = <-l.free
	ticker := time.NewTicker(l.cfg.FlushInterval / 4)
	defer ticker.Stop()
	for {
		select {
		case msg, ok := <-msgs:
			if !ok {
				return l.drain(ctx, msgs, full, inserted, cancelIns)
			}
			l.receive(ctx, msg)
			switch {
			case l.open.cols.Len() >= l.cfg.BatchRows || l.open.bytes >= l.cfg.BatchBytes:
				l.handOff(ctx, full, flushFull)
			case len(msgs) == 0:
				l.flushCaughtUp(full)
			}
		case <-ticker.C:
			if len(l.open.pend) > 0 && time.Since(l.open.since) >= l.cfg.FlushInterval {
				l.handOff(ctx, full, flushInterval)
			} else if len(msgs) == 0 {
				l.flushCaughtUp(full)
			}
		case <-ctx.Done():
			iter.Drain()
			return l.drain(ctx, msgs, full, inserted, cancelIns)
		}
	}
}

// handOff gives the open batch to the inserter, waiting while it is busy
// with the previous one and keeping the waiting messages in progress. It
// returns false, the batch still open, when ctx ends first.
func (l *Loader) handOff(ctx context.Context, full chan<- *batch, reason string) bool {
	b := l.open
	if len(b.pend) == 0 {
		return true
	}
	keepAlive := time.NewTicker(l.cfg.AckWait / 3)
	defer keepAlive.Stop()
	for {
		select {
		case full <- b:
			l.m.flushes.WithLabelValues(reason).Inc()
			// The inserter returned its previous batch before taking this one.
			l.open = <-l.free
			l.m.openBatchRows.Set(0)
			return true
		case <-keepAlive.C:
			for _, p := range b.pend {
				_ = p.msg.InProgress()
			}
		case <-ctx.Done():
			return false
		}
	}
}

// flushCaughtUp hands the open batch to the inserter when the stream has
// nothing more to deliver and the inserter is idle, rather than letting it
// wait out the flush interval; at most once per FlushInterval/4, so that a
// trickle of messages does not become a stream of tiny inserts.
func (l *Loader) flushCaughtUp(full chan<- *batch) {
	if l.cfg.HoldWhenCaughtUp || !l.caughtUp || len(l.open.pend) == 0 || time.Since(l.caughtUpFlushAt) < l.cfg.FlushInterval/4 {
		return
	}
	select {
	case full <- l.open: // taken at once: the inserter was idle
		l.m.flushes.WithLabelValues(flushCaughtUp).Inc()
		l.caughtUpFlushAt = time.Now()
		l.open = <-l.free
		l.m.openBatchRows.Set(0)
	default: // an insert is running; the batch fills on, or goes after it
	}
}

// drain loads what was received before the consumer stopped, within
// Config.DrainTimeout: when ClickHouse does not take it in that time (it is
// down, say), the insert is abandoned and every message not loaded is
// handed back to JetStream unacked, to be loaded by the next loader.
func (l *Loader) drain(ctx context.Context, msgs <-chan jetstream.Msg, full chan *batch, inserted <-chan struct{}, cancelIns context.CancelFunc) error {
	start := time.Now()
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.cfg.DrainTimeout)
	defer cancel()
	stop := context.AfterFunc(dctx, cancelIns)
	defer stop()
	for msg := range msgs {
		l.receive(dctx, msg)
	}
	last := len(l.open.pend)
	handedBack := 0
	if !l.handOff(dctx, full, flushDrain) {
		handedBack = len(l.open.pend)
		for _, p := range l.open.pend {
			_ = p.msg.Nak()
		}
		l.open.reset()
	}
	close(full)
	<-inserted
	ev := l.log.Info()
	if dctx.Err() != nil {
		ev = l.log.Warn().Int("handed_back_messages", handedBack+int(l.handedBack.Load())).
			Float64("drain_timeout_seconds", l.cfg.DrainTimeout.Seconds())
	}
	ev.Int("last_batch_messages", last).Float64("duration_seconds", time.Since(start).Seconds()).Msg("loader drained")
	return nil
}

// receive decodes and validates one message and adds it to the open batch.
func (l *Loader) receive(ctx context.Context, msg jetstream.Msg) {
	meta, err := msg.Metadata()
	if err != nil {
		l.log.Error().Err(err).Str("subject", msg.Subject()).Msg("message without jetstream metadata")
		_ = msg.Term()
		return
	}
	l.caughtUp = meta.NumPending == 0
	if !l.catalogueRead(ctx) {
		// Without the catalogue every indicator would look unknown and be
		// dead-lettered: hold the message until ClickHouse answers.
		_ = msg.NakWithDelay(l.cfg.RetryMax)
		return
	}
	b, rejects, err := decode(&l.dec, msg.Data())
	if err != nil {
		l.deadLetterWhole(ctx, msg, meta, deadletter.KindUndecodable, err)
		return
	}
	open := l.open
	p := &pending{msg: msg, meta: meta, batchID: b.ID, rejects: rejects, from: open.cols.Len()}
	subjectSource := sourceOfSubject(msg.Subject())
	for i := range b.Observations {
		o := &b.Observations[i]
		if err := o.Validate(); err != nil {
			p.rejects = append(p.rejects, reject(o, -1, "invalid", err))
			continue
		}
		if o.Source != subjectSource {
			p.rejects = append(p.rejects, reject(o, -1, "source_mismatch",
				fmt.Errorf("source: %q on subject %s; that subject carries only source %s (a publisher writes under its own name only)", o.Source, msg.Subject(), subjectSource)))
			continue
		}
		if !l.isKnown(ctx, o.Indicator) {
			err := fmt.Errorf("indicator: %q is not in the catalogue; add it to schemas/catalogue or fix the code", o.Indicator)
			if userindicators.IsUser(o.Indicator) {
				err = fmt.Errorf("indicator: %q is not a registered user indicator; register it with POST /v1/indicators on the query service, or fix the code", o.Indicator)
			}
			p.rejects = append(p.rejects, reject(o, -1, "unknown_indicator", err))
			continue
		}
		open.cols.Add(o, b.ID)
	}
	p.to = open.cols.Len()
	if len(open.pend) == 0 {
		open.since = time.Now()
	}
	open.pend = append(open.pend, p)
	open.bytes += len(msg.Data())
	l.m.openBatchRows.Set(float64(open.cols.Len()))
}

// partnerSourceOf is the only source a message on a partner's subject,
// obs.v1.partner.<id>[.…], may carry: partner:<id>. It is "" on other
// subjects.
func partnerSourceOf(subject string) string {
	rest, ok := strings.CutPrefix(subject, observation.SubjectPrefix+".partner.")
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(rest, ".")
	return "partner:" + id
}

// decode reads a batch with dec; the batch is valid until dec's next use.
// When the batch as a whole does not decode it retries observation by
// observation, so one bad value rejects one observation, not its whole
// message.
func decode(dec *observation.Decoder, data []byte) (observation.Batch, []deadletter.Reject, error) {
	b, err := dec.Decode(data)
	if err == nil {
		return b, nil, nil
	}
	var loose struct {
		ID           string            `json:"batch_id"`
		Common       json.RawMessage   `json:"common"`
		Observations []json.RawMessage `json:"observations"`
	}
	if lerr := json.Unmarshal(data, &loose); lerr != nil || loose.Observations == nil {
		return observation.Batch{}, nil, err
	}
	out := observation.Batch{ID: loose.ID, Observations: make([]observation.Observation, 0, len(loose.Observations))}
	var rejects []deadletter.Reject
	for i, raw := range loose.Observations {
		o, oerr := decodeOne(loose.Common, raw)
		if oerr != nil {
			rejects = append(rejects, deadletter.Reject{Index: i, Reason: "schema", Error: oerr.Error(), Observation: raw})
			continue
		}
		out.Observations = append(out.Observations, o)
	}
	return out, rejects, nil
}

// decodeOne decodes one observation of a batch with the batch's common part.
func decodeOne(common, raw json.RawMessage) (observation.Observation, error) {
	doc := []byte(`{"observations":[`)
	if len(common) > 0 {
		doc = append(append([]byte(`{"common":`), common...), `,"observations":[`...)
	}
	b, err := observation.Decode(append(append(doc, raw...), ']', '}'))
	if err != nil {
		return observation.Observation{}, err
	}
	return b.Observations[0], nil
}

func reject(o *observation.Observation, index int, reason string, err error) deadletter.Reject {
	raw, merr := json.Marshal(o)
	if merr != nil {
		raw = nil
	}
	return deadletter.Reject{Index: index, Reason: reason, Error: err.Error(), Observation: raw}
}

// load inserts one batch and settles its messages: ack when the rows are
// committed, nak when ClickHouse stayed down until shutdown.
func (l *Loader) load(ctx context.Context, b *batch) {
	stopKeepAlive := l.keepInProgress(b.pend)
	err := l.insertRetrying(ctx, b)
	stopKeepAlive()
	switch {
	case err == nil:
		l.reportQueryable(b.pend, time.Now())
		changes := l.classifyPartners(ctx, &b.cols, b.pend)
		for _, p := range b.pend {
			l.commit(ctx, b, p, changes[p])
		}
	case ctx.Err() != nil:
		for _, p := range b.pend { // shutting down with ClickHouse down: hand back now
			_ = p.msg.Nak()
		}
		l.handedBack.Add(int64(len(b.pend)))
		l.log.Warn().Int("messages", len(b.pend)).Msg("clickhouse did not take the batch before shutdown; handed back to jetstream unacked")
	default:
		l.isolate(ctx, b)
	}
}

// insertRetrying inserts l.cols, waiting out a ClickHouse outage with backoff
// while keeping the messages in progress. It returns an error when the server
// answers but refuses the rows, or when ctx ends.
func (l *Loader) insertRetrying(ctx context.Context, b *batch) error {
	backoff := l.cfg.RetryMin
	for {
		start := time.Now()
		err := b.cols.Insert(ctx, l.conn)
		if err == nil {
			l.m.insertDuration.Observe(time.Since(start).Seconds())
			l.m.rowsInserted.Add(float64(b.cols.Len()))
			if b.cols.Len() > 0 {
				l.m.batchesInserted.Inc()
			}
			l.setClickHouse(true)
			return nil
		}
		l.m.insertErrors.Inc()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if perr := l.conn.Ping(ctx); perr == nil {
			l.log.Error().Err(err).Int("rows", b.cols.Len()).Msg("clickhouse refused the batch; loading message by message")
			return err
		}
		l.setClickHouse(false)
		l.log.Warn().Err(err).Dur("retry_in_seconds", backoff).Int("rows", b.cols.Len()).Msg("clickhouse unavailable; holding batch")
		select {
		case <-time.After(jitter(backoff)):
		case <-ctx.Done():
			return ctx.Err()
		}
		backoff = min(2*backoff, l.cfg.RetryMax)
	}
}

// keepInProgress tells JetStream every AckWait/3 that the messages of pend
// are still being worked on, until the returned func is called, so that
// AckWait can be short (a crashed loader's messages are redelivered soon)
// without a slow insert making them redelivered too.
func (l *Loader) keepInProgress(pend []*pending) (stop func()) {
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(l.cfg.AckWait / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				for _, p := range pend {
					_ = p.msg.InProgress()
				}
			}
		}
	}()
	return func() {
		close(done)
		<-exited
	}
}

// isolate loads the open batch message by message after ClickHouse refused
// it as a whole, so one poison message cannot hold back the others.
func (l *Loader) isolate(ctx context.Context, b *batch) {
	for _, p := range b.pend {
		rows := b.cols.Slice(p.from, p.to)
		err := rows.Insert(ctx, l.conn)
		if err == nil {
			l.m.rowsInserted.Add(float64(rows.Len()))
			l.m.batchesInserted.Inc()
			l.reportQueryable([]*pending{p}, time.Now())
			l.commit(ctx, b, p, l.classifyPartners(ctx, &b.cols, []*pending{p})[p])
			continue
		}
		l.m.insertErrors.Inc()
		if int(p.meta.NumDelivered) >= l.cfg.MaxDeliver {
			l.deadLetterWhole(ctx, p.msg, p.meta, deadletter.KindInsertFailed, err)
			continue
		}
		delay := min(l.cfg.RetryMin<<min(p.meta.NumDelivered, 16), l.cfg.RetryMax)
		l.log.Warn().Err(err).Uint64("stream_seq", p.meta.Sequence.Stream).Uint64("deliveries", p.meta.NumDelivered).
			Dur("retry_in_seconds", delay).Msg("message refused by clickhouse; nak")
		_ = p.msg.NakWithDelay(delay)
	}
}

// commit dead-letters a loaded message's rejects, then acks it.
func (l *Loader) commit(ctx context.Context, b *batch, p *pending, changes *batchstatus.RowChanges) {
	if len(p.rejects) > 0 {
		body, err := json.Marshal(deadletter.RejectedBody{Subject: p.msg.Subject(), Sequence: p.meta.Sequence.Stream, BatchID: p.batchID, Rejected: p.rejects})
		if err == nil {
			err = l.publishDeadLetter(ctx, p.msg, p.meta, deadletter.KindRejected,
				fmt.Sprintf("%d of %d observations rejected; first: %s", len(p.rejects), len(p.rejects)+p.to-p.from, p.rejects[0].Error), body)
		}
		if err != nil {
			l.log.Error().Err(err).Uint64("stream_seq", p.meta.Sequence.Stream).Msg("dead-letter rejected observations; nak")
			_ = p.msg.NakWithDelay(l.cfg.RetryMin)
			return
		}
		for _, r := range p.rejects {
			l.m.rejected.WithLabelValues(r.Reason).Inc()
		}
		l.m.deadLettered.WithLabelValues(deadletter.KindRejected).Inc()
	}
	if err := p.msg.Ack(); err != nil {
		l.log.Warn().Err(err).Uint64("stream_seq", p.meta.Sequence.Stream).Msg("ack; the message will be redelivered and deduplicated")
		return
	}
	l.m.messagesAcked.Inc()
	l.reportLoaded(ctx, p, changes)
	if p.meta.Timestamp.After(l.lastCommit) {
		l.lastCommit = p.meta.Timestamp
		l.m.lastCommitted.Set(float64(p.meta.Timestamp.UnixNano()) / 1e9)
	}
}

// reportQueryable logs, per source, the rows of pend that ClickHouse has
// just committed, and how long after their publish they became queryable;
// each message's lag is also observed in ounce_loader_commit_lag_seconds.
func (l *Loader) reportQueryable(pend []*pending, now time.Time) {
	type load struct {
		rows, messages int
		oldest         time.Time
	}
	bySource := make(map[string]*load, 1)
	for _, p := range pend {
		l.m.commitLag.Observe(now.Sub(p.meta.Timestamp).Seconds())
		src := sourceOfSubject(p.msg.Subject())
		ld := bySource[src]
		if ld == nil {
			ld = &load{oldest: p.meta.Timestamp}
			bySource[src] = ld
		}
		ld.rows += p.to - p.from
		ld.messages++
		if p.meta.Timestamp.Before(ld.oldest) {
			ld.oldest = p.meta.Timestamp
		}
	}
	for src, ld := range bySource {
		if ld.rows == 0 {
			continue
		}
		l.log.Info().Str("source", src).Int("rows", ld.rows).Int("messages", ld.messages).
			Float64("lag_seconds", now.Sub(ld.oldest).Seconds()).Msg("data queryable")
	}
}

// sourceOfSubject is the publisher named by an observation subject,
// obs.v1.<domain>.<source>: a feed id, or partner:<id> for
// obs.v1.partner.<id>[.…]. It is the only source the loader accepts on that
// subject: NATS permissions limit who may publish where (a partner's user
// only its own subjects), and this keeps every publisher from writing under
// another's name in the body — a partner as a feed, a feed as a partner or
// as another feed.
func sourceOfSubject(subject string) string {
	if p := partnerSourceOf(subject); p != "" {
		return p
	}
	if i := strings.LastIndexByte(subject, '.'); i >= 0 {
		return subject[i+1:]
	}
	return subject
}

// classifyPartners classifies the rows of the partner messages of pend,
// loaded from cols, against what other batches stored (see
// extch.ClassifyRanges): one keyed lookup for all of them, bounded in time.
// A partner waits on GET /v1/batches/{id} for this; feeds, which publish far
// more, are not classified. It returns nil for a message it could not
// classify; the batch status then lacks imported/updated/ignored.
func (l *Loader) classifyPartners(ctx context.Context, cols *extch.Columns, pend []*pending) map[*pending]*batchstatus.RowChanges {
	var (
		which  []*pending
		ranges []extch.Range
	)
	for _, p := range pend {
		if l.batches != nil && p.batchID != "" && p.to > p.from && partnerSourceOf(p.msg.Subject()) != "" {
			which = append(which, p)
			ranges = append(ranges, extch.Range{From: p.from, To: p.to})
		}
	}
	if len(which) == 0 {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	changes, err := extch.ClassifyRanges(cctx, l.conn, cols, ranges)
	if err != nil {
		l.log.Warn().Err(err).Int("messages", len(which)).Msg("classify partners' rows; their batch status will lack imported/updated/ignored")
		return nil
	}
	out := make(map[*pending]*batchstatus.RowChanges, len(which))
	for i, p := range which {
		out[p] = &changes[i]
	}
	return out
}

// reportLoaded records that p's rows are committed, with how they changed
// what queries return when that is known. Keyed by message id, a
// redelivered message rewrites its own report rather than adding one. A
// failure only delays what a batch's status says, so it is logged.
func (l *Loader) reportLoaded(ctx context.Context, p *pending, changes *batchstatus.RowChanges) {
	msgID := p.msg.Headers().Get(jetstream.MsgIDHeader)
	if msgID == "" {
		msgID = p.msg.Headers().Get(batchstatus.HeaderMsgID)
	}
	if l.batches == nil || p.batchID == "" || msgID == "" {
		return
	}
	key := batchstatus.ReportKey(p.batchID, msgID)
	rep := batchstatus.LoadReport{Rows: p.to - p.from, Rejected: len(p.rejects), LoadedAt: time.Now().UTC(), Changes: changes}
	body, err := json.Marshal(rep)
	if err == nil {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err = l.batches.Put(pctx, key, body)
		cancel()
	}
	if err != nil {
		l.log.Warn().Err(err).Str("batch_id", p.batchID).Msg("report batch message loaded")
	}
}

func (l *Loader) deadLetterWhole(ctx context.Context, msg jetstream.Msg, meta *jetstream.MsgMetadata, kind string, cause error) {
	if err := l.publishDeadLetter(ctx, msg, meta, kind, cause.Error(), msg.Data()); err != nil {
		l.log.Error().Err(err).Uint64("stream_seq", meta.Sequence.Stream).Msg("dead-letter message; nak")
		_ = msg.NakWithDelay(l.cfg.RetryMin)
		return
	}
	l.m.deadLettered.WithLabelValues(kind).Inc()
	l.log.Warn().Str("kind", kind).Str("subject", msg.Subject()).Uint64("stream_seq", meta.Sequence.Stream).
		Str("reason", cause.Error()).Msg("message dead-lettered")
	_ = msg.Term()
}

func (l *Loader) publishDeadLetter(ctx context.Context, msg jetstream.Msg, meta *jetstream.MsgMetadata, kind, reason string, body []byte) error {
	if len(reason) > 1024 {
		reason = reason[:1024]
	}
	dl := nats.NewMsg("dlq." + msg.Subject())
	dl.Header.Set(deadletter.HeaderKind, kind)
	dl.Header.Set(deadletter.HeaderError, reason)
	dl.Header.Set(deadletter.HeaderOriginalSubject, msg.Subject())
	dl.Header.Set(deadletter.HeaderOriginalSeq, strconv.FormatUint(meta.Sequence.Stream, 10))
	dl.Header.Set(deadletter.HeaderDeliveries, strconv.FormatUint(meta.NumDelivered, 10))
	dl.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("dlq-%d-%s", meta.Sequence.Stream, kind))
	dl.Data = body
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := l.js.PublishMsg(pctx, dl); err != nil {
		return fmt.Errorf("publish dead letter: %w", err)
	}
	return nil
}

// isKnown reports whether code is an indicator rows may be loaded for. A
// user indicator is looked up in the watched view of its bucket, and read
// from the bucket when the view lacks it (userindicators.Watcher.Lookup):
// registered a moment ago, it is known before the watch delivers it. A
// catalogue code is looked up in the set read from ClickHouse, read again
// every CatalogueRefresh, or on a miss when the set is over 5 s old.
func (l *Loader) isKnown(ctx context.Context, code string) bool {
	if userindicators.IsUser(code) {
		if l.users == nil {
			return false
		}
		_, ok := l.users.Lookup(ctx, code)
		return ok
	}
	l.knownMu.Lock()
	ok := l.known[code]
	stale := time.Since(l.knownAt) > l.cfg.CatalogueRefresh || (!ok && time.Since(l.knownAt) > 5*time.Second)
	l.knownMu.Unlock()
	if ok && !stale {
		return true
	}
	if stale {
		if err := l.refreshKnown(ctx); err != nil {
			l.log.Warn().Err(err).Msg("refresh indicator catalogue")
		}
	}
	l.knownMu.Lock()
	defer l.knownMu.Unlock()
	return l.known[code]
}

// catalogueRead reports whether the set of known indicators has been read
// from ClickHouse at least once, trying again when it has not.
func (l *Loader) catalogueRead(ctx context.Context) bool {
	l.knownMu.Lock()
	read, tried := l.known != nil, l.knownAt
	l.knownMu.Unlock()
	if read {
		return true
	}
	if time.Since(tried) < l.cfg.RetryMin {
		return false
	}
	if err := l.refreshKnown(ctx); err != nil {
		l.log.Warn().Err(err).Msg("indicator catalogue not read yet; holding messages")
		return false
	}
	return true
}

func (l *Loader) refreshKnown(ctx context.Context) error {
	known, err := extch.KnownIndicators(ctx, l.conn)
	l.knownMu.Lock()
	defer l.knownMu.Unlock()
	l.knownAt = time.Now()
	if err != nil {
		return err
	}
	l.known = known
	return nil
}

func (l *Loader) setClickHouse(up bool) {
	l.clickhouseOK.Store(up)
	if up {
		l.m.clickhouseUp.Set(1)
	} else {
		l.m.clickhouseUp.Set(0)
	}
}

func (l *Loader) watchLag(ctx context.Context, cons jetstream.Consumer) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		info, err := cons.Info(ctx)
		if err == nil {
			l.m.consumerPending.Set(float64(info.NumPending))
			l.m.consumerAckPend.Set(float64(info.NumAckPending))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func jitter(d time.Duration) time.Duration {
	return d/2 + time.Duration(rand.Int64N(int64(d)/2+1))
}
