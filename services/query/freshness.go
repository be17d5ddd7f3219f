package query

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/ounce-data/ounce/pkg/httpapi"
)

// DefaultFreshnessInterval is how long the service trusts what it last
// learnt about ClickHouse's data before asking again (Config.FreshnessInterval).
const DefaultFreshnessInterval = time.Second

// maxCachedTags bounds the ETags remembered; past it the cache starts afresh.
const maxCachedTags = 20_000

// freshness lets dashboards poll cheaply: it remembers the ETag each
// request last got together with the data watermark it was computed at,
// and answers If-None-Match with 304 from memory while the watermark has
// not moved. The watermark is read at most once per interval however many
// requests arrive, so polling costs ClickHouse one metadata query per
// interval instead of one query per request. A write is seen within one
// interval (or at once when made through this service: see bump).
//
// Its clock and its watermark reader are given to it (newFreshness), so
// that tests can move time and data explicitly.
type freshness struct {
	read     func(context.Context) (string, error) // the data watermark: store.watermark
	interval time.Duration
	now      func() time.Time // the clock the watermark's age is measured by: time.Now

	mu      sync.Mutex
	mark    string
	readAt  time.Time
	bumps   uint64
	reading chan struct{} // closed when the read in flight ends; nil when none
	tags    map[string]cachedTag
}

type cachedTag struct {
	mark string
	etag string
}

// newFreshness trusts each watermark read returns for interval, as
// measured by now.
func newFreshness(read func(context.Context) (string, error), interval time.Duration, now func() time.Time) *freshness {
	return &freshness{read: read, interval: interval, now: now, tags: map[string]cachedTag{}}
}

// current is the data watermark, read again when older than the interval.
// Concurrent callers share one read.
func (f *freshness) current(ctx context.Context) (string, error) {
	for {
		f.mu.Lock()
		if f.mark != "" && f.now().Sub(f.readAt) < f.interval {
			m := f.mark
			f.mu.Unlock()
			return m, nil
		}
		if wait := f.reading; wait != nil {
			f.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
		done := make(chan struct{})
		f.reading = done
		bumps := f.bumps
		f.mu.Unlock()

		m, err := f.read(ctx)
		f.mu.Lock()
		f.reading = nil
		close(done)
		if err != nil {
			f.mark = ""
			f.mu.Unlock()
			return "", err
		}
		f.mark, f.readAt = m+"/"+strconv.FormatUint(bumps, 10), f.now()
		f.mu.Unlock()
		return m + "/" + strconv.FormatUint(bumps, 10), nil
	}
}

// bump forgets the watermark after a write made through this service, so
// that the writer's next read sees its own write at once.
func (f *freshness) bump() {
	f.mu.Lock()
	f.bumps++
	f.mark = ""
	f.mu.Unlock()
}

// conditional wraps a GET handler whose 200 answers carry an ETag.
func (f *freshness) conditional(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.ServeHTTP(w, r)
			return
		}
		key := r.URL.RequestURI() + "\x00" + r.Header.Get("Accept")
		mark, err := f.current(r.Context())
		if err != nil {
			h.ServeHTTP(w, r) // the handler reports ClickHouse's trouble itself
			return
		}
		if inm := r.Header.Get("If-None-Match"); inm != "" {
			f.mu.Lock()
			c, ok := f.tags[key]
			f.mu.Unlock()
			if ok && c.mark == mark && httpapi.ETagMatch(inm, c.etag) {
				h := w.Header()
				h.Set("ETag", c.etag)
				h.Set("Cache-Control", "no-cache")
				w.WriteHeader(http.StatusNotModified)
				return
			}
		}
		rec := &tagRecorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		if (rec.status == http.StatusOK || rec.status == http.StatusNotModified) && rec.etag != "" {
			f.mu.Lock()
			if len(f.tags) >= maxCachedTags {
				clear(f.tags)
			}
			f.tags[key] = cachedTag{mark: mark, etag: rec.etag}
			f.mu.Unlock()
		}
	})
}

// tagRecorder notes the status and ETag a handler answers with.
type tagRecorder struct {
	http.ResponseWriter
	status int
	etag   string
}

func (t *tagRecorder) WriteHeader(status int) {
	if t.status == 0 {
		t.status = status
		t.etag = t.Header().Get("ETag")
	}
	t.ResponseWriter.WriteHeader(status)
}

func (t *tagRecorder) Write(b []byte) (int, error) {
	if t.status == 0 {
		t.WriteHeader(http.StatusOK)
	}
	return t.ResponseWriter.Write(b)
}

func (t *tagRecorder) Unwrap() http.ResponseWriter { return t.ResponseWriter }
