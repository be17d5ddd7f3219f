package query

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ounce-data/ounce/pkg/extnats"
	"github.com/ounce-data/ounce/pkg/feedcat"
	"github.com/ounce-data/ounce/pkg/feedstatus"
	"github.com/ounce-data/ounce/pkg/httpapi"
)

// Values of FeedEntry.Status.
const (
	FeedOK       = "ok"        // the last run succeeded (new data or not modified)
	FeedFailing  = "failing"   // one or more runs failed since the last success
	FeedPartial  = "partial"   // the last success got less than the source declares (Missing says what)
	FeedNeverRun = "never_run" // no worker has recorded a run
)

// FeedsResponse is the body of GET /v1/feeds.
type FeedsResponse struct {
	Feeds []FeedEntry `json:"feeds"`
	Count int         `json:"count"`
}

// FeedEntry is one feed of the catalogue with the health the ingest
// workers recorded for it. The run fields are zero or null while the feed
// has never run.
type FeedEntry struct {
	ID          string `json:"id"`
	Format      string `json:"format"`
	Domain      string `json:"domain"`
	URL         string `json:"url"`
	Licence     string `json:"licence"`
	Attribution string `json:"attribution"`
	// Schedule is how often the feed runs, as a Go duration ("24h0m0s").
	Schedule string `json:"schedule"`
	Status   string `json:"status"`
	// Result of the last run: success, not_modified or error; empty when never run.
	Result      string     `json:"result"`
	LastAttempt *time.Time `json:"last_attempt"`
	LastSuccess *time.Time `json:"last_success"`
	// LastError is the most recent failure, kept after a later success.
	LastError *feedstatus.Error `json:"last_error"`
	NextRun   *time.Time        `json:"next_run"`
	// Rows, Observations and DurationSeconds are of the last run.
	Rows                int     `json:"rows"`
	Observations        int     `json:"observations"`
	DurationSeconds     float64 `json:"duration_seconds"`
	ConsecutiveFailures int     `json:"consecutive_failures"`
	// Worker is the ingest worker that ran it last.
	Worker string `json:"worker"`
	// Missing says what a partial feed's last successful run lacks of what
	// the source declares; absent when it got everything.
	Missing string `json:"missing,omitempty"`
	// Quality counts the last successful run's observations flagged by the
	// data-quality rules, by code; they are stored and served with their
	// codes. UnknownFlags counts its flag letters the feed's code list
	// (schemas/flags) lacks.
	Quality      map[string]int `json:"quality,omitempty"`
	UnknownFlags map[string]int `json:"unknown_flags,omitempty"`
}

// feeds answers GET /v1/feeds: every feed of the catalogue, merged with
// the status records the ingest workers keep in NATS.
func (s *Service) feeds(w http.ResponseWriter, r *http.Request) {
	if !s.noParams(w, r) {
		return
	}
	if s.cfg.JetStream == nil {
		httpapi.WriteError(w, httpapi.Errorf(httpapi.CodeUnavailable, "",
			"NATS is not configured: feed health is kept in NATS; start the query service with --nats-url (or OUNCE_NATS_URL)"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	recorded, err := s.readFeedStatus(ctx)
	if err != nil {
		id := httpapi.RequestID(r.Context())
		s.log.Warn().Err(err).Str("route", r.Pattern).Str("request_id", id).Msg("nats unavailable")
		httpapi.WriteError(w, httpapi.Errorf(httpapi.CodeUnavailable, "", "NATS is not answering; retry shortly"))
		return
	}
	resp := FeedsResponse{Feeds: make([]FeedEntry, 0, len(s.cfg.Feeds)), Count: len(s.cfg.Feeds)}
	for _, f := range s.cfg.Feeds {
		st, ok := recorded[f.ID]
		resp.Feeds = append(resp.Feeds, feedEntry(f, st, ok))
	}
	s.writeCached(w, r, resp)
}

// readFeedStatus reads every status record. No bucket yet means no ingest
// worker has started: no records. A record that does not decode is logged
// and its feed shown as never run.
func (s *Service) readFeedStatus(ctx context.Context) (map[string]feedstatus.Status, error) {
	kv, err := s.cfg.JetStream.KeyValue(ctx, extnats.BucketFeedStatus)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	recorded, bad, err := feedstatus.All(ctx, kv)
	for _, b := range bad {
		s.log.Warn().Err(b).Msg("feed status record unreadable")
	}
	return recorded, err
}

func feedEntry(f feedcat.Feed, st feedstatus.Status, ok bool) FeedEntry {
	e := FeedEntry{
		ID: f.ID, Format: f.Format, Domain: f.Domain, URL: f.URL, Licence: f.Licence, Attribution: f.Attribution,
		Schedule: f.Schedule.String(), Status: FeedNeverRun,
	}
	if !ok {
		return e
	}
	e.Status = FeedOK
	switch {
	case st.ConsecutiveFailures > 0:
		e.Status = FeedFailing
	case st.Incomplete != "":
		e.Status = FeedPartial
	}
	e.Missing, e.Quality, e.UnknownFlags = st.Incomplete, st.Quality, st.UnknownFlags
	e.Result, e.Worker = st.Result, st.Worker
	e.LastAttempt, e.LastSuccess, e.NextRun = utcPtr(st.LastAttempt), st.LastSuccess, utcPtr(st.NextRun)
	if e.LastSuccess != nil {
		e.LastSuccess = utcPtr(*e.LastSuccess)
	}
	if st.LastError != nil {
		le := *st.LastError
		le.Time = le.Time.UTC()
		e.LastError = &le
	}
	e.Rows, e.Observations, e.DurationSeconds, e.ConsecutiveFailures = st.Rows, st.Observations, st.DurationSeconds, st.ConsecutiveFailures
	return e
}

// utcPtr is t in UTC, or nil for the zero time.
func utcPtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}
