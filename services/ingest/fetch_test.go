package ingest_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/feedcat"
	"github.com/ounce-data/ounce/pkg/testenv"
	"github.com/ounce-data/ounce/services/ingest"
)

// recorded is the real OWID file.
func recorded(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.SharedDataDir(t), "owid/co2/owid-co2-data.csv"))
	require.NoError(t, err)
	return data
}

// recordedHead is the header and the first n rows of the real file, bytes
// as they are: enough for tests of the machinery, and quicker to publish.
func recordedHead(t *testing.T, n int) []byte {
	t.Helper()
	data := recorded(t)
	end := 0
	for range n + 1 {
		i := bytes.IndexByte(data[end:], '\n')
		require.GreaterOrEqual(t, i, 0)
		end += i + 1
	}
	return data[:end]
}

// headMirror is a mirror directory holding recordedHead(n) at the feed's path.
func headMirror(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "owid", "co2", "owid-co2-data.csv")
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, recordedHead(t, n), 0o644))
	return dir
}

// headRows is how many rows the quicker tests use.
const headRows = 3000

// origin serves body with validators and answers conditional GETs.
type origin struct {
	body         []byte
	etag         string
	lastModified time.Time
	requests     atomic.Int32
	notModified  atomic.Int32
	mu           sync.Mutex
	userAgents   []string
}

func (o *origin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.requests.Add(1)
	o.mu.Lock()
	o.userAgents = append(o.userAgents, r.Header.Get("User-Agent"))
	o.mu.Unlock()
	if o.etag != "" {
		w.Header().Set("ETag", o.etag)
	}
	if !o.lastModified.IsZero() {
		w.Header().Set("Last-Modified", o.lastModified.UTC().Format(http.TimeFormat))
	}
	if o.etag != "" && r.Header.Get("If-None-Match") == o.etag {
		o.notModified.Add(1)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "text/csv")
	w.Header().Set("Content-Length", strconv.Itoa(len(o.body)))
	_, _ = w.Write(o.body)
}

func atURL(u string) func(*feedcat.Feed) { return func(f *feedcat.Feed) { f.URL = u } }

func TestHTTPConditionalGet(t *testing.T) {
	data := recordedHead(t, headRows)
	o := &origin{body: data, etag: `"v1"`, lastModified: time.Date(2020, 12, 9, 10, 0, 0, 0, time.UTC)}
	srv := httptest.NewServer(o)
	t.Cleanup(srv.Close)
	e := newEnv(t, ingest.Config{UserAgent: "ounce-test/1"}, atURL(srv.URL+"/owid-co2-data.csv"))

	res, err := e.in.RunFeed(ctxT(t), feedID)
	require.NoError(t, err)
	require.Equal(t, uint64(o.lastModified.UnixMilli()), res.Version, "version is Last-Modified in Unix milliseconds")
	require.Equal(t, e.feed.URL, res.Source)
	require.Equal(t, len(parse(t, e, data, res.Version)), res.Observations)
	msgs := e.streamCount(t)
	require.Equal(t, uint64(res.Messages), msgs)

	cp, ok, err := e.in.Checkpoint(ctxT(t), feedID)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, `"v1"`, cp.ETag)
	require.Equal(t, o.lastModified.Format(http.TimeFormat), cp.LastModified)

	// Unchanged at the origin: 304, nothing published, checkpoint kept.
	res2, err := e.in.RunFeed(ctxT(t), feedID)
	require.NoError(t, err)
	require.True(t, res2.NotModified)
	require.Zero(t, res2.Messages)
	require.Equal(t, res.Version, res2.Version)
	require.Equal(t, int32(1), o.notModified.Load())
	require.Equal(t, msgs, e.streamCount(t))
	require.Equal(t, 1.0, runs(t, e, ingest.ResultSuccess))
	require.Equal(t, 1.0, runs(t, e, ingest.ResultNotModified))

	// Changed at the origin: a new ETag and date, a new version, all new messages.
	o.etag, o.lastModified = `"v2"`, o.lastModified.Add(24*time.Hour)
	res3, err := e.in.RunFeed(ctxT(t), feedID)
	require.NoError(t, err)
	require.False(t, res3.NotModified)
	require.Equal(t, uint64(o.lastModified.UnixMilli()), res3.Version)
	require.Zero(t, res3.Duplicates)
	require.Equal(t, 2*msgs, e.streamCount(t))

	require.Equal(t, []string{"ounce-test/1", "ounce-test/1", "ounce-test/1"}, o.userAgents)
}

func TestHTTPWithoutValidatorsKeepsVersionOfSameBody(t *testing.T) {
	// No ETag, no Last-Modified: the first version is the retrieval time;
	// a byte-identical body later keeps it, so its messages are duplicates.
	o := &origin{body: recordedHead(t, headRows)}
	srv := httptest.NewServer(o)
	t.Cleanup(srv.Close)
	now := fixedClock
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e := newEnv(t, ingest.Config{Clock: clock}, atURL(srv.URL+"/data.csv"))

	res, err := e.in.RunFeed(ctxT(t), feedID)
	require.NoError(t, err)
	require.Equal(t, uint64(fixedClock.UnixMilli()), res.Version)

	mu.Lock()
	now = now.Add(time.Hour)
	mu.Unlock()
	res2, err := e.in.RunFeed(ctxT(t), feedID)
	require.NoError(t, err)
	require.Equal(t, res.Version, res2.Version)
	require.Equal(t, res2.Messages, res2.Duplicates)
}

func TestHTTPRetries(t *testing.T) {
	data := recordedHead(t, headRows)
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			http.Error(w, "upstream busy", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write(data)
	}))
	t.Cleanup(srv.Close)
	e := newEnv(t, ingest.Config{RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond}, atURL(srv.URL))
	res, err := e.in.RunFeed(ctxT(t), feedID)
	require.NoError(t, err)
	require.Equal(t, int32(3), calls.Load())
	require.Positive(t, res.Observations)
}

func TestHTTPFailures(t *testing.T) {
	data := recordedHead(t, headRows)
	tests := []struct {
		name        string
		handler     http.HandlerFunc
		cfg         ingest.Config
		wantCalls   int32
		errContains []string
	}{
		{
			name:        "not found is not retried",
			handler:     func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "no such file", http.StatusNotFound) },
			wantCalls:   1,
			errContains: []string{"http status 404 Not Found", `"no such file"`},
		},
		{
			name:        "server errors are retried, then given up",
			handler:     func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "boom", http.StatusBadGateway) },
			wantCalls:   ingest.DefaultFetchAttempts,
			errContains: []string{"http status 502 Bad Gateway"},
		},
		{
			name: "html error page with status 200",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				_, _ = w.Write([]byte("<!DOCTYPE html><html><body><h1>Service unavailable</h1></body></html>\n"))
			},
			wantCalls:   1,
			errContains: []string{"HTML", "not CSV"},
		},
		{
			name: "body cut short of its content length",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Length", strconv.Itoa(len(data)))
				_, _ = w.Write(data[:len(data)/2])
			},
			wantCalls:   ingest.DefaultFetchAttempts,
			errContains: []string{"read body", "unexpected EOF"},
		},
		{
			name:        "body over the limit",
			handler:     func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(data) },
			cfg:         ingest.Config{MaxBodyBytes: 64 << 10},
			wantCalls:   1,
			errContains: []string{"larger than the limit of 65536 bytes"},
		},
		{
			name: "timeout",
			handler: func(w http.ResponseWriter, r *http.Request) {
				<-r.Context().Done()
			},
			cfg:         ingest.Config{HTTPTimeout: time.Second, FetchAttempts: 1},
			wantCalls:   1,
			errContains: []string{"context deadline exceeded"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				tt.handler(w, r)
			}))
			t.Cleanup(srv.Close)
			cfg := tt.cfg
			cfg.RetryMin, cfg.RetryMax = time.Millisecond, 5*time.Millisecond
			e := newEnv(t, cfg, atURL(srv.URL+"/owid-co2-data.csv"))
			_, err := e.in.RunFeed(ctxT(t), feedID)
			require.Error(t, err)
			require.ErrorContains(t, err, "run feed owid-co2")
			for _, want := range tt.errContains {
				require.ErrorContains(t, err, want)
			}
			require.Equal(t, tt.wantCalls, calls.Load())
			require.Zero(t, e.streamCount(t), "a failed fetch publishes nothing")
			require.Equal(t, 1.0, runs(t, e, ingest.ResultError))
		})
	}
}

func TestChangedBodyWithSameDateGetsNewerVersion(t *testing.T) {
	// The origin changes the body but not its Last-Modified (nor sends an
	// ETag): the new body must still win over the old one in storage.
	data := recordedHead(t, headRows)
	o := &origin{body: data, lastModified: time.Date(2020, 12, 9, 10, 0, 0, 0, time.UTC)}
	srv := httptest.NewServer(o)
	t.Cleanup(srv.Close)
	e := newEnv(t, ingest.Config{}, atURL(srv.URL))
	res, err := e.in.RunFeed(ctxT(t), feedID)
	require.NoError(t, err)
	require.Equal(t, uint64(o.lastModified.UnixMilli()), res.Version)

	// The same file without its last 100 lines: a whole CSV, different bytes.
	cut := len(data) - 1
	for range 100 {
		cut = bytes.LastIndexByte(data[:cut], '\n')
	}
	o.body = data[:cut+1]
	res2, err := e.in.RunFeed(ctxT(t), feedID)
	require.NoError(t, err)
	require.Equal(t, uint64(fixedClock.UnixMilli()), res2.Version)
	require.Greater(t, res2.Version, res.Version)
	require.Zero(t, res2.Duplicates)
}

// TestRepeatedRunKeepsMessageIDsWhateverTheRetrievalFraction: a second run
// of the same body, retrieved at a time with a fraction of a second, splits
// into the same messages with the same ids (all duplicates): the retrieval
// time is stored in whole seconds, so its length cannot move where a batch
// splits.
func TestRepeatedRunKeepsMessageIDsWhateverTheRetrievalFraction(t *testing.T) {
	o := &origin{body: recordedHead(t, headRows)}
	srv := httptest.NewServer(o)
	t.Cleanup(srv.Close)
	now := fixedClock
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e := newEnv(t, ingest.Config{Clock: clock, BatchBytes: 8 << 10}, atURL(srv.URL+"/data.csv"))

	res, err := e.in.RunFeed(ctxT(t), feedID)
	require.NoError(t, err)
	require.Greater(t, res.Messages, 3, "several messages, so a shifted split would show")

	mu.Lock()
	now = now.Add(time.Hour + 123456789*time.Nanosecond)
	mu.Unlock()
	res2, err := e.in.RunFeed(ctxT(t), feedID)
	require.NoError(t, err)
	require.Equal(t, res.Messages, res2.Messages)
	require.Equal(t, res2.Messages, res2.Duplicates, "every message of the repeat is a duplicate")
}
