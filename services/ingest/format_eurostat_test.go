package ingest_test

import (
	"bytes"
	"encoding/csv"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/feedcat"
	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/pkg/testenv"
	"github.com/ounce-data/ounce/services/ingest"
)

// TestIntegrationEurostatCSVIntoClickHouse runs the env_wasgt feed from
// the mirror through embedded NATS into a real ClickHouse and compares
// what ClickHouse returns (FINAL) with the rows read with encoding/csv:
// commas removed from values, ":" rows absent, flags not part of the key.
func TestIntegrationEurostatCSVIntoClickHouse(t *testing.T) {
	dir := testenv.SharedDataDir(t)
	ch := testenv.StartClickHouse(t)
	cat, err := indicators.Load()
	require.NoError(t, err)
	f := whoCatalogueFeed(t, "eurostat-waste-treatment")
	e := newEnv(t, ingest.Config{MirrorDir: dir}, func(feed *feedcat.Feed) { *feed = f })
	start := time.Now()
	res, err := e.in.RunFeed(ctxT(t), f.ID)
	require.NoError(t, err)
	got := loadAndRead(t, e, ch, f.ID)
	elapsed := time.Since(start)

	data, err := os.ReadFile(dataPath(t, dir, f))
	require.NoError(t, err)
	raw, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	require.NoError(t, err)
	col := map[string]int{}
	for i, h := range raw[0] {
		col[h] = i
	}
	codes := map[string]string{}
	for _, ind := range cat.Files[f.Catalogue].Indicators {
		codes[ind.Column] = ind.Code
	}
	// Eurostat geo labels of the places checked, to the place catalogue.
	geos := map[string]string{"Greece": "GRC", "United Kingdom": "GBR", "Germany (until 1990 former territory of the FRG)": "DEU",
		"Poland": "POL", "Kosovo (under United Nations Security Council Resolution 1244/99)": "XKX",
		"European Union - 27 countries (from 2020)": "eurostat:EU27_2020", "European Union - 28 countries (2013-2020)": "eurostat:EU28"}
	total, missing, want := 0, 0, map[chKey]float64{}
	for _, r := range raw[1:] {
		if r[col["Value"]] == ":" {
			missing++
			continue
		}
		total++
		geo, ok := geos[r[col["GEO"]]]
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.ReplaceAll(r[col["Value"]], ",", ""), 64)
		require.NoError(t, err)
		// Flags are counted, not keys: a provisional value and its final
		// release are versions of one observation.
		d := observation.Dims{"hazard": r[col["HAZARD"]], "waste": r[col["WASTE"]]}
		want[chKey{codes[r[col["WST_OPER"]]], geo, yearStart(t, r[col["TIME"]]), d.Canonical()}] = v
	}
	require.Equal(t, len(raw)-1, res.Rows)
	require.Equal(t, total, res.Observations, "published = rows with a value")
	require.Len(t, got, total, "ClickHouse holds every value once; ':' rows are absent, not zero")
	checkWanted(t, got, want)
	t.Logf("%s: %d rows (%d ':'), %d observations into ClickHouse in %s", f.ID, res.Rows, missing, len(got), elapsed.Round(time.Millisecond))
}

// An HTML page, a JSON error or a cut body answered with 200 publishes
// nothing, for both Eurostat formats.
func TestEurostatErrorBodiesPublishNothing(t *testing.T) {
	for _, tc := range []struct{ feed, name, body, err string }{
		{"eurostat-waste-treatment", "html", "<!DOCTYPE html><html><body>Maintenance</body></html>", "body is HTML"},
		{"eurostat-waste-treatment", "json", `{"error":{"status":404,"label":"not found"}}`, "body is JSON, not CSV"},
		{"eurostat-waste-treatment", "truncated", `"TIME","GEO","UNIT","HAZARD","WASTE","WST_OPER","Value","Flag and Footnotes"` + "\n" + `"2016","Greece","Tonne","`, "line 2 (data row 1)"},
		{"eurostat-gdp", "html", "<!DOCTYPE html><html><body>Maintenance</body></html>", "body is HTML"},
		{"eurostat-gdp", "api error", `{"error":[{"status":413,"id":413,"label":"EXTRACTION_TOO_BIG"}]}`, "EXTRACTION_TOO_BIG"},
		{"eurostat-gdp", "truncated", `{"version":"2.0","class":"dataset","value":{"0":1.5,`, "not valid JSON"},
	} {
		t.Run(tc.feed+"/"+tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				_, _ = w.Write([]byte(tc.body))
			}))
			t.Cleanup(srv.Close)
			f := whoCatalogueFeed(t, tc.feed)
			e := newEnv(t, ingest.Config{}, func(feed *feedcat.Feed) { *feed = f }, atURL(srv.URL+"/data"))
			_, err := e.in.RunFeed(ctxT(t), f.ID)
			require.ErrorContains(t, err, tc.err)
			require.ErrorContains(t, err, "feed "+tc.feed)
			require.Zero(t, e.streamCount(t))
		})
	}
}
