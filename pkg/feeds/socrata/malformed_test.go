package socrata_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/feedcat"
	"github.com/ounce-data/ounce/pkg/feeds/socrata"
)

// dhds is the DHDS feed's declaration, the mapping with every part
// (place codes, dims, intervals, footnotes).
func dhds(t *testing.T) (feedcat.Feed, socrata.Mapping) {
	f, m, _ := recorded(t, "cdc-dhds-disability")
	return f, m
}

const dhdsRow = `{"year":"2022","locationabbr":"CA","response":"Any Disability","datavaluetypeid":"AGEADJPREV",` +
	`"stratification1":"Overall","data_value":"27.5","low_confidence_limit":"26.1","high_confidence_limit":"28.9"}`

// Malformed bodies a Socrata feed can meet: each is refused, or each row
// at fault named with its index and field, before anything is published.
func TestMalformedSODA(t *testing.T) {
	row := func(old, new string) string { return strings.Replace(dhdsRow, old, new, 1) }
	tests := []struct {
		name        string
		body        string
		errContains []string
	}{
		{"empty body", "", []string{"soda json: body is empty"}},
		{"truncated body", "[" + dhdsRow + "," + dhdsRow[:40], []string{"cut short"}},
		{"html error page with 200", "<!DOCTYPE html><html><body>Service Unavailable</body></html>", []string{"body is HTML"}},
		{"socrata error object", `{"code":"query.soql.no-such-column","error":true,"message":"No such column: yeer"}`,
			[]string{"portal answered with an error", "No such column: yeer"}},
		{"csv instead of json (wrong content type)", "year,locationabbr\n2022,CA\n", []string{"body is not JSON"}},
		{"a page that is not an array", "[" + dhdsRow + "] {}", []string{"page 2 is a JSON object"}},
		{"row not an object", `["x"]`, []string{"row 0", "is not a JSON object"}},
		{"renamed value column", "[" + row(`"data_value"`, `"datavalue"`) + "]",
			[]string{"no row has the value field data_value", "was it renamed", "datavalue"}},
		{"renamed place column", "[" + row(`"locationabbr"`, `"location_abbr"`) + "]",
			[]string{"row 0, field locationabbr: is missing"}},
		{"non-numeric value", "[" + dhdsRow + "," + row(`"27.5"`, `"27,5"`) + "]",
			[]string{"row 1, field data_value", `value "27,5"`, "is not a number"}},
		{"non-numeric confidence limit", "[" + row(`"26.1"`, `"n/a"`) + "]",
			[]string{"row 0, field low_confidence_limit", "confidence limit is not a number"}},
		{"one confidence limit left out", "[" + row(`,"low_confidence_limit":"26.1"`, ``) + "]",
			[]string{"row 0, field low_confidence_limit", "confidence limit is empty, but the other limit is given"}},
		{"limits the wrong way round", "[" + row(`"26.1"`, `"29.9"`) + "]",
			[]string{"row 0, field low_confidence_limit", "above the high one"}},
		{"bad year", "[" + row(`"2022"`, `"FY22"`) + "]", []string{"row 0, field year", "is not a year"}},
		{"missing dims field", "[" + row(`"response":"Any Disability",`, ``) + "]",
			[]string{"row 0, field response: is missing"}},
		{"object where a string belongs", "[" + row(`"CA"`, `{"code":"CA"}`) + "]",
			[]string{"row 0, field locationabbr", "is a JSON object, not a string or number"}},
		{"repeated row", "[" + dhdsRow + "," + dhdsRow + "]", []string{"row 1, field data_value", "repeats", "of row 0"}},
	}
	f, m := dhds(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rd, err := open(t, f, []byte(tt.body), m)
			if err == nil {
				_, err = readAll(t, rd)
			}
			require.Error(t, err)
			for _, want := range tt.errContains {
				require.ErrorContains(t, err, want)
			}
		})
	}
}

// An unknown place code is no error: the row is skipped and counted under
// its code, which the adapter logs; the other rows load.
func TestUnknownPlaceIsCounted(t *testing.T) {
	f, m := dhds(t)
	body := "[" + dhdsRow + "," + strings.Replace(dhdsRow, `"CA"`, `"ZZ"`, 1) + "," + strings.Replace(dhdsRow, `"CA"`, `"ZZ"`, 1) + "]"
	rd, err := open(t, f, []byte(body), m)
	require.NoError(t, err)
	obs, err := readAll(t, rd)
	require.NoError(t, err)
	require.Len(t, obs, 1)
	require.Equal(t, "US-CA", obs[0].Geo)
	require.Equal(t, map[string]int{"ZZ": 2}, rd.Stats().UnknownPlaces)
}

// A suppressed row (footnote, no value) yields nothing and is counted by
// its footnote; a missing value is never zero.
func TestSuppressedRow(t *testing.T) {
	f, m := dhds(t)
	suppressed := `{"year":"2022","locationabbr":"VI","response":"Any Disability","datavaluetypeid":"AGEADJPREV",` +
		`"stratification1":"Overall","data_value_footnote_symbol":"*","data_value_footnote":"Data suppressed"}`
	rd, err := open(t, f, []byte("["+dhdsRow+","+suppressed+"]"), m)
	require.NoError(t, err)
	obs, err := readAll(t, rd)
	require.NoError(t, err)
	require.Len(t, obs, 1)
	st := rd.Stats()
	require.Equal(t, map[string]int{"Data suppressed": 1}, st.Flags)
	require.Zero(t, st.Missing)
	require.Equal(t, 1, st.Intervals)
}

// Pages fetched one after the other are one body: rows count across them.
func TestPagesReadAsOneBody(t *testing.T) {
	f, m := dhds(t)
	second := strings.Replace(dhdsRow, `"2022"`, `"2021"`, 1)
	rd, err := open(t, f, []byte("["+dhdsRow+"]\n["+second+"]\n[]"), m)
	require.NoError(t, err)
	obs, err := readAll(t, rd)
	require.NoError(t, err)
	require.Len(t, obs, 2)
	require.Equal(t, 3, rd.Stats().Detail("pages"))
	// A second page cut short: the first page's rows come, then the error.
	rd, err = open(t, f, []byte("["+dhdsRow+"]["+second), m)
	require.NoError(t, err)
	obs, err = readAll(t, rd)
	require.ErrorContains(t, err, "cut short")
	require.Len(t, obs, 1)
}

func TestMalformedRowsJSON(t *testing.T) {
	f, m, _ := recorded(t, "cdc-leading-causes-rows")
	cols := `{"meta":{"view":{"columns":[{"fieldName":":sid"},{"fieldName":"year"},{"fieldName":"cause_name"},{"fieldName":"state"},{"fieldName":"deaths"},{"fieldName":"aadr"}]}},"data":`
	tests := []struct {
		name        string
		body        string
		errContains []string
	}{
		{"truncated body", cols + `[["row-1","2017","Stroke","Ohio","10","1.5"]`, []string{"cut short"}},
		{"html error page", "<html><head><title>404</title></head></html>", []string{"body is HTML"}},
		{"a SODA answer instead", `[{"year":"2017"}]`, []string{"body is a JSON array", "/resource/"}},
		{"no columns", `{"meta":{"view":{}},"data":[]}`, []string{"meta.view.columns is missing"}},
		{"renamed column", strings.Replace(cols, `"aadr"`, `"age_adjusted_rate"`, 1) + `[]}`,
			[]string{"fields aadr are not in meta.view.columns", "age_adjusted_rate", "renamed"}},
		{"short row", cols + `[["row-1","2017","Stroke","Ohio","10"]]}`, []string{"rows.json row 0", "has 5 values for 6 columns"}},
		{"non-numeric value", cols + `[["row-1","2017","Stroke","Ohio","ten","1.5"]]}`,
			[]string{"rows.json row 0, field deaths", `value "ten"`, "is not a number"}},
		{"unknown place is counted, not an error", cols + `[["row-1","2017","Stroke","Ohio","10","1.5"],["row-2","2017","Stroke","Atlantis","1","1"]]}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rd, err := open(t, f, []byte(tt.body), m)
			if err == nil {
				_, err = readAll(t, rd)
			}
			if tt.errContains == nil {
				require.NoError(t, err)
				require.Equal(t, map[string]int{"Atlantis": 2}, rd.Stats().UnknownPlaces)
				return
			}
			require.Error(t, err)
			for _, want := range tt.errContains {
				require.ErrorContains(t, err, want)
			}
		})
	}
}

// The two Socrata shapes of bi63-dtpu (recorded six years apart) yield
// the same observations.
func TestSODAAndRowsJSONAgree(t *testing.T) {
	read := func(id string) map[string]float64 {
		f, m, data := recorded(t, id)
		rd, err := open(t, f, data, m)
		require.NoError(t, err)
		obs, err := readAll(t, rd)
		require.NoError(t, err)
		out := map[string]float64{}
		for _, o := range obs {
			o.Source = ""
			out[o.Key()] = *o.Value
		}
		return out
	}
	soda, rows := read("cdc-leading-causes"), read("cdc-leading-causes-rows")
	require.NotEmpty(t, soda)
	require.Equal(t, soda, rows)
}

func TestParseFieldsRefusesBadMappings(t *testing.T) {
	tests := []struct{ yaml, errContains string }{
		{"", "mapping: is missing"},
		{"place: {field: state}\nperiod: {field: year, grain: year}", `place.codes: "" is not one of`},
		{"place: {value: USA}\nperiod: {field: year, grain: decade}", `period.grain: "decade"`},
		{"place: {value: USA}\nperiod: {value: 2017}\ncolour: red", "field colour not found"},
		{"place: {value: USA}\nperiod: {value: 2017}\ndims: [{field: a, key: Bad}]", `dims[0].key: "Bad"`},
		{"place: {value: USA}\nperiod: {value: 2017}\nintervals: [{value: x}]", "give low and high, or pair"},
		{"place: {value: USA}\nperiod: {value: 2017}\ncolumns: [{match: \"a_*_*\", like: x}]", "at most one '*'"},
	}
	for _, tt := range tests {
		_, err := socrata.ParseFields([]byte(tt.yaml))
		require.ErrorContains(t, err, tt.errContains, tt.yaml)
	}
}
