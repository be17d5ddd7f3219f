package web_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/extch"
	"github.com/ounce-data/ounce/pkg/extnats"
	"github.com/ounce-data/ounce/pkg/feedcat"
	"github.com/ounce-data/ounce/pkg/feeds"
	"github.com/ounce-data/ounce/pkg/feeds/gho"
	"github.com/ounce-data/ounce/pkg/feeds/owid"
	"github.com/ounce-data/ounce/pkg/feedstatus"
	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/pkg/testenv"
	"github.com/ounce-data/ounce/services/query"
)

func TestMain(m *testing.M) {
	testenv.Main(m)
}

// chromium finds the browser the test drives: $OUNCE_TEST_CHROMIUM, else
// Debian's chromium. Without one the test is skipped, unless
// OUNCE_INTEGRATION=1 asks for every integration test to run: then a missing
// browser fails it.
func chromium(t *testing.T) string {
	t.Helper()
	var candidates []string
	if p := os.Getenv("OUNCE_TEST_CHROMIUM"); p != "" {
		candidates = []string{p} // asked for this one: no other will do
	} else {
		candidates = []string{"/usr/bin/chromium"}
		for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
			if p, err := exec.LookPath(name); err == nil {
				candidates = append(candidates, p)
			}
		}
	}
	for _, p := range candidates {
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	msg := fmt.Sprintf("no Chromium found (tried %s); install Debian's chromium package (apt-get install chromium) or set OUNCE_TEST_CHROMIUM",
		strings.Join(candidates, ", "))
	if os.Getenv("OUNCE_INTEGRATION") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// TestMissingChromium runs a browser test in a child process with no
// browser to be found: under OUNCE_INTEGRATION=1 it must fail, not skip;
// without it, it skips.
func TestMissingChromium(t *testing.T) {
	if os.Getenv("OUNCE_TEST_CHILD") == "1" {
		t.Skip("the child run itself")
	}
	for _, tt := range []struct {
		integration string
		wantFail    bool
		want        string
	}{
		{integration: "1", wantFail: true, want: "--- FAIL: TestIntegrationBrowserReadToken"},
		{integration: "", wantFail: false, want: "--- SKIP: TestIntegrationBrowserReadToken"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestIntegrationBrowserReadToken$", "-test.v")
		cmd.Env = append(os.Environ(), "OUNCE_TEST_CHILD=1", "OUNCE_TEST_CHROMIUM="+filepath.Join(t.TempDir(), "no-chromium"),
			"OUNCE_INTEGRATION="+tt.integration)
		out, err := cmd.CombinedOutput()
		if tt.wantFail {
			require.Error(t, err, "%s", out)
		} else {
			require.NoError(t, err, "%s", out)
		}
		require.Contains(t, string(out), tt.want)
		require.Contains(t, string(out), "no Chromium found")
	}
}

// setup finds the browser (first, so that a missing one fails before
// anything starts) and gives a fresh ClickHouse and the catalogue.
func setup(t *testing.T) (string, *testenv.ClickHouse, *indicators.Catalogue) {
	t.Helper()
	browser := chromium(t)
	ch := testenv.StartClickHouse(t)
	cat, err := indicators.Load()
	require.NoError(t, err)
	return browser, ch, cat
}

// loaded is what the test put in ClickHouse from one recording.
type loaded struct {
	feed feedcat.Feed
	meta feeds.Meta
	rows int
}

// reader opens a recording with its format's adapter.
type reader func(body io.Reader, meta feeds.Meta, cols map[string]feeds.Column) (iter.Seq2[observation.Observation, error], error)

func owidReader(body io.Reader, meta feeds.Meta, cols map[string]feeds.Column) (iter.Seq2[observation.Observation, error], error) {
	rd, err := owid.NewReader(body, owid.Mapping{Meta: meta, Columns: cols})
	if err != nil {
		return nil, err
	}
	return rd.All(), nil
}

func ghoCSVReader(body io.Reader, meta feeds.Meta, cols map[string]feeds.Column) (iter.Seq2[observation.Observation, error], error) {
	rd, err := gho.NewCSVReader(body, gho.Mapping{Meta: meta, Indicators: cols})
	if err != nil {
		return nil, err
	}
	return rd.All(), nil
}

// load reads a feed's recording with the feed's own adapter and mapping, as
// ingest does, and writes it with the loader's column INSERT in batches.
func load(t *testing.T, ch *testenv.ClickHouse, cat *indicators.Catalogue, feedID string, open reader) loaded {
	t.Helper()
	all, err := feedcat.Load()
	require.NoError(t, err)
	feed, ok := feedcat.ByID(all, feedID)
	require.True(t, ok, "feed %s is declared in schemas/feeds", feedID)
	cols, err := feeds.Columns(cat.Files[feed.Catalogue])
	require.NoError(t, err)
	now := time.Now().UTC().Truncate(time.Second)
	meta := feeds.Meta{Source: feed.ID, URL: feed.URL, Licence: feed.Licence, RetrievedAt: now, Version: uint64(now.UnixMilli())}

	f, err := os.Open(filepath.Join(testenv.SharedDataDir(t), feed.Mirror))
	require.NoError(t, err)
	defer f.Close()
	obs, err := open(f, meta, cols)
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var batch extch.Columns
	n := 0
	flush := func() {
		require.NoError(t, batch.Insert(ctx, ch.Conn))
		n += batch.Len()
		batch.Reset()
	}
	for o, err := range obs {
		require.NoError(t, err)
		require.NoError(t, o.Validate())
		batch.Add(&o, "browser-test")
		if batch.Len() >= 100_000 {
			flush()
		}
	}
	flush()
	return loaded{feed: feed, meta: meta, rows: n}
}

// rawPoint is one non-empty cell of the raw CSV.
type rawPoint struct {
	year  string
	value float64
}

// readRaw reads, independently of the adapter, the non-empty cells of one
// column for the given iso codes, in file order.
func readRaw(t *testing.T, path, column string, isos ...string) map[string][]rawPoint {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	r := csv.NewReader(f)
	header, err := r.Read()
	require.NoError(t, err)
	idx := map[string]int{}
	for i, h := range header {
		idx[h] = i
	}
	for _, c := range []string{"iso_code", "year", column} {
		require.Contains(t, idx, c, "raw file header")
	}
	want := map[string]bool{}
	for _, iso := range isos {
		want[iso] = true
	}
	out := map[string][]rawPoint{}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		iso, cell := rec[idx["iso_code"]], rec[idx[column]]
		if !want[iso] || cell == "" {
			continue
		}
		v, err := strconv.ParseFloat(cell, 64)
		require.NoError(t, err)
		out[iso] = append(out[iso], rawPoint{year: rec[idx["year"]], value: v})
	}
	return out
}

// serve runs the query service on a free port until the test ends.
func serve(t *testing.T, svc *query.Service) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	return "http://" + ln.Addr().String()
}

// requests is the count of answers of one route with one status.
func requests(t *testing.T, reg *prometheus.Registry, route string, code int) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != "ounce_query_http_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["route"] == route && labels["code"] == strconv.Itoa(code) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// console collects what the page reports as wrong: uncaught exceptions,
// console.error and console.warn calls, and the browser's own error entries
// (failed loads among them).
type console struct {
	mu       sync.Mutex
	problems []string
}

func (c *console) listen(ev any) {
	var p string
	switch e := ev.(type) {
	case *runtime.EventExceptionThrown:
		d := e.ExceptionDetails
		p = fmt.Sprintf("exception: %s at %s:%d:%d", d.Text, d.URL, d.LineNumber+1, d.ColumnNumber+1)
		if d.Exception != nil {
			p += ": " + d.Exception.Description
		}
	case *runtime.EventConsoleAPICalled:
		if e.Type != runtime.ConsoleAPICalledTypeError && e.Type != runtime.ConsoleAPICalledTypeWarning {
			return
		}
		var args []string
		for _, a := range e.Args {
			args = append(args, string(a.Value)+a.Description)
		}
		p = fmt.Sprintf("console.%s: %s", e.Type, strings.Join(args, " "))
	case *cdplog.EventEntryAdded:
		if e.Entry.Level != cdplog.EntryLevelError && e.Entry.Level != cdplog.EntryLevelWarning {
			return
		}
		p = fmt.Sprintf("%s %s: %s %s", e.Entry.Source, e.Entry.Level, e.Entry.Text, e.Entry.URL)
	default:
		return
	}
	c.mu.Lock()
	c.problems = append(c.problems, p)
	c.mu.Unlock()
}

func (c *console) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.problems
	c.problems = nil
	return p
}

// startBrowser starts headless Chromium for the test, with a tab whose
// console problems are collected.
func startBrowser(t *testing.T, path string) (context.Context, *console) {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.WindowSize(1280, 800),
		chromedp.UserDataDir(t.TempDir()))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	cons := &console{}
	ctx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithListener(cons.listen))
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() {
		cancelTimeout()
		cancelBrowser()
		cancelAlloc()
	})
	return ctx, cons
}

// tableRow is one row of the explorer's value table as the page shows it.
type tableRow struct {
	Geo       string   `json:"geo"`
	Period    string   `json:"period"`
	Cells     []string `json:"cells"`
	Value     string   `json:"value"`
	Retrieved string   `json:"retrieved"`
	SourceURL string   `json:"source_url"`
}

const readTableJS = `Array.from(document.querySelectorAll('#explorer-table tbody tr')).map((tr) => ({
  geo: tr.dataset.geo, period: tr.dataset.period,
  cells: Array.from(tr.children).map((c) => c.textContent),
  value: tr.querySelector('td.num').dataset.value,
  retrieved: (tr.querySelector('time') || {getAttribute: () => ''}).getAttribute('datetime'),
  source_url: (tr.querySelector('td.source a') || {href: ''}).href,
}))`

// readPathsJS gives, per place, the number of points each series path draws:
// one M or L command per point.
const readPathsJS = `Array.from(document.querySelectorAll('#explorer-charts path.series')).map((p) => ({
  geo: p.dataset.geo, points: (p.getAttribute('d').match(/[ML]/g) || []).length,
}))`

type pathPoints struct {
	Geo    string `json:"geo"`
	Points int    `json:"points"`
}

// parseShown reads a number as the page's locale formats it.
func parseShown(t *testing.T, s, group, decimal string) float64 {
	t.Helper()
	s = strings.ReplaceAll(s, group, "")
	s = strings.ReplaceAll(s, "\u00a0", "")
	s = strings.ReplaceAll(s, decimal, ".")
	s = strings.ReplaceAll(s, "\u2212", "-")
	v, err := strconv.ParseFloat(s, 64)
	require.NoError(t, err, "shown value %q", s)
	return v
}

func TestIntegrationBrowserExplorer(t *testing.T) {
	browser, ch, cat := setup(t)
	start := time.Now()
	data := load(t, ch, cat, "owid-co2", owidReader)
	t.Logf("loaded %d observations of %s in %s", data.rows, data.feed.Mirror, time.Since(start).Round(time.Millisecond))

	// The indicator is the one the catalogue maps to the raw column.
	const column = "co2_per_capita"
	var indicator string
	for _, ind := range cat.Files[data.feed.Catalogue].Indicators {
		if ind.Column == column {
			indicator = ind.Code
		}
	}
	require.NotEmpty(t, indicator)
	geos := []string{"GBR", "FRA"}
	raw := readRaw(t, filepath.Join(testenv.SharedDataDir(t), data.feed.Mirror), column, geos...)
	for _, g := range geos {
		require.NotEmpty(t, raw[g], "raw file has %s values for %s", column, g)
	}

	reg := prometheus.NewRegistry()
	svc, err := query.New(query.Config{}, ch.Conn, cat, zerolog.Nop(), reg)
	require.NoError(t, err)
	base := serve(t, svc)

	ctx, cons := startBrowser(t, browser)

	// Open the page, polling every second so that revalidation is seen.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.EmulateViewport(1280, 800),
		chromedp.Navigate(base+"/?poll=1"),
		chromedp.WaitReady(chromedp.CSS(`#indicator option[value="`+indicator+`"]`)),
		chromedp.SetValue(chromedp.ID("indicator"), indicator),
		chromedp.SendKeys(chromedp.ID("places"), strings.Join(geos, ",")),
	))
	clicked := time.Now()
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#explorer-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`figure[data-geo="`+geos[0]+`"] path.series`)),
		chromedp.WaitVisible(chromedp.CSS(`figure[data-geo="`+geos[1]+`"] path.series`)),
		chromedp.WaitReady(chromedp.CSS(`#view-explorer:not([aria-busy])`)),
	))
	t.Logf("from the click on Show to both charts drawn: %s", time.Since(clicked).Round(time.Millisecond))

	// One chart per place, its path drawing every value the raw file has.
	paths, err := chromedp.Run(ctx, chromedp.Evaluate[[]pathPoints](readPathsJS))
	require.NoError(t, err)
	got := map[string]int{}
	for _, p := range paths {
		got[p.Geo] += p.Points
	}
	require.Equal(t, map[string]int{geos[0]: len(raw[geos[0]]), geos[1]: len(raw[geos[1]])}, got)

	// The table: every value, equal to the raw file's, with its provenance.
	parts, err := chromedp.Run(ctx, chromedp.Evaluate[struct{ Group, Decimal string }](`(() => {
	  const p = new Intl.NumberFormat().formatToParts(12345.5);
	  return {Group: (p.find((x) => x.type === 'group') || {value: ','}).value, Decimal: p.find((x) => x.type === 'decimal').value};
	})()`))
	require.NoError(t, err)
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[[]tableRow](readTableJS))
	require.NoError(t, err)
	byKey := map[string]tableRow{}
	perGeo := map[string]int{}
	for _, r := range rows {
		byKey[r.Geo+" "+r.Period] = r
		perGeo[r.Geo]++
	}
	require.Equal(t, map[string]int{geos[0]: len(raw[geos[0]]), geos[1]: len(raw[geos[1]])}, perGeo)
	for _, g := range geos {
		pts := raw[g]
		for _, want := range []rawPoint{pts[0], pts[len(pts)/2], pts[len(pts)-1]} {
			r, ok := byKey[g+" "+want.year]
			require.True(t, ok, "table row for %s %s", g, want.year)
			// Place, period, value, unit, source, licence, retrieved, flags.
			require.Len(t, r.Cells, 8)
			require.Empty(t, r.Cells[7], "loaded as written, no value carries a flag or a quality code")
			require.Equal(t, g, r.Cells[0])
			require.Equal(t, want.year, r.Cells[1])
			require.InDelta(t, want.value, parseShown(t, r.Cells[2], parts.Group, parts.Decimal), 1e-9*max(1, math.Abs(want.value)), "%s %s", g, want.year)
			v, err := strconv.ParseFloat(r.Value, 64)
			require.NoError(t, err)
			require.Equal(t, want.value, v, "exact value of %s %s", g, want.year)
			require.Equal(t, data.feed.ID, r.Cells[4])
			require.Equal(t, data.feed.URL, r.SourceURL)
			require.Equal(t, data.feed.Licence, r.Cells[5])
			require.Equal(t, data.meta.RetrievedAt.Format(time.RFC3339), r.Retrieved)
		}
	}
	require.Empty(t, cons.take(), "console errors after drawing the explorer")

	// The CSV link asks the API for the same series as CSV.
	href, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('csv-link').href`))
	require.NoError(t, err)
	require.Contains(t, href, "format=csv")
	resp, err := http.Get(href)
	require.NoError(t, err)
	csvBody, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode, string(csvBody))
	require.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv"), resp.Header.Get("Content-Type"))
	csvRows, err := csv.NewReader(strings.NewReader(string(csvBody))).ReadAll()
	require.NoError(t, err)
	require.Len(t, csvRows, 1+len(raw[geos[0]])+len(raw[geos[1]]), "a header and a row per value")

	// Accessible markup: every control labelled, every table captioned,
	// every chart named.
	unlabelled, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('input, select, textarea'))
	  .filter((e) => (!e.labels || e.labels.length === 0) && !e.getAttribute('aria-label')).map((e) => e.id || e.outerHTML)`))
	require.NoError(t, err)
	require.Empty(t, unlabelled, "controls without a label")
	uncaptioned, err := chromedp.Run(ctx, chromedp.Evaluate[int](`Array.from(document.querySelectorAll('table')).filter((t) => !t.caption || !t.caption.textContent.trim()).length`))
	require.NoError(t, err)
	require.Zero(t, uncaptioned, "tables without a caption")
	unnamed, err := chromedp.Run(ctx, chromedp.Evaluate[int](`Array.from(document.querySelectorAll('svg')).filter((s) => s.getAttribute('role') !== 'img' ||
	  !(document.getElementById(s.getAttribute('aria-labelledby')) || {}).textContent).length`))
	require.NoError(t, err)
	require.Zero(t, unnamed, "charts without an accessible name")

	// Polling revalidates with If-None-Match: 304s, and no redraw.
	_, err = chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#explorer-charts figure').dataset.mark = 'kept'`))
	require.NoError(t, err)
	seen304 := requests(t, reg, "GET /v1/series", http.StatusNotModified)
	require.Eventually(t, func() bool {
		return requests(t, reg, "GET /v1/series", http.StatusNotModified) >= seen304+2 &&
			requests(t, reg, "GET /v1/indicators", http.StatusNotModified) >= 2
	}, 30*time.Second, 100*time.Millisecond, "the page revalidates the series and indicators with If-None-Match")
	mark, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector('#explorer-charts figure').dataset.mark || '')`))
	require.NoError(t, err)
	require.Equal(t, "kept", mark, "a 304 leaves the chart as drawn")

	// A newer version of one value reaches the page at the next poll.
	last := raw[geos[0]][len(raw[geos[0]])-1]
	year, err := strconv.Atoi(last.year)
	require.NoError(t, err)
	revised := last.value * 2
	ind, _ := cat.Indicator(indicator)
	o := observation.Observation{
		Indicator: indicator, Geo: geos[0], Period: observation.Year(year), Value: observation.Float(revised),
		Unit: ind.Unit, Source: data.feed.ID, Version: data.meta.Version + 1,
		Provenance: observation.Provenance{URL: data.feed.URL, Licence: data.feed.Licence, RetrievedAt: data.meta.RetrievedAt.Add(time.Hour)},
	}
	require.NoError(t, o.Validate())
	var cols extch.Columns
	cols.Add(&o, "browser-test-revision")
	require.NoError(t, cols.Insert(ctx, ch.Conn))
	var shown string
	require.Eventually(t, func() bool {
		var err error
		shown, err = chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(
			`(document.querySelector('#explorer-table tr[data-geo="%s"][data-period="%s"] td.num') || {dataset: {}}).dataset.value || ''`,
			geos[0], last.year)))
		return err == nil && shown == strconv.FormatFloat(revised, 'g', -1, 64)
	}, 30*time.Second, 200*time.Millisecond, "the revised value is drawn after a poll; shown %q", shown)

	// Readable at 1280x800 and on a narrow screen: nothing wider than the
	// window, the charts inside it.
	for _, size := range [][2]int64{{1280, 800}, {390, 844}} {
		require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(size[0], size[1])))
		fit, err := chromedp.Run(ctx, chromedp.Evaluate[struct {
			Scroll, Inner int
			Charts        []float64
		}](`({Scroll: document.documentElement.scrollWidth, Inner: window.innerWidth,
			  Charts: Array.from(document.querySelectorAll('#explorer-charts svg')).map((s) => s.getBoundingClientRect().right)})`))
		require.NoError(t, err)
		screenshot(t, ctx, fmt.Sprintf("explorer-%dx%d.png", size[0], size[1]), false)
		require.LessOrEqual(t, fit.Scroll, fit.Inner, "page wider than a %dx%d window", size[0], size[1])
		require.Len(t, fit.Charts, len(geos))
		for _, right := range fit.Charts {
			require.Greater(t, right, 0.0)
			require.LessOrEqual(t, right, float64(fit.Inner))
		}
	}
	require.Empty(t, cons.take(), "console errors while polling and resizing")

	// Feed health on a server without NATS: the API's own explanation.
	status, text := getJSON(t, base+"/v1/feeds", nil)
	require.NotEqual(t, http.StatusOK, status, "this server has no NATS")
	var env struct{ Error struct{ Message string } }
	require.NoError(t, json.Unmarshal([]byte(text), &env), text)
	require.NotEmpty(t, env.Error.Message)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.EmulateViewport(1280, 800),
		chromedp.Navigate(base+"/#feeds"),
		chromedp.WaitVisible(chromedp.ID("view-feeds")),
	))
	var shownMsg string
	require.Eventually(t, func() bool {
		shownMsg, err = chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('feeds-message').textContent`))
		return err == nil && strings.Contains(shownMsg, env.Error.Message)
	}, 20*time.Second, 100*time.Millisecond, "the page shows %q", env.Error.Message)
	for _, p := range cons.take() {
		// The browser logs the refused request itself; nothing else may appear.
		require.Regexp(t, fmt.Sprintf(`^network error: .*%d.* %s$`, status, regexp.QuoteMeta(base+"/v1/feeds")), p)
	}
	require.Empty(t, cons.take())
}

// screenshot saves the page under $OUNCE_TEST_SCREENSHOTS, when set, for a
// person to look at.
// The whole page when full, else the window.
func screenshot(t *testing.T, ctx context.Context, name string, full bool) {
	t.Helper()
	dir := os.Getenv("OUNCE_TEST_SCREENSHOTS")
	if dir == "" {
		return
	}
	shot := chromedp.CaptureScreenshot()
	if full {
		shot = chromedp.FullScreenshot(100)
	}
	png, err := chromedp.Run(ctx, shot)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), png, 0o644))
}

// TestIntegrationBrowserReadToken: a server that wants a read token gets
// one typed into the page, which then sends it with every request.
func TestIntegrationBrowserReadToken(t *testing.T) {
	browser, ch, cat := setup(t)
	const readToken = "dashboard-test-read-token-0123456789abcdef"
	svc, err := query.New(query.Config{ReadToken: readToken}, ch.Conn, cat, zerolog.Nop(), prometheus.NewRegistry())
	require.NoError(t, err)
	base := serve(t, svc)
	ctx, cons := startBrowser(t, browser)

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.ID("token-form")),
	))
	msg, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('explorer-message').textContent`))
	require.NoError(t, err)
	require.Contains(t, msg, "401")
	for _, p := range cons.take() {
		require.Regexp(t, `^network error: .*401`, p, "only the refused requests are reported")
	}

	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("token"), readToken),
		chromedp.Click(chromedp.CSS(`#token-form button[type=submit]`)),
		chromedp.WaitReady(chromedp.CSS(`#indicator option`)),
	))
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#indicator option').length`))
	require.NoError(t, err)
	require.Equal(t, len(cat.Indicators()), n, "every catalogue indicator is offered once the token is given")
	hidden, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById('token-form').hidden`))
	require.NoError(t, err)
	require.True(t, hidden)
	require.Empty(t, cons.take())
}

// checkTotals compares the totals the page shows with the report's.
func checkTotals(t *testing.T, ctx context.Context, rep apiReport) {
	t.Helper()
	type total struct {
		Key, Agency, Value, Text string
	}
	var (
		totals []total
		err    error
	)
	require.Eventually(t, func() bool {
		totals, err = chromedp.Run(ctx, chromedp.Evaluate[[]total](`Array.from(document.querySelectorAll('#savings-totals dd')).map((d) => ({
		  Key: d.dataset.total, Agency: d.dataset.agency || '', Value: d.dataset.value, Text: d.textContent}))`))
		return err == nil && len(totals) > 0
	}, 20*time.Second, 100*time.Millisecond)
	shown := map[string]total{}
	for _, tt := range totals {
		require.NotEmpty(t, tt.Text, tt.Key)
		shown[tt.Key+"/"+tt.Agency] = tt
	}
	num := func(key string) float64 {
		t.Helper()
		v, err := strconv.ParseFloat(shown[key].Value, 64)
		require.NoError(t, err, "total %s: %+v", key, shown[key])
		return v
	}
	require.Equal(t, rep.Totals.PVBenefits, num("pv_benefits/"))
	require.Equal(t, rep.Totals.PVCosts, num("pv_costs/"))
	require.Equal(t, rep.Totals.NPV, num("npv/"))
	if rep.Totals.ROI != nil {
		require.Equal(t, *rep.Totals.ROI, num("roi/"))
	}
	if rep.Totals.PaybackYears != nil {
		require.Equal(t, *rep.Totals.PaybackYears, num("payback_years/"))
	} else {
		require.Equal(t, "not within the horizon", shown["payback_years/"].Text)
	}
	require.NotEmpty(t, rep.Totals.PVBenefitsByAgency)
	for agency, v := range rep.Totals.PVBenefitsByAgency {
		require.Equal(t, v, num("pv_benefits_by_agency/"+agency), agency)
	}
}

// browserInitiative is an initiative on the OWID data: CO2 per capita in
// GBR from 2010, valued per tonne avoided over the population.
const browserInitiative = `{
  "id": "browser-test-co2", "name": "Browser test: CO2 per capita in GBR",
  "domain": "carbon", "indicator": "owid.co2_per_capita", "geo": "GBR",
  "start_year": 2010, "end_year": null, "method": "its", "comparison_geos": ["FRA", "DEU"],
  "population": {"indicator": "owid.population"}, "scale": 1,
  "unit_costs": [{"agency": "Treasury", "amount": 50, "currency": "GBP", "price_year": 2015},
                 {"agency": "NHS", "amount": 20, "currency": "GBP", "price_year": 2015}],
  "costs": [{"year": 2010, "amount": 150000000}, {"year": 2011, "amount": 50000000}],
  "cohort": {"size": 1000, "engagement": 0.8, "success": 0.25},
  "cba": {"deadweight": 0.2, "attribution": 1, "displacement": 0, "ob_benefits": 0.1, "ob_costs": 0.05,
          "lag": 0, "persistence": 8, "drop_off": 0, "horizon": 8, "discount": "green_book"}
}`

// apiReport is the part of a savings report the page must show.
type apiReport struct {
	Years []struct {
		CalendarYear       int      `json:"calendar_year"`
		Observed           *float64 `json:"observed"`
		Counterfactual     *float64 `json:"counterfactual"`
		CounterfactualLow  *float64 `json:"counterfactual_low"`
		CounterfactualHigh *float64 `json:"counterfactual_high"`
	} `json:"years"`
	Totals struct {
		PVBenefits         float64            `json:"pv_benefits"`
		PVBenefitsByAgency map[string]float64 `json:"pv_benefits_by_agency"`
		PVCosts            float64            `json:"pv_costs"`
		NPV                float64            `json:"npv"`
		ROI                *float64           `json:"roi"`
		PaybackYears       *float64           `json:"payback_years"`
	} `json:"totals"`
	Diagnostics struct {
		ITS *struct {
			Pre, Fitted []struct {
				Year  int
				Value float64
			}
			RSquared float64 `json:"r_squared"`
		} `json:"its"`
	} `json:"diagnostics"`
}

func getJSON(t *testing.T, url string, v any) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if resp.StatusCode == http.StatusOK && v != nil {
		require.NoError(t, json.Unmarshal(body, v), string(body))
	}
	return resp.StatusCode, string(body)
}

func TestIntegrationBrowserInitiative(t *testing.T) {
	browser, ch, cat := setup(t)
	owidData := load(t, ch, cat, "owid-co2", owidReader)
	load(t, ch, cat, "who-health-expenditure-gdp", ghoCSVReader)
	const costIndicator = "who.GHED_CHEGDP_SHA2011"

	const analyst = "dashboard-test-analyst-token-0123456789"
	reg := prometheus.NewRegistry()
	svc, err := query.New(query.Config{AnalystToken: analyst}, ch.Conn, cat, zerolog.Nop(), reg)
	require.NoError(t, err)
	base := serve(t, svc)

	// The analyst registers the initiative through the API.
	req, err := http.NewRequest(http.MethodPost, base+"/v1/initiatives", strings.NewReader(browserInitiative))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+analyst)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(body))

	// What the API answers is what the page must show.
	var rep apiReport
	status, text := getJSON(t, base+"/v1/initiatives/browser-test-co2/savings?method=its", &rep)
	require.Equal(t, http.StatusOK, status, text)
	require.NotEmpty(t, rep.Years)
	var cmp struct {
		Comparisons []struct {
			Series     []struct{} `json:"series"`
			Years      []struct{} `json:"years"`
			Conversion struct {
				Kind, Reason, Formula string
			} `json:"conversion"`
		} `json:"comparisons"`
	}
	cmpStatus, cmpText := getJSON(t, base+"/v1/compare?initiatives=browser-test-co2&cost_indicator="+costIndicator+"&geo=GBR&method=its", &cmp)
	// And the observed values are the raw file's.
	raw := readRaw(t, filepath.Join(testenv.SharedDataDir(t), owidData.feed.Mirror), "co2_per_capita", "GBR")["GBR"]
	rawByYear := map[int]float64{}
	for _, p := range raw {
		y, err := strconv.Atoi(p.year)
		require.NoError(t, err)
		rawByYear[y] = p.value
	}

	ctx, cons := startBrowser(t, browser)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(base+"/?poll=1#initiatives"),
		chromedp.WaitReady(chromedp.CSS(`#initiative option[value="browser-test-co2"]`)),
		chromedp.WaitReady(chromedp.CSS(`#cost-indicator option[value="`+costIndicator+`"]`)),
		chromedp.SetValue(chromedp.ID("method"), "its"),
		chromedp.SetValue(chromedp.ID("cost-indicator"), costIndicator),
		chromedp.Click(chromedp.CSS(`#initiative-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#savings-totals dd[data-total="npv"]`)),
		chromedp.WaitReady(chromedp.CSS(`#view-initiatives:not([aria-busy])`)),
	))

	checkTotals(t, ctx, rep)

	// The yearly table: one row a year; observed values are the raw file's.
	type yearRow struct {
		Year   int
		Values []string
	}
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[[]yearRow](`Array.from(document.querySelectorAll('#savings-table tbody tr')).map((tr) => ({
	  Year: Number(tr.dataset.year), Values: Array.from(tr.querySelectorAll('td.num')).map((td) => td.dataset.value)}))`))
	require.NoError(t, err)
	require.Len(t, rows, len(rep.Years))
	observed, counterfactual, band := 0, 0, false
	for i, y := range rep.Years {
		require.Equal(t, y.CalendarYear, rows[i].Year)
		if y.Observed == nil {
			require.Empty(t, rows[i].Values[0])
			continue
		}
		observed++
		v, err := strconv.ParseFloat(rows[i].Values[0], 64)
		require.NoError(t, err)
		require.Equal(t, *y.Observed, v, "observed %d", y.CalendarYear)
		want, ok := rawByYear[y.CalendarYear]
		require.True(t, ok, "raw file has GBR %d", y.CalendarYear)
		require.InDelta(t, want, v, 1e-9, "observed %d as in the raw file", y.CalendarYear)
		if y.Counterfactual != nil {
			counterfactual++
		}
		band = band || y.CounterfactualLow != nil
	}
	require.Positive(t, observed)
	require.Positive(t, counterfactual)

	// The chart: observed and counterfactual lines from the pre-period on
	// (its points, as in the raw file, and the fitted line), and the band.
	require.NotNil(t, rep.Diagnostics.ITS)
	pre := rep.Diagnostics.ITS.Pre
	require.NotEmpty(t, pre)
	for _, p := range pre {
		require.InDelta(t, rawByYear[p.Year], p.Value, 1e-9, "pre-period %d as in the raw file", p.Year)
	}
	paths, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`Array.from(document.querySelectorAll('#savings-chart path.series')).map((p) => (p.getAttribute('d').match(/[ML]/g) || []).length)`))
	require.NoError(t, err)
	require.Equal(t, []int{len(pre) + observed, len(rep.Diagnostics.ITS.Fitted) + counterfactual}, paths)
	r2, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#savings-diagnostics dd[data-diag="r_squared"]').textContent`))
	require.NoError(t, err)
	require.NotEqual(t, "—", r2, "the fit's R² is shown")

	// Every method side by side, one row each, as the API answers.
	var methods struct {
		Methods []struct {
			Method  string `json:"method"`
			Applies bool   `json:"applies"`
		} `json:"methods"`
	}
	status, text = getJSON(t, base+"/v1/initiatives/browser-test-co2/savings/methods", &methods)
	require.Equal(t, http.StatusOK, status, text)
	require.Eventually(t, func() bool {
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#savings-methods tbody tr').length`))
		return err == nil && n == len(methods.Methods)
	}, 20*time.Second, 100*time.Millisecond, "a row per method")
	bands, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#savings-chart path.band').length`))
	require.NoError(t, err)
	require.Equal(t, band, bands > 0)

	// The cost trend: the comparison's rows, or the API's own error.
	if cmpStatus == http.StatusOK {
		require.Len(t, cmp.Comparisons, 1)
		require.Eventually(t, func() bool {
			n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#compare-table tbody tr').length`))
			return err == nil && n == len(cmp.Comparisons[0].Years)
		}, 20*time.Second, 100*time.Millisecond, "a compare row per year")
		recorded, err := chromedp.Run(ctx, chromedp.Evaluate[int](`(document.querySelector('#compare-chart path.series').getAttribute('d').match(/[ML]/g) || []).length`))
		require.NoError(t, err)
		require.Equal(t, len(cmp.Comparisons[0].Series), recorded)
		// How the cost became money, or why it did not, is said under the table.
		conv := cmp.Comparisons[0].Conversion
		want := conv.Reason
		if conv.Kind != "none" {
			want = conv.Formula
		}
		require.NotEmpty(t, want)
		notes, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('compare-table').textContent`))
		require.NoError(t, err)
		require.Contains(t, notes, want)
	} else {
		var env struct{ Error struct{ Message string } }
		require.NoError(t, json.Unmarshal([]byte(cmpText), &env), cmpText)
		require.Eventually(t, func() bool {
			msg, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('compare-message').textContent`))
			return err == nil && strings.Contains(msg, env.Error.Message)
		}, 20*time.Second, 100*time.Millisecond, "the compare error is shown: %s", cmpText)
		t.Logf("compare answered %d: %s", cmpStatus, cmpText)
	}
	screenshot(t, ctx, "initiative-1280x800.png", true)

	// Polling revalidates the report and the comparison; a 304 redraws nothing.
	_, err = chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#savings-chart figure').dataset.mark =
	  document.querySelector('#initiative-info h3').dataset.mark = 'kept'`))
	require.NoError(t, err)
	const savingsRoute = "GET /v1/initiatives/{id}/savings"
	seen := requests(t, reg, savingsRoute, http.StatusNotModified)
	require.Eventually(t, func() bool {
		return requests(t, reg, savingsRoute, http.StatusNotModified) >= seen+2
	}, 30*time.Second, 100*time.Millisecond, "the page revalidates the report with If-None-Match")
	marks, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector('#savings-chart figure').dataset.mark || '') + ',' +
	  (document.querySelector('#initiative-info h3').dataset.mark || '')`))
	require.NoError(t, err)
	require.Equal(t, "kept,kept", marks, "a 304 leaves the page as drawn")

	// The other methods: the page follows the method picked.
	for _, method := range []string{"did", "modelled"} {
		var rep apiReport
		status, text := getJSON(t, base+"/v1/initiatives/browser-test-co2/savings?method="+method, &rep)
		require.Equal(t, http.StatusOK, status, text)
		require.NoError(t, chromedp.Do(ctx,
			chromedp.SetValue(chromedp.ID("method"), method),
			chromedp.Click(chromedp.CSS(`#initiative-form button[type=submit]`)),
			chromedp.WaitReady(chromedp.CSS(`#view-initiatives:not([aria-busy])`)),
		))
		require.Eventually(t, func() bool {
			caption, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector('#savings-table caption') || {}).textContent || ''`))
			return err == nil && strings.Contains(caption, "("+method+",")
		}, 20*time.Second, 100*time.Millisecond, "the %s table is drawn", method)
		checkTotals(t, ctx, rep)
		hasObserved := false
		for _, y := range rep.Years {
			hasObserved = hasObserved || y.Observed != nil || y.Counterfactual != nil
		}
		lines, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#savings-chart path.series').length`))
		require.NoError(t, err)
		if hasObserved {
			require.Equal(t, 2, lines, method)
		} else {
			note, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('savings-chart').textContent`))
			require.NoError(t, err)
			require.Contains(t, note, "no observed line", method)
		}
	}

	// A shorter pre-period: the page asks for it and shows that report.
	{
		var full, recent apiReport
		status, text := getJSON(t, base+"/v1/initiatives/browser-test-co2/savings?method=its", &full)
		require.Equal(t, http.StatusOK, status, text)
		status, text = getJSON(t, base+"/v1/initiatives/browser-test-co2/savings?method=its&pre_from=1990", &recent)
		require.Equal(t, http.StatusOK, status, text)
		require.NotEqual(t, full.Totals, recent.Totals, "the pre-period changes the report, so the check below means something")
		require.NoError(t, chromedp.Do(ctx,
			chromedp.SetValue(chromedp.ID("method"), "its"),
			chromedp.SetValue(chromedp.ID("pre-from"), "1990"),
			chromedp.Click(chromedp.CSS(`#initiative-form button[type=submit]`)),
			chromedp.WaitReady(chromedp.CSS(`#view-initiatives:not([aria-busy])`)),
		))
		require.Eventually(t, func() bool {
			caption, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector('#savings-table caption') || {}).textContent || ''`))
			return err == nil && strings.Contains(caption, "(its,")
		}, 20*time.Second, 100*time.Millisecond, "the its table is drawn")
		checkTotals(t, ctx, recent)
	}

	// A narrow screen: nothing wider than the window but the tables, which scroll in their box.
	require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(390, 844)))
	fit, err := chromedp.Run(ctx, chromedp.Evaluate[struct{ Scroll, Inner int }](`({Scroll: document.documentElement.scrollWidth, Inner: window.innerWidth})`))
	require.NoError(t, err)
	require.LessOrEqual(t, fit.Scroll, fit.Inner)
	for _, p := range cons.take() {
		if cmpStatus != http.StatusOK {
			require.Regexp(t, fmt.Sprintf(`^network error: .*%d.*/v1/compare`, cmpStatus), p)
			continue
		}
		require.Fail(t, "console problem", p)
	}
}

// TestIntegrationBrowserFeeds: the feed health view shows what ingest
// records in NATS, and follows it as it changes.
func TestIntegrationBrowserFeeds(t *testing.T) {
	browser, ch, cat := setup(t)
	ns := testenv.StartNATS(t)
	svc, err := query.New(query.Config{JetStream: ns.JS}, ch.Conn, cat, zerolog.Nop(), prometheus.NewRegistry())
	require.NoError(t, err)
	base := serve(t, svc)
	all, err := feedcat.Load()
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(all), 3)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	kv, err := ns.JS.KeyValue(ctx, extnats.BucketFeedStatus)
	require.NoError(t, err)
	at := time.Now().UTC().Truncate(time.Second)
	okFeed, failFeed := all[0], all[1]
	require.NoError(t, feedstatus.Put(ctx, kv, feedstatus.Status{
		Feed: okFeed.ID, Worker: "w1", Result: feedstatus.ResultSuccess, LastAttempt: at, LastSuccess: &at,
		Rows: 120, Observations: 480, DurationSeconds: 2.5, NextRun: at.Add(okFeed.Schedule),
	}))
	failure := &feedstatus.Error{Message: "get " + failFeed.URL + ": http status 503 Service Unavailable", Time: at,
		Kind: feedstatus.KindHTTPStatus, HTTPStatus: 503}
	require.NoError(t, feedstatus.Put(ctx, kv, feedstatus.Status{
		Feed: failFeed.ID, Worker: "w2", Result: feedstatus.ResultError, LastAttempt: at,
		LastError: failure, ConsecutiveFailures: 3, NextRun: at.Add(20 * time.Minute),
	}))
	require.GreaterOrEqual(t, len(all), 4)
	partialFeed, missing := all[3], "page 1 of 2: the records of page 2 are missing"
	require.NoError(t, feedstatus.Put(ctx, kv, feedstatus.Status{
		Feed: partialFeed.ID, Worker: "w1", Result: feedstatus.ResultSuccess, LastAttempt: at, LastSuccess: &at,
		Rows: 10, Observations: 10, Incomplete: missing, NextRun: at.Add(partialFeed.Schedule),
	}))

	bctx, cons := startBrowser(t, browser)
	require.NoError(t, chromedp.Do(bctx,
		chromedp.Navigate(base+"/?poll=1#feeds"),
		chromedp.WaitVisible(chromedp.CSS(`#feeds-table tr[data-feed="`+okFeed.ID+`"]`)),
	))
	type feedRow struct {
		Feed, Status, State, Error, Rows string
	}
	const readFeeds = `Array.from(document.querySelectorAll('#feeds-table tbody tr')).map((tr) => ({
	  Feed: tr.dataset.feed, Status: tr.dataset.status, State: tr.querySelector('td.state').textContent,
	  Error: tr.querySelector('td.error-text').textContent, Rows: tr.querySelector('td.num').dataset.value}))`
	rows, err := chromedp.Run(bctx, chromedp.Evaluate[[]feedRow](readFeeds))
	require.NoError(t, err)
	require.Len(t, rows, len(all), "a row per declared feed")
	byID := map[string]feedRow{}
	for _, r := range rows {
		byID[r.Feed] = r
	}
	require.Equal(t, feedRow{Feed: okFeed.ID, Status: "ok", State: "ok", Error: "—", Rows: "120"}, byID[okFeed.ID])
	require.Equal(t, feedRow{Feed: partialFeed.ID, Status: "partial", State: "partial: " + missing, Error: "—", Rows: "10"}, byID[partialFeed.ID],
		"a partial feed says what it lacks")
	require.Equal(t, "failing", byID[failFeed.ID].Status)
	require.Contains(t, byID[failFeed.ID].Error, failure.Message)
	require.Equal(t, "never_run", byID[all[2].ID].Status)

	// The next run of the first feed fails: the page shows it at its next poll.
	later := at.Add(time.Minute)
	require.NoError(t, feedstatus.Put(ctx, kv, feedstatus.Status{
		Feed: okFeed.ID, Worker: "w1", Result: feedstatus.ResultError, LastAttempt: later, LastSuccess: &at,
		LastError:           &feedstatus.Error{Message: "parse body: unexpected end of JSON input", Time: later, Kind: feedstatus.KindParse},
		ConsecutiveFailures: 1, NextRun: later.Add(time.Minute),
	}))
	require.Eventually(t, func() bool {
		rows, err := chromedp.Run(bctx, chromedp.Evaluate[[]feedRow](readFeeds))
		if err != nil {
			return false
		}
		for _, r := range rows {
			if r.Feed == okFeed.ID {
				return r.Status == "failing" && strings.Contains(r.Error, "unexpected end of JSON input")
			}
		}
		return false
	}, 30*time.Second, 100*time.Millisecond, "the failure is drawn after a poll")
	screenshot(t, bctx, "feeds-1280x800.png", false)
	require.Empty(t, cons.take())
}
