package worldbank_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/feeds"
	"github.com/ounce-data/ounce/pkg/feeds/feedtest"
	"github.com/ounce-data/ounce/pkg/feeds/worldbank"
	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/pkg/testenv"
)

// Recordings of the API in ../shared/data (see its README).
const (
	smallDir = "worldbank/api_v2"
	fullDir  = "worldbank/api_v2_full"
	// twoIndicators is a page holding NY.GDP.MKTP.CD and SP.POP.TOTL.
	twoIndicators = smallDir + "/indicator_NY.GDP.MKTP.CD+SP.POP.TOTL_JPN-USA_source2.json"
	// jpnUSA is a page of 50 records of one indicator for two countries.
	jpnUSA = smallDir + "/indicator_NY.GDP.MKTP.CD_JPN-USA.json"
	// fullHealth is a page of 10,000 records with income groups, which have
	// no countryiso3code.
	fullHealth = fullDir + "/SH.XPD.CHEX.GD.ZS_all_perpage10000_page1.json"
)

func readData(tb testing.TB, name string) []byte {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.SharedDataDir(tb), filepath.FromSlash(name)))
	require.NoError(tb, err)
	return data
}

// recordings lists every recording of the API, relative to the shared data dir.
func recordings(tb testing.TB) []string {
	tb.Helper()
	dir := testenv.SharedDataDir(tb)
	var out []string
	for _, sub := range []string{smallDir, fullDir} {
		files, err := filepath.Glob(filepath.Join(dir, filepath.FromSlash(sub), "*.json"))
		require.NoError(tb, err)
		require.NotEmpty(tb, files, sub)
		for _, f := range files {
			out = append(out, sub+"/"+filepath.Base(f))
		}
	}
	return out
}

func mapping(tb testing.TB) worldbank.Mapping {
	tb.Helper()
	cat, err := indicators.Load()
	require.NoError(tb, err)
	f, ok := cat.Files["worldbank"]
	require.True(tb, ok)
	cols, err := feeds.Columns(f)
	require.NoError(tb, err)
	return worldbank.Mapping{
		Meta: feeds.Meta{
			Source:      "worldbank-health-expenditure",
			URL:         "https://api.worldbank.org/v2/country/all/indicator/SH.XPD.CHEX.GD.ZS?format=json&per_page=20000",
			Licence:     "CC BY 4.0",
			RetrievedAt: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC),
			Version:     1_700_000_000_000,
		},
		Indicators: cols,
	}
}

// rawPage is a response as read by encoding/json alone, independent of the
// parser.
type rawPage struct {
	elems   []any
	meta    map[string]any
	records []map[string]any
}

func readRaw(tb testing.TB, data []byte) rawPage {
	tb.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var p rawPage
	require.NoError(tb, dec.Decode(&p.elems))
	require.NotEmpty(tb, p.elems)
	p.meta = p.elems[0].(map[string]any)
	if len(p.elems) > 1 && p.elems[1] != nil {
		for _, r := range p.elems[1].([]any) {
			p.records = append(p.records, r.(map[string]any))
		}
	}
	return p
}

func (p rawPage) isError() bool { _, ok := p.meta["message"]; return ok }

func (p rawPage) isIndicatorData() bool {
	if len(p.records) == 0 {
		return false
	}
	_, ok := p.records[0]["indicator"]
	return ok
}

// messages are the messages of an error body.
func (p rawPage) messages() []worldbank.Message {
	var out []worldbank.Message
	for _, m := range p.meta["message"].([]any) {
		m := m.(map[string]any)
		out = append(out, worldbank.Message{ID: m["id"].(string), Key: m["key"].(string), Value: m["value"].(string)})
	}
	return out
}

// metaInt reads a metadata number written as a number or a string.
func (p rawPage) metaInt(tb testing.TB, key string) int {
	tb.Helper()
	var s string
	switch v := p.meta[key].(type) {
	case json.Number:
		s = v.String()
	case string:
		s = v
	default:
		tb.Fatalf("metadata %s is %T", key, v)
	}
	n, err := strconv.Atoi(s)
	require.NoError(tb, err)
	return n
}

func rawID(r map[string]any, obj string) string {
	o, _ := r[obj].(map[string]any)
	id, _ := o["id"].(string)
	return id
}

// rawGeo is the geo the package documents for a raw record.
func rawGeo(r map[string]any) string {
	if iso, _ := r["countryiso3code"].(string); iso != "" {
		return iso
	}
	return "wb:" + rawID(r, "country")
}

type key struct {
	indicator, geo, period string
}

func index(tb testing.TB, obs []observation.Observation) map[key]float64 {
	tb.Helper()
	m := make(map[key]float64, len(obs))
	for _, o := range obs {
		k := key{o.Indicator, o.Geo, o.Period.Code()}
		_, dup := m[k]
		require.False(tb, dup, "observation %v appears twice", k)
		m[k] = *o.Value
	}
	return m
}

// TestRecordings runs every recording through the parser. Data pages give
// one observation per record of a mapped indicator with a value; error
// bodies give an *APIError naming their messages; the other responses give
// ErrNotIndicatorData.
func TestRecordings(t *testing.T) {
	const (
		apiError = "worldbank api answered with an error instead of data"
		notData  = "not an indicator data response"
	)
	tests := []struct {
		file        string
		errContains string // empty for a data page
	}{
		{smallDir + "/countries_perpage2.json", notData},
		{smallDir + "/country_JPN.json", notData},
		{smallDir + "/error_invalid_indicator.json", apiError},
		{smallDir + "/error_invalid_indicator_multi_source2.json", apiError},
		{twoIndicators, ""},
		{jpnUSA, ""},
		{smallDir + "/indicator_NY.GDP.MKTP.CD_JPN-USA_footnote.json", ""},
		{smallDir + "/indicator_NY.GDP.MKTP.CD_all_date2018-2019_perpage2.json", ""},
		{smallDir + "/indicator_NY.GDP.MKTP.CD_all_mrv1_perpage2.json", ""},
		{smallDir + "/indicator_NY.GDP.MKTP.CD_all_page1.json", ""},
		{smallDir + "/indicator_metadata_1.0.HCount.1.90usd.json", notData},
		{smallDir + "/source_2.json", notData},
		{smallDir + "/topic1_indicators_perpage2.json", notData},
		{fullDir + "/SH.STA.OWAD.ZS_all_perpage10000_page1.json", ""},
		{fullHealth, ""},
	}
	// Every recording has a case, so a new one is not silently untested.
	var listed []string
	for _, tt := range tests {
		listed = append(listed, tt.file)
	}
	require.ElementsMatch(t, recordings(t), listed)

	m := mapping(t)
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data := readData(t, tt.file)
			raw := readRaw(t, data)
			obs, stats, err := feedtest.ReadAll(worldbank.NewReader(bytes.NewReader(data), m))
			switch tt.errContains {
			case apiError:
				require.True(t, raw.isError(), "the raw body is an error body")
				require.ErrorContains(t, err, tt.errContains)
				var ae *worldbank.APIError
				require.True(t, errors.As(err, &ae), "%v", err)
				want := raw.messages()
				require.NotEmpty(t, want)
				require.Equal(t, want, ae.Messages)
				for _, msg := range want {
					require.ErrorContains(t, err, fmt.Sprintf("message id %q, key %q, value %q", msg.ID, msg.Key, msg.Value))
				}
				if len(want) > 1 && !slices.ContainsFunc(want[1:], func(m worldbank.Message) bool { return m != want[0] }) {
					require.ErrorContains(t, err, fmt.Sprintf("(%d times)", len(want)))
				}
				return
			case notData:
				require.False(t, raw.isError())
				require.False(t, raw.isIndicatorData(), "the raw body holds no indicator records")
				require.ErrorIs(t, err, worldbank.ErrNotIndicatorData)
				require.ErrorContains(t, err, tt.errContains)
				return
			}
			require.NoError(t, err)
			require.True(t, raw.isIndicatorData())
			checkDataPage(t, m, data, raw, obs, stats)
		})
	}
}

// checkDataPage compares what the parser read with the raw page.
func checkDataPage(t *testing.T, m worldbank.Mapping, data []byte, raw rawPage, obs []observation.Observation, stats feeds.Stats) {
	t.Helper()
	got := index(t, obs)
	var (
		want, missing, uncodedRecords int
		uncoded                       []worldbank.Entity
		unmapped                      map[string]int
		withValue                     []map[string]any
	)
	for _, r := range raw.records {
		id := rawID(r, "indicator")
		col, ok := m.Indicators[id]
		if !ok {
			feeds.Count(&unmapped, id, 1)
			continue
		}
		geo := rawGeo(r)
		if iso, _ := r["countryiso3code"].(string); iso == "" {
			uncodedRecords++
			if !slices.ContainsFunc(uncoded, func(e worldbank.Entity) bool { return e.Geo == geo }) {
				name, _ := r["country"].(map[string]any)["value"].(string)
				uncoded = append(uncoded, worldbank.Entity{ID: rawID(r, "country"), Name: name, Geo: geo})
			}
		}
		date := r["date"].(string)
		v, present := got[key{col.Indicator, geo, date}]
		if r["value"] == nil {
			missing++
			require.False(t, present, "null value of %s %s %s became an observation", id, geo, date)
			continue
		}
		want++
		withValue = append(withValue, r)
		f, err := r["value"].(json.Number).Float64()
		require.NoError(t, err)
		require.True(t, present, "no observation for %s %s %s", id, geo, date)
		require.Equal(t, f, v, "%s %s %s", id, geo, date)
	}
	require.Equal(t, want, len(obs), "observations = records of mapped indicators with a value")
	require.Equal(t, want, stats.Observations)
	require.Equal(t, len(raw.records), stats.Rows)
	require.Equal(t, missing, stats.Missing)
	require.Equal(t, unmapped, stats.Unmapped)
	require.Equal(t, uncoded, stats.Uncoded)
	require.Equal(t, uncodedRecords, stats.UncodedRows)
	require.NotEmpty(t, obs)

	// Named spot checks: the first, middle and last records with a value,
	// each looked up by (indicator, country, date) in the raw file.
	for _, r := range []map[string]any{withValue[0], withValue[len(withValue)/2], withValue[len(withValue)-1]} {
		f, err := r["value"].(json.Number).Float64()
		require.NoError(t, err)
		k := key{m.Indicators[rawID(r, "indicator")].Indicator, rawGeo(r), r["date"].(string)}
		require.Equal(t, f, got[k], "%v", k)
	}

	// The page metadata, numbers given as numbers or strings.
	page, pages := 0, 0
	rd, err := worldbank.NewReader(bytes.NewReader(data), m)
	require.NoError(t, err)
	page, pages = rd.Page()
	require.Equal(t, raw.metaInt(t, "page"), page)
	require.Equal(t, raw.metaInt(t, "pages"), pages)
	md := rd.Metadata()
	require.Equal(t, raw.metaInt(t, "per_page"), md.PerPage)
	require.Equal(t, raw.metaInt(t, "total"), md.Total)
	for k, got := range map[string]string{"sourceid": md.SourceID, "sourcename": md.SourceName, "lastupdated": md.LastUpdated} {
		want, _ := raw.meta[k].(string)
		require.Equal(t, want, got, k)
	}

	// Every observation is valid and carries the mapping's stamp and unit.
	unit := map[string]string{}
	for _, c := range m.Indicators {
		unit[c.Indicator] = c.Unit
	}
	wantProv := observation.Provenance{URL: m.URL, Licence: m.Licence, RetrievedAt: m.RetrievedAt}
	for i := range obs {
		o := &obs[i]
		require.NoError(t, o.Validate(), "observation %d", i)
		if o.Source != m.Source || o.Version != m.Version || o.Provenance != wantProv ||
			o.Period.Grain != observation.GrainYear || o.Unit != unit[o.Indicator] || o.Dims != nil {
			t.Fatalf("observation %d is not stamped as mapped: %+v", i, *o)
		}
	}
}

// The full pages hold income groups without a countryiso3code: they get
// wb:<country.id> and are listed.
func TestUncodedPlaces(t *testing.T) {
	data := readData(t, fullHealth)
	_, stats, err := feedtest.ReadAll(worldbank.NewReader(bytes.NewReader(data), mapping(t)))
	require.NoError(t, err)
	require.NotEmpty(t, stats.Uncoded)
	require.Positive(t, stats.UncodedRows)
	for _, e := range stats.Uncoded {
		require.Equal(t, worldbank.UncodedPrefix+e.ID, e.Geo)
		require.NotEmpty(t, e.Name)
	}
}

// mixedPage is a page of two indicators: the records of one real page
// followed by the first records of another.
func mixedPage(tb testing.TB) []byte {
	tb.Helper()
	other := readRaw(tb, readData(tb, fullHealth)).elems[1].([]any)[:40]
	return edit(tb, readData(tb, jpnUSA), func(e []any) []any {
		e[1] = append(e[1].([]any), other...)
		return e
	})
}

func TestSeveralIndicators(t *testing.T) {
	data := mixedPage(t)
	raw := readRaw(t, data)
	var ids []string
	for _, r := range raw.records {
		if id := rawID(r, "indicator"); !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	require.Len(t, ids, 2, "the page holds two indicators")
	full := mapping(t)

	t.Run("both mapped", func(t *testing.T) {
		obs, stats, err := feedtest.ReadAll(worldbank.NewReader(bytes.NewReader(data), full))
		require.NoError(t, err)
		checkDataPage(t, full, data, raw, obs, stats)
		require.Empty(t, stats.Unmapped)
		inds := map[string]bool{}
		for _, o := range obs {
			inds[o.Indicator] = true
		}
		require.Len(t, inds, 2)
	})
	t.Run("one unmapped", func(t *testing.T) {
		m := full
		m.Indicators = map[string]feeds.Column{ids[0]: full.Indicators[ids[0]]}
		obs, stats, err := feedtest.ReadAll(worldbank.NewReader(bytes.NewReader(data), m))
		require.NoError(t, err)
		checkDataPage(t, m, data, raw, obs, stats)
		require.Len(t, stats.Unmapped, 1)
		require.Positive(t, stats.Unmapped[ids[1]])
	})
}

// A page of only unmapped indicators reads without error and yields nothing;
// the ingester refuses a run without observations.
func TestOnlyUnmapped(t *testing.T) {
	data := readData(t, twoIndicators)
	raw := readRaw(t, data)
	m := mapping(t)
	present := map[string]bool{}
	for _, r := range raw.records {
		present[rawID(r, "indicator")] = true
	}
	for id := range m.Indicators {
		if present[id] {
			delete(m.Indicators, id)
		}
	}
	require.NotEmpty(t, m.Indicators)
	obs, stats, err := feedtest.ReadAll(worldbank.NewReader(bytes.NewReader(data), m))
	require.NoError(t, err)
	require.Empty(t, obs)
	skipped := 0
	for _, n := range stats.Unmapped {
		skipped += n
	}
	require.Equal(t, len(raw.records), skipped)
	require.Len(t, stats.Unmapped, len(present))
}

// edit decodes body, applies change to its elements and encodes it again.
func edit(tb testing.TB, body []byte, change func(elems []any) []any) []byte {
	tb.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var elems []any
	require.NoError(tb, dec.Decode(&elems))
	out, err := json.Marshal(change(elems))
	require.NoError(tb, err)
	return out
}

// setField sets (or with del deletes) a field of record i; a dotted field
// names a field of a nested object.
func setField(i int, field string, value any, del bool) func([]any) []any {
	return func(elems []any) []any {
		obj := elems[1].([]any)[i].(map[string]any)
		parts := strings.Split(field, ".")
		for _, p := range parts[:len(parts)-1] {
			obj = obj[p].(map[string]any)
		}
		if del {
			delete(obj, parts[len(parts)-1])
		} else {
			obj[parts[len(parts)-1]] = value
		}
		return elems
	}
}

func set(i int, field string, value any) func([]any) []any { return setField(i, field, value, false) }

// firstWithValue is the index of the first raw record with a value.
func firstWithValue(tb testing.TB, body []byte) int {
	tb.Helper()
	for i, r := range readRaw(tb, body).records {
		if r["value"] != nil {
			return i
		}
	}
	tb.Fatal("no record with a value")
	return 0
}

func TestParseMalformed(t *testing.T) {
	body := readData(t, jpnUSA)
	v := firstWithValue(t, body)
	half := bytes.LastIndex(body[:len(body)/2], []byte(`{"indicator"`))
	require.Positive(t, half)
	tests := []struct {
		name        string
		body        []byte
		headerErr   bool // the error comes from NewReader
		errContains []string
		recordErr   *recordErr // when set, the error is at this record (Offset checked apart)
	}{
		{name: "empty body", body: nil, headerErr: true, errContains: []string{"body is empty"}},
		{name: "white space", body: []byte(" \n"), headerErr: true, errContains: []string{"body is empty"}},
		{
			name:        "html page",
			body:        []byte("<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head></html>\n"),
			headerErr:   true,
			errContains: []string{"HTML or XML, not JSON"},
		},
		{
			name:        "xml error",
			body:        []byte(`<?xml version="1.0" encoding="utf-8"?><wb:error xmlns:wb="http://www.worldbank.org"><wb:message id="175" key="Invalid format">The indicator was not found.</wb:message></wb:error>`),
			headerErr:   true,
			errContains: []string{"HTML or XML, not JSON", "wb:error"},
		},
		{name: "json object", body: []byte(`{"message":"rate limited"}`), headerErr: true, errContains: []string{"JSON object, not the API v2 array"}},
		{name: "not json", body: []byte("page,pages\n1,1\n"), headerErr: true, errContains: []string{"not JSON"}},
		{name: "empty array", body: []byte("[]"), headerErr: true, errContains: []string{"empty array"}},
		{name: "metadata only", body: edit(t, body, func(e []any) []any { return e[:1] }), headerErr: true,
			errContains: []string{"page metadata but no records array"}},
		{name: "records not an array", body: edit(t, body, func(e []any) []any { e[1] = map[string]any{}; return e }), headerErr: true,
			errContains: []string{"the second element is not the records array"}},
		{name: "metadata without paging", body: edit(t, body, func(e []any) []any {
			md := e[0].(map[string]any)
			delete(md, "page")
			delete(md, "pages")
			return e
		}), headerErr: true, errContains: []string{"not page metadata"}},
		{name: "per_page not a number", body: edit(t, body, func(e []any) []any { e[0].(map[string]any)["per_page"] = true; return e }),
			headerErr: true, errContains: []string{"field per_page: true is not a number"}},
		{name: "per_page a string that is not a number", body: edit(t, body, func(e []any) []any { e[0].(map[string]any)["per_page"] = "fifty"; return e }),
			headerErr: true, errContains: []string{`field per_page: "fifty" is not a whole number`}},
		{name: "records of strings", body: edit(t, body, func(e []any) []any { e[1] = []any{"a", "b"}; return e }),
			headerErr: true, errContains: []string{"not an indicator data response", "not objects"}},
		{
			name:        "truncated mid-record",
			body:        body[:half+40],
			errContains: []string{"the body ends inside this record", "cut short"},
		},
		{
			name:        "truncated after a record",
			body:        body[:half-1],
			errContains: []string{"the body ends after records[", "cut short"},
		},
		{
			name:        "truncated before the closing bracket of the response",
			body:        body[:bytes.LastIndexByte(body, ']')],
			errContains: []string{"before the closing ']' of the response", "cut short"},
		},
		{
			name:        "truncated after a comma",
			body:        body[:half],
			errContains: []string{"the body ends before records[", "cut short"},
		},
		{name: "two records without a comma", body: bytes.Replace(body, []byte(`},{"indicator"`), []byte(`} {"indicator"`), 1),
			errContains: []string{"after records[0]", "want ',' or ']'"}},
		{name: "data after the response", body: append(slices.Clone(body), []byte(" []")...), errContains: []string{"data after the end of the response"}},
		{name: "three elements", body: edit(t, body, func(e []any) []any { return append(e, nil) }), errContains: []string{"more than two elements"}},
		{name: "trailing comma", body: bytes.Replace(body, []byte("}]]"), []byte("},]]"), 1), errContains: []string{"malformed JSON", "want a JSON value"}},
		{
			name:      "record missing date",
			body:      edit(t, body, setField(3, "date", nil, true)),
			recordErr: &recordErr{Index: 3, Field: "date", Reason: "is missing"},
		},
		{
			name:      "date null",
			body:      edit(t, body, set(3, "date", nil)),
			recordErr: &recordErr{Index: 3, Field: "date", Reason: "is null; want a year like 2018"},
		},
		{
			name:      "date a number",
			body:      edit(t, body, set(3, "date", json.Number("2018"))),
			recordErr: &recordErr{Index: 3, Field: "date", Value: "2018", Reason: `is not a string; want a year like "2018"`},
		},
		{
			name:      "date not a date",
			body:      edit(t, body, set(4, "date", "c. 2018")),
			recordErr: &recordErr{Index: 4, Field: "date", Value: "c. 2018", Reason: `is not a date like "2018", "2018Q1" or "2018M03"`},
		},
		{
			name:      "date a range",
			body:      edit(t, body, set(4, "date", "2010:2014")),
			recordErr: &recordErr{Index: 4, Field: "date", Value: "2010:2014", Reason: `is not a date like "2018", "2018Q1" or "2018M03"`},
		},
		{
			name:      "quarter out of range",
			body:      edit(t, body, set(4, "date", "2018Q5")),
			recordErr: &recordErr{Index: 4, Field: "date", Value: "2018Q5", Reason: `is not a date like "2018", "2018Q1" or "2018M03"`},
		},
		{
			name:      "month out of range",
			body:      edit(t, body, set(4, "date", "2018M13")),
			recordErr: &recordErr{Index: 4, Field: "date", Value: "2018M13", Reason: "has a month outside 01..12"},
		},
		{
			name:      "year out of range",
			body:      edit(t, body, set(4, "date", "0999")),
			recordErr: &recordErr{Index: 4, Field: "date", Value: "0999", Reason: "is outside the years 1000..2999"},
		},
		{
			name:      "value a string that is not a number",
			body:      edit(t, body, set(v, "value", "n/a")),
			recordErr: &recordErr{Index: v, Field: "value", Value: "n/a", Reason: "is not a number"},
		},
		{
			name:      "value with thousands separators",
			body:      edit(t, body, set(v, "value", "5,081,769")),
			recordErr: &recordErr{Index: v, Field: "value", Value: "5,081,769", Reason: "is not a number"},
		},
		{
			name:      "value true",
			body:      edit(t, body, set(v, "value", true)),
			recordErr: &recordErr{Index: v, Field: "value", Value: "true", Reason: "is not a number or null"},
		},
		{
			name:      "value missing",
			body:      edit(t, body, setField(v, "value", nil, true)),
			recordErr: &recordErr{Index: v, Field: "value", Reason: "is missing; want a number or null"},
		},
		{
			name:      "value out of range",
			body:      edit(t, body, set(v, "value", json.Number("1e999"))),
			recordErr: &recordErr{Index: v, Field: "value", Value: "1e999", Reason: "is out of the range of a 64-bit float"},
		},
		{
			name:      "indicator missing",
			body:      edit(t, body, setField(2, "indicator", nil, true)),
			recordErr: &recordErr{Index: 2, Field: "indicator.id", Reason: "is missing"},
		},
		{
			name:      "indicator id a number",
			body:      edit(t, body, set(2, "indicator.id", json.Number("7"))),
			recordErr: &recordErr{Index: 2, Field: "indicator.id", Value: "7", Reason: "is not a string"},
		},
		{
			name:      "indicator a string",
			body:      edit(t, body, set(2, "indicator", "NY.GDP.MKTP.CD")),
			recordErr: &recordErr{Index: 2, Field: "indicator", Value: `"NY.GDP.MKTP.CD"`, Reason: `is not an object like {"id":"SH.XPD.CHEX.GD.ZS"}`},
		},
		{
			name:      "countryiso3code of two letters",
			body:      edit(t, body, set(5, "countryiso3code", "JP")),
			recordErr: &recordErr{Index: 5, Field: "countryiso3code", Value: "JP", Reason: "is not a 3-letter code (nor empty)"},
		},
		{
			name: "no place at all",
			body: edit(t, body, func(e []any) []any {
				e = set(5, "countryiso3code", "")(e)
				return set(5, "country.id", "")(e)
			}),
			recordErr: &recordErr{Index: 5, Field: "country.id", Reason: "is missing, and countryiso3code is empty: the record names no place"},
		},
		{
			name: "country id not a place code",
			body: edit(t, body, func(e []any) []any {
				e = set(5, "countryiso3code", "")(e)
				return set(5, "country.id", "J P")(e)
			}),
			recordErr: &recordErr{Index: 5, Field: "country.id", Value: "J P",
				Reason: `makes the place code "wb:J P", which is not letters, digits, '.', '_', ':' or '-' (at most 64)`},
		},
		{
			name:      "record not an object",
			body:      edit(t, body, func(e []any) []any { e[1].([]any)[6] = json.Number("42"); return e }),
			recordErr: &recordErr{Index: 6, Value: "42", Reason: "is not a JSON object"},
		},
		{
			name: "repeated record",
			body: edit(t, body, func(e []any) []any {
				recs := e[1].([]any)
				e[1] = append(recs, recs[v])
				return e
			}),
			errContains: []string{"repeats", fmt.Sprintf("of records[%d]", v)},
		},
		{name: "control character in a string", body: bytes.Replace(body, []byte(`"Japan"`), []byte("\"Ja\x01pan\""), 1),
			headerErr: true, errContains: []string{"records[0]", "control character"}},
		{name: "nested too deep", body: edit(t, body, func(e []any) []any {
			var deep any = "x"
			for range 10001 {
				deep = []any{deep}
			}
			e[1].([]any)[0].(map[string]any)["footnote"] = deep
			return e
		}), headerErr: true, errContains: []string{"records[0]", "nested deeper than"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rd, err := worldbank.NewReader(bytes.NewReader(tt.body), mapping(t))
			if tt.headerErr {
				require.Error(t, err)
				for _, want := range tt.errContains {
					require.ErrorContains(t, err, want)
				}
				return
			}
			require.NoError(t, err)
			var n int
			for _, err = range rd.All() {
				if err != nil {
					break
				}
				n++
			}
			require.Error(t, err, "after %d observations", n)
			for _, want := range tt.errContains {
				require.ErrorContains(t, err, want)
			}
			if tt.recordErr != nil {
				var re *feeds.Error
				require.True(t, errors.As(err, &re), "error %v is not a *feeds.Error", err)
				if tt.recordErr.Reason == "is not a JSON object" {
					require.Equal(t, tt.recordErr.Value[0], tt.body[re.Offset], "the offset points at the record")
				} else {
					require.Equal(t, byte('{'), tt.body[re.Offset], "the offset points at the record's '{'")
				}
				got := recordErr{Index: re.Record, Field: re.Field, Value: re.Value, Reason: re.Reason}
				require.Equal(t, *tt.recordErr, got)
				require.ErrorContains(t, err, fmt.Sprintf("records[%d]", tt.recordErr.Index))
			}
		})
	}
}

func TestQuartersAndMonths(t *testing.T) {
	body := readData(t, jpnUSA)
	v := firstWithValue(t, body)
	raw := readRaw(t, body)
	var w int // a second record with a value
	for i := v + 1; i < len(raw.records); i++ {
		if raw.records[i]["value"] != nil {
			w = i
			break
		}
	}
	require.Positive(t, w)
	data := edit(t, body, func(e []any) []any {
		e = set(v, "date", "2018Q2")(e)
		return set(w, "date", "2018M03")(e)
	})
	obs, _, err := feedtest.ReadAll(worldbank.NewReader(bytes.NewReader(data), mapping(t)))
	require.NoError(t, err)
	got := index(t, obs)
	for _, c := range []struct {
		i      int
		period string
	}{{v, "2018-Q2"}, {w, "2018-03"}} {
		p, err := observation.ParsePeriod(c.period)
		require.NoError(t, err)
		r := raw.records[c.i]
		f, err := r["value"].(json.Number).Float64()
		require.NoError(t, err)
		k := key{mapping(t).Indicators[rawID(r, "indicator")].Indicator, rawGeo(r), p.Code()}
		require.Equal(t, f, got[k], "%v", k)
	}
	for _, o := range obs {
		require.NoError(t, o.Validate())
	}
}

// A value written as a string holding a number is that number; an empty
// string is a missing value.
func TestValueAsString(t *testing.T) {
	body := readData(t, jpnUSA)
	v := firstWithValue(t, body)
	raw := readRaw(t, body)
	r := raw.records[v]
	text := r["value"].(json.Number).String()
	want, err := strconv.ParseFloat(text, 64)
	require.NoError(t, err)
	k := key{mapping(t).Indicators[rawID(r, "indicator")].Indicator, rawGeo(r), r["date"].(string)}

	obs, stats, err := feedtest.ReadAll(worldbank.NewReader(bytes.NewReader(edit(t, body, set(v, "value", text))), mapping(t)))
	require.NoError(t, err)
	require.Equal(t, want, index(t, obs)[k])
	base, baseStats, err := feedtest.ReadAll(worldbank.NewReader(bytes.NewReader(body), mapping(t)))
	require.NoError(t, err)
	require.Equal(t, index(t, base), index(t, obs))
	require.Equal(t, baseStats, stats)

	obs, stats, err = feedtest.ReadAll(worldbank.NewReader(bytes.NewReader(edit(t, body, set(v, "value", ""))), mapping(t)))
	require.NoError(t, err)
	require.Len(t, obs, len(base)-1)
	require.Equal(t, baseStats.Missing+1, stats.Missing)
	_, present := index(t, obs)[k]
	require.False(t, present)
}

// Escapes in strings, a byte-order mark, other white space and field order
// do not change what is read.
func TestEncodingVariants(t *testing.T) {
	body := readData(t, jpnUSA)
	want, wantStats, err := feedtest.ReadAll(worldbank.NewReader(bytes.NewReader(body), mapping(t)))
	require.NoError(t, err)
	var indented bytes.Buffer
	require.NoError(t, json.Indent(&indented, body, "", "\t"))
	for name, variant := range map[string][]byte{
		"escaped":   bytes.ReplaceAll(body, []byte(`"countryiso3code":"JPN"`), []byte(`"country\u0069so3code":"\u004aPN"`)),
		"bom":       append([]byte("\uFEFF"), body...),
		"indented":  indented.Bytes(),
		"reordered": edit(t, body, func(e []any) []any { return e }), // json.Marshal sorts the keys
	} {
		t.Run(name, func(t *testing.T) {
			require.NotEqual(t, body, variant)
			got, stats, err := feedtest.ReadAll(worldbank.NewReader(bytes.NewReader(variant), mapping(t)))
			require.NoError(t, err)
			require.Equal(t, want, got)
			require.Equal(t, wantStats, stats)
		})
	}
}

func TestEmptyPage(t *testing.T) {
	body := readData(t, jpnUSA)
	raw := readRaw(t, body)
	for name, records := range map[string]any{"null": nil, "empty array": []any{}} {
		t.Run(name, func(t *testing.T) {
			data := edit(t, body, func(e []any) []any { e[1] = records; return e })
			rd, err := worldbank.NewReader(bytes.NewReader(data), mapping(t))
			require.NoError(t, err)
			page, pages := rd.Page()
			require.Equal(t, raw.metaInt(t, "page"), page)
			require.Equal(t, raw.metaInt(t, "pages"), pages)
			n := 0
			for _, err := range rd.All() {
				require.NoError(t, err)
				n++
			}
			require.Zero(t, n)
			st := rd.Stats()
			require.Equal(t, raw.metaInt(t, "page"), st.Detail("page"))
			require.Contains(t, st.Incomplete, fmt.Sprintf("page %d of %d", page, pages), "a first page of several is partial")
			st.Details, st.Incomplete = nil, ""
			require.Equal(t, feeds.Stats{}, st)
		})
	}
}

// The API writes the metadata numbers as numbers or as strings.
func TestMetadataNumbersAsStrings(t *testing.T) {
	body := readData(t, jpnUSA)
	raw := readRaw(t, body)
	data := edit(t, body, func(e []any) []any {
		md := e[0].(map[string]any)
		for _, k := range []string{"page", "pages", "per_page", "total"} {
			md[k] = strconv.Itoa(raw.metaInt(t, k))
		}
		md["sourceid"] = nil
		return e
	})
	rd, err := worldbank.NewReader(bytes.NewReader(data), mapping(t))
	require.NoError(t, err)
	want := worldbank.Metadata{
		Page: raw.metaInt(t, "page"), Pages: raw.metaInt(t, "pages"),
		PerPage: raw.metaInt(t, "per_page"), Total: raw.metaInt(t, "total"),
		SourceName: raw.meta["sourcename"].(string), LastUpdated: raw.meta["lastupdated"].(string),
	}
	require.Equal(t, want, rd.Metadata())
}

func TestMappingChecked(t *testing.T) {
	tests := []struct {
		name        string
		change      func(*worldbank.Mapping)
		errContains string
	}{
		{"no licence", func(m *worldbank.Mapping) { m.Licence = "" }, "provenance.licence"},
		{"no version", func(m *worldbank.Mapping) { m.Version = 0 }, "version"},
		{"bad source", func(m *worldbank.Mapping) { m.Source = "World Bank" }, "source"},
		{"no retrieval time", func(m *worldbank.Mapping) { m.RetrievedAt = time.Time{} }, "retrieved_at"},
		{"no indicators", func(m *worldbank.Mapping) { m.Indicators = nil }, "no columns are mapped"},
		{"no unit", func(m *worldbank.Mapping) {
			m.Indicators = map[string]feeds.Column{"SP.POP.TOTL": {Indicator: "SP.POP.TOTL"}}
		}, `column "SP.POP.TOTL": unit`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mapping(t)
			tt.change(&m)
			_, err := worldbank.NewReader(bytes.NewReader(readData(t, jpnUSA)), m)
			require.ErrorContains(t, err, tt.errContains)
		})
	}
}

func TestAllYieldsOnce(t *testing.T) {
	rd, err := worldbank.NewReader(bytes.NewReader(readData(t, jpnUSA)), mapping(t))
	require.NoError(t, err)
	for _, err := range rd.All() {
		require.NoError(t, err)
	}
	for _, err := range rd.All() {
		require.ErrorContains(t, err, "already read")
	}
}

func TestStopEarly(t *testing.T) {
	rd, err := worldbank.NewReader(bytes.NewReader(readData(t, fullHealth)), mapping(t))
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

func TestPageURL(t *testing.T) {
	tests := []struct {
		url, want, errContains string
		page                   int
	}{
		{url: "https://api.worldbank.org/v2/country/all/indicator/SH.XPD.CHEX.GD.ZS?format=json&per_page=10000", page: 2,
			want: "https://api.worldbank.org/v2/country/all/indicator/SH.XPD.CHEX.GD.ZS?format=json&page=2&per_page=10000"},
		{url: "https://api.worldbank.org/v2/country/all/indicator/SH.XPD.CHEX.GD.ZS?format=json&page=1", page: 3,
			want: "https://api.worldbank.org/v2/country/all/indicator/SH.XPD.CHEX.GD.ZS?format=json&page=3"},
		{url: "https://api.worldbank.org/v2/country/all/indicator/X", page: 0, errContains: "page 0 is not at least 1"},
		{url: "/v2/country/all/indicator/X", page: 2, errContains: "not an absolute http or https URL"},
		{url: "https://api.worldbank.org/%zz", page: 2, errContains: "page url"},
	}
	for _, tt := range tests {
		got, err := worldbank.PageURL(tt.url, tt.page)
		if tt.errContains != "" {
			require.ErrorContains(t, err, tt.errContains, tt.url)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, tt.want, got)
	}
}

func ExampleReader_All() {
	m := worldbank.Mapping{
		Meta: feeds.Meta{Source: "example", Licence: "CC BY 4.0", Version: 1, RetrievedAt: time.Unix(0, 0).UTC()},
		Indicators: map[string]feeds.Column{
			"SH.XPD.CHEX.GD.ZS": {Indicator: "SH.XPD.CHEX.GD.ZS", Unit: "% of GDP"},
		},
	}
	body := `[{"page":1,"pages":2,"per_page":"3","total":6},[
	 {"indicator":{"id":"SH.XPD.CHEX.GD.ZS"},"country":{"id":"XA","value":"Example"},"countryiso3code":"XXA","date":"2020","value":4.5},
	 {"indicator":{"id":"SH.XPD.CHEX.GD.ZS"},"country":{"id":"XA","value":"Example"},"countryiso3code":"XXA","date":"2019","value":null},
	 {"indicator":{"id":"SH.XPD.CHEX.GD.ZS"},"country":{"id":"XD","value":"High income"},"countryiso3code":"","date":"2020","value":9.25}]]`
	rd, err := worldbank.NewReader(strings.NewReader(body), m)
	if err != nil {
		fmt.Println(err)
		return
	}
	for o, err := range rd.All() {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(o.Indicator, o.Geo, o.Period, *o.Value, o.Unit)
	}
	page, pages := rd.Page()
	s := rd.Stats()
	fmt.Println(page, pages, s.Rows, s.Observations, s.Missing, s.Uncoded)
	// Output:
	// SH.XPD.CHEX.GD.ZS XXA 2020 4.5 % of GDP
	// SH.XPD.CHEX.GD.ZS wb:XD 2020 9.25 % of GDP
	// 1 2 3 2 1 [{XD High income wb:XD}]
}

// recordErr is where and why a record is refused, as a *feeds.Error says.
type recordErr struct {
	Index                int
	Field, Value, Reason string
}
