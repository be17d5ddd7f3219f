package ingest_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/extch"
	"github.com/ounce-data/ounce/pkg/feedcat"
	"github.com/ounce-data/ounce/pkg/feeds/socrata/socratatest"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/pkg/testenv"
	"github.com/ounce-data/ounce/services/ingest"
)

// chKey is an observation as ClickHouse stores it.
type chKey struct {
	indicator, geo string
	start          int64
	dims           string
}

// socrataCase says, for one feed, how many values its recording holds and
// the expected values at a few places, read from the raw rows; place codes
// are the documented scheme, written out for the places checked.
type socrataCase struct {
	id     string
	expect func(t *testing.T, rows []map[string]string) (total int, want map[chKey]float64)
}

func yearStart(t *testing.T, y string) int64 {
	p, err := observation.ParsePeriod(y)
	require.NoError(t, err)
	return p.Start.Unix()
}

func leadingCausesCase(id string) socrataCase {
	return socrataCase{id, func(t *testing.T, rows []map[string]string) (int, map[chKey]float64) {
		geos := map[string]string{"California": "US-CA", "Texas": "US-TX", "United States": "USA"}
		total, want := 0, map[chKey]float64{}
		for _, r := range rows {
			for field, ind := range map[string]string{"deaths": "cdc.nchs.leading_causes_deaths", "aadr": "cdc.nchs.leading_causes_aadr"} {
				if r[field] == "" {
					continue
				}
				total++
				if g, ok := geos[r["state"]]; ok {
					v, err := strconv.ParseFloat(r[field], 64)
					require.NoError(t, err)
					want[chKey{ind, g, yearStart(t, r["year"]), observation.Dims{"cause": r["cause_name"]}.Canonical()}] = v
				}
			}
		}
		return total, want
	}}
}

func mustFloat(t *testing.T, s string) float64 {
	v, err := strconv.ParseFloat(s, 64)
	require.NoError(t, err)
	return v
}

var socrataCases = []socrataCase{
	{"cdc-death-rates-1900-2018", func(t *testing.T, rows []map[string]string) (int, map[chKey]float64) {
		want := map[chKey]float64{}
		for _, r := range rows {
			want[chKey{"cdc.nchs.aadr_major_causes", "USA", yearStart(t, r["year"]), observation.Dims{"cause": r["leading_causes"]}.Canonical()}] = mustFloat(t, r["age_adjusted_death_rate"])
		}
		return len(rows), want
	}},
	{"cdc-vsrr-quarterly-mortality", func(t *testing.T, rows []map[string]string) (int, map[chKey]float64) {
		geos := map[string]string{"rate_overall": "USA", "rate_california": "US-CA", "rate_texas": "US-TX", "rate_new_york": "US-NY"}
		total, want := 0, map[chKey]float64{}
		for _, r := range rows {
			q, err := observation.ParsePeriod(r["year_and_quarter"][:4] + "-" + r["year_and_quarter"][5:])
			require.NoError(t, err)
			d := observation.Dims{"cause": r["cause_of_death"], "rate_type": r["rate_type"], "time_period": r["time_period"]}.Canonical()
			for k, v := range r {
				if len(k) < 5 || k[:5] != "rate_" || k == "rate_type" || v == "" {
					continue
				}
				total++
				if g, ok := geos[k]; ok {
					want[chKey{"cdc.vsrr.death_rate", g, q.Start.Unix(), d}] = mustFloat(t, v)
				}
			}
		}
		return total, want
	}},
	{"cdc-500-cities", func(t *testing.T, rows []map[string]string) (int, map[chKey]float64) {
		total, want := 0, map[chKey]float64{}
		for _, r := range rows {
			for k, v := range r {
				n := len(k)
				if v == "" || !(n > 10 && k[n-10:] == "_crudeprev" || n > 8 && k[n-8:] == "_adjprev") {
					continue
				}
				total++
				if r["stateabbr"] == "CA" || r["stateabbr"] == "TX" {
					want[chKey{"cdc.500cities." + k, "us-place:" + r["placefips"], yearStart(t, "2017"), ""}] = mustFloat(t, v)
				}
			}
		}
		return total, want
	}},
	leadingCausesCase("cdc-leading-causes"),
	leadingCausesCase("cdc-leading-causes-rows"),
	{"cdc-dhds-disability", func(t *testing.T, rows []map[string]string) (int, map[chKey]float64) {
		geos := map[string]string{"CA": "US-CA", "NY": "US-NY", "US": "USA", "PR": "PRI", "HHS1": "hhs:1"}
		total, want := 0, map[chKey]float64{}
		for _, r := range rows {
			if r["data_value"] == "" {
				continue
			}
			total++
			if g, ok := geos[r["locationabbr"]]; ok {
				v, err := strconv.ParseFloat(r["data_value"], 64)
				require.NoError(t, err)
				d := observation.Dims{"response": r["response"], "value_type": r["datavaluetypeid"], "stratification": r["stratification1"]}
				want[chKey{"cdc.dhds.disability_prevalence", g, yearStart(t, r["year"]), d.Canonical()}] = v
			}
		}
		return total, want
	}},
}

// TestIntegrationSocrataFeedsIntoClickHouse runs Socrata feeds from the
// mirror through embedded NATS, loads the published batches into a real
// ClickHouse the way the loader does (one columnar insert), and compares
// what ClickHouse returns (FINAL) with values read from the raw files.
func TestIntegrationSocrataFeedsIntoClickHouse(t *testing.T) {
	dir := testenv.SharedDataDir(t)
	ch := testenv.StartClickHouse(t)
	for _, tc := range socrataCases {
		t.Run(tc.id, func(t *testing.T) {
			f := whoCatalogueFeed(t, tc.id)
			e := newEnv(t, ingest.Config{MirrorDir: dir}, func(feed *feedcat.Feed) { *feed = f })
			start := time.Now()
			res, err := e.in.RunFeed(ctxT(t), f.ID)
			require.NoError(t, err)

			var cols extch.Columns
			for _, m := range e.streamMessages(t) {
				b, err := observation.Decode(m.Data())
				require.NoError(t, err)
				for i := range b.Observations {
					require.NoError(t, b.Observations[i].Validate())
					cols.Add(&b.Observations[i], b.ID)
				}
			}
			require.NoError(t, cols.Insert(ctxT(t), ch.Conn))
			elapsed := time.Since(start)

			data, err := os.ReadFile(dataPath(t, dir, f))
			require.NoError(t, err)
			total, want := tc.expect(t, socratatest.RawRows(t, f.Format, data))
			require.Equal(t, total, res.Observations, "published = values in the raw file")

			rows, err := ch.Conn.Query(ctxT(t),
				"SELECT indicator, geo, period_start, dims, value FROM observations FINAL WHERE source = ?", f.ID)
			require.NoError(t, err)
			got := map[chKey]float64{}
			for rows.Next() {
				var k chKey
				var v float64
				require.NoError(t, rows.Scan(&k.indicator, &k.geo, &k.start, &k.dims, &v))
				got[k] = v
			}
			require.NoError(t, rows.Err())
			require.NoError(t, rows.Close())
			require.Len(t, got, total, "ClickHouse holds every value once")
			places, periods := map[string]bool{}, map[int64]bool{}
			for k, v := range want {
				g, ok := got[k]
				require.True(t, ok, "ClickHouse lacks %+v", k)
				require.Equal(t, v, g, "%+v", k)
				places[k.geo], periods[k.start] = true, true
			}
			require.GreaterOrEqual(t, len(places)+len(periods), 6, "several places and periods")
			t.Logf("%s: %d rows, %d observations into ClickHouse in %s; %d values checked at %d places, %d periods",
				f.ID, res.Rows, len(got), elapsed.Round(time.Millisecond), len(want), len(places), len(periods))
		})
	}
}

// A Socrata error or an HTML page answered with 200 publishes nothing.
func TestSocrataErrorBodiesPublishNothing(t *testing.T) {
	for name, body := range map[string]string{
		"error object": `{"code":"query.soql.no-such-column","error":true,"message":"No such column: yeer"}`,
		"html":         "<!DOCTYPE html><html><body>Maintenance</body></html>",
		"truncated":    `[{"year":"2017","state":"Ohio","cause_name":"Stroke","deaths":"10","aadr":"1.5"},{"year":`,
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				_, _ = w.Write([]byte(body))
			}))
			t.Cleanup(srv.Close)
			f := whoCatalogueFeed(t, "cdc-leading-causes")
			e := newEnv(t, ingest.Config{}, func(feed *feedcat.Feed) { *feed = f }, atURL(srv.URL+"/resource/bi63-dtpu.json"))
			_, err := e.in.RunFeed(ctxT(t), f.ID)
			require.Error(t, err)
			require.Contains(t, err.Error(), "socrata")
			require.Zero(t, e.streamCount(t))
		})
	}
}

// A SODA feed with a page_size is fetched page after page ($limit,
// $offset, $order=:id) until a short page; the pages publish as one body.
// A server that ignores $offset is an error, not an endless loop.
func TestSocrataPagingOverHTTP(t *testing.T) {
	dir := testenv.SharedDataDir(t)
	f := whoCatalogueFeed(t, "cdc-death-rates-1900-2018")
	data, err := os.ReadFile(dataPath(t, dir, f))
	require.NoError(t, err)
	var rows []json.RawMessage
	require.NoError(t, json.Unmarshal(data, &rows))
	for _, ignoresOffset := range []bool{false, true} {
		var requests []string
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			requests = append(requests, r.URL.RawQuery)
			limit, err1 := strconv.Atoi(q.Get("$limit"))
			offset, err2 := strconv.Atoi(q.Get("$offset"))
			if err1 != nil || err2 != nil || q.Get("$order") != ":id" {
				http.Error(w, "bad paging", http.StatusBadRequest)
				return
			}
			if ignoresOffset {
				offset = 0
			}
			page := rows[min(offset, len(rows)):min(offset+limit, len(rows))]
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(page)
		}))
		t.Cleanup(srv.Close)
		e := newEnv(t, ingest.Config{}, func(feed *feedcat.Feed) { *feed = f; feed.PageSize = 200 }, atURL(srv.URL+"/resource/6rkc-nb2q.json"))
		res, err := e.in.RunFeed(ctxT(t), f.ID)
		if ignoresOffset {
			require.ErrorContains(t, err, "the server ignores the paging parameters")
			require.Zero(t, e.streamCount(t))
			continue
		}
		require.NoError(t, err)
		require.Len(t, requests, 3, "595 rows in pages of 200")
		require.Equal(t, len(rows), res.Rows)
		require.Equal(t, len(rows), res.Observations)
	}
}
