package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ounce-data/ounce/pkg/feedcat"
	"github.com/ounce-data/ounce/pkg/feeds"
)

// fetched is one retrieved feed body and what its source said about it.
type fetched struct {
	body         []byte
	source       string    // URL or file path read
	etag         string    // ETag answered
	lastModified string    // Last-Modified answered, as sent
	modified     time.Time // Last-Modified or file mtime; zero when unknown
	retrievedAt  time.Time
	notModified  bool // 304 to a conditional GET
}

// fetch reads feed f from the mirror when one is set, otherwise over HTTP
// with a conditional GET against the checkpoint cp.
// Bytes read are reported to pr.
func (in *Ingester) fetch(ctx context.Context, f feedcat.Feed, cp Checkpoint, pr *progress) (fetched, error) {
	if in.cfg.MirrorDir != "" {
		return in.fetchFile(f, pr)
	}
	return in.fetchHTTP(ctx, f, cp, pr)
}

func (in *Ingester) fetchFile(f feedcat.Feed, pr *progress) (fetched, error) {
	if f.Mirror == "" {
		return fetched{}, fmt.Errorf("read mirror: feed %s declares no mirror path (field mirror of %s)", f.ID, f.File)
	}
	p := filepath.Join(in.cfg.MirrorDir, filepath.FromSlash(f.Mirror))
	file, err := os.Open(p)
	if err != nil {
		return fetched{}, fmt.Errorf("read mirror: %w", err)
	}
	defer func() { _ = file.Close() }() // read-only: a close error loses nothing
	st, err := file.Stat()
	if err != nil {
		return fetched{}, fmt.Errorf("read mirror: %w", err)
	}
	if !st.Mode().IsRegular() {
		return fetched{}, fmt.Errorf("read mirror: %s is not a regular file", p)
	}
	retrieved := in.cfg.Clock().UTC()
	pr.start(PhaseFetch, st.Size())
	body, err := readLimited(pr.reader(file), in.cfg.MaxBodyBytes)
	if err != nil {
		return fetched{}, fmt.Errorf("read mirror %s: %w", p, err)
	}
	return fetched{body: body, source: p, modified: st.ModTime().UTC(), retrievedAt: retrieved}, nil
}

// statusError is an HTTP answer that is not a feed body.
type statusError struct {
	code    int
	snippet string
	retry   time.Duration // Retry-After, when given
}

func (e *statusError) Error() string {
	s := fmt.Sprintf("http status %d %s", e.code, http.StatusText(e.code))
	if e.snippet != "" {
		s += fmt.Sprintf(": %q", e.snippet)
	}
	return s
}

func (e *statusError) temporary() bool {
	return e.code >= 500 || e.code == http.StatusTooManyRequests || e.code == http.StatusRequestTimeout
}

func (in *Ingester) fetchHTTP(ctx context.Context, f feedcat.Feed, cp Checkpoint, pr *progress) (fetched, error) {
	if st := in.byID[f.ID]; st != nil && st.pager != nil && f.PageSize > 0 {
		return in.fetchPages(ctx, f, cp, pr, st.pager)
	}
	var lastErr error
	for attempt := 1; ; attempt++ {
		got, err := in.getOnce(ctx, f, cp, pr)
		if err == nil {
			return got, nil
		}
		lastErr = err
		var se *statusError
		retryable := ctx.Err() == nil && !errors.Is(err, errBodyTooLarge) && (!errors.As(err, &se) || se.temporary())
		if !retryable || attempt >= in.cfg.FetchAttempts {
			break
		}
		wait := in.backoff(attempt)
		if se != nil && se.retry > 0 && se.retry <= in.cfg.RetryMax {
			wait = se.retry
		}
		in.log.Warn().Err(err).Str("feed", f.ID).Int("attempt", attempt).Dur("retry_in_seconds", wait).Msg("fetch feed failed; retrying")
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fetched{}, fmt.Errorf("get %s: %w (after %v)", f.URL, ctx.Err(), lastErr)
		case <-t.C:
		}
	}
	return fetched{}, fmt.Errorf("get %s: %w", f.URL, lastErr)
}

// fetchPages fetches a paged feed page after page (each with retries)
// until a page holds fewer than f.PageSize records, and returns the pages
// one after the other as one body. Only the first page is a conditional
// GET: a 304 to it means the dataset has not changed. A page equal to the
// one before means the server ignores the paging parameters: an error,
// not a loop.
func (in *Ingester) fetchPages(ctx context.Context, f feedcat.Feed, cp Checkpoint, pr *progress, pg *feeds.Pager) (fetched, error) {
	var all fetched
	var prev []byte
	for page := 0; ; page++ {
		u, err := pg.PageURL(f.URL, page*f.PageSize, f.PageSize)
		if err != nil {
			return fetched{}, err
		}
		pf, pcp := f, Checkpoint{}
		pf.URL, pf.PageSize = u, 0
		if page == 0 && cp.Source == f.URL {
			pcp = cp
			pcp.Source = u
		}
		got, err := in.fetchHTTP(ctx, pf, pcp, pr)
		if err != nil {
			return fetched{}, fmt.Errorf("page %d: %w", page+1, err)
		}
		if page == 0 {
			all = got
			all.source, all.body = f.URL, nil
			if got.notModified {
				return all, nil
			}
		}
		if prev != nil && bytes.Equal(prev, got.body) {
			return fetched{}, fmt.Errorf("get %s: page %d repeats page %d; the server ignores the paging parameters", f.URL, page+1, page)
		}
		if int64(len(all.body)+len(got.body)) > in.cfg.MaxBodyBytes {
			return fetched{}, fmt.Errorf("get %s: %w: the pages are larger than the limit of %d bytes (raise MaxBodyBytes)", f.URL, errBodyTooLarge, in.cfg.MaxBodyBytes)
		}
		n, err := pg.Count(got.body)
		if err != nil {
			return fetched{}, fmt.Errorf("get %s page %d: %w", f.URL, page+1, err)
		}
		all.body = append(append(all.body, got.body...), '\n')
		prev = got.body
		if n < f.PageSize {
			return all, nil
		}
	}
}

// backoff is the wait before retry n (from 1): RetryMin doubling up to
// RetryMax, with full jitter on the upper half.
func (in *Ingester) backoff(n int) time.Duration {
	d := in.cfg.RetryMin
	for i := 1; i < n && d < in.cfg.RetryMax; i++ {
		d *= 2
	}
	d = min(d, in.cfg.RetryMax)
	return d/2 + rand.N(d/2+1)
}

func (in *Ingester) getOnce(ctx context.Context, f feedcat.Feed, cp Checkpoint, pr *progress) (fetched, error) {
	ctx, cancel := context.WithTimeout(ctx, in.cfg.HTTPTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.URL, nil)
	if err != nil {
		return fetched{}, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("User-Agent", in.cfg.UserAgent)
	if cp.Source == f.URL && cp.Version > 0 {
		if cp.ETag != "" {
			req.Header.Set("If-None-Match", cp.ETag)
		}
		if cp.LastModified != "" {
			req.Header.Set("If-Modified-Since", cp.LastModified)
		}
	}
	retrieved := in.cfg.Clock().UTC()
	resp, err := in.cfg.HTTPClient.Do(req)
	if err != nil {
		return fetched{}, err
	}
	defer func() { _ = resp.Body.Close() }() // the body is read to the end or abandoned
	got := fetched{
		source:       f.URL,
		etag:         resp.Header.Get("ETag"),
		lastModified: resp.Header.Get("Last-Modified"),
		retrievedAt:  retrieved,
	}
	if got.lastModified != "" {
		if t, err := http.ParseTime(got.lastModified); err == nil {
			got.modified = t.UTC()
		}
	}
	switch {
	case resp.StatusCode == http.StatusNotModified:
		got.notModified = true
		if got.etag == "" {
			got.etag = cp.ETag
		}
		if got.lastModified == "" {
			got.lastModified = cp.LastModified
		}
		return got, nil
	case resp.StatusCode != http.StatusOK:
		snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		se := &statusError{code: resp.StatusCode, snippet: strings.TrimSpace(string(snippet))}
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
			se.retry = time.Duration(s) * time.Second
		}
		return fetched{}, se
	}
	pr.start(PhaseFetch, resp.ContentLength)
	body, err := readLimited(pr.reader(resp.Body), in.cfg.MaxBodyBytes)
	if err != nil {
		return fetched{}, fmt.Errorf("read body: %w", err)
	}
	got.body = body
	return got, nil
}

// errBodyTooLarge is a body over Config.MaxBodyBytes; trying again won't help.
var errBodyTooLarge = errors.New("body is too large")

// readLimited reads r whole, refusing more than limit bytes.
func readLimited(r io.Reader, limit int64) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("%w: larger than the limit of %d bytes (raise MaxBodyBytes)", errBodyTooLarge, limit)
	}
	return body, nil
}
