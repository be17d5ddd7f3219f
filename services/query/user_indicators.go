package query

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ounce-data/ounce/pkg/extch"
	"github.com/ounce-data/ounce/pkg/httpapi"
	"github.com/ounce-data/ounce/pkg/lifecycle"
	"github.com/ounce-data/ounce/pkg/userindicators"
	"github.com/ounce-data/ounce/services/query/savings"
)

// MaxIndicatorBytes bounds the body of a user indicator write.
const MaxIndicatorBytes = userindicators.MaxDocumentBytes

// Mirror of the user indicators into ClickHouse: how often it is checked
// without a change, and the backoff of a failed attempt.
const (
	mirrorInterval   = time.Minute
	mirrorRetryMin   = time.Second
	mirrorRetryMax   = 30 * time.Second
	watchRetryMax    = 30 * time.Second
	natsWriteTimeout = 10 * time.Second
)

// indicatorTag is the ETag of one revision of a user indicator, as POST
// and PUT answer it: "v<revision>".
func indicatorTag(rev uint64) string { return `"v` + strconv.FormatUint(rev, 10) + `"` }

// indicatorTagMatch reports whether an If-Match value names revision rev:
// "*", the "v<rev>" POST and PUT answer, or the "v<rev>-<digest>" GET
// /v1/indicators/{code} answers (its digest covers the coverage too, which
// a write does not change, so only the revision counts). Weak tags never
// match.
func indicatorTagMatch(ifMatch string, rev uint64) bool {
	want := "v" + strconv.FormatUint(rev, 10)
	for _, c := range strings.Split(ifMatch, ",") {
		c = strings.TrimSpace(c)
		if c == "*" {
			return true
		}
		inner, ok := strings.CutPrefix(c, `"`)
		if !ok || !strings.HasSuffix(inner, `"`) {
			continue
		}
		inner = strings.TrimSuffix(inner, `"`)
		if r, _, _ := strings.Cut(inner, "-"); r == want {
			return true
		}
	}
	return false
}

// natsUnavailable is the answer when user indicators cannot be written or
// read because NATS is not configured or not answering.
func (s *Service) natsUnavailable(r *http.Request, err error) *httpapi.Error {
	if s.users == nil {
		return httpapi.Errorf(httpapi.CodeUnavailable, "",
			"NATS is not configured: user indicators are kept in NATS; start the query service with --nats-url (or OUNCE_NATS_URL)")
	}
	s.log.Warn().Err(err).Str("route", r.Pattern).Str("request_id", httpapi.RequestID(r.Context())).Msg("nats unavailable")
	return httpapi.Errorf(httpapi.CodeUnavailable, "", "NATS is not answering; retry shortly")
}

// readIndicatorBody decodes a user indicator write's body and checks it
// (userindicators.Decode and Document.Check, and that no user indicator
// using it as a part would become a ratio of a ratio), answering every
// problem at once; pathCode, when set, is the code the path names.
func (s *Service) readIndicatorBody(w http.ResponseWriter, r *http.Request, pathCode string) (userindicators.Document, bool) {
	body, ok := readJSONBody(w, r, "the user indicator", MaxIndicatorBytes, "its document is a few hundred")
	if !ok {
		return userindicators.Document{}, false
	}
	d, err := userindicators.Decode(body)
	var ps []userindicators.Problem
	if err == nil {
		if pathCode != "" {
			switch d.Code {
			case "":
				d.Code = pathCode
			case pathCode:
			default:
				ps = append(ps, userindicators.Problem{Field: "code",
					Message: fmt.Sprintf("code %q differs from the path's %q; they must be equal (or leave code out)", d.Code, pathCode)})
			}
		}
		err = d.Check(s.lookup(r.Context()))
	}
	var ie *userindicators.InvalidError
	if err != nil && !errors.As(err, &ie) {
		httpapi.WriteError(w, httpapi.Errorf(httpapi.CodeInternal, "", "the user indicator could not be checked; the log has details"))
		s.log.Error().Err(err).Msg("check user indicator")
		return userindicators.Document{}, false
	}
	if ie != nil {
		ps = append(ps, ie.Problems...)
	}
	if d.Aggregation.Method == userindicators.MethodRatio && s.watch != nil {
		if deps := userindicators.Dependents(d.Code, s.watch.List()); len(deps) > 0 {
			ps = append(ps, userindicators.Problem{Field: "aggregation.method", Message: fmt.Sprintf(
				"%s is a part of the ratio %s, and a part cannot itself be a ratio; keep it sum or avg", d.Code, strings.Join(deps, ", "))})
		}
	}
	if len(ps) > 0 {
		httpapi.WriteError(w, invalidIndicator(ps))
		return userindicators.Document{}, false
	}
	return d, true
}

// invalidIndicator is the 422 answer listing every problem of a document
// in its order of fields.
func invalidIndicator(ps []userindicators.Problem) *httpapi.Error {
	order := []string{"code", "name", "description", "unit", "scale", "polarity", "domain", "aggregation", "licence", "range"}
	rank := func(field string) int {
		top, _, _ := strings.Cut(field, ".")
		if i := slices.Index(order, top); i >= 0 {
			return i
		}
		if field == "" {
			return -1
		}
		return len(order)
	}
	slices.SortStableFunc(ps, func(a, b userindicators.Problem) int { return rank(a.Field) - rank(b.Field) })
	msgs := make([]string, len(ps))
	errs := make([]httpapi.Problem, len(ps))
	for i, p := range ps {
		msgs[i], errs[i] = p.String(), httpapi.Problem{Field: p.Field, Message: p.Message}
	}
	msg := ps[0].Message
	if len(ps) > 1 {
		msg = strings.Join(msgs, "; ")
	}
	return &httpapi.Error{Code: httpapi.CodeInvalidIndicator, Field: ps[0].Field, Message: msg, Errors: errs}
}

// createIndicator answers POST /v1/indicators: it registers a user
// indicator whose code is not registered.
func (s *Service) createIndicator(w http.ResponseWriter, r *http.Request) {
	if !s.noParams(w, r) {
		return
	}
	d, ok := s.readIndicatorBody(w, r, "")
	if !ok {
		return
	}
	if s.users == nil {
		httpapi.WriteError(w, s.natsUnavailable(r, nil))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), natsWriteTimeout)
	defer cancel()
	st, err := s.users.Create(ctx, d)
	switch {
	case errors.Is(err, userindicators.ErrExists):
		httpapi.WriteError(w, httpapi.Errorf(httpapi.CodeConflict, "code",
			"user indicator %q is registered already; change it with PUT /v1/indicators/%s or choose another code", d.Code, d.Code))
		return
	case err != nil:
		httpapi.WriteError(w, s.natsUnavailable(r, err))
		return
	}
	s.storedIndicator(w, r, "create", st, http.StatusCreated)
}

// putIndicator answers PUT /v1/indicators/{code}: it replaces the user
// indicator or registers it, under If-Match and If-None-Match as PUT
// /v1/initiatives/{id} does.
func (s *Service) putIndicator(w http.ResponseWriter, r *http.Request) {
	if !s.noParams(w, r) {
		return
	}
	code := r.PathValue("code")
	d, ok := s.readIndicatorBody(w, r, code)
	if !ok {
		return
	}
	if s.users == nil {
		httpapi.WriteError(w, s.natsUnavailable(r, nil))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), natsWriteTimeout)
	defer cancel()
	cur, err := s.users.Get(ctx, code)
	live := err == nil
	if err != nil && !errors.Is(err, userindicators.ErrNotFound) {
		httpapi.WriteError(w, s.natsUnavailable(r, err))
		return
	}
	if match := r.Header.Get("If-Match"); match != "" && (!live || !indicatorTagMatch(match, cur.Revision)) {
		httpapi.WriteError(w, httpapi.Errorf(httpapi.CodePreconditionFail, "If-Match",
			"user indicator %q changed since you read it (or is gone); GET it again, reapply your change and retry (If-Match takes the strong ETag \"v<revision>…\", never W/)", code))
		return
	}
	// If-None-Match compares weakly (RFC 9110): W/"v7" names revision 7 too.
	if inm := r.Header.Get("If-None-Match"); inm != "" && live && indicatorTagMatch(strings.ReplaceAll(inm, "W/", ""), cur.Revision) {
		httpapi.WriteError(w, httpapi.Errorf(httpapi.CodePreconditionFail, "If-None-Match",
			"user indicator %q exists (revision %d); with If-None-Match: * the PUT only creates. GET it and PUT with If-Match to change it", code, cur.Revision))
		return
	}
	if live && cur.Unit != d.Unit {
		sources, err := s.store.sourcesOf(ctx, code)
		if err != nil {
			httpapi.WriteError(w, s.storeError(r, err))
			return
		}
		if len(sources) > 0 {
			httpapi.WriteError(w, httpapi.Errorf(httpapi.CodeConflict, "unit",
				"%s has observations stored in %q (%s); its unit cannot change under them: register another code for values in %q", code, cur.Unit, describeSources(sources), d.Unit))
			return
		}
	}
	var st userindicators.Stored
	status, action := http.StatusOK, "replace"
	if live {
		st, err = s.users.Update(ctx, d, cur.Revision)
	} else {
		status, action = http.StatusCreated, "create"
		st, err = s.users.Create(ctx, d)
	}
	switch {
	case errors.Is(err, userindicators.ErrChanged), errors.Is(err, userindicators.ErrExists), errors.Is(err, userindicators.ErrNotFound):
		httpapi.WriteError(w, httpapi.Errorf(httpapi.CodeConflict, "code",
			"user indicator %q changed while this write was made; GET it again and retry", code))
		return
	case err != nil:
		httpapi.WriteError(w, s.natsUnavailable(r, err))
		return
	}
	s.storedIndicator(w, r, action, st, status)
}

// storedIndicator answers a write of st: the document as stored, its
// revision as ETag.
func (s *Service) storedIndicator(w http.ResponseWriter, r *http.Request, action string, st userindicators.Stored, status int) {
	s.watch.Apply(st) // this replica's next read sees its own write
	s.userIndicatorsChanged()
	s.auditIndicator(r, action, st.Code, st.Revision)
	body, err := userindicators.Encode(st.Document)
	if err != nil {
		httpapi.WriteError(w, httpapi.Errorf(httpapi.CodeInternal, "", "the user indicator was stored but could not be shown; GET it"))
		s.log.Error().Err(err).Msg("encode user indicator")
		return
	}
	h := w.Header()
	h.Set("ETag", indicatorTag(st.Revision))
	h.Set("Location", "/v1/indicators/"+st.Code)
	h.Set("Content-Type", httpapi.ContentTypeJSON)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// deleteIndicator answers DELETE /v1/indicators/{code}, under If-Match.
// An indicator still in use is refused (409 naming every use): stored
// observations (which no API deletes: they would be left under a code no
// query can name), initiatives targeting it or using it as their
// population, and user indicators that are ratios of it.
func (s *Service) deleteIndicator(w http.ResponseWriter, r *http.Request) {
	if !s.noParams(w, r) {
		return
	}
	code := r.PathValue("code")
	if !userindicators.IsUser(code) {
		if _, ok := s.inds.Catalogue.Indicator(code); ok {
			httpapi.WriteError(w, httpapi.Errorf(httpapi.CodeConflict, "code",
				"%s is an indicator of the catalogue (schemas/catalogue); only user indicators (user.<namespace>.<name>) are deleted through the API", code))
			return
		}
	}
	if s.users == nil {
		httpapi.WriteError(w, s.natsUnavailable(r, nil))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), natsWriteTimeout)
	defer cancel()
	cur, err := s.users.Get(ctx, code)
	switch {
	case errors.Is(err, userindicators.ErrNotFound):
		httpapi.WriteError(w, httpapi.Errorf(httpapi.CodeNotFound, "code", "no user indicator %q; GET /v1/indicators lists them", code))
		return
	case err != nil:
		httpapi.WriteError(w, s.natsUnavailable(r, err))
		return
	}
	match := r.Header.Get("If-Match")
	if match != "" && !indicatorTagMatch(match, cur.Revision) {
		httpapi.WriteError(w, httpapi.Errorf(httpapi.CodePreconditionFail, "If-Match",
			"user indicator %q changed since you read it; GET it again and retry", code))
		return
	}
	uses, err := s.usesOf(ctx, code)
	if err != nil {
		var ne natsError
		if errors.As(err, &ne) {
			httpapi.WriteError(w, s.natsUnavailable(r, err))
		} else {
			httpapi.WriteError(w, s.storeError(r, err))
		}
		return
	}
	if len(uses) > 0 {
		httpapi.WriteError(w, httpapi.Errorf(httpapi.CodeConflict, "code", "%s is in use, so it stays: %s", code, strings.Join(uses, "; ")))
		return
	}
	err = s.users.Delete(ctx, code, cur.Revision)
	switch {
	case errors.Is(err, userindicators.ErrNotFound):
		httpapi.WriteError(w, httpapi.Errorf(httpapi.CodeNotFound, "code", "no user indicator %q; GET /v1/indicators lists them", code))
		return
	case errors.Is(err, userindicators.ErrChanged) && match != "":
		httpapi.WriteError(w, httpapi.Errorf(httpapi.CodePreconditionFail, "If-Match",
			"user indicator %q changed since you read it; GET it again and retry", code))
		return
	case errors.Is(err, userindicators.ErrChanged):
		httpapi.WriteError(w, httpapi.Errorf(httpapi.CodeConflict, "code",
			"user indicator %q changed while it was being deleted; GET it again and retry", code))
		return
	case err != nil:
		httpapi.WriteError(w, s.natsUnavailable(r, err))
		return
	}
	// The deletion's own time comes with the watch; until then this
	// replica's view forgets the code at once.
	s.watch.Apply(userindicators.Stored{Document: userindicators.Document{Code: code}, Revision: cur.Revision, Updated: cur.Updated, Deleted: true})
	s.userIndicatorsChanged()
	s.auditIndicator(r, "delete", code, cur.Revision)
	w.WriteHeader(http.StatusNoContent)
}

// natsError marks an error of NATS among those usesOf returns.
type natsError struct{ error }

func (e natsError) Unwrap() error { return e.error }

// usesOf lists what uses code: stored observations by source, live
// initiatives naming it, and user indicators that are ratios of it.
func (s *Service) usesOf(ctx context.Context, code string) ([]string, error) {
	var uses []string
	sources, err := s.store.sourcesOf(ctx, code)
	if err != nil {
		return nil, err
	}
	if len(sources) > 0 {
		uses = append(uses, "observations are stored ("+describeSources(sources)+"), and no API deletes observations")
	}
	stored, order, err := s.store.initiatives(ctx, "")
	if err != nil {
		return nil, err
	}
	var ins []string
	for _, id := range order {
		in, err := savings.Decode(strings.NewReader(stored[id].Doc))
		if err != nil {
			s.log.Error().Err(err).Str("initiative", id).Msg("stored initiative does not decode")
			continue
		}
		if in.Indicator == code || in.Population != nil && in.Population.Indicator == code {
			ins = append(ins, id)
		}
	}
	if len(ins) > 0 {
		uses = append(uses, "initiatives "+strings.Join(ins, ", ")+" use it (DELETE or PUT them first)")
	}
	all, err := s.users.List(ctx)
	if err != nil {
		return nil, natsError{err}
	}
	if deps := userindicators.Dependents(code, all); len(deps) > 0 {
		uses = append(uses, "user indicators "+strings.Join(deps, ", ")+" are ratios of it (DELETE them first)")
	}
	return uses, nil
}

// describeSources is "12 from partner:testcouncil, 3 from owid-co2".
func describeSources(sources []sourceCount) string {
	parts := make([]string, len(sources))
	for i, sc := range sources {
		parts[i] = fmt.Sprintf("%d from %s", sc.Rows, sc.Source)
	}
	return strings.Join(parts, ", ")
}

// auditIndicator logs and counts an analyst's stored change to user
// indicator code, as auditWrite does for initiatives.
func (s *Service) auditIndicator(r *http.Request, action, code string, rev uint64) {
	s.indicatorWrites.WithLabelValues(action).Inc()
	s.log.Info().Bool("audit", true).Str("who", "analyst token").Str("remote", r.RemoteAddr).
		Str("request_id", httpapi.RequestID(r.Context())).Str("action", action).Str("indicator", code).
		Uint64("revision", rev).Msg("user indicator " + action)
}

// userIndicatorsChanged makes a change to the user indicators visible: the
// data watermark moves (GET /v1/indicators is not answered 304 from
// before), and the ClickHouse mirror wakes.
func (s *Service) userIndicatorsChanged() {
	s.fresh.bump()
	select {
	case s.mirror <- struct{}{}:
	default:
	}
}

// RunUserIndicators keeps the view of the user indicators in step with
// their bucket, and the ClickHouse indicators table in step with the
// view, until ctx ends; without NATS it only waits. Serve runs it; tests
// that drive Handler directly call it.
func (s *Service) RunUserIndicators(ctx context.Context) error {
	if s.watch == nil {
		<-ctx.Done()
		return nil
	}
	return lifecycle.Run(ctx,
		lifecycle.Component{Name: "user indicators watch", Run: s.runWatch},
		lifecycle.Component{Name: "user indicators mirror", Run: s.runMirror},
	)
}

// runWatch watches the bucket, again after a failure (NATS away, the
// bucket not created yet), with backoff.
func (s *Service) runWatch(ctx context.Context) error {
	wait := mirrorRetryMin
	for {
		err := s.watch.Run(ctx)
		if ctx.Err() != nil {
			return nil
		}
		s.log.Warn().Err(err).Dur("retry_in", wait).Msg("watch user indicators; lookups read the bucket meanwhile")
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(jitter(wait)):
		}
		wait = min(2*wait, watchRetryMax)
	}
}

// runMirror writes the view into the ClickHouse indicators table (origin
// user) once it is read, after every change, and every mirrorInterval;
// a failed write is retried with backoff. Each replica mirrors its own
// view: rows carry the bucket's time of their revision as version, so
// replicas write the same rows and a lagging one never overwrites a newer
// row.
func (s *Service) runMirror(ctx context.Context) error {
	if err := s.watch.WaitReady(ctx); err != nil {
		return nil
	}
	wait := mirrorRetryMin
	for {
		next := mirrorInterval
		if err := s.mirrorOnce(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			s.mirrorErrors.Inc()
			s.log.Warn().Err(err).Dur("retry_in", wait).Msg("mirror user indicators into clickhouse")
			next, wait = jitter(wait), min(2*wait, mirrorRetryMax)
		} else {
			wait = mirrorRetryMin
		}
		t := time.NewTimer(next)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-s.mirror:
		case <-t.C:
		}
		t.Stop()
	}
}

func (s *Service) mirrorOnce(ctx context.Context) error {
	snap := s.watch.Snapshot()
	rows := make([]extch.MirrorRow, 0, len(snap))
	for _, st := range snap {
		rows = append(rows, extch.MirrorRow{Indicator: st.Indicator(), Deleted: st.Deleted, Version: uint64(st.Updated.UnixNano())})
	}
	mctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	n, err := extch.MirrorUserIndicators(mctx, s.store.conn, rows)
	if err != nil {
		return err
	}
	if n > 0 {
		s.mirrorWrites.Add(float64(n))
		s.log.Debug().Int("rows", n).Msg("user indicators mirrored into clickhouse")
	}
	return nil
}

func jitter(d time.Duration) time.Duration {
	return d/2 + time.Duration(rand.Int64N(int64(d)/2+1))
}
