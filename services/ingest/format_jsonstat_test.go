package ingest_test

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/extch"
	"github.com/ounce-data/ounce/pkg/feedcat"
	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/pkg/testenv"
	"github.com/ounce-data/ounce/services/ingest"
)

// jsonstatCell is one non-null cell of a JSON-stat recording, read with
// encoding/json into generic values: its category per dimension, value and
// status.
type jsonstatCell struct {
	at     map[string]string
	value  float64
	status string
}

// jsonstatValues walks every combination of categories of every dataset
// in data (a 2.0 dataset, or a 1.x bundle whose id and size sit in
// dimension) and looks its cell up by the flat index the format defines.
func jsonstatValues(t *testing.T, data []byte) []jsonstatCell {
	t.Helper()
	var doc map[string]any
	require.NoError(t, json.Unmarshal(data, &doc))
	sets := []map[string]any{doc}
	if doc["class"] == nil {
		sets = nil
		for _, v := range doc {
			sets = append(sets, v.(map[string]any))
		}
	}
	var out []jsonstatCell
	for _, ds := range sets {
		dim := ds["dimension"].(map[string]any)
		ids, sizes := ds["id"], ds["size"]
		if ids == nil {
			ids, sizes = dim["id"], dim["size"]
		}
		var names []string
		var order [][]string
		for k, id := range ids.([]any) {
			cat := dim[id.(string)].(map[string]any)["category"].(map[string]any)
			n := int(sizes.([]any)[k].(float64))
			cats := make([]string, n)
			switch idx := cat["index"].(type) {
			case []any:
				for i, c := range idx {
					cats[i] = c.(string)
				}
			case map[string]any:
				for c, p := range idx {
					cats[int(p.(float64))] = c
				}
			default:
				for c := range cat["label"].(map[string]any) {
					cats[0] = c
				}
			}
			names = append(names, id.(string))
			order = append(order, cats)
		}
		value := func(i int) (any, string) {
			var v any
			switch vs := ds["value"].(type) {
			case []any:
				v = vs[i]
			case map[string]any:
				v = vs[strconv.Itoa(i)]
			}
			var s any
			switch st := ds["status"].(type) {
			case []any:
				s = st[i]
			case map[string]any:
				if inner, ok := st["value"].([]any); ok {
					s = inner[i]
				} else {
					s = st[strconv.Itoa(i)]
				}
			case string:
				s = st
			}
			str, _ := s.(string)
			return v, str
		}
		pos := make([]int, len(names))
		for {
			flat := 0
			at := map[string]string{}
			for k := range names {
				flat = flat*len(order[k]) + pos[k]
				at[names[k]] = order[k][pos[k]]
			}
			if v, status := value(flat); v != nil {
				out = append(out, jsonstatCell{at: at, value: v.(float64), status: status})
			}
			k := len(pos) - 1
			for k >= 0 {
				pos[k]++
				if pos[k] < len(order[k]) {
					break
				}
				pos[k] = 0
				k--
			}
			if k < 0 {
				break
			}
		}
	}
	return out
}

// jsonstatCases: each JSON-stat feed, its place and time dimensions, and
// the place codes of the places checked, as documented (EL/UK and
// aggregates in pkg/feeds/eurostat).
var jsonstatCases = []struct {
	id, geo, time string
	places        map[string]string
}{
	{"eurostat-gdp", "geo", "time", map[string]string{"DK": "DNK"}},
	{"oecd-unemployment", "area", "year", map[string]string{"UK": "GBR", "GR": "GRC", "DE": "DEU", "US": "USA", "JP": "JPN", "EU15": "oecd:EU15", "OECD": "oecd:OECD"}},
	{"eurostat-gdp-per-capita-wdds", "geo", "time", map[string]string{"IT": "ITA", "FR": "FRA"}},
}

// TestIntegrationJSONStatFeedsIntoClickHouse runs each JSON-stat feed from
// the mirror through embedded NATS, loads the published batches into a
// real ClickHouse as the loader does, and compares what ClickHouse returns
// (FINAL) with the cells read from the raw file with encoding/json.
func TestIntegrationJSONStatFeedsIntoClickHouse(t *testing.T) {
	dir := testenv.SharedDataDir(t)
	ch := testenv.StartClickHouse(t)
	cat, err := indicators.Load()
	require.NoError(t, err)
	for _, tc := range jsonstatCases {
		t.Run(tc.id, func(t *testing.T) {
			f := whoCatalogueFeed(t, tc.id)
			e := newEnv(t, ingest.Config{MirrorDir: dir}, func(feed *feedcat.Feed) { *feed = f })
			start := time.Now()
			res, err := e.in.RunFeed(ctxT(t), f.ID)
			require.NoError(t, err)
			got := loadAndRead(t, e, ch, f.ID)
			elapsed := time.Since(start)

			data, err := os.ReadFile(dataPath(t, dir, f))
			require.NoError(t, err)
			selectors := map[string]string{}
			for _, ind := range cat.Files[f.Catalogue].Indicators {
				selectors[ind.Column] = ind.Code
			}
			total, want := 0, map[chKey]float64{}
			for _, c := range jsonstatValues(t, data) {
				for sel, code := range selectors {
					match := true
					for _, part := range strings.Split(sel, ",") {
						d, v, _ := strings.Cut(part, "=")
						match = match && c.at[d] == v
					}
					if !match {
						continue
					}
					total++
					if geo, ok := tc.places[c.at[tc.geo]]; ok {
						// Statuses are counted, not keys.
						want[chKey{code, geo, yearStart(t, c.at[tc.time]), ""}] = c.value
					}
				}
			}
			require.Equal(t, total, res.Observations, "published = mapped non-null cells of the raw file")
			require.Len(t, got, total, "ClickHouse holds every value once")
			checkWanted(t, got, want)
			t.Logf("%s: %d cells, %d observations into ClickHouse in %s; %d values checked", f.ID, res.Rows, len(got), elapsed.Round(time.Millisecond), len(want))
		})
	}
}

// loadAndRead inserts the feed's published batches into ClickHouse as the
// loader does and reads the feed's observations back (FINAL).
func loadAndRead(t *testing.T, e *env, ch *testenv.ClickHouse, source string) map[chKey]float64 {
	t.Helper()
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
	rows, err := ch.Conn.Query(ctxT(t),
		"SELECT indicator, geo, period_start, dims, value FROM observations FINAL WHERE source = ?", source)
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
	return got
}

// checkWanted requires every wanted value in got, at several places and
// periods together.
func checkWanted(t *testing.T, got, want map[chKey]float64) {
	t.Helper()
	require.NotEmpty(t, want)
	places, periods := map[string]bool{}, map[int64]bool{}
	for k, v := range want {
		g, ok := got[k]
		require.True(t, ok, "ClickHouse lacks %+v", k)
		require.Equal(t, v, g, "%+v", k)
		places[k.geo], periods[k.start] = true, true
	}
	t.Logf("checked %d values at %d places, %d periods", len(want), len(places), len(periods))
}
