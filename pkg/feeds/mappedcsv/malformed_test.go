package mappedcsv_test

import (
	"archive/zip"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/feeds"
	"github.com/ounce-data/ounce/pkg/feeds/feedtest"
	"github.com/ounce-data/ounce/pkg/feeds/mappedcsv"
	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/places"
)

// head is the first n lines of data (after skip preamble lines), with
// their line breaks.
func head(data []byte, n int) []byte {
	end := 0
	for range n {
		i := bytes.IndexByte(data[end:], '\n')
		if i < 0 {
			return data
		}
		end += i + 1
	}
	return data[:end]
}

// readErr reads body with the package and returns the first error.
func readErr(t *testing.T, l mappedcsv.Layout, m mappedcsv.Mapping, body []byte) (feeds.Stats, error) {
	t.Helper()
	rd, err := mappedcsv.NewReader(bytes.NewReader(body), l, m)
	if err != nil {
		return feeds.Stats{}, err
	}
	for _, err := range rd.All() {
		if err != nil {
			return rd.Stats(), err
		}
	}
	return rd.Stats(), nil
}

type malformed struct {
	name string
	// edit turns the head of the real recording into the bad body.
	edit        func(b []byte) []byte
	errContains []string
}

func replace(old, new string) func([]byte) []byte {
	return func(b []byte) []byte {
		if !bytes.Contains(b, []byte(old)) {
			panic("test edit: " + old + " is not in the body")
		}
		return bytes.Replace(b, []byte(old), []byte(new), 1)
	}
}

func cut(n int) func([]byte) []byte { return func(b []byte) []byte { return b[:len(b)-n] } }

var htmlPage = func([]byte) []byte {
	return []byte("<!DOCTYPE html><html><head><title>Service Unavailable</title></head><body>try later</body></html>")
}

// Every malformed case fails with an error naming the feed, the line and
// row, and the column at fault, and nothing is silently dropped.
func TestMalformed(t *testing.T) {
	cases := map[string][]malformed{
		wbBulk.feed: {
			{"truncated body", cut(30), []string{"feed worldbank-bulk-health-expenditure: worldbank bulk csv line 13 (data row 8)", "is not valid CSV"}},
			{"cut at a line end", cut(2 + len(`"",`)), []string{"line 13 (data row 8)", "has 70 fields, the header has 71"}},
			{"html error page with 200", htmlPage, []string{"feed worldbank-bulk-health-expenditure: worldbank bulk csv: body is HTML"}},
			{"renamed column", replace(`"Country Code"`, `"Economy Code"`), []string{"header (line 5)", `place column "Country Code" is missing from the header`}},
			{"non-numeric value", replace(`"5.65752277451423"`, `"5,66"`), []string{"line 7 (data row 2)", `field 2000`, `value "5,66"`, "is not a number"}},
			{"unknown place code", replace(`"AFE"`, `"ZZZ"`), []string{"line 7 (data row 2)", `field "Country Code"`, `value "ZZZ"`, "not a code place code in the place catalogue"}},
			{"no year columns", replace(`"1960"`, `"y1960"`), nil}, // still has other years: fine
			{"repeated row", func(b []byte) []byte {
				lines := bytes.SplitAfter(b, []byte("\n"))
				return append(b, lines[6]...)
			}, []string{"line 14 (data row 9)", "repeats the indicator, place AFE, period and breakdown of line 7"}},
			{"preamble only", func(b []byte) []byte { return head(b, 2) }, []string{"body ends in its 4-line preamble"}},
		},
		grapher.feed: {
			{"truncated body", cut(4), []string{"feed owid-diabetes-prevalence: owid grapher csv line 9 (data row 8)", "has 3 fields, the header has 4"}},
			{"html error page with 200", htmlPage, []string{"body is HTML"}},
			{"renamed column", replace("Diabetes prevalence (% of population ages 20 to 79)", "Diabetes prevalence"), []string{`column "Diabetes prevalence (% of population ages 20 to 79)" (indicator owid.diabetes_prevalence) is missing from the header`}},
			{"non-numeric value", replace(",7.6\n", ",n/a\n"), []string{"line 2 (data row 1)", `field "Diabetes prevalence (% of population ages 20 to 79)"`, `value "n/a"`, "is not a number"}},
			{"unknown place code", replace("AFG", "AFX"), []string{"line 2 (data row 1)", `field Code`, `value "AFX"`, "place catalogue"}},
			{"unknown uncoded entity", replace("Afghanistan,AFG", "Atlantis,"), []string{"line 2 (data row 1)", `field Entity`, `value "Atlantis"`, "owid:atlantis is not in the place catalogue"}},
			{"bad year", replace(",2011,", ",20x1,"), []string{"line 2 (data row 1)", `field Year`, `value "20x1"`, "is not a year"}},
			{"json body", func([]byte) []byte { return []byte(`{"error":"not found"}`) }, []string{"body is JSON"}},
			{"empty body", func([]byte) []byte { return nil }, []string{"body is empty"}},
		},
		portal.feed: {
			{"truncated body", cut(12), []string{"feed who-obesity-adults: who data portal csv line 9 (data row 8)", "fields, the header has 16"}},
			{"truncated at a line end", cut(1), []string{"line 9 (data row 8)", "ends without a line break"}},
			{"html error page with 200", htmlPage, []string{"body is HTML"}},
			{"renamed column", replace("RATE_PER_100_N,", "RATE_N,"), []string{`value column "RATE_PER_100_N" is missing from the header`}},
			{"non-numeric value", replace(",15.100731,", ",15.1%,"), []string{"line 2 (data row 1)", `field RATE_PER_100_N`, `value "15.1%"`}},
			{"bound above value", replace(",11.168393,", ",16.5,"), []string{"line 2 (data row 1)", `field RATE_PER_100_NL`, "lower bound is above the value 15.100731"}},
			{"other time type", replace(",1994,YEAR,", ",1994,MONTH,"), []string{"line 2 (data row 1)", `field DIM_TIME_TYPE`, `must be "YEAR"`}},
			{"not an M49 number", replace(",807,", ",MK,"), []string{"line 2 (data row 1)", `field DIM_GEO_CODE_M49`, `value "MK"`, "is not an M49 number"}},
		},
		waste.feed: {
			{"truncated body", cut(40), []string{"feed whatawaste: mapped csv line 9 (data row 8)", "fields, the header has 51"}},
			{"html error page with 200", htmlPage, []string{"body is HTML"}},
			{"renamed column", replace("total_msw_total_msw_generated_tons_year", "msw_tons"), []string{`column "total_msw_total_msw_generated_tons_year" (indicator waw.msw_generated) is missing`}},
			{"thousands separator", replace("88132.0167", "88,132"), []string{"line 2 (data row 1)", "has 52 fields, the header has 51"}},
			{"non-numeric value", replace("88132.0167", "88132 t"), []string{"line 2 (data row 1)", `field total_msw_total_msw_generated_tons_year`, `value "88132 t"`, "is not a number"}},
			{"bad E-notation", replace("1.03042E+11", "1.03042E+1x"), []string{"line 4 (data row 3)", `field gdp`, `value "1.03042E+1x"`, "is not a number"}},
			{"unknown place code", replace("\nAFG,", "\nAFX,"), []string{"line 3 (data row 2)", `field iso3c`, `value "AFX"`}},
		},
	}
	for _, f := range formats {
		layout, m, data := setup(t, f)
		body := head(data, 9+layout.SkipLines)
		if f.feed == grapher.feed { // OWID grapher files end without a line break
			body = bytes.TrimSuffix(body, []byte("\n"))
		}
		_, err := readErr(t, layout, m, body)
		require.NoError(t, err, "%s: the unedited head reads", f.feed)
		for _, tc := range cases[f.feed] {
			t.Run(f.feed+"/"+tc.name, func(t *testing.T) {
				_, err := readErr(t, layout, m, tc.edit(bytes.Clone(body)))
				if tc.errContains == nil {
					require.NoError(t, err)
					return
				}
				require.Error(t, err)
				for _, s := range tc.errContains {
					require.ErrorContains(t, err, s)
				}
			})
		}
	}
}

// The WHO data portal names places by M49 number: a number the place
// catalogue does not know is counted and its row skipped, not an error and
// not silently dropped; under the error policy it fails naming row and column.
func TestWHOPortalUnknownM49(t *testing.T) {
	layout, m, data := setup(t, portal)
	body := replace(",807,", ",999,")(bytes.Clone(head(data, 10)))
	stats, err := readErr(t, layout, m, body)
	require.NoError(t, err)
	require.Equal(t, map[string]int{"999": 1}, stats.UnknownPlaces)
	require.Equal(t, 1, sum(stats.UnknownPlaces))
	require.Equal(t, 8, stats.Observations, "the other rows are read")

	layout.Place.Unknown = mappedcsv.UnknownError
	_, err = readErr(t, layout, m, body)
	require.ErrorContains(t, err, `feed who-obesity-adults: who data portal csv line 2 (data row 1), field DIM_GEO_CODE_M49, value "999": is not a who-m49 place code`)
}

func TestLayoutCheck(t *testing.T) {
	base := mappedcsv.Layout{Place: mappedcsv.PlaceColumn{Column: "geo", Scheme: places.SchemeCode}, Period: mappedcsv.PeriodColumn{Column: "year"}}
	require.NoError(t, base.Check())
	for _, tc := range []struct {
		name        string
		change      func(l *mappedcsv.Layout)
		errContains string
	}{
		{"no place", func(l *mappedcsv.Layout) { l.Place.Column = "" }, "place.column is missing"},
		{"bad scheme", func(l *mappedcsv.Layout) { l.Place.Scheme = "fips" }, `place.scheme "fips" is not`},
		{"two periods", func(l *mappedcsv.Layout) { l.Period.Year = 2016 }, "exactly one of period.column"},
		{"no period", func(l *mappedcsv.Layout) { l.Period.Column = "" }, "exactly one of period.column"},
		{"value without indicator", func(l *mappedcsv.Layout) { l.Value = "v" }, "indicator and value go together"},
		{"wide years without indicator", func(l *mappedcsv.Layout) { l.Period = mappedcsv.PeriodColumn{WideYears: true} }, "wide_years needs indicator"},
		{"bad dims key", func(l *mappedcsv.Layout) { l.Dims = map[string]string{"Sex": "s"} }, `dims key "Sex"`},
		{"zero scale", func(l *mappedcsv.Layout) { l.Scale = map[string]float64{"x": 0} }, "scale.x 0"},
		{"name without prefix", func(l *mappedcsv.Layout) { l.Place.NameColumn = "name" }, "needs place.blank_prefix"},
		{"bad unknown policy", func(l *mappedcsv.Layout) { l.Place.Unknown = "drop" }, `place.unknown "drop"`},
		{"bad year", func(l *mappedcsv.Layout) { l.Period = mappedcsv.PeriodColumn{Year: 16} }, "period.year 16"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := base
			tc.change(&l)
			require.ErrorContains(t, l.Check(), tc.errContains)
		})
	}
}

func TestMergeCSVBlock(t *testing.T) {
	f, err := indicators.Parse([]byte("licence: x\ncsv:\n  place: {column: iso}\n  period: {year: 2016}\n  scale: {a: 1000}\nindicators: []\n"))
	require.NoError(t, err)
	l, err := mappedcsv.Generic.Merge(f.CSV)
	require.NoError(t, err)
	require.Equal(t, "iso", l.Place.Column)
	require.Equal(t, places.SchemeCode, l.Place.Scheme, "the preset's scheme stays")
	require.Equal(t, 2016, l.Period.Year)
	require.Equal(t, 1000.0, l.Scale["a"])

	f, err = indicators.Parse([]byte("licence: x\ncsv:\n  place: {column: iso, colour: red}\n  period: {year: 2016}\nindicators: []\n"))
	require.NoError(t, err)
	_, err = mappedcsv.Generic.Merge(f.CSV)
	require.ErrorContains(t, err, "field colour not found")

	_, err = mappedcsv.Generic.Merge(nil)
	require.ErrorContains(t, err, "place.column is missing", "mapped-csv needs its csv block")
}

// A declared layout: long shape with dims and a scale, read from a body
// written here (the catalogue's recordings cover the presets).
func TestDeclaredLongLayoutWithScale(t *testing.T) {
	_, m, _ := setup(t, waste)
	l := mappedcsv.Layout{
		Name:      "mapped csv",
		Place:     mappedcsv.PlaceColumn{Column: "country", Scheme: places.SchemeISO2},
		Period:    mappedcsv.PeriodColumn{Column: "year"},
		Indicator: "measure", Value: "amount",
		Dims:  map[string]string{"sex": "sex"},
		Scale: map[string]float64{"waw.msw_generated": 1000},
	}
	body := "country,year,measure,sex,amount\nDE,2020,msw,F,1.5\nDE,2020,msw,M,2\nFR,2020,other,F,3\nFR,2021,msw,,4\n"
	m.Columns = map[string]feeds.Column{"msw": {Indicator: "waw.msw_generated", Unit: "t/year"}}
	obs, stats, err := feedtest.ReadAll(mappedcsv.NewReader(strings.NewReader(body), l, m))
	require.NoError(t, err)
	require.Len(t, obs, 3)
	require.Equal(t, "DEU", obs[0].Geo)
	require.Equal(t, 1500.0, *obs[0].Value)
	require.Equal(t, "F", obs[0].Dims["sex"])
	require.Equal(t, "M", obs[1].Dims["sex"])
	require.Equal(t, "FRA", obs[2].Geo)
	require.Nil(t, obs[2].Dims, "an empty dims cell leaves the key out")
	require.Equal(t, map[string]int{"other": 1}, stats.Unmapped)
}

// A World Bank bulk download is a ZIP; its API_* member is the data.
func TestBulkDataFileUnzips(t *testing.T) {
	_, _, data := setup(t, wbBulk)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range []string{"Metadata_Country_API_X.csv", "API_SH.XPD.CHEX.GD.ZS_DS2_en_csv_v2_33342.csv"} {
		w, err := zw.Create(name)
		require.NoError(t, err)
		_, err = w.Write(data)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	r, err := mappedcsv.BulkDataFile(bytes.NewReader(buf.Bytes()))
	require.NoError(t, err)
	got, err := io.ReadAll(r)
	require.NoError(t, err)
	require.Equal(t, data, got)

	r, err = mappedcsv.BulkDataFile(bytes.NewReader(data))
	require.NoError(t, err)
	got, err = io.ReadAll(r)
	require.NoError(t, err)
	require.Equal(t, data, got, "a bare CSV passes through")

	buf.Reset()
	zw = zip.NewWriter(&buf)
	_, err = zw.Create("readme.txt")
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	_, err = mappedcsv.BulkDataFile(bytes.NewReader(buf.Bytes()))
	require.ErrorContains(t, err, "holds 0 API_*.csv data files")
}

func TestAllYieldsOnce(t *testing.T) {
	layout, m, data := setup(t, grapher)
	rd, err := mappedcsv.NewReader(bytes.NewReader(data), layout, m)
	require.NoError(t, err)
	for range rd.All() {
	}
	for _, err := range rd.All() {
		require.ErrorContains(t, err, "already read")
	}
	var re *feeds.Error
	_, err = readErr(t, layout, m, replace("AFG", "AFX")(bytes.Clone(data)))
	require.True(t, errors.As(err, &re))
	require.Equal(t, "Code", re.Field)
	require.Equal(t, 1, re.Record)
	require.Equal(t, "line 2 (data row 1)", re.At)
	require.Equal(t, "owid-diabetes-prevalence", re.Feed)
}

// sum adds up the counts of m.
func sum(m map[string]int) int {
	n := 0
	for _, c := range m {
		n += c
	}
	return n
}
