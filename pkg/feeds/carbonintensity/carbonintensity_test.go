package carbonintensity_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/feeds"
	ci "github.com/ounce-data/ounce/pkg/feeds/carbonintensity"
	"github.com/ounce-data/ounce/pkg/feeds/feedtest"
	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/pkg/testenv"
)

// Recordings in ../shared/data.
const (
	nationalFile = "carbonintensity/national_intensity_2019-08-25T1230Z_24h.json"
	regionalFile = "carbonintensity/regional_intensity_2019-08-25T1230Z_24h.json"
	errorFile    = "carbonintensity/error_400_invalid_datetime.json"
)

// Indicator codes of the catalogue entries (the catalogue maps them).
const (
	indForecast = "ci.intensity_forecast"
	indActual   = "ci.intensity_actual"
	indShare    = "ci.generation_share"
)

func realFile(tb testing.TB, name string) []byte {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.SharedDataDir(tb), name))
	require.NoError(tb, err)
	return data
}

func mapping(tb testing.TB) ci.Mapping {
	tb.Helper()
	cat, err := indicators.Load()
	require.NoError(tb, err)
	f, ok := cat.Files["carbonintensity"]
	require.True(tb, ok)
	cols, err := feeds.Columns(f)
	require.NoError(tb, err)
	return ci.Mapping{
		Meta: feeds.Meta{
			Source:      "carbonintensity-national",
			URL:         "https://api.carbonintensity.org.uk/intensity/2019-08-25T12:30Z/pt24h",
			Licence:     "CC BY 4.0",
			RetrievedAt: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC),
			Version:     1_700_000_000_000,
		},
		Columns: cols,
	}
}

// rawDoc is a body as encoding/json alone reads it, independent of the parser.
func rawDoc(tb testing.TB, body []byte) map[string]any {
	tb.Helper()
	var doc map[string]any
	require.NoError(tb, json.Unmarshal(body, &doc))
	return doc
}

func rawRecords(tb testing.TB, doc map[string]any) []map[string]any {
	tb.Helper()
	data, ok := doc["data"].([]any)
	require.True(tb, ok, "data is an array")
	out := make([]map[string]any, len(data))
	for i, d := range data {
		out[i], ok = d.(map[string]any)
		require.True(tb, ok, "data[%d] is an object", i)
	}
	return out
}

func obj(tb testing.TB, v any, what string) map[string]any {
	tb.Helper()
	m, ok := v.(map[string]any)
	require.True(tb, ok, "%s is an object", what)
	return m
}

func arr(tb testing.TB, v any, what string) []any {
	tb.Helper()
	a, ok := v.([]any)
	require.True(tb, ok, "%s is an array", what)
	return a
}

func rawTime(tb testing.TB, v any) time.Time {
	tb.Helper()
	s, ok := v.(string)
	require.True(tb, ok)
	t, err := time.Parse("2006-01-02T15:04Z", s)
	require.NoError(tb, err)
	return t
}

// key identifies one observation.
type key struct {
	indicator, geo string
	start          time.Time
	fuel           string
}

func index(tb testing.TB, obs []observation.Observation) map[key]float64 {
	tb.Helper()
	m := make(map[key]float64, len(obs))
	for _, o := range obs {
		k := key{o.Indicator, o.Geo, o.Period.Start, o.Dims[ci.DimFuel]}
		_, dup := m[k]
		require.False(tb, dup, "observation %v appears twice", k)
		m[k] = *o.Value
	}
	return m
}

// checkStamped checks that every observation is valid, a half hour, and
// carries the mapping's stamp and its indicator's unit.
func checkStamped(t *testing.T, m ci.Mapping, obs []observation.Observation) {
	t.Helper()
	unit := map[string]string{}
	for _, c := range m.Columns {
		unit[c.Indicator] = c.Unit
	}
	wantProv := observation.Provenance{URL: m.URL, Licence: m.Licence, RetrievedAt: m.RetrievedAt}
	for i := range obs {
		o := &obs[i]
		if err := o.Validate(); err != nil {
			t.Fatalf("observation %d: %v", i, err)
		}
		if o.Source != m.Source || o.Version != m.Version || o.Provenance != wantProv ||
			o.Period.Grain != observation.GrainHalfHour || o.Unit != unit[o.Indicator] {
			t.Fatalf("observation %d is not stamped as mapped: %+v", i, *o)
		}
	}
}

// rawNumber is a JSON number or null as encoding/json read it.
func rawNumber(tb testing.TB, v any, what string) (float64, bool) {
	tb.Helper()
	if v == nil {
		return 0, false
	}
	if n, ok := v.(json.Number); ok { // from a decoder with UseNumber
		f, err := strconv.ParseFloat(string(n), 64)
		require.NoError(tb, err, "%s", what)
		return f, true
	}
	f, ok := v.(float64)
	require.True(tb, ok, "%s is a number or null, not %T", what, v)
	return f, true
}

func TestNationalRealFile(t *testing.T) {
	body := realFile(t, nationalFile)
	m := mapping(t)
	obs, stats, err := feedtest.ReadAll(ci.NewReader(bytes.NewReader(body), ci.National, m))
	require.NoError(t, err)
	checkStamped(t, m, obs)
	got := index(t, obs)

	// Every non-null forecast and actual is exactly one observation with
	// its value; every null is none.
	recs := rawRecords(t, rawDoc(t, body))
	var forecasts, actuals, nulls int
	for i, rec := range recs {
		from, to := rawTime(t, rec["from"]), rawTime(t, rec["to"])
		require.Equal(t, 30*time.Minute, to.Sub(from))
		in := obj(t, rec["intensity"], "intensity")
		for field, ind := range map[string]string{"forecast": indForecast, "actual": indActual} {
			want, ok := rawNumber(t, in[field], field)
			v, present := got[key{ind, ci.GeoGB, from, ""}]
			if !ok {
				nulls++
				require.False(t, present, "null %s of record %d became an observation", field, i)
				continue
			}
			if field == "forecast" {
				forecasts++
			} else {
				actuals++
			}
			require.True(t, present, "record %d %s has no observation", i, field)
			require.Equal(t, want, v, "record %d %s", i, field)
		}
	}
	require.Equal(t, forecasts+actuals, len(obs))
	require.Equal(t, len(obs), stats.Observations)
	require.Equal(t, map[string]int{indForecast: forecasts, indActual: actuals}, stats.Detail("by_indicator"))
	require.Equal(t, nulls, stats.Missing)
	require.Equal(t, len(recs), stats.Rows)
	require.Nil(t, stats.Detail("region_entries"))
	require.Equal(t, rawTime(t, recs[0]["from"]), stats.From)
	require.Equal(t, rawTime(t, recs[len(recs)-1]["to"]), stats.To)

	// Named half hours: the first, a middle and the last record.
	for _, i := range []int{0, 17, len(recs) - 1} {
		from := rawTime(t, recs[i]["from"])
		in := obj(t, recs[i]["intensity"], "intensity")
		f, _ := rawNumber(t, in["forecast"], "forecast")
		require.Equal(t, f, got[key{indForecast, ci.GeoGB, from, ""}], "record %d forecast", i)
		if a, ok := rawNumber(t, in["actual"], "actual"); ok {
			require.Equal(t, a, got[key{indActual, ci.GeoGB, from, ""}], "record %d actual", i)
		}
	}
	// Observations come in body order: the first is record 0's.
	require.Equal(t, rawTime(t, recs[0]["from"]), obs[0].Period.Start)
	for _, o := range obs {
		require.Nil(t, o.Dims)
		require.Equal(t, ci.GeoGB, o.Geo)
	}
}

// regionalCounts counts what the regional body holds with encoding/json alone.
type regionalCounts struct {
	forecasts, actuals, shares, nulls, regions int
}

func countRegional(tb testing.TB, doc map[string]any) regionalCounts {
	tb.Helper()
	var c regionalCounts
	for i, rec := range rawRecords(tb, doc) {
		for j, rv := range arr(tb, rec["regions"], "regions") {
			c.regions++
			reg := obj(tb, rv, fmt.Sprintf("data[%d].regions[%d]", i, j))
			if in, ok := reg["intensity"].(map[string]any); ok {
				if _, ok := rawNumber(tb, in["forecast"], "forecast"); ok {
					c.forecasts++
				} else {
					c.nulls++
				}
				if a, has := in["actual"]; has {
					if _, ok := rawNumber(tb, a, "actual"); ok {
						c.actuals++
					} else {
						c.nulls++
					}
				}
			}
			for g, gv := range arr(tb, reg["generationmix"], "generationmix") {
				e := obj(tb, gv, fmt.Sprintf("generationmix[%d]", g))
				if _, ok := rawNumber(tb, e["perc"], "perc"); ok {
					c.shares++
				} else {
					c.nulls++
				}
			}
		}
	}
	return c
}

func regionGeo(tb testing.TB, v any) string {
	tb.Helper()
	id, ok := v.(float64)
	require.True(tb, ok)
	if id == 18 {
		return "GB"
	}
	return "ci:" + strconv.Itoa(int(id))
}

func TestRegionalRealFile(t *testing.T) {
	body := realFile(t, regionalFile)
	m := mapping(t)
	obs, stats, err := feedtest.ReadAll(ci.NewReader(bytes.NewReader(body), ci.Regional, m))
	require.NoError(t, err)
	checkStamped(t, m, obs)
	got := index(t, obs)
	doc := rawDoc(t, body)
	recs := rawRecords(t, doc)

	// Counts per indicator equal the independent counts.
	c := countRegional(t, doc)
	regionsPerRecord := len(arr(t, recs[0]["regions"], "regions"))
	require.Equal(t, len(recs)*regionsPerRecord, c.forecasts, "every region of every half hour has a forecast")
	require.Equal(t, map[string]int{indForecast: c.forecasts, indShare: c.shares}, stats.Detail("by_indicator"))
	require.Zero(t, c.actuals, "regional responses carry no actual")
	require.Equal(t, c.forecasts+c.shares, len(obs))
	require.Equal(t, len(obs), stats.Observations)
	require.Equal(t, c.nulls, stats.Missing)
	require.Equal(t, len(recs), stats.Rows)
	require.Equal(t, c.regions, stats.Detail("region_entries"))
	require.Equal(t, rawTime(t, recs[0]["from"]), stats.From)
	require.Equal(t, rawTime(t, recs[len(recs)-1]["to"]), stats.To)

	// Every value equals the raw one.
	for i, rec := range recs {
		from := rawTime(t, rec["from"])
		for j, rv := range arr(t, rec["regions"], "regions") {
			reg := obj(t, rv, "region")
			geo := regionGeo(t, reg["regionid"])
			f, _ := rawNumber(t, obj(t, reg["intensity"], "intensity")["forecast"], "forecast")
			require.Equal(t, f, got[key{indForecast, geo, from, ""}], "record %d region %d forecast", i, j)
			for _, gv := range arr(t, reg["generationmix"], "generationmix") {
				e := obj(t, gv, "mix entry")
				fuel := e["fuel"].(string)
				p, _ := rawNumber(t, e["perc"], "perc")
				v, ok := got[key{indShare, geo, from, fuel}]
				require.True(t, ok, "record %d region %d fuel %s has no observation", i, j, fuel)
				require.Equal(t, p, v, "record %d region %d fuel %s", i, j, fuel)
			}
		}
	}

	// Named (period, region, fuel) tuples, chosen by position in the raw body.
	for _, tc := range []struct{ rec, region, fuel int }{
		{0, 0, 6}, {0, 12, 8}, {11, 17, 3}, {23, 14, 4}, {47, 15, 0}, {47, 16, 7},
	} {
		rec := recs[tc.rec]
		reg := obj(t, arr(t, rec["regions"], "regions")[tc.region], "region")
		e := obj(t, arr(t, reg["generationmix"], "generationmix")[tc.fuel], "mix entry")
		geo := regionGeo(t, reg["regionid"])
		p, _ := rawNumber(t, e["perc"], "perc")
		require.Equal(t, p, got[key{indShare, geo, rawTime(t, rec["from"]), e["fuel"].(string)}], "%+v", tc)
	}

	// regionid 18 is Great Britain: geo GB, like the national figures.
	var gbSeen, prefixed int
	for _, o := range obs {
		switch {
		case o.Geo == ci.GeoGB:
			gbSeen++
		case strings.HasPrefix(o.Geo, ci.RegionPrefix):
			prefixed++
		default:
			t.Fatalf("unexpected geo %q", o.Geo)
		}
	}
	require.Positive(t, gbSeen)
	require.Equal(t, len(obs), gbSeen+prefixed)

	// Regions as first seen, with their names from the body.
	first := arr(t, recs[0]["regions"], "regions")
	regions := stats.Detail("regions").([]ci.Region)
	require.Len(t, regions, len(first))
	for j, rv := range first {
		reg := obj(t, rv, "region")
		id := int(reg["regionid"].(float64))
		geo, ok := ci.RegionGeo(id)
		require.True(t, ok)
		require.Equal(t, ci.Region{ID: id, Geo: geo, ShortName: reg["shortname"].(string), DNORegion: reg["dnoregion"].(string)},
			regions[j])
	}
}

func TestRegionGeo(t *testing.T) {
	for id := 1; id <= 17; id++ {
		geo, ok := ci.RegionGeo(id)
		require.True(t, ok)
		require.Equal(t, "ci:"+strconv.Itoa(id), geo)
	}
	geo, ok := ci.RegionGeo(18)
	require.True(t, ok)
	require.Equal(t, "GB", geo)
	for _, id := range []int{0, 19, -1} {
		_, ok := ci.RegionGeo(id)
		require.False(t, ok, "%d", id)
	}
}

func TestAPIErrorRecording(t *testing.T) {
	body := realFile(t, errorFile)
	raw := obj(t, rawDoc(t, body)["error"], "error")
	code, message := raw["code"].(string), raw["message"].(string)
	require.NotEmpty(t, code)
	require.NotEmpty(t, message)
	for _, kind := range []ci.Kind{ci.National, ci.Regional} {
		t.Run(string(kind), func(t *testing.T) {
			_, err := ci.NewReader(bytes.NewReader(body), kind, mapping(t))
			var ae *ci.APIError
			require.True(t, errors.As(err, &ae), "error %v is not an APIError", err)
			require.Equal(t, &ci.APIError{Kind: kind, Code: code, Message: message}, ae)
			require.ErrorContains(t, err, code)
			require.ErrorContains(t, err, message)

			obs, _, err := feedtest.ReadAll(ci.NewReader(bytes.NewReader(body), kind, mapping(t)))
			require.Error(t, err)
			require.Empty(t, obs)
		})
	}
}

func TestAPIErrorAfterData(t *testing.T) {
	// An error member after the records ends All with the error.
	errBody := realFile(t, errorFile)
	recs := rawRecords(t, rawDoc(t, realFile(t, nationalFile)))
	body, err := json.Marshal(map[string]any{"data": recs[:2], "error": rawDoc(t, errBody)["error"]})
	require.NoError(t, err)
	// encoding/json writes map keys sorted, so data comes before error.
	require.Less(t, bytes.Index(body, []byte(`"data"`)), bytes.Index(body, []byte(`"error"`)))
	_, _, err = feedtest.ReadAll(ci.NewReader(bytes.NewReader(body), ci.National, mapping(t)))
	var ae *ci.APIError
	require.True(t, errors.As(err, &ae), "%v", err)
}

// compact marshals {"data": recs} (keys sorted by encoding/json).
func compact(tb testing.TB, recs []map[string]any) []byte {
	tb.Helper()
	body, err := json.Marshal(map[string]any{"data": recs})
	require.NoError(tb, err)
	return body
}

// editNational returns the first n national records, compact, after change.
func editNational(tb testing.TB, n int, change func(recs []map[string]any)) []byte {
	tb.Helper()
	recs := rawRecords(tb, rawDoc(tb, realFile(tb, nationalFile)))[:n]
	change(recs)
	return compact(tb, recs)
}

// editRegional returns the first n regional records, compact, after change.
func editRegional(tb testing.TB, n int, change func(recs []map[string]any)) []byte {
	tb.Helper()
	recs := rawRecords(tb, rawDoc(tb, realFile(tb, regionalFile)))[:n]
	change(recs)
	return compact(tb, recs)
}

func intensity(rec map[string]any) map[string]any { return rec["intensity"].(map[string]any) }

func region(rec map[string]any, j int) map[string]any {
	return rec["regions"].([]any)[j].(map[string]any)
}

func mixEntry(rec map[string]any, j, g int) map[string]any {
	return region(rec, j)["generationmix"].([]any)[g].(map[string]any)
}

// shift moves a "2019-08-25T12:30Z" time by d.
func shift(tb testing.TB, v any, d time.Duration) string {
	return rawTime(tb, v).Add(d).Format("2006-01-02T15:04Z")
}

// cutAfter is body up to n bytes after the first occurrence of the JSON
// text of v, so that it ends inside the record holding it. (A record's
// "to" is the next record's "from": the first occurrence of a "to" is in
// its own record.)
func cutAfter(tb testing.TB, body []byte, v any, n int) []byte {
	tb.Helper()
	s, err := json.Marshal(v)
	require.NoError(tb, err)
	i := bytes.Index(body, s)
	require.GreaterOrEqual(tb, i, 0)
	return body[:i+n]
}

func TestMalformed(t *testing.T) {
	national := realFile(t, nationalFile)
	regional := realFile(t, regionalFile)
	natRecs := rawRecords(t, rawDoc(t, national))
	regRecs := rawRecords(t, rawDoc(t, regional))
	tests := []struct {
		name        string
		kind        ci.Kind
		body        []byte
		openErr     bool      // the error comes from NewReader
		errContains []string  // substrings of the error
		rec         *recordAt // when set, the error is a *feeds.Error at this Record and Field
	}{
		{name: "empty body", kind: ci.National, body: nil, openErr: true, errContains: []string{"body is empty"}},
		{name: "white space only", kind: ci.Regional, body: []byte(" \n\t"), openErr: true, errContains: []string{"body is empty"}},
		{
			name: "html page", kind: ci.National, openErr: true,
			body:        []byte("<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>\n"),
			errContains: []string{"HTML", "not JSON", "<!DOCTYPE html>"},
		},
		{name: "top-level array", kind: ci.National, body: []byte(`[{"from":"2019-08-25T12:30Z"}]`), openErr: true, errContains: []string{"not a JSON object"}},
		{name: "neither data nor error", kind: ci.National, body: []byte(`{"message":"hello"}`), openErr: true, errContains: []string{`neither "data" nor "error"`}},
		{
			name: "data is an object (regionid endpoint)", kind: ci.Regional, openErr: true,
			body:        []byte(`{"data":{"regionid":3,"data":[]}}`),
			errContains: []string{"data", "is an object, not an array", "/regional/regionid"},
		},
		{
			name: "truncated inside a record", kind: ci.National,
			body:        cutAfter(t, national, natRecs[10]["to"], 5),
			errContains: []string{"data[10].to", "record 10", "cut short"},
			rec:         &recordAt{Record: 10, Field: "to"},
		},
		{
			name: "truncated between records", kind: ci.National,
			body:        compact(t, natRecs[:3])[:len(compact(t, natRecs[:3]))-2],
			errContains: []string{"record 2", "after the record", "cut short"},
			rec:         &recordAt{Record: 2},
		},
		{
			name: "truncated inside the intensity", kind: ci.National,
			body:        compact(t, natRecs[:5])[:len(compact(t, natRecs[:5]))-10],
			errContains: []string{"record 4", "cut short"},
		},
		{
			name: "truncated regional body", kind: ci.Regional,
			body:        cutAfter(t, regional, regRecs[20]["to"], 8),
			errContains: []string{"data[20].to", "record 20", "cut short"},
			rec:         &recordAt{Record: 20, Field: "to"},
		},
		{
			name: "truncated inside a generation mix", kind: ci.Regional,
			body:        cutAfter(t, regional, regRecs[3]["to"], 600),
			errContains: []string{"data[3].regions[0]", "record 3", "cut short"},
		},
		{
			name: "record missing from", kind: ci.National,
			body:        editNational(t, 6, func(r []map[string]any) { delete(r[3], "from") }),
			errContains: []string{"data[3].from", "record 3", "is missing"},
			rec:         &recordAt{Record: 3, Field: "from"},
		},
		{
			name: "record missing to", kind: ci.Regional,
			body:        editRegional(t, 3, func(r []map[string]any) { delete(r[1], "to") }),
			errContains: []string{"data[1].to", "is missing"},
			rec:         &recordAt{Record: 1, Field: "to"},
		},
		{
			name: "non-numeric forecast", kind: ci.National,
			body:        editNational(t, 8, func(r []map[string]any) { intensity(r[5])["forecast"] = "high" }),
			errContains: []string{"data[5].intensity.forecast", `value "high"`, "is a string, not a number"},
			rec:         &recordAt{Record: 5, Field: "intensity.forecast"},
		},
		{
			name: "boolean actual", kind: ci.National,
			body:        editNational(t, 8, func(r []map[string]any) { intensity(r[7])["actual"] = true }),
			errContains: []string{"data[7].intensity.actual", "is a boolean, not a number"},
			rec:         &recordAt{Record: 7, Field: "intensity.actual"},
		},
		{
			name: "malformed number", kind: ci.National,
			body:        bytes.Replace(compact(t, natRecs[:3]), []byte(`"forecast":`), []byte(`"forecast":0x`), 1),
			errContains: []string{"data[0].intensity", "want ',' or '}' after an object member, found 'x'"},
			rec:         &recordAt{Record: 0, Field: "intensity"},
		},
		{
			name: "forecast out of range", kind: ci.National,
			body:        bytes.Replace(compact(t, natRecs[:3]), []byte(`"forecast":`), []byte(`"forecast":1e999,"x":`), 1),
			errContains: []string{"data[0].intensity.forecast", "value 1e999", "out of the range"},
			rec:         &recordAt{Record: 0, Field: "intensity.forecast"},
		},
		{
			name: "negative forecast", kind: ci.National,
			body: editNational(t, 4, func(r []map[string]any) {
				intensity(r[2])["forecast"] = -intensity(r[2])["forecast"].(float64)
			}),
			errContains: []string{"data[2].intensity.forecast", "is negative"},
			rec:         &recordAt{Record: 2, Field: "intensity.forecast"},
		},
		{
			name: "national record without actual", kind: ci.National,
			body:        editNational(t, 4, func(r []map[string]any) { delete(intensity(r[1]), "actual") }),
			errContains: []string{"data[1].intensity.actual", "is missing"},
			rec:         &recordAt{Record: 1, Field: "intensity.actual"},
		},
		{
			name: "record without intensity", kind: ci.National,
			body:        editNational(t, 4, func(r []map[string]any) { delete(r[2], "intensity") }),
			errContains: []string{"data[2].intensity", "is missing"},
			rec:         &recordAt{Record: 2, Field: "intensity"},
		},
		{
			name: "period not on a half hour", kind: ci.National,
			body: editNational(t, 5, func(r []map[string]any) {
				r[4]["from"] = shift(t, r[4]["from"], 15*time.Minute)
				r[4]["to"] = shift(t, r[4]["to"], 15*time.Minute)
			}),
			errContains: []string{"data[4].from", "record 4", "not on a half hour (:00 or :30)"},
			rec:         &recordAt{Record: 4, Field: "from"},
		},
		{
			name: "to not half an hour after from", kind: ci.Regional,
			body:        editRegional(t, 3, func(r []map[string]any) { r[2]["to"] = shift(t, r[2]["to"], 30*time.Minute) }),
			errContains: []string{"data[2].to", "is not 30 minutes after from"},
			rec:         &recordAt{Record: 2, Field: "to"},
		},
		{
			name: "from not a time", kind: ci.National,
			body:        editNational(t, 3, func(r []map[string]any) { r[1]["from"] = "yesterday" }),
			errContains: []string{"data[1].from", `value "yesterday"`, "not a UTC time"},
			rec:         &recordAt{Record: 1, Field: "from"},
		},
		{
			name: "from a number", kind: ci.National,
			body:        editNational(t, 3, func(r []map[string]any) { r[1]["from"] = 1566736200 }),
			errContains: []string{"data[1].from", "is a number, not a time"},
			rec:         &recordAt{Record: 1, Field: "from"},
		},
		{
			name: "repeated half hour", kind: ci.National,
			body: editNational(t, 4, func(r []map[string]any) {
				r[3]["from"], r[3]["to"] = r[1]["from"], r[1]["to"]
			}),
			errContains: []string{"data[3].from", "repeats the half hour of record 1"},
			rec:         &recordAt{Record: 3, Field: "from"},
		},
		{
			name: "record not an object", kind: ci.National,
			body:        bytes.Replace(compact(t, natRecs[:2]), []byte(`[{`), []byte(`[42,{`), 1),
			errContains: []string{"data[0]", "is a number, not an object"},
			rec:         &recordAt{Record: 0},
		},
		{
			name: "member repeated", kind: ci.National,
			body:        bytes.Replace(compact(t, natRecs[:2]), []byte(`"forecast":`), []byte(`"forecast":1,"forecast":`), 1),
			errContains: []string{"data[0].intensity.forecast", "appears twice"},
			rec:         &recordAt{Record: 0, Field: "intensity.forecast"},
		},
		{
			name: "data twice", kind: ci.National,
			body:        append(bytes.TrimSuffix(compact(t, natRecs[:1]), []byte("}")), []byte(`,"data":[]}`)...),
			errContains: []string{`"data" appears twice`},
		},
		{
			name: "garbage after the object", kind: ci.National,
			body:        append(compact(t, natRecs[:1]), []byte(" <html>")...),
			errContains: []string{"more follows the end of the JSON object"},
		},
		{
			name: "regionid out of range", kind: ci.Regional,
			body:        editRegional(t, 2, func(r []map[string]any) { region(r[1], 4)["regionid"] = 19 }),
			errContains: []string{"data[1].regions[4].regionid", "value 19", "not one of the API's region ids 1 to 18"},
			rec:         &recordAt{Record: 1, Field: "regions[4].regionid"},
		},
		{
			name: "regionid fractional", kind: ci.Regional,
			body:        editRegional(t, 2, func(r []map[string]any) { region(r[0], 2)["regionid"] = 2.5 }),
			errContains: []string{"data[0].regions[2].regionid", "value 2.5"},
			rec:         &recordAt{Record: 0, Field: "regions[2].regionid"},
		},
		{
			name: "regionid a string", kind: ci.Regional,
			body:        editRegional(t, 2, func(r []map[string]any) { region(r[0], 2)["regionid"] = "3" }),
			errContains: []string{"data[0].regions[2].regionid", "is a string, not a number"},
			rec:         &recordAt{Record: 0, Field: "regions[2].regionid"},
		},
		{
			name: "regionid missing", kind: ci.Regional,
			body:        editRegional(t, 2, func(r []map[string]any) { delete(region(r[1], 7), "regionid") }),
			errContains: []string{"data[1].regions[7].regionid", "is missing"},
			rec:         &recordAt{Record: 1, Field: "regions[7].regionid"},
		},
		{
			name: "region repeated", kind: ci.Regional,
			body: editRegional(t, 2, func(r []map[string]any) {
				region(r[1], 5)["regionid"] = region(r[1], 2)["regionid"]
			}),
			errContains: []string{"data[1].regions[5].regionid", "repeats the region of regions[2]"},
			rec:         &recordAt{Record: 1, Field: "regions[5].regionid"},
		},
		{
			name: "regional forecast non-numeric", kind: ci.Regional,
			body:        editRegional(t, 3, func(r []map[string]any) { intensity(region(r[2], 9))["forecast"] = "low" }),
			errContains: []string{"data[2].regions[9].intensity.forecast", `value "low"`, "is a string, not a number"},
			rec:         &recordAt{Record: 2, Field: "regions[9].intensity.forecast"},
		},
		{
			name: "regional forecast missing", kind: ci.Regional,
			body:        editRegional(t, 3, func(r []map[string]any) { delete(intensity(region(r[2], 9)), "forecast") }),
			errContains: []string{"data[2].regions[9].intensity.forecast", "is missing"},
			rec:         &recordAt{Record: 2, Field: "regions[9].intensity.forecast"},
		},
		{
			name: "perc not a number", kind: ci.Regional,
			body:        editRegional(t, 2, func(r []map[string]any) { mixEntry(r[1], 3, 4)["perc"] = "n/a" }),
			errContains: []string{"data[1].regions[3].generationmix[4].perc", `value "n/a"`, "not a number"},
			rec:         &recordAt{Record: 1, Field: "regions[3].generationmix[4].perc"},
		},
		{
			name: "perc above 100", kind: ci.Regional,
			body:        editRegional(t, 2, func(r []map[string]any) { mixEntry(r[0], 0, 8)["perc"] = 100.5 }),
			errContains: []string{"data[0].regions[0].generationmix[8].perc", "value 100.5", "not a percentage"},
			rec:         &recordAt{Record: 0, Field: "regions[0].generationmix[8].perc"},
		},
		{
			name: "perc missing", kind: ci.Regional,
			body:        editRegional(t, 2, func(r []map[string]any) { delete(mixEntry(r[1], 1, 2), "perc") }),
			errContains: []string{"data[1].regions[1].generationmix[2].perc", "is missing"},
			rec:         &recordAt{Record: 1, Field: "regions[1].generationmix[2].perc"},
		},
		{
			name: "fuel missing", kind: ci.Regional,
			body:        editRegional(t, 2, func(r []map[string]any) { delete(mixEntry(r[1], 1, 2), "fuel") }),
			errContains: []string{"data[1].regions[1].generationmix[2].fuel", "is missing"},
			rec:         &recordAt{Record: 1, Field: "regions[1].generationmix[2].fuel"},
		},
		{
			name: "fuel empty", kind: ci.Regional,
			body:        editRegional(t, 2, func(r []map[string]any) { mixEntry(r[1], 1, 2)["fuel"] = "" }),
			errContains: []string{"data[1].regions[1].generationmix[2].fuel", "must be 1 to 128 bytes"},
			rec:         &recordAt{Record: 1, Field: "regions[1].generationmix[2].fuel"},
		},
		{
			name: "fuel repeated", kind: ci.Regional,
			body: editRegional(t, 2, func(r []map[string]any) {
				mixEntry(r[1], 6, 5)["fuel"] = mixEntry(r[1], 6, 1)["fuel"]
			}),
			errContains: []string{"data[1].regions[6].generationmix[5].fuel", "repeats the fuel of regions[6].generationmix[1]"},
			rec:         &recordAt{Record: 1, Field: "regions[6].generationmix[5].fuel"},
		},
		{
			name: "generation mix missing", kind: ci.Regional,
			body:        editRegional(t, 2, func(r []map[string]any) { delete(region(r[1], 10), "generationmix") }),
			errContains: []string{"data[1].regions[10].generationmix", "is missing"},
			rec:         &recordAt{Record: 1, Field: "regions[10].generationmix"},
		},
		{
			name: "regions missing", kind: ci.Regional,
			body:        editRegional(t, 2, func(r []map[string]any) { delete(r[1], "regions") }),
			errContains: []string{"data[1].regions", "is missing"},
			rec:         &recordAt{Record: 1, Field: "regions"},
		},
		{
			name: "national body read as regional", kind: ci.Regional,
			body:        compact(t, natRecs[:2]),
			errContains: []string{"data[0].regions", "is missing"},
			rec:         &recordAt{Record: 0, Field: "regions"},
		},
		{
			name: "nesting too deep", kind: ci.National,
			body: bytes.Replace(compact(t, natRecs[:1]), []byte(`"index":`),
				[]byte(`"x":`+strings.Repeat("[", 300)+strings.Repeat("]", 300)+`,"index":`), 1),
			errContains: []string{"data[0].intensity.x", "nested deeper than 256"},
			rec:         &recordAt{Record: 0, Field: "intensity.x"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rd, err := ci.NewReader(bytes.NewReader(tt.body), tt.kind, mapping(t))
			if !tt.openErr {
				require.NoError(t, err)
				var n int
				for _, err = range rd.All() {
					if err != nil {
						break
					}
					n++
				}
				require.Error(t, err, "after %d observations", n)
			}
			require.Error(t, err)
			require.ErrorContains(t, err, "carbon intensity "+string(tt.kind)+" response")
			for _, want := range tt.errContains {
				require.ErrorContains(t, err, want)
			}
			if tt.rec != nil {
				var re *feeds.Error
				require.True(t, errors.As(err, &re), "error %v is not a *feeds.Error", err)
				require.Equal(t, tt.rec.Record, re.Record, "record of %v", err)
				require.Equal(t, tt.rec.Field, re.Field, "field of %v", err)
				require.Equal(t, "carbon intensity "+string(tt.kind)+" response", re.Format)
				require.GreaterOrEqual(t, re.Offset, 0)
				require.LessOrEqual(t, re.Offset, len(tt.body))
			}
		})
	}
}

func TestNullsAreMissing(t *testing.T) {
	body := editRegional(t, 3, func(r []map[string]any) {
		mixEntry(r[0], 2, 3)["perc"] = nil
		intensity(region(r[2], 5))["forecast"] = nil
	})
	obs, stats, err := feedtest.ReadAll(ci.NewReader(bytes.NewReader(body), ci.Regional, mapping(t)))
	require.NoError(t, err)
	c := countRegional(t, rawDoc(t, body))
	require.Equal(t, 2, c.nulls)
	require.Equal(t, c.nulls, stats.Missing)
	require.Len(t, obs, c.forecasts+c.shares)
	for _, o := range obs {
		require.NotNil(t, o.Value)
	}

	nb := editNational(t, 6, func(r []map[string]any) {
		intensity(r[4])["actual"] = nil
		intensity(r[5])["actual"] = nil
	})
	obs, stats, err = feedtest.ReadAll(ci.NewReader(bytes.NewReader(nb), ci.National, mapping(t)))
	require.NoError(t, err)
	nc := countNational(t, rawDoc(t, nb))
	require.GreaterOrEqual(t, nc.nulls, 2)
	require.Equal(t, nc.nulls, stats.Missing)
	require.Equal(t, map[string]int{indForecast: nc.forecasts, indActual: nc.actuals}, stats.Detail("by_indicator"))
	require.Len(t, obs, nc.forecasts+nc.actuals)
}

// nationalCounts counts what a national body holds with encoding/json alone.
type nationalCounts struct{ forecasts, actuals, nulls int }

func countNational(tb testing.TB, doc map[string]any) nationalCounts {
	tb.Helper()
	var c nationalCounts
	for i, rec := range rawRecords(tb, doc) {
		in := obj(tb, rec["intensity"], fmt.Sprintf("data[%d].intensity", i))
		if _, ok := rawNumber(tb, in["forecast"], "forecast"); ok {
			c.forecasts++
		} else {
			c.nulls++
		}
		if _, ok := rawNumber(tb, in["actual"], "actual"); ok {
			c.actuals++
		} else {
			c.nulls++
		}
	}
	return c
}

func TestRegionalActualIsRead(t *testing.T) {
	// The regional responses carry no actual; should one appear, it is read.
	body := editRegional(t, 1, func(r []map[string]any) {
		intensity(region(r[0], 0))["actual"] = intensity(region(r[0], 0))["forecast"]
	})
	_, stats, err := feedtest.ReadAll(ci.NewReader(bytes.NewReader(body), ci.Regional, mapping(t)))
	require.NoError(t, err)
	require.Equal(t, 1, stats.Detail("by_indicator").(map[string]int)[indActual])
}

func TestKeyOrderAndLayoutDoNotMatter(t *testing.T) {
	// Re-serialised compactly by encoding/json, keys come sorted: regions
	// list generationmix before regionid, records intensity before to.
	for _, tc := range []struct {
		kind ci.Kind
		file string
	}{{ci.National, nationalFile}, {ci.Regional, regionalFile}} {
		t.Run(string(tc.kind), func(t *testing.T) {
			body := realFile(t, tc.file)
			want, _, err := feedtest.ReadAll(ci.NewReader(bytes.NewReader(body), tc.kind, mapping(t)))
			require.NoError(t, err)
			c := compact(t, rawRecords(t, rawDoc(t, body)))
			got, _, err := feedtest.ReadAll(ci.NewReader(bytes.NewReader(c), tc.kind, mapping(t)))
			require.NoError(t, err)
			require.Equal(t, index(t, want), index(t, got))
			// A byte-order mark and CRLF line ends are read too.
			crlf := append([]byte("\uFEFF"), bytes.ReplaceAll(body, []byte("\n"), []byte("\r\n"))...)
			got, _, err = feedtest.ReadAll(ci.NewReader(bytes.NewReader(crlf), tc.kind, mapping(t)))
			require.NoError(t, err)
			require.Equal(t, want, got)
		})
	}
}

func TestEmptyData(t *testing.T) {
	obs, stats, err := feedtest.ReadAll(ci.NewReader(strings.NewReader(`{"data":[]}`), ci.National, mapping(t)))
	require.NoError(t, err)
	require.Empty(t, obs)
	require.Zero(t, stats.Rows)
}

func TestUnmappedFieldsAreNotRead(t *testing.T) {
	body := realFile(t, regionalFile)
	m := mapping(t)
	delete(m.Columns, ci.ColumnForecast)
	_, stats, err := feedtest.ReadAll(ci.NewReader(bytes.NewReader(body), ci.Regional, m))
	require.NoError(t, err)
	c := countRegional(t, rawDoc(t, body))
	require.Equal(t, map[string]int{indShare: c.shares}, stats.Detail("by_indicator"))
}

func TestMappingChecked(t *testing.T) {
	tests := []struct {
		name        string
		kind        ci.Kind
		change      func(*ci.Mapping)
		errContains string
	}{
		{"no licence", ci.National, func(m *ci.Mapping) { m.Licence = "" }, "provenance.licence"},
		{"no version", ci.National, func(m *ci.Mapping) { m.Version = 0 }, "version"},
		{"bad source", ci.Regional, func(m *ci.Mapping) { m.Source = "Carbon Intensity" }, "source"},
		{"no columns", ci.National, func(m *ci.Mapping) { m.Columns = nil }, "no columns are mapped"},
		{"unknown column", ci.National, func(m *ci.Mapping) {
			m.Columns["intensity.index"] = feeds.Column{Indicator: "ci.index", Unit: "level"}
		}, `column "intensity.index" (indicator ci.index) is not a field of carbon intensity responses`},
		{"nothing national", ci.National, func(m *ci.Mapping) {
			m.Columns = map[string]feeds.Column{ci.ColumnGenerationMix: m.Columns[ci.ColumnGenerationMix]}
		}, "names none of the fields this response has"},
		{"bad kind", ci.Kind("postcode"), func(*ci.Mapping) {}, `response kind "postcode" is not national or regional`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mapping(t)
			tt.change(&m)
			_, err := ci.NewReader(strings.NewReader(`{"data":[]}`), tt.kind, m)
			require.ErrorContains(t, err, tt.errContains)
		})
	}
}

func TestAllYieldsOnce(t *testing.T) {
	rd, err := ci.NewReader(bytes.NewReader(realFile(t, nationalFile)), ci.National, mapping(t))
	require.NoError(t, err)
	n := 0
	for _, err := range rd.All() {
		require.NoError(t, err)
		n++
	}
	require.Positive(t, n)
	for _, err := range rd.All() {
		require.ErrorContains(t, err, "already read")
	}
}

func TestStopEarly(t *testing.T) {
	rd, err := ci.NewReader(bytes.NewReader(realFile(t, regionalFile)), ci.Regional, mapping(t))
	require.NoError(t, err)
	n := 0
	for _, err := range rd.All() {
		require.NoError(t, err)
		n++
		if n == 5 {
			break
		}
	}
	require.Equal(t, 5, n)
	require.Equal(t, 5, rd.Stats().Observations)
}

func ExampleReader_All() {
	m := ci.Mapping{
		Meta: feeds.Meta{Source: "example", Licence: "CC BY 4.0", Version: 1, RetrievedAt: time.Unix(0, 0).UTC()},
		Columns: map[string]feeds.Column{
			ci.ColumnForecast:      {Indicator: "ci.intensity_forecast", Unit: "gCO2/kWh"},
			ci.ColumnGenerationMix: {Indicator: "ci.generation_share", Unit: "%"},
		},
	}
	body := `{"data":[{"from":"2020-01-01T00:00Z","to":"2020-01-01T00:30Z","regions":[
	  {"regionid":18,"shortname":"GB","intensity":{"forecast":200,"index":"moderate"},
	   "generationmix":[{"fuel":"wind","perc":40.5},{"fuel":"coal","perc":null}]},
	  {"regionid":3,"shortname":"Example","intensity":{"forecast":100,"index":"low"},"generationmix":[]}]}]}`
	rd, err := ci.NewReader(strings.NewReader(body), ci.Regional, m)
	if err != nil {
		fmt.Println(err)
		return
	}
	for o, err := range rd.All() {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(o.Indicator, o.Geo, o.Period, o.Dims.Canonical(), *o.Value, o.Unit)
	}
	s := rd.Stats()
	fmt.Println(s.Rows, s.Detail("region_entries"), s.Observations, s.Missing)
	// Output:
	// ci.generation_share GB 2020-01-01T00:00Z fuel=wind 40.5 %
	// ci.intensity_forecast GB 2020-01-01T00:00Z  200 gCO2/kWh
	// ci.intensity_forecast ci:3 2020-01-01T00:00Z  100 gCO2/kWh
	// 1 2 3 1
}

// recordAt is where an error is: the record's index in data[] (-1 outside
// the records) and the field's path within it.
type recordAt struct {
	Record int
	Field  string
}
