package query_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/ounce-data/ounce/pkg/extch"
	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/pkg/testenv"
	"github.com/ounce-data/ounce/services/query"
)

// The scale benchmarks run the API on a database of OUNCE_BENCH_ROWS
// observations (10 million by default): the first 40 indicators of the
// catalogue × 250 places × 1000 years (1500-2499). The database, ounce_bench_scale, is
// kept between runs and reloaded only when its row count differs.
//
//	OUNCE_INTEGRATION=1 go test -run '^$' -bench 'Scale' -benchtime 2000x .
const (
	scaleDB         = "ounce_bench_scale"
	scaleIndicators = 40
	scalePlaces     = 250
	scaleFirstYear  = 1500
)

func scaleRows() int {
	if v, err := strconv.Atoi(os.Getenv("OUNCE_BENCH_ROWS")); err == nil && v > 0 {
		return v
	}
	return 10_000_000
}

// scaleService opens (loading when needed) the scale database and serves
// the API on it.
func scaleService(b *testing.B) (*query.Service, driver.Conn) {
	b.Helper()
	server := testenv.ServerDSN(b)
	dsn := strings.TrimSuffix(server, "/default")
	if i := strings.LastIndex(dsn, "/"); i > len("clickhouse://") {
		dsn = dsn[:i]
	}
	dsn += "/" + scaleDB
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	conn, err := extch.Open(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = conn.Close() })
	if _, err := extch.Migrate(ctx, conn); err != nil {
		b.Fatal(err)
	}
	cat, err := indicators.Load()
	if err != nil {
		b.Fatal(err)
	}
	if err := extch.SyncCatalogue(ctx, conn, cat); err != nil {
		b.Fatal(err)
	}
	want := scaleRows()
	var have uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM observations FINAL").Scan(&have); err != nil {
		b.Fatal(err)
	}
	if int(have) != want {
		loadScale(b, ctx, conn, scaleCodes(cat), want)
	}
	svc, err := query.New(query.Config{AnalystToken: testAnalystToken}, conn, cat, zerolog.Nop(), prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	return svc, conn
}

func scaleCodes(cat *indicators.Catalogue) []string {
	var codes []string
	for _, ind := range cat.Indicators() {
		if ind.Ratio == nil {
			codes = append(codes, ind.Code)
		}
	}
	return codes[:min(scaleIndicators, len(codes))]
}

func scaleGeo(i int) string { return fmt.Sprintf("P%03d", i) }

func loadScale(b *testing.B, ctx context.Context, conn driver.Conn, codes []string, rows int) {
	b.Helper()
	start := time.Now()
	if err := conn.Exec(ctx, "TRUNCATE TABLE observations"); err != nil {
		b.Fatal(err)
	}
	var cols extch.Columns
	n := 0
	retrieved := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	flush := func() {
		if err := cols.Insert(ctx, conn); err != nil {
			b.Fatal(err)
		}
		cols.Reset()
	}
	years := rows / (len(codes) * scalePlaces)
	for _, code := range codes {
		for p := range scalePlaces {
			for y := range years {
				o := observation.Observation{
					Indicator: code, Geo: scaleGeo(p), Period: observation.Year(scaleFirstYear + y),
					// A gentle trend with a step at year 500, and noise, kept
					// within 17 to 62 so that it is plausible for every unit
					// (a share in % included): savings refuse implausible data.
					Value: observation.Float(20 + float64(y)/25 - float64(min(max(y-500, 0), 1))*3 + float64((p*7919+y*104729)%97)/50),
					Unit:  "unit", Source: "bench", Version: 1,
					Provenance: observation.Provenance{URL: "https://example.org/bench", Licence: "CC0", RetrievedAt: retrieved},
				}
				cols.Add(&o, "bench")
				n++
				if cols.Len() == 500_000 {
					flush()
				}
			}
		}
	}
	flush()
	if err := conn.Exec(ctx, "OPTIMIZE TABLE observations FINAL"); err != nil {
		b.Fatal(err)
	}
	b.Logf("loaded %d observations in %s", n, time.Since(start).Round(time.Second))
}

// percentiles reports p50 and p99 of ds as benchmark metrics.
func percentiles(b *testing.B, ds []time.Duration) {
	slices.Sort(ds)
	if len(ds) == 0 {
		return
	}
	b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(ds[len(ds)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkScaleSeries: one indicator, five places, a century, through the
// whole handler, on the 10-million-row table.
func BenchmarkScaleSeries(b *testing.B) {
	svc, conn := scaleService(b)
	codes := scaleCodes(mustCatalogue(b))
	h := svc.Handler()
	ds := make([]time.Duration, 0, b.N)
	i := 0
	for b.Loop() {
		code := codes[i%len(codes)]
		g := i % (scalePlaces - 5)
		target := fmt.Sprintf("/v1/series?indicator=%s&geo=%s,%s,%s,%s,%s&from=1900&to=1999", code,
			scaleGeo(g), scaleGeo(g+1), scaleGeo(g+2), scaleGeo(g+3), scaleGeo(g+4))
		t0 := time.Now()
		rec := do(h, http.MethodGet, target)
		ds = append(ds, time.Since(t0))
		if rec.Code != http.StatusOK || (scaleRows() == 10_000_000 && !strings.Contains(rec.Body.String(), `"count":500`)) {
			b.Fatalf("status %d: %.300s", rec.Code, rec.Body.String())
		}
		i++
	}
	percentiles(b, ds)
	_ = conn
}

// BenchmarkScaleSavings: an interrupted-time-series report (up to 500 pre-period
// years, 30-year horizon) on the 10-million-row table.
func BenchmarkScaleSavings(b *testing.B) {
	svc, _ := scaleService(b)
	codes := scaleCodes(mustCatalogue(b))
	cat := mustCatalogue(b)
	target := ""
	for _, c := range codes {
		if ind, _ := cat.Indicator(c); ind.Polarity != indicators.Neutral {
			target = c
			break
		}
	}
	h := svc.Handler()
	// Half the stored years before the start: 500 with 10 million rows.
	years := scaleRows() / (scaleIndicators * scalePlaces)
	startYear := max(scaleFirstYear+years/2, 1800)
	doc := fmt.Sprintf(`{"id": "bench-its", "indicator": %q, "geo": %q, "start_year": %d, "method": "its",
	  "population": {"value": 1000000}, "scale": 0.01,
	  "unit_costs": [{"agency": "NHS", "amount": 566, "currency": "GBP", "price_year": 2014}],
	  "costs": [{"year": %d, "amount": 150000}], "cba": {"horizon": 30, "persistence": 30}}`, target, scaleGeo(7), startYear, startYear)
	req, _ := http.NewRequest(http.MethodPut, "/v1/initiatives/bench-its", strings.NewReader(doc))
	req.Header.Set("Authorization", "Bearer "+testAnalystToken)
	rec := doReq(h, req)
	if rec.Code/100 != 2 {
		b.Fatalf("put initiative: %d %s", rec.Code, rec.Body.String())
	}
	timeGets(b, h, "/v1/initiatives/bench-its/savings")
}

// BenchmarkScaleMethods: every method side by side
// (/v1/initiatives/{id}/savings/methods) with a synthetic control of 40
// donors over the default 30-year pre-period (horizon 9), its 40 placebo
// fits included, on the 10-million-row table. The goal is a p50 under
// 150 ms on a 2-core machine.
func BenchmarkScaleMethods(b *testing.B) {
	svc, _ := scaleService(b)
	cat := mustCatalogue(b)
	target := ""
	for _, c := range scaleCodes(cat) {
		if ind, _ := cat.Indicator(c); ind.Polarity != indicators.Neutral {
			target = c
			break
		}
	}
	h := svc.Handler()
	years := scaleRows() / (scaleIndicators * scalePlaces)
	startYear := scaleFirstYear + years/2
	donors := make([]string, 40)
	for j := range donors {
		donors[j] = fmt.Sprintf("%q", scaleGeo(10+j))
	}
	doc := fmt.Sprintf(`{"id": "bench-methods", "indicator": %q, "geo": %q, "start_year": %d, "method": "synth",
	  "comparison_geos": [%s], "population": {"value": 1000000}, "scale": 0.01,
	  "unit_costs": [{"agency": "NHS", "amount": 566, "currency": "GBP", "price_year": 2014}],
	  "costs": [{"year": %d, "amount": 150000}], "cohort": {"size": 1000, "engagement": 0.8, "success": 0.25},
	  "cba": {"horizon": 9}}`, target, scaleGeo(7), startYear, strings.Join(donors, ", "), startYear)
	req, _ := http.NewRequest(http.MethodPut, "/v1/initiatives/bench-methods", strings.NewReader(doc))
	req.Header.Set("Authorization", "Bearer "+testAnalystToken)
	rec := doReq(h, req)
	if rec.Code/100 != 2 {
		b.Fatalf("put initiative: %d %s", rec.Code, rec.Body.String())
	}
	rec = do(h, http.MethodGet, "/v1/initiatives/bench-methods/savings/methods")
	var m struct {
		Methods []struct {
			Method  string
			Applies bool
			Skipped json.RawMessage
		}
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil || rec.Code != http.StatusOK {
		b.Fatalf("status %d (%v): %.300s", rec.Code, err, rec.Body.String())
	}
	for _, s := range m.Methods {
		if !s.Applies {
			b.Fatalf("method %s does not apply: %s", s.Method, s.Skipped)
		}
	}
	timeGets(b, h, "/v1/initiatives/bench-methods/savings/methods")
}

// timeGets GETs target once per benchmark iteration, each answer 200, and
// reports the latencies' percentiles.
func timeGets(b *testing.B, h http.Handler, target string) {
	ds := make([]time.Duration, 0, b.N)
	for b.Loop() {
		t0 := time.Now()
		rec := do(h, http.MethodGet, target)
		ds = append(ds, time.Since(t0))
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %.300s", rec.Code, rec.Body.String())
		}
	}
	percentiles(b, ds)
}

// BenchmarkScaleETagPolling: dashboards revalidating a series with
// If-None-Match over real HTTP on loopback, from parallel clients; reports
// requests per second answered 304.
func BenchmarkScaleETagPolling(b *testing.B) {
	svc, _ := scaleService(b)
	codes := scaleCodes(mustCatalogue(b))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: svc.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Close() })
	url := fmt.Sprintf("http://%s/v1/series?indicator=%s&geo=%s&from=1900&to=1999", ln.Addr(), codes[0], scaleGeo(3))
	resp, err := http.Get(url)
	if err != nil {
		b.Fatal(err)
	}
	_ = resp.Body.Close()
	tag := resp.Header.Get("ETag")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var notModified atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			req.Header.Set("If-None-Match", tag)
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusNotModified {
				notModified.Add(1)
			}
		}
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if int(notModified.Load()) != b.N {
		b.Fatalf("%d of %d answers were 304", notModified.Load(), b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
}

func mustCatalogue(b *testing.B) *indicators.Catalogue {
	cat, err := indicators.Load()
	if err != nil {
		b.Fatal(err)
	}
	return cat
}

func doReq(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}
