package dev

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/feedcat"
	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/testenv"
)

// rawOWID reads column col for iso code geo from the OWID file with
// encoding/csv: year -> value, empty cells left out.
func rawOWID(t *testing.T, path, geo, col string) map[string]float64 {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	idx := map[string]int{}
	for i, h := range rows[0] {
		idx[h] = i
	}
	out := map[string]float64{}
	for _, r := range rows[1:] {
		if r[idx["iso_code"]] != geo || r[idx[col]] == "" {
			continue
		}
		v, err := strconv.ParseFloat(r[idx[col]], 64)
		require.NoError(t, err)
		out[r[idx["year"]]] = v
	}
	return out
}

type seriesBody struct {
	Series []struct {
		Geo    string `json:"geo"`
		Points []struct {
			Period     string  `json:"period"`
			Value      float64 `json:"value"`
			Source     string  `json:"source"`
			Provenance struct {
				Licence     string `json:"licence"`
				RetrievedAt string `json:"retrieved_at"`
			} `json:"provenance"`
		} `json:"points"`
	} `json:"series"`
}

func getSeries(url string) seriesBody {
	var body seriesBody
	resp, err := http.Get(url)
	if err != nil {
		return body
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&body) != nil {
		return seriesBody{}
	}
	return body
}

// rawWorldBank reads year -> value for one country from an API v2 page.
func rawWorldBank(t *testing.T, path, iso3 string) map[string]float64 {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var page []json.RawMessage
	require.NoError(t, json.Unmarshal(b, &page))
	require.Len(t, page, 2)
	var records []struct {
		ISO3  string   `json:"countryiso3code"`
		Date  string   `json:"date"`
		Value *float64 `json:"value"`
	}
	require.NoError(t, json.Unmarshal(page[1], &records))
	out := map[string]float64{}
	for _, r := range records {
		if r.ISO3 == iso3 && r.Value != nil {
			out[r.Date] = *r.Value
		}
	}
	return out
}

// rawCarbonNational reads half hour -> forecast from the national response.
func rawCarbonNational(t *testing.T, path string) map[string]float64 {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var doc struct {
		Data []struct {
			From      string `json:"from"`
			Intensity struct {
				Forecast float64 `json:"forecast"`
			} `json:"intensity"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(b, &doc))
	out := map[string]float64{}
	for _, d := range doc.Data {
		out[d.From] = d.Intensity.Forecast
	}
	return out
}

// The spine end to end, as `make run` runs it: the OWID CO2 file through
// ingest, JetStream and the loader into ClickHouse, and back out of the
// query API equal to the file.
func TestIntegrationDevServesOWIDFromTheMirror(t *testing.T) {
	ch := testenv.StartClickHouse(t)
	data := testenv.SharedDataDir(t)
	addr := testenv.FreeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var logs bytes.Buffer
	start := time.Now()
	go func() {
		done <- Run(ctx, []string{
			"--data-dir", t.TempDir(), "--nats-port", "-1", "--clickhouse-dsn", ch.DSN,
			"--query-addr", addr, "--gateway-addr", testenv.FreeAddr(t), "--mirror", data, "--log-format", "json", "--log-level", "warn",
		}, &logs)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err, logs.String())
		case <-time.After(60 * time.Second):
			t.Error("ounce dev did not stop within 60s")
		}
	})

	// Other formats through the same pipeline, compared with the raw files.
	for _, tc := range []struct {
		indicator, geo, source string
		want                   map[string]float64
	}{
		{"SH.XPD.CHEX.GD.ZS", "DEU", "worldbank-health-expenditure", rawWorldBank(t, filepath.Join(data, "worldbank", "api_v2_full", "SH.XPD.CHEX.GD.ZS_all_perpage10000_page1.json"), "DEU")},
		{"ci.intensity_forecast", "GB", "carbonintensity-national", rawCarbonNational(t, filepath.Join(data, "carbonintensity", "national_intensity_2019-08-25T1230Z_24h.json"))},
	} {
		require.NotEmpty(t, tc.want)
		url := fmt.Sprintf("http://%s/v1/series?indicator=%s&geo=%s", addr, tc.indicator, tc.geo)
		var body seriesBody
		require.Eventually(t, func() bool {
			body = getSeries(url)
			if len(body.Series) != 1 {
				return false
			}
			n := 0 // other feeds of the indicator (the bulk CSV) may load first
			for _, p := range body.Series[0].Points {
				if p.Source == tc.source {
					n++
				}
			}
			return n >= len(tc.want)
		}, 60*time.Second, 50*time.Millisecond, "series %s %s never matched the file; logs:\n%s", tc.indicator, tc.geo, &logs)
		got := map[string]float64{}
		for _, p := range body.Series[0].Points {
			if p.Source != tc.source {
				continue // the regional feed also reports GB as a whole
			}
			_, dup := got[p.Period]
			require.False(t, dup, "%s %s: period %s twice from %s", tc.indicator, tc.geo, p.Period, p.Source)
			got[p.Period] = p.Value
		}
		require.Len(t, got, len(tc.want))
		for period, v := range tc.want {
			require.Contains(t, got, period, "%s %s", tc.indicator, tc.geo)
			require.Equal(t, v, got[period], "%s %s %s", tc.indicator, tc.geo, period)
		}
	}

	// /readyz covers the loader as well as ClickHouse.
	resp, err := http.Get("http://" + addr + "/readyz")
	require.NoError(t, err)
	var ready struct {
		Ready  bool `json:"ready"`
		Checks []struct {
			Name string `json:"name"`
			OK   bool   `json:"ok"`
		} `json:"checks"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&ready))
	require.NoError(t, resp.Body.Close())
	require.True(t, ready.Ready)
	names := map[string]bool{}
	for _, c := range ready.Checks {
		names[c.Name] = c.OK
	}
	require.Equal(t, map[string]bool{"clickhouse": true, "loader": true}, names)

	file := filepath.Join(data, "owid", "co2", "owid-co2-data.csv")
	for _, tc := range []struct{ geo, col string }{
		{"GBR", "co2_per_capita"}, {"FRA", "co2"}, {"IND", "methane"}, {"OWID_WRL", "population"},
	} {
		want := rawOWID(t, file, tc.geo, tc.col)
		require.NotEmpty(t, want)
		url := fmt.Sprintf("http://%s/v1/series?indicator=owid.%s&geo=%s", addr, tc.col, tc.geo)
		var body seriesBody
		require.Eventually(t, func() bool {
			resp, err := http.Get(url)
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			body = seriesBody{}
			if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&body) != nil {
				return false
			}
			return len(body.Series) == 1 && len(body.Series[0].Points) == len(want)
		}, 60*time.Second, 50*time.Millisecond, "series %s %s never matched the file; logs:\n%s", tc.geo, tc.col, &logs)
		if tc.geo == "GBR" {
			t.Logf("OWID CO2 file to queryable in %s", time.Since(start).Round(time.Millisecond))
		}
		for _, p := range body.Series[0].Points {
			v, ok := want[p.Period]
			require.True(t, ok, "period %s not in the file", p.Period)
			require.Equal(t, v, p.Value, "%s %s %s", tc.geo, tc.col, p.Period)
			require.Equal(t, "owid-co2", p.Source)
			require.Equal(t, "CC BY 4.0", p.Provenance.Licence)
			require.NotEmpty(t, p.Provenance.RetrievedAt)
		}
	}
	// GET /v1/feeds reads the status ingest recorded in the embedded NATS:
	// the OWID feed ran, and read every row of the file.
	f, err := os.Open(file)
	require.NoError(t, err)
	records, err := csv.NewReader(f).ReadAll()
	require.NoError(t, f.Close())
	require.NoError(t, err)
	var owid feedEntry
	require.Eventually(t, func() bool {
		feeds, ok := getFeeds(addr)
		if !ok {
			return false
		}
		for _, e := range feeds {
			if e.ID == "owid-co2" {
				owid = e
			}
		}
		return owid.Status == "ok"
	}, 60*time.Second, 50*time.Millisecond, "owid-co2 never ok in /v1/feeds: %+v", owid)
	require.Equal(t, len(records)-1, owid.Rows)

	// Every value the feeds of the mirror hold lies in its indicator's
	// plausible range (indicators.Indicator.Plausible): the ranges the
	// gateway enforces on partners never contradict the open data.
	var statuses map[string]string
	require.Eventually(t, func() bool {
		feeds, ok := getFeeds(addr)
		statuses = map[string]string{}
		for _, e := range feeds {
			statuses[e.ID] = e.Status
			if e.Status != "ok" && e.Status != "partial" {
				return false
			}
		}
		return ok && len(feeds) > 0
	}, 2*time.Minute, 100*time.Millisecond, "not every feed ran: %v", statuses)
	// A World Bank recording that is the first page of several (the
	// overweight and health-expenditure ones are page 1 of 2) is partial,
	// and loaded; every other feed is ok.
	all, err := feedcat.Load()
	require.NoError(t, err)
	partial := 0
	for _, f := range all {
		want := "ok"
		if f.Format == "worldbank-api-json" && f.Mirror != "" {
			data, err := os.ReadFile(filepath.Join(testenv.SharedDataDir(t), filepath.FromSlash(f.Mirror)))
			require.NoError(t, err)
			var page []json.RawMessage
			require.NoError(t, json.Unmarshal(data, &page))
			var md struct{ Page, Pages int }
			require.NoError(t, json.Unmarshal(page[0], &md))
			if md.Page < md.Pages {
				want = "partial"
				partial++
			}
		}
		require.Equal(t, want, statuses[f.ID], "feed %s", f.ID)
	}
	require.Positive(t, partial, "the World Bank overweight recording is page 1 of 2")
	require.Eventually(t, func() bool {
		var pending uint64
		return ch.Conn.QueryRow(context.Background(), "SELECT count() FROM observations").Scan(&pending) == nil && pending > 0
	}, time.Minute, 50*time.Millisecond)
	cat, err := indicators.Load()
	require.NoError(t, err)
	type extent struct {
		Indicator string  `ch:"indicator"`
		Min       float64 `ch:"lo"`
		Max       float64 `ch:"hi"`
		Rows      uint64  `ch:"n"`
	}
	var extents []extent
	require.NoError(t, ch.Conn.Select(context.Background(), &extents,
		"SELECT indicator, min(value) AS lo, max(value) AS hi, count() AS n FROM observations GROUP BY indicator ORDER BY indicator"))
	require.Greater(t, len(extents), 100)
	for _, e := range extents {
		ind, ok := cat.Indicator(e.Indicator)
		require.True(t, ok, e.Indicator)
		b := ind.Plausible()
		assert.True(t, b.Contains(e.Min) && b.Contains(e.Max), "%s (%s): stored values %g to %g over %d rows, plausible %s", e.Indicator, ind.Unit, e.Min, e.Max, e.Rows, b)
	}
}

type feedEntry struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Rows   int    `json:"rows"`
}

// getFeeds reads GET /v1/feeds; false when it did not answer 200 with JSON.
func getFeeds(addr string) ([]feedEntry, bool) {
	resp, err := http.Get("http://" + addr + "/v1/feeds")
	if err != nil {
		return nil, false
	}
	defer resp.Body.Close()
	var body struct{ Feeds []feedEntry }
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&body) != nil {
		return nil, false
	}
	return body.Feeds, true
}
