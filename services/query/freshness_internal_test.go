package query

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// watermarkStub is a data watermark the test sets, counting its reads.
// While hold is set, a read waits for it to close, after telling started.
type watermarkStub struct {
	mu      sync.Mutex
	mark    string
	err     error
	reads   int
	hold    chan struct{}
	started chan struct{}
}

func (w *watermarkStub) read(ctx context.Context) (string, error) {
	w.mu.Lock()
	w.reads++
	mark, err, hold, started := w.mark, w.err, w.hold, w.started
	w.mu.Unlock()
	if hold != nil {
		started <- struct{}{}
		select {
		case <-hold:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	return mark, err
}

func (w *watermarkStub) set(mark string, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.mark, w.err = mark, err
}

func (w *watermarkStub) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.reads
}

const testInterval = time.Second

func newTestFreshness() (*freshness, *watermarkStub, *Clock) {
	wm, clock := &watermarkStub{mark: "observations:1;"}, NewClock()
	return newFreshness(wm.read, testInterval, clock.Now), wm, clock
}

func TestFreshnessTrustsAWatermarkForTheInterval(t *testing.T) {
	f, wm, clock := newTestFreshness()
	ctx := context.Background()
	first, err := f.current(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, wm.count())

	wm.set("observations:2;", nil)
	clock.Advance(testInterval - time.Nanosecond)
	m, err := f.current(ctx)
	require.NoError(t, err)
	require.Equal(t, first, m, "within the interval the mark read before is trusted")
	require.Equal(t, 1, wm.count())

	clock.Advance(time.Nanosecond)
	m, err = f.current(ctx)
	require.NoError(t, err)
	require.NotEqual(t, first, m, "after the interval the watermark is read again")
	require.Equal(t, 2, wm.count())
}

func TestFreshnessBumpForgetsTheWatermark(t *testing.T) {
	f, wm, _ := newTestFreshness()
	ctx := context.Background()
	before, err := f.current(ctx)
	require.NoError(t, err)
	f.bump()
	after, err := f.current(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, wm.count(), "a write through the service is seen at once, the clock unmoved")
	require.NotEqual(t, before, after, "the mark moves even though ClickHouse's watermark did not")
}

func TestFreshnessDoesNotTrustAFailedRead(t *testing.T) {
	f, wm, _ := newTestFreshness()
	ctx := context.Background()
	_, err := f.current(ctx)
	require.NoError(t, err)
	f.bump()
	down := errors.New("clickhouse down")
	wm.set("", down)
	_, err = f.current(ctx)
	require.ErrorIs(t, err, down)
	wm.set("observations:1;", nil)
	_, err = f.current(ctx)
	require.NoError(t, err)
	require.Equal(t, 3, wm.count(), "after a failure the next caller reads again, the clock unmoved")
}

func TestFreshnessConcurrentCallersShareOneRead(t *testing.T) {
	f, wm, _ := newTestFreshness()
	wm.hold, wm.started = make(chan struct{}), make(chan struct{}, 1)
	const callers = 8
	marks := make(chan string, callers)
	call := func() {
		m, err := f.current(context.Background())
		if err != nil {
			m = err.Error()
		}
		marks <- m
	}
	go call()
	<-wm.started // the first caller's read is in flight
	for range callers - 1 {
		go call()
	}
	close(wm.hold)
	first := <-marks
	for range callers - 1 {
		require.Equal(t, first, <-marks)
	}
	require.Equal(t, 1, wm.count(), "the callers waited for the read in flight, or found its mark fresh")
}

// TestFreshnessConditional checks the handler wrapper: If-None-Match is
// answered 304 from memory while the watermark is trusted, and the handler
// answers otherwise.
func TestFreshnessConditional(t *testing.T) {
	f, wm, clock := newTestFreshness()
	var (
		mu      sync.Mutex
		calls   int
		version = 1
	)
	h := f.conditional(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		tag := `"v` + strconv.Itoa(version) + `"`
		mu.Unlock()
		w.Header().Set("ETag", tag)
		w.WriteHeader(http.StatusOK)
	}))
	get := func(method, inm, accept string) (int, string) {
		req := httptest.NewRequest(method, "/v1/x", nil)
		if inm != "" {
			req.Header.Set("If-None-Match", inm)
		}
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Header().Get("ETag")
	}
	handled := func() int {
		mu.Lock()
		defer mu.Unlock()
		return calls
	}

	code, tag := get(http.MethodGet, "", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, `"v1"`, tag)
	require.Equal(t, 1, handled())

	code, tag = get(http.MethodGet, `"v1"`, "")
	require.Equal(t, http.StatusNotModified, code)
	require.Equal(t, `"v1"`, tag)
	require.Equal(t, 1, handled(), "answered from memory")

	code, _ = get(http.MethodGet, `"v0"`, "")
	require.Equal(t, http.StatusOK, code, "another tag needs the body")
	require.Equal(t, 2, handled())

	code, _ = get(http.MethodGet, `"v1"`, "text/csv")
	require.Equal(t, http.StatusOK, code, "another representation is remembered apart")
	require.Equal(t, 3, handled())

	code, _ = get(http.MethodPost, `"v1"`, "")
	require.Equal(t, http.StatusOK, code, "only reads are answered from memory")
	require.Equal(t, 4, handled())

	// The data changes: not seen until the watermark is read again.
	mu.Lock()
	version = 2
	mu.Unlock()
	wm.set("observations:2;", nil)
	code, _ = get(http.MethodGet, `"v1"`, "")
	require.Equal(t, http.StatusNotModified, code, "the watermark is trusted for the interval")
	require.Equal(t, 4, handled())
	clock.Advance(testInterval)
	code, tag = get(http.MethodGet, `"v1"`, "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, `"v2"`, tag)
	require.Equal(t, 5, handled())

	// ClickHouse fails: the handler answers (and reports it) itself.
	clock.Advance(testInterval)
	wm.set("", errors.New("clickhouse down"))
	code, _ = get(http.MethodGet, `"v2"`, "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, 6, handled())
}
