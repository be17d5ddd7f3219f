package query

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	chdriver "github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/ounce-data/ounce/pkg/httpapi"
)

// DefaultFreshnessInterval is how long the service trusts what it last
// learnt about ClickHouse's data before asking again (Config.FreshnessInterval).
const DefaultFreshnessInterval = time.Second

// maxCachedTags bounds the ETags remembered; past it the cache starts afresh.
const maxCachedTags = 20_000

// watermarkSQL reads, from ClickHouse's own metadata, the highest block
// number inserted into each table the API reads. Every INSERT takes a new
// block number; merges keep the highest of the parts they merge, so the
// mark moves when data is written and not when the server tidies up.
const watermarkSQL = `SELECT table, max(max_block_number)
FROM system.parts
WHERE database = currentDatabase() AND active AND table IN ('observations', 'places', 'initiatives', 'indicators')
GROUP BY table
ORDER BY table`

// freshness lets dashboards poll cheaply: it remembers the ETag each
// request last got together with the data watermark it was computed at,
// and answers If-None-Match with 304 from memory while the watermark has
// not moved. The watermark is read at most once per interval however many
// requests arrive, so polling costs ClickHouse one metadata query per
// interval instead of one query per request. A write is seen within one
// interval (or at once when made through this service: see bump).
type freshness struct {
	conn     chdriver.Conn
	interval time.Duration
	now      func() time.Time

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

func newFreshness(conn chdriver.Conn, interval time.Duration) *freshness {
	return &freshness{conn: conn, interval: interval, now: time.Now, tags: map[string]cachedTag{}}
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

		m, err := readWatermark(ctx, f.conn)
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

func readWatermark(ctx context.Context, conn chdriver.Conn) (string, error) {
	rows, err := conn.Query(ctx, watermarkSQL)
	if err != nil {
		return "", fmt.Errorf("query data watermark: %w", err)
	}
	var b strings.Builder
	for rows.Next() {
		var (
			table string
			block int64
		)
		if err := rows.Scan(&table, &block); err != nil {
			return "", errors.Join(fmt.Errorf("scan data watermark: %w", err), rows.Close())
		}
		fmt.Fprintf(&b, "%s:%d;", table, block)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return "", fmt.Errorf("read data watermark: %w", err)
	}
	return b.String(), nil
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
