package gateway

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ounce-data/ounce/pkg/batchstatus"
	"github.com/ounce-data/ounce/pkg/httpapi"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/pkg/quality"
	"github.com/ounce-data/ounce/services/gateway/registry"
)

// IdempotencyKeyHeader names a push so that a retry is answered, not redone.
const IdempotencyKeyHeader = "Idempotency-Key"

// pushOptions are the query parameters of a push.
type pushOptions struct {
	dryRun bool
	atomic bool
}

func parseOptions(r *http.Request) (pushOptions, *httpapi.Error) {
	var o pushOptions
	for name, vals := range r.URL.Query() {
		var dst *bool
		switch name {
		case "dry_run":
			dst = &o.dryRun
		case "atomic":
			dst = &o.atomic
		default:
			return o, httpapi.BadRequest(name, "%q is not a parameter of this route; it takes dry_run and atomic", name)
		}
		if len(vals) != 1 {
			return o, httpapi.BadRequest(name, "give %s once", name)
		}
		b, err := strconv.ParseBool(vals[0])
		if err != nil {
			return o, httpapi.BadRequest(name, "%s=%q: want true or false", name, vals[0])
		}
		*dst = b
	}
	return o, nil
}

// authenticate returns the partner of the request's bearer key. Until the
// partner registry has been read (just after a start) no key can be judged:
// the answer is 503 with Retry-After, never a 401 for a valid key.
func (s *Service) authenticate(w http.ResponseWriter, r *http.Request) (*registry.Partner, *httpapi.Error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, httpapi.Errorf(httpapi.CodeUnauthorized, "Authorization", "send the partner key as Authorization: Bearer <key>")
	}
	scheme, key, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(key) == "" {
		return nil, httpapi.Errorf(httpapi.CodeUnauthorized, "Authorization", "want Authorization: Bearer <key>")
	}
	if s.partners.Ready(r.Context()) != nil {
		w.Header().Set("Retry-After", "1")
		return nil, httpapi.Errorf(httpapi.CodeUnavailable, "",
			"the gateway is starting and has not read the partner registry yet; retry in a second")
	}
	p, ok := s.partners.Authenticate(strings.TrimSpace(key))
	if !ok {
		return nil, httpapi.Errorf(httpapi.CodeUnauthorized, "Authorization",
			"the key is not valid: unknown, rotated out after its grace period, or revoked; ask the operator for a key (ounce partners rotate)")
	}
	return p, nil
}

// readBody reads the body within the size limits, inflating gzip.
func (s *Service) readBody(w http.ResponseWriter, r *http.Request) ([]byte, string, *httpapi.Error) {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	format, ok := formats[strings.ToLower(mt)]
	if ct == "" || err != nil || !ok {
		return nil, "", httpapi.Errorf(httpapi.CodeUnsupportedMediaType, "Content-Type",
			"Content-Type %q: send application/json, application/x-ndjson or text/csv", ct)
	}
	var gz bool
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		gz = true
	default:
		return nil, "", httpapi.Errorf(httpapi.CodeUnsupportedMediaType, "Content-Encoding",
			"Content-Encoding %q: send the body as is or with gzip", enc)
	}
	if r.ContentLength > s.cfg.MaxBodyBytes {
		return nil, "", tooLarge(s.cfg.MaxBodyBytes, "")
	}
	// The deadline covers the body only; the server's header timeout came
	// first. A recorder in tests does not support it, which is harmless.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(s.cfg.ReadTimeout))
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err == nil {
		// Kept on error: the server would otherwise wait for the rest of a
		// trickling body before answering.
		_ = rc.SetReadDeadline(time.Time{})
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, "", tooLarge(s.cfg.MaxBodyBytes, "")
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			s.m.bodyTimeouts.Inc()
			w.Header().Set("Connection", "close")
			return nil, "", httpapi.Errorf(httpapi.CodeRequestTimeout, "",
				"the body was not received within %s (%d bytes read); send it faster, or in smaller pushes", s.cfg.ReadTimeout, len(body))
		}
		return nil, "", httpapi.BadRequest("", "read the body: %v", err)
	}
	if !gz {
		return body, format, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, "", httpapi.BadRequest("Content-Encoding", "the body is not gzip: %v", err)
	}
	inflated, err := io.ReadAll(io.LimitReader(zr, s.cfg.MaxDecoded+1))
	if err != nil {
		return nil, "", httpapi.BadRequest("Content-Encoding", "the gzip body is corrupt: %v", err)
	}
	if int64(len(inflated)) > s.cfg.MaxDecoded {
		return nil, "", tooLarge(s.cfg.MaxDecoded, "decompressed ")
	}
	return inflated, format, nil
}

func tooLarge(limit int64, what string) *httpapi.Error {
	return httpapi.Errorf(httpapi.CodePayloadTooLarge, "", "the %sbody is larger than %d bytes; split the push into several", what, limit)
}

// push is POST /v1/observations.
func (s *Service) push(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	a, err := s.doPush(w, r)
	audit := s.log.Info().Bool("audit", true).Str("request_id", httpapi.RequestID(r.Context())).Str("partner", a.partner)
	if err != nil {
		s.m.pushes.WithLabelValues("refused").Inc()
		audit.Str("status", "refused").Str("code", string(err.Code)).Str("field", err.Field).Msg("partner push refused")
		httpapi.WriteError(w, err)
		return
	}
	d := time.Since(start)
	s.m.duration.Observe(d.Seconds())
	s.m.pushes.WithLabelValues(a.sum.Status).Inc()
	audit.Str("status", a.sum.Status).Str("batch_id", a.sum.BatchID).Bool("dry_run", a.sum.DryRun).Bool("atomic", a.sum.Atomic).
		Bool("replayed", a.replayed).Int("received", a.sum.Counts.Received).Int("accepted", a.sum.Counts.Accepted).
		Int("rejected", a.sum.Counts.Rejected).Int("messages", a.sum.Messages).Float64("duration_seconds", d.Seconds()).Msg("partner push")
}

// pushAudit is what the audit line of a push says: who pushed and what
// came of it.
type pushAudit struct {
	partner  string // empty when the key was not recognised
	sum      ImportSummary
	replayed bool // answered from an earlier push with the same Idempotency-Key
}

// answer is a push's response as stored for Idempotency-Key replays.
type answer struct {
	Status  int           `json:"status"`
	Summary ImportSummary `json:"summary"`
}

// doPush runs a push and writes its summary; it returns an error for the
// caller to write as an envelope instead.
func (s *Service) doPush(w http.ResponseWriter, r *http.Request) (pushAudit, *httpapi.Error) {
	var a pushAudit
	p, herr := s.authenticate(w, r)
	if herr != nil {
		return a, herr
	}
	a.partner = p.ID
	if herr := s.rateLimit(r.Context(), w, p); herr != nil {
		return a, herr
	}
	opts, herr := parseOptions(r)
	if herr != nil {
		return a, herr
	}
	body, format, herr := s.readBody(w, r)
	if herr != nil {
		return a, herr
	}
	var claim *idemClaim
	if ik := r.Header.Get(IdempotencyKeyHeader); ik != "" {
		var replay *answer
		claim, replay, herr = s.claimIdempotency(r.Context(), p.ID, ik, fingerprint(format, opts, body))
		if herr != nil {
			return a, herr
		}
		if replay != nil {
			w.Header().Set("Idempotent-Replayed", "true")
			s.writeSummary(w, r, replay.Status, replay.Summary)
			a.sum, a.replayed = replay.Summary, true
			return a, nil
		}
	}
	var stopClaim func()
	if claim != nil {
		stopClaim = s.keepClaim(r.Context(), claim)
	}
	ans, herr := s.importRows(r.Context(), p, format, body, opts)
	if claim != nil {
		stopClaim()
		if herr != nil && herr.Code.Status() >= 500 {
			s.releaseIdempotency(r.Context(), claim) // let a retry run again
		} else if herr == nil {
			s.storeIdempotency(r.Context(), claim, ans)
		} else {
			s.releaseIdempotency(r.Context(), claim)
		}
	}
	if herr != nil {
		return a, herr
	}
	s.writeSummary(w, r, ans.Status, ans.Summary)
	a.sum = ans.Summary
	return a, nil
}

func (s *Service) writeSummary(w http.ResponseWriter, r *http.Request, status int, sum ImportSummary) {
	w.Header().Set("Cache-Control", "no-store")
	if sum.BatchID != "" {
		w.Header().Set("Location", "/v1/batches/"+sum.BatchID)
	}
	if err := httpapi.WriteJSON(w, status, sum); err != nil {
		s.log.Error().Err(err).Str("request_id", httpapi.RequestID(r.Context())).Msg("write import summary")
	}
}

// fingerprint identifies a push for Idempotency-Key: format, options, body.
func fingerprint(format string, o pushOptions, body []byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00dry_run=%t\x00atomic=%t\x00", format, o.dryRun, o.atomic)
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// importRows decodes, validates and (unless a dry run or a failed atomic
// push) publishes the rows, and returns the answer.
func (s *Service) importRows(ctx context.Context, p *registry.Partner, format string, body []byte, opts pushOptions) (answer, *httpapi.Error) {
	rows, err := decodeRows(format, body, s.cfg.MaxRows)
	if err != nil {
		return answer{}, httpapi.BadRequest("", "%s", err.Error())
	}
	if len(rows) == 0 {
		return answer{}, httpapi.BadRequest("", "the body has no rows; send at least one observation")
	}
	now := s.cfg.Now().UTC()
	inds := s.inds.Lookup(ctx)
	v := newValidator(p, inds, now)
	obs := make([]observation.Observation, 0, len(rows))
	obsRow := make([]int, 0, len(rows))
	var cs conflicts
	var foreign []int
	for i := range rows {
		o, prob, err := v.check(&rows[i])
		switch {
		case err != nil:
			foreign = append(foreign, rows[i].n)
		case prob != nil:
			cs.add(*prob, rows[i].n)
			cs.rows++
			s.m.rowsBad.WithLabelValues(prob.code).Inc()
		default:
			obs = append(obs, o)
			obsRow = append(obsRow, rows[i].n)
		}
	}
	if len(foreign) > 0 {
		return answer{}, httpapi.Errorf(httpapi.CodeForbidden, "source",
			"this key writes only as %s; %d row(s) name another source (first: row %d); leave source out", p.Source(), len(foreign), foreign[0])
	}
	obs, obsRow = s.dropDuplicates(obs, obsRow, &cs)

	sum := ImportSummary{DryRun: opts.dryRun, Atomic: opts.atomic, Conflicts: []Conflict{}}
	sum.Counts.Received = len(rows)
	sum.Counts.Rejected = cs.rows
	sum.Counts.Accepted = len(obs)
	sum.Conflicts, sum.ConflictsOmitted = cs.entries()
	if opts.atomic && cs.rows > 0 {
		sum.Counts.Accepted = 0
		sum.Status = StatusError
		sum.Message = fmt.Sprintf("atomic push: nothing was published because %d of %d rows were rejected; fix them and send the push again", cs.rows, len(rows))
		return answer{Status: http.StatusUnprocessableEntity, Summary: sum}, nil
	}
	switch {
	case len(obs) == 0:
		sum.Status = StatusError
		sum.Message = fmt.Sprintf("no row was accepted: all %d were rejected; see conflicts", len(rows))
		return answer{Status: http.StatusUnprocessableEntity, Summary: sum}, nil
	case cs.rows > 0:
		sum.Status = StatusWarning
	default:
		sum.Status = StatusSuccess
	}
	qa := quality.New(quality.Rules{Indicators: inds})
	for i := range obs {
		qa.Add(&obs[i])
	}
	qa.Finish()
	for i := range obs {
		qa.Apply(i, &obs[i])
	}
	if len(qa.Counts) > 0 {
		sum.Quality = qa.Counts
	}
	if opts.dryRun {
		sum.Message = fmt.Sprintf("dry run: %d of %d rows would be accepted; nothing was published", len(obs), len(rows))
		return answer{Status: http.StatusOK, Summary: sum}, nil
	}
	batchID := newBatchID(now)
	pub, herr := s.publish(ctx, p, batchID, obs, now, opts.atomic)
	if herr != nil {
		return answer{}, herr
	}
	s.m.rowsOK.Add(float64(len(obs)))
	sum.BatchID = batchID
	sum.Messages = pub.messages
	if !pub.atomicBatch {
		sum.Counts.Ignored = &pub.ignoredRows
	}
	sum.Message = fmt.Sprintf("%d of %d rows accepted and stored in JetStream; GET /v1/batches/%s says when they are loaded", len(obs), len(rows), batchID)
	return answer{Status: http.StatusOK, Summary: sum}, nil
}

// dropDuplicates rejects every row whose natural key another row of the
// push also has: which of them is right cannot be known.
func (s *Service) dropDuplicates(obs []observation.Observation, rowN []int, cs *conflicts) ([]observation.Observation, []int) {
	first := make(map[string]int, len(obs))
	dup := map[int]bool{}
	var k []byte
	var keys []string
	for i := range obs {
		k, keys = appendKey(k[:0], keys, &obs[i])
		if j, ok := first[string(k)]; ok {
			dup[i], dup[j] = true, true
			continue
		}
		first[string(k)] = i
	}
	if len(dup) == 0 {
		return obs, rowN
	}
	keepO, keepN := obs[:0], rowN[:0]
	for i := range obs {
		if !dup[i] {
			keepO, keepN = append(keepO, obs[i]), append(keepN, rowN[i])
			continue
		}
		cs.add(problem{code: ConflictDuplicateKey, message: "another row of this push has the same indicator, geo, period and dims; send each value once"}, rowN[i])
		cs.rows++
		s.m.rowsBad.WithLabelValues(ConflictDuplicateKey).Inc()
	}
	return keepO, keepN
}

// appendKey appends the natural key of o within a push (indicator, geo,
// period and dims; the source is the partner's) to b: each string length
// prefixed, dims sorted by key, so that two keys are equal only when
// observation.Key is. keys is scratch space, returned for reuse.
func appendKey(b []byte, keys []string, o *observation.Observation) ([]byte, []string) {
	str := func(s string) {
		b = strconv.AppendInt(b, int64(len(s)), 10)
		b = append(b, ':')
		b = append(b, s...)
	}
	str(o.Indicator)
	str(o.Geo)
	str(string(o.Period.Grain))
	b = strconv.AppendInt(b, o.Period.Start.Unix(), 10)
	b = append(b, ';')
	keys = keys[:0]
	for k := range o.Dims {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		str(k)
		str(o.Dims[k])
	}
	return b, keys
}

// newBatchID is time-ordered and unique: 20261128T102136Z-<12 hex>.
func newBatchID(now time.Time) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

type published struct {
	messages    int
	ignoredRows int
	atomicBatch bool // published as one JetStream atomic batch: duplicates are not reported
}

// publish encodes obs into batch messages, publishes them all without
// waiting in between, then waits until JetStream acknowledged every one: the
// push is durable when this returns nil. An atomic push of more than one
// message goes as one JetStream atomic batch when the stream allows it.
func (s *Service) publish(ctx context.Context, p *registry.Partner, batchID string, obs []observation.Observation, now time.Time, atomic bool) (published, *httpapi.Error) {
	subject, err := observation.Subject("partner", p.Source())
	if err != nil {
		return published{}, httpapi.Errorf(httpapi.CodeInternal, "", "partner subject: %v", err)
	}
	msgs, err := observation.Encode(batchID, obs, s.cfg.BatchBytes)
	if err != nil {
		return published{}, httpapi.Errorf(httpapi.CodeInternal, "", "encode observations: %v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.PublishTimeout)
	defer cancel()
	if atomic && len(msgs) > 1 && s.atomicBatches {
		if herr := s.publishAtomic(ctx, subject, batchID, msgs); herr != nil {
			return published{}, herr
		}
		out := published{messages: len(msgs), atomicBatch: true}
		ids := make([]string, len(msgs))
		for i, m := range msgs {
			ids[i] = m.MsgID
		}
		s.recordBatch(ctx, batchID, batchRecord{Partner: p.ID, Subject: subject, PublishedAt: now, Rows: len(obs), MessageIDs: ids})
		return out, nil
	}
	futures := make([]jetstream.PubAckFuture, len(msgs))
	for i, m := range msgs {
		nm := &nats.Msg{Subject: subject, Data: m.Data, Header: nats.Header{}}
		nm.Header.Set(jetstream.MsgIDHeader, m.MsgID)
		futures[i], err = s.js.PublishMsgAsync(nm)
		if err != nil {
			s.m.publishFail.Inc()
			return published{}, unavailable(err)
		}
	}
	out := published{messages: len(msgs)}
	ids := make([]string, len(msgs))
	var dups []string
	for i, f := range futures {
		select {
		case ack := <-f.Ok():
			if ack.Duplicate {
				out.ignoredRows += msgs[i].Count
				dups = append(dups, msgs[i].MsgID)
			}
			ids[i] = msgs[i].MsgID
		case err := <-f.Err():
			s.m.publishFail.Inc()
			return published{}, unavailable(err)
		case <-ctx.Done():
			s.m.publishFail.Inc()
			return published{}, unavailable(ctx.Err())
		}
	}
	s.m.published.Add(float64(len(msgs)))
	s.recordBatch(ctx, batchID, batchRecord{Partner: p.ID, Subject: subject, PublishedAt: now, Rows: len(obs), MessageIDs: ids, Duplicates: dups})
	return out, nil
}

// recordBatch stores where a published batch stands. The rows are durable
// already; a failure only leaves GET /v1/batches/{id} without it, so it is
// logged.
func (s *Service) recordBatch(ctx context.Context, batchID string, rec batchRecord) {
	if err := s.putBatch(ctx, batchID, rec); err != nil {
		s.log.Warn().Err(err).Str("batch_id", batchID).Msg("store batch status")
	}
}

// publishAtomic publishes msgs as one JetStream atomic batch (server 2.12+,
// stream with AllowAtomicPublish): the stream stores every message at the
// commit, or none. Each message but the last is sent as a request the
// server answers once it staged it; the last commits and is answered with
// the batch's acknowledgement or the reason the batch failed. The messages
// carry no Nats-Msg-Id, since one already in the duplicate window would
// fail the whole batch; they carry their content id in batchstatus.HeaderMsgID
// for the loader's load reports. Storing a push twice cannot count a row
// twice: the loader's insert is idempotent by key and version.
func (s *Service) publishAtomic(ctx context.Context, subject, batchID string, msgs []observation.Message) *httpapi.Error {
	if len(msgs) > maxAtomicMessages {
		return httpapi.Errorf(httpapi.CodePayloadTooLarge, "", "an atomic push may span at most %d messages of %d bytes; this one needs %d: split it, or push without atomic=true", maxAtomicMessages, s.cfg.BatchBytes, len(msgs))
	}
	nc := s.js.Conn()
	for i, m := range msgs {
		nm := &nats.Msg{Subject: subject, Data: m.Data, Header: nats.Header{}}
		nm.Header.Set(batchstatus.HeaderMsgID, m.MsgID)
		nm.Header.Set(headerBatchID, batchID)
		nm.Header.Set(headerBatchSeq, strconv.Itoa(i+1))
		last := i == len(msgs)-1
		if last {
			nm.Header.Set(headerBatchCommit, "1")
		}
		resp, err := nc.RequestMsgWithContext(ctx, nm)
		if err != nil {
			s.m.publishFail.Inc()
			return unavailable(fmt.Errorf("atomic batch message %d of %d: %w", i+1, len(msgs), err))
		}
		if err := atomicReplyError(resp.Data, last); err != nil {
			s.m.publishFail.Inc()
			return unavailable(fmt.Errorf("atomic batch message %d of %d: %w; none of it was stored", i+1, len(msgs), err))
		}
	}
	s.m.published.Add(float64(len(msgs)))
	return nil
}

// JetStream atomic batch publishing (ADR-50).
const (
	headerBatchID     = "Nats-Batch-Id"
	headerBatchSeq    = "Nats-Batch-Sequence"
	headerBatchCommit = "Nats-Batch-Commit"
	maxAtomicMessages = 1000 // the server's default batch size limit
)

// atomicReplyError reads the server's answer to a message of an atomic
// batch: empty for a staged message, a publish acknowledgement for the
// commit, or an error.
func atomicReplyError(data []byte, commit bool) error {
	if len(data) == 0 {
		if commit {
			return errors.New("empty answer to the commit")
		}
		return nil
	}
	var ack struct {
		Stream string `json:"stream"`
		Count  int    `json:"count"`
		Error  *struct {
			Code        int    `json:"code"`
			ErrCode     int    `json:"err_code"`
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(data, &ack); err != nil {
		return fmt.Errorf("unreadable answer %q: %w", data, err)
	}
	if ack.Error != nil {
		return fmt.Errorf("jetstream error %d: %s", ack.Error.ErrCode, ack.Error.Description)
	}
	if commit && ack.Stream == "" {
		return fmt.Errorf("the commit was not acknowledged: %q", data)
	}
	return nil
}

func unavailable(err error) *httpapi.Error {
	return httpapi.Errorf(httpapi.CodeUnavailable, "",
		"JetStream did not acknowledge every message of the push (%v); nothing is confirmed: send the same push again (with the same Idempotency-Key), which cannot count any row twice", err)
}
