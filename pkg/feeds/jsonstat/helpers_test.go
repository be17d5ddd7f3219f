package jsonstat_test

import (
	"bytes"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/feeds"
	"github.com/ounce-data/ounce/pkg/feeds/eurostat"
	"github.com/ounce-data/ounce/pkg/feeds/feedtest"
	"github.com/ounce-data/ounce/pkg/feeds/jsonstat"
	"github.com/ounce-data/ounce/pkg/observation"
)

// The JSON-stat feeds of schemas/feeds; every recording holding
// observations has one.
var feedIDs = []string{"eurostat-gdp", "oecd-unemployment", "eurostat-gdp-per-capita-wdds"}

// setup returns a declared feed's mapping and its recording.
func setup(tb testing.TB, id string) (jsonstat.Mapping, []byte) {
	tb.Helper()
	rec := feedtest.Load(tb, id)
	fields, err := jsonstat.ParseFields(rec.Feed.Mapping)
	require.NoError(tb, err)
	pl, err := eurostat.NewPlaces(rec.Places, fields.Aggregates)
	require.NoError(tb, err)
	return jsonstat.Mapping{Meta: rec.Meta, Columns: rec.Columns, Fields: fields, Places: pl}, rec.Data
}

// readAll runs a reader over body to its end, checking every observation
// and that Stats counts what was yielded.
func readAll(tb testing.TB, body []byte, m jsonstat.Mapping) ([]observation.Observation, feeds.Stats, error) {
	tb.Helper()
	rd, err := jsonstat.NewReader(bytes.NewReader(body), m)
	if err != nil {
		return nil, feeds.Stats{}, err
	}
	obs, err := feedtest.Drain(tb, rd.All())
	require.Equal(tb, len(obs), rd.Stats().Observations)
	return obs, rd.Stats(), err
}

// rawCell is one cell of a recording read with encoding/json alone.
type rawCell struct {
	cats   map[string]string // dimension id -> category id
	value  *float64
	status string
}

// rawCells decodes a JSON-stat 2.0 dataset or a 1.x bundle's datasets
// with encoding/json, by the format's definition: row-major cells, the
// last dimension fastest.
func rawCells(t *testing.T, data []byte) []rawCell {
	t.Helper()
	var top map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(data, &top))
	var sets []map[string]json.RawMessage
	if _, ok := top["class"]; ok {
		sets = append(sets, top)
	} else {
		for _, raw := range top {
			var ds map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(raw, &ds))
			sets = append(sets, ds)
		}
	}
	var out []rawCell
	for _, ds := range sets {
		var dims map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(ds["dimension"], &dims))
		idRaw, sizeRaw := ds["id"], ds["size"]
		if idRaw == nil {
			idRaw, sizeRaw = dims["id"], dims["size"]
		}
		var ids []string
		var sizes []int
		require.NoError(t, json.Unmarshal(idRaw, &ids))
		require.NoError(t, json.Unmarshal(sizeRaw, &sizes))
		cats := make([][]string, len(ids))
		total := 1
		for i, id := range ids {
			var d struct {
				Category struct {
					Index json.RawMessage   `json:"index"`
					Label map[string]string `json:"label"`
				} `json:"category"`
			}
			require.NoError(t, json.Unmarshal(dims[id], &d))
			cats[i] = make([]string, sizes[i])
			var asList []string
			var asMap map[string]int
			switch {
			case d.Category.Index == nil:
				for k := range d.Category.Label {
					cats[i][0] = k
				}
			case json.Unmarshal(d.Category.Index, &asList) == nil:
				copy(cats[i], asList)
			default:
				require.NoError(t, json.Unmarshal(d.Category.Index, &asMap))
				for k, p := range asMap {
					cats[i][p] = k
				}
			}
			total *= sizes[i]
		}
		values := make([]*float64, total)
		var list []*float64
		if json.Unmarshal(ds["value"], &list) == nil {
			copy(values, list)
		} else {
			var m map[string]float64
			require.NoError(t, json.Unmarshal(ds["value"], &m))
			for k, v := range m {
				i, err := strconv.Atoi(k)
				require.NoError(t, err)
				values[i] = &v
			}
		}
		statuses := make([]string, total)
		var slist []*string
		var smap map[string]string
		var wdds struct {
			Value []*string `json:"value"`
		}
		switch {
		case ds["status"] == nil:
		case json.Unmarshal(ds["status"], &slist) == nil:
			for i, s := range slist {
				if s != nil {
					statuses[i] = *s
				}
			}
		case json.Unmarshal(ds["status"], &wdds) == nil && wdds.Value != nil:
			for i, s := range wdds.Value {
				if s != nil {
					statuses[i] = *s
				}
			}
		default:
			require.NoError(t, json.Unmarshal(ds["status"], &smap))
			for k, s := range smap {
				i, err := strconv.Atoi(k)
				require.NoError(t, err)
				statuses[i] = s
			}
		}
		for i := range total {
			c := rawCell{cats: map[string]string{}, value: values[i], status: statuses[i]}
			rest := i
			for d := len(ids) - 1; d >= 0; d-- {
				c.cats[ids[d]] = cats[d][rest%sizes[d]]
				rest /= sizes[d]
			}
			out = append(out, c)
		}
	}
	return out
}

// matches reports whether a cell has the categories of selector sel.
func matches(c rawCell, sel string) bool {
	for _, part := range strings.Split(sel, ",") {
		d, cat, _ := strings.Cut(part, "=")
		if c.cats[d] != cat {
			return false
		}
	}
	return true
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
