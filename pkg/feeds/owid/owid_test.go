package owid_test

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/feeds"
	"github.com/ounce-data/ounce/pkg/feeds/feedtest"
	"github.com/ounce-data/ounce/pkg/feeds/owid"
	"github.com/ounce-data/ounce/pkg/observation"
)

// feedID is the declared feed whose recording (the OWID CO2 full dataset
// in ../shared/data) and catalogue the tests read.
const feedID = "owid-co2"

func realFile(tb testing.TB) []byte {
	tb.Helper()
	return feedtest.Load(tb, feedID).Data
}

func mapping(tb testing.TB) owid.Mapping {
	tb.Helper()
	rec := feedtest.Load(tb, feedID)
	return owid.Mapping{Meta: rec.Meta, Columns: rec.Columns}
}

// rawTable is the file as read by encoding/csv alone, independent of the parser.
type rawTable struct {
	header []string
	rows   [][]string
	col    map[string]int
}

func readRaw(tb testing.TB, data []byte) rawTable {
	tb.Helper()
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	require.NoError(tb, err)
	require.NotEmpty(tb, recs)
	t := rawTable{header: recs[0], rows: recs[1:], col: map[string]int{}}
	for i, h := range t.header {
		t.col[h] = i
	}
	return t
}

// cell finds the raw cell of (iso_code, year, column).
func (t rawTable) cell(tb testing.TB, iso string, year int, column string) string {
	tb.Helper()
	for _, r := range t.rows {
		if r[t.col["iso_code"]] == iso && r[t.col["year"]] == strconv.Itoa(year) {
			return r[t.col[column]]
		}
	}
	tb.Fatalf("no row for %s %d in the raw file", iso, year)
	return ""
}

type key struct {
	indicator, geo string
	year           int
}

func index(tb testing.TB, obs []observation.Observation) map[key]float64 {
	tb.Helper()
	m := make(map[key]float64, len(obs))
	for _, o := range obs {
		k := key{o.Indicator, o.Geo, o.Period.Start.Year()}
		_, dup := m[k]
		require.False(tb, dup, "observation %v appears twice", k)
		m[k] = *o.Value
	}
	return m
}

func TestParseRealFile(t *testing.T) {
	data := realFile(t)
	m := mapping(t)
	obs, stats, err := feedtest.ReadAll(owid.NewReader(bytes.NewReader(data), m))
	require.NoError(t, err)
	raw := readRaw(t, data)
	got := index(t, obs)

	// Named spot checks, values taken from the raw file.
	for _, c := range []struct {
		iso    string
		year   int
		column string
	}{
		{"GBR", 2018, "co2_per_capita"},
		{"FRA", 1990, "co2"},
		{"OWID_WRL", 2000, "population"},
		{"USA", 2010, "total_ghg"},
		{"CHN", 2015, "coal_co2"},
	} {
		cell := raw.cell(t, c.iso, c.year, c.column)
		require.NotEmpty(t, cell, "raw cell %s %d %s", c.iso, c.year, c.column)
		want, err := strconv.ParseFloat(cell, 64)
		require.NoError(t, err)
		v, ok := got[key{m.Columns[c.column].Indicator, c.iso, c.year}]
		require.True(t, ok, "no observation for %s %d %s", c.iso, c.year, c.column)
		require.Equal(t, want, v, "%s %d %s", c.iso, c.year, c.column)
	}

	// Every non-empty mapped cell is exactly one observation with its value;
	// every empty one is none.
	var (
		nonEmpty, empty, uncodedRows int
		uncoded                      []string
	)
	for _, r := range raw.rows {
		iso, name := r[raw.col["iso_code"]], r[raw.col["country"]]
		geo := iso
		if iso == "" {
			uncodedRows++
			geo = "owid:" + owid.Slug(name)
			if !slices.Contains(uncoded, name) {
				uncoded = append(uncoded, name)
			}
		}
		year, err := strconv.Atoi(r[raw.col["year"]])
		require.NoError(t, err)
		for column, c := range m.Columns {
			cell := r[raw.col[column]]
			v, ok := got[key{c.Indicator, geo, year}]
			if cell == "" {
				empty++
				if ok {
					t.Fatalf("empty cell %s %d %s became an observation", geo, year, column)
				}
				continue
			}
			nonEmpty++
			want, err := strconv.ParseFloat(cell, 64)
			if err != nil || !ok || want != v {
				t.Fatalf("cell %s %d %s = %q: observation %v (present %v), parse error %v", geo, year, column, cell, v, ok, err)
			}
		}
	}
	require.Equal(t, nonEmpty, len(obs))
	require.Equal(t, nonEmpty, stats.Observations)
	require.Equal(t, empty, stats.Missing)
	require.Equal(t, len(raw.rows), stats.Rows)
	require.Equal(t, uncodedRows, stats.UncodedRows)
	require.Empty(t, stats.Unmapped, "the catalogue maps every indicator column of the file")
	names := make([]string, len(stats.Uncoded))
	for i, e := range stats.Uncoded {
		names[i] = e.Name
		require.Equal(t, "owid:"+owid.Slug(e.Name), e.Geo)
	}
	require.Equal(t, uncoded, names)
	require.NotEmpty(t, uncoded, "the file has entities without an iso_code")

	// Every observation is valid and carries the mapping's stamp and unit.
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
			o.Period.Grain != observation.GrainYear || o.Unit != unit[o.Indicator] || o.Dims != nil {
			t.Fatalf("observation %d is not stamped as mapped: %+v", i, *o)
		}
	}
}

func TestSlug(t *testing.T) {
	for in, want := range map[string]string{
		"Africa":                     "africa",
		"Asia (excl. China & India)": "asia-excl-china-india",
		"EU-27":                      "eu-27",
		"  Non KP Annex B ":          "non-kp-annex-b",
		"Curaçao":                    "cura-ao",
		"***":                        "",
	} {
		require.Equal(t, want, owid.Slug(in), in)
	}
}

// head is the header and the first n data lines of the real file, bytes as they are.
func head(tb testing.TB, n int) []byte {
	tb.Helper()
	data := realFile(tb)
	end := 0
	for i := 0; i <= n; i++ {
		j := bytes.IndexByte(data[end:], '\n')
		require.GreaterOrEqual(tb, j, 0)
		end += j + 1
	}
	return data[:end]
}

// edit rewrites the CSV body with change applied to its records.
func edit(tb testing.TB, body []byte, change func(recs [][]string) [][]string) []byte {
	tb.Helper()
	recs, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	require.NoError(tb, err)
	recs = change(recs)
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	require.NoError(tb, w.WriteAll(recs))
	return buf.Bytes()
}

func setCell(column string, row int, value string) func([][]string) [][]string {
	return func(recs [][]string) [][]string {
		i := slices.Index(recs[0], column)
		recs[row][i] = value
		return recs
	}
}

func renameColumn(from, to string) func([][]string) [][]string {
	return func(recs [][]string) [][]string {
		recs[0][slices.Index(recs[0], from)] = to
		return recs
	}
}

func TestParseMalformed(t *testing.T) {
	body := head(t, 30)
	lines := bytes.SplitAfter(body, []byte("\n"))
	tests := []struct {
		name        string
		body        []byte
		headerErr   bool // the error comes from NewReader
		errContains []string
		rowErr      *feeds.Error // when set, the error is this one
	}{
		{
			name:        "empty body",
			body:        nil,
			headerErr:   true,
			errContains: []string{"body is empty"},
		},
		{
			name:        "html page",
			body:        []byte("<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head><body>Not Found</body></html>\n"),
			headerErr:   true,
			errContains: []string{"HTML", "not CSV"},
		},
		{
			name:        "json error",
			body:        []byte(`{"message":"API rate limit exceeded"}`),
			headerErr:   true,
			errContains: []string{"JSON", "not CSV"},
		},
		{
			name:        "renamed iso_code",
			body:        edit(t, body, renameColumn("iso_code", "iso3")),
			headerErr:   true,
			errContains: []string{`required column "iso_code" is missing`},
		},
		{
			name:        "renamed year",
			body:        edit(t, body, renameColumn("year", "Year")),
			headerErr:   true,
			errContains: []string{`required column "year" is missing`},
		},
		{
			name:        "renamed catalogue column",
			body:        edit(t, body, renameColumn("co2_per_capita", "co2_per_cap")),
			headerErr:   true,
			errContains: []string{`column "co2_per_capita" (indicator owid.co2_per_capita) is missing from the header`},
		},
		{
			name:        "repeated column",
			body:        edit(t, body, renameColumn("gdp", "population")),
			headerErr:   true,
			errContains: []string{`column "population" appears twice`, `column "gdp" (indicator owid.gdp) is missing`},
		},
		{
			name:        "truncated mid-line",
			body:        body[:len(body)-len(lines[len(lines)-2])/2],
			errContains: []string{"line 31 (data row 30)", "fields, the header has 38", "cut short"},
		},
		{
			name:        "truncated before the last line break",
			body:        body[:len(body)-1],
			errContains: []string{"ends without a line break after line 31", "cut short"},
		},
		{
			name:   "non-numeric value",
			body:   edit(t, body, setCell("co2", 7, "n/a")),
			rowErr: feeds.LineError("owid csv", 8, 7, "co2", "n/a", "is not a number"),
		},
		{
			name:   "thousands separator",
			body:   edit(t, body, setCell("population", 3, "7,752,000")),
			rowErr: feeds.LineError("owid csv", 4, 3, "population", "7,752,000", "is not a number"),
		},
		{
			name:   "nan",
			body:   edit(t, body, setCell("gdp", 2, "NaN")),
			rowErr: feeds.LineError("owid csv", 3, 2, "gdp", "NaN", "is not a number"),
		},
		{
			name:   "overflow",
			body:   edit(t, body, setCell("gdp", 2, "1e999")),
			rowErr: feeds.LineError("owid csv", 3, 2, "gdp", "1e999", "is out of the range of a 64-bit float"),
		},
		{
			name:   "year not a number",
			body:   edit(t, body, setCell("year", 5, "c. 1950")),
			rowErr: feeds.LineError("owid csv", 6, 5, "year", "c. 1950", "is not a whole year"),
		},
		{
			name:   "year out of range",
			body:   edit(t, body, setCell("year", 5, "20000")),
			rowErr: feeds.LineError("owid csv", 6, 5, "year", "20000", "is outside the years 1000..2999"),
		},
		{
			name:   "bad iso code",
			body:   edit(t, body, setCell("iso_code", 4, "A F G")),
			rowErr: feeds.LineError("owid csv", 5, 4, "iso_code", "A F G", "is not a place code (letters, digits, '.', '_', ':' or '-', at most 64)"),
		},
		{
			name: "no code and no name",
			body: edit(t, body, func(recs [][]string) [][]string {
				recs = setCell("iso_code", 4, "")(recs)
				return setCell("country", 4, "")(recs)
			}),
			rowErr: feeds.LineError("owid csv", 5, 4, "country", "", "both iso_code and country are empty"),
		},
		{
			name: "repeated row",
			body: edit(t, body, func(recs [][]string) [][]string {
				return append(recs, slices.Clone(recs[3]))
			}),
			errContains: []string{"line 32 (data row 31)", "repeats", "of line 4"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rd, err := owid.NewReader(bytes.NewReader(tt.body), mapping(t))
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
			if tt.rowErr != nil {
				var re *feeds.Error
				require.True(t, errors.As(err, &re), "error %v is not a *feeds.Error", err)
				require.Equal(t, tt.rowErr, re)
			}
		})
	}
}

func TestUnmappedColumnsAreCounted(t *testing.T) {
	body := head(t, 10)
	m := mapping(t)
	m.Columns = map[string]feeds.Column{
		"co2":        m.Columns["co2"],
		"population": m.Columns["population"],
	}
	obs, stats, err := feedtest.ReadAll(owid.NewReader(bytes.NewReader(body), m))
	require.NoError(t, err)
	raw := readRaw(t, body)
	want := map[string]int{}
	for _, h := range raw.header[3:] {
		if h != "co2" && h != "population" {
			want[h] = 0
		}
	}
	require.Equal(t, want, stats.Unmapped)
	n := 0
	for _, r := range raw.rows {
		for _, c := range []string{"co2", "population"} {
			if r[raw.col[c]] != "" {
				n++
			}
		}
	}
	require.Len(t, obs, n)
}

func TestColumnsInAnyOrderAndCRLF(t *testing.T) {
	body := head(t, 20)
	// Move iso_code to the end and write CRLF line endings.
	moved := edit(t, body, func(recs [][]string) [][]string {
		for i, r := range recs {
			recs[i] = append(slices.Clone(r[1:]), r[0])
		}
		return recs
	})
	crlf := bytes.ReplaceAll(moved, []byte("\n"), []byte("\r\n"))
	want, _, err := feedtest.ReadAll(owid.NewReader(bytes.NewReader(body), mapping(t)))
	require.NoError(t, err)
	got, _, err := feedtest.ReadAll(owid.NewReader(bytes.NewReader(crlf), mapping(t)))
	require.NoError(t, err)
	require.Equal(t, index(t, want), index(t, got))
	require.NotEmpty(t, want)
}

func TestUncodedSlugCollision(t *testing.T) {
	body := edit(t, head(t, 5), func(recs [][]string) [][]string {
		recs = setCell("iso_code", 1, "")(recs)
		recs = setCell("country", 1, "North America")(recs)
		recs = setCell("iso_code", 2, "")(recs)
		return setCell("country", 2, "North-America")(recs)
	})
	_, _, err := feedtest.ReadAll(owid.NewReader(bytes.NewReader(body), mapping(t)))
	var re *feeds.Error
	require.True(t, errors.As(err, &re), "%v", err)
	require.Equal(t, "line 3 (data row 2)", re.At)
	require.Contains(t, re.Reason, `"owid:north-america", already taken by "North America"`)
}

func TestMappingChecked(t *testing.T) {
	tests := []struct {
		name        string
		change      func(*owid.Mapping)
		errContains string
	}{
		{"no licence", func(m *owid.Mapping) { m.Licence = "" }, "provenance.licence"},
		{"no version", func(m *owid.Mapping) { m.Version = 0 }, "version"},
		{"bad source", func(m *owid.Mapping) { m.Source = "OWID CO2" }, "source"},
		{"no retrieval time", func(m *owid.Mapping) { m.RetrievedAt = time.Time{} }, "retrieved_at"},
		{"no columns", func(m *owid.Mapping) { m.Columns = nil }, "no columns are mapped"},
		{"no unit", func(m *owid.Mapping) {
			m.Columns = map[string]feeds.Column{"co2": {Indicator: "owid.co2"}}
		}, `column "co2": unit`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mapping(t)
			tt.change(&m)
			_, err := owid.NewReader(strings.NewReader("iso_code,country,year,co2\n"), m)
			require.ErrorContains(t, err, tt.errContains)
		})
	}
}

func TestAllYieldsOnce(t *testing.T) {
	rd, err := owid.NewReader(bytes.NewReader(head(t, 3)), mapping(t))
	require.NoError(t, err)
	for _, err := range rd.All() {
		require.NoError(t, err)
	}
	for _, err := range rd.All() {
		require.ErrorContains(t, err, "already read")
	}
}

func TestStopEarly(t *testing.T) {
	rd, err := owid.NewReader(bytes.NewReader(realFile(t)), mapping(t))
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
}

func ExampleReader_All() {
	m := owid.Mapping{
		Meta: feeds.Meta{Source: "example", Licence: "CC BY 4.0", Version: 1, RetrievedAt: time.Unix(0, 0).UTC()},
		Columns: map[string]feeds.Column{
			"co2": {Indicator: "owid.co2", Unit: "Mt CO2"},
		},
	}
	body := "iso_code,country,year,co2\nXXA,Example,2000,1.5\n,Example region,2000,\n"
	rd, err := owid.NewReader(strings.NewReader(body), m)
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
	s := rd.Stats()
	fmt.Println(s.Rows, s.Observations, s.Missing, s.Uncoded)
	// Output:
	// owid.co2 XXA 2000 1.5 Mt CO2
	// 2 1 1 [{ Example region owid:example-region}]
}

// Every ratio the catalogue declares for an OWID column reproduces OWID's
// own published value from the declared parts, read from the raw file: so
// that Σ numerator / Σ denominator is the roll-up of the same quantity.
// The parts are published rounded (CO2 to 0.001 Mt, which is most of a
// small island's emissions), so a row agrees when it is within what that
// rounding moves the quotient, plus 1 %; every row of the recording does.
func TestDeclaredRatiosReproduceThePublishedValues(t *testing.T) {
	rec := feedtest.Load(t, feedID)
	raw := readRaw(t, rec.Data)
	byCode := map[string]string{} // indicator code -> column
	for col, c := range rec.Columns {
		byCode[c.Indicator] = col
	}
	checked := 0
	for _, ind := range rec.Catalogue.Indicators {
		if ind.Ratio == nil {
			continue
		}
		num, den := byCode[ind.Ratio.Numerator], byCode[ind.Ratio.Denominator]
		require.NotEmpty(t, num, "%s: numerator %s is an OWID column", ind.Code, ind.Ratio.Numerator)
		require.NotEmpty(t, den, "%s: denominator %s is an OWID column", ind.Code, ind.Ratio.Denominator)
		rows, off := 0, 0
		for _, r := range raw.rows {
			if r[raw.col["iso_code"]] == "" {
				continue
			}
			vs, ns, ds := r[raw.col[ind.Column]], r[raw.col[num]], r[raw.col[den]]
			if vs == "" || ns == "" || ds == "" {
				continue
			}
			v, err1 := strconv.ParseFloat(vs, 64)
			n, err2 := strconv.ParseFloat(ns, 64)
			d, err3 := strconv.ParseFloat(ds, 64)
			require.NoError(t, errors.Join(err1, err2, err3))
			if d <= 0 {
				continue
			}
			rows++
			got := n / d * ind.Ratio.Scale
			rounding := (halfUnit(ns)/d + math.Abs(n)*halfUnit(ds)/(d*d)) * math.Abs(ind.Ratio.Scale)
			if diff := math.Abs(got - v); diff > 0.001+rounding+0.01*math.Abs(v) {
				off++
			}
		}
		require.Positive(t, rows, ind.Code)
		require.Zero(t, off, "%s = %s / %s × %g: %d of %d rows off by more than their rounding and 1 %%", ind.Code, num, den, ind.Ratio.Scale, off, rows)
		checked++
	}
	require.GreaterOrEqual(t, checked, 15, "the declared ratios of the OWID catalogue")
}

// halfUnit is half a unit of the last decimal written in s: how far the
// rounded number may be from the one it was rounded from.
func halfUnit(s string) float64 {
	_, frac, ok := strings.Cut(s, ".")
	if !ok {
		return 0.5
	}
	return 0.5 * math.Pow(10, -float64(len(frac)))
}
