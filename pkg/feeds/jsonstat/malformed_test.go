package jsonstat_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Every malformed body fails with an error naming the feed, the dataset,
// the cell or dimension and what is wrong, and yields nothing.
func TestMalformedBodies(t *testing.T) {
	m, raw := setup(t, "eurostat-gdp")
	data := string(raw)
	edit := func(old, new string) string {
		require.Contains(t, data, old)
		return strings.Replace(data, old, new, 1)
	}
	oecdM, oecdRaw := setup(t, "oecd-unemployment")
	for _, tc := range []struct {
		name        string
		body        string
		oecd        bool
		errContains []string
	}{
		{"empty", "", false, []string{"feed eurostat-gdp: jsonstat", "body is empty"}},
		{"html page with 200", "<!DOCTYPE html><html><body>Service unavailable</body></html>", false, []string{"feed eurostat-gdp", "body is HTML or XML, not JSON-stat"}},
		{"csv instead of json", "\"TIME\",\"GEO\",\"Value\"\n\"2016\",\"Denmark\",\"1\"\n", false, []string{"not a JSON object", "CSV"}},
		{"truncated", data[:len(data)/2], false, []string{"feed eurostat-gdp", "not valid JSON (cut short?)"}},
		{"api error object", `{"error":[{"status":400,"id":100,"label":"Dataset contains no data. One or more filtering elements (query parameters) are probably invalid."}]}`, false,
			[]string{"server answered an error", "Dataset contains no data"}},
		{"collection", `{"version":"2.0","class":"collection","link":{"item":[]}}`, false, []string{`class is "collection"`, `class "dataset"`}},
		{"renamed geo dimension", strings.ReplaceAll(data, `"geo"`, `"reporting_area"`), false,
			[]string{"dataset NAMA_10_GDP", `has no geo dimension "geo"`, "reporting_area", "mapping (geo:)"}},
		{"renamed selector dimension", strings.ReplaceAll(data, `"na_item"`, `"item"`), false,
			[]string{"dataset NAMA_10_GDP", `catalogue selectors name dimension "na_item", which the dataset lacks`}},
		{"non-numeric value", edit(`"0": 111.757`, `"0": "111.757"`), false,
			[]string{"dataset NAMA_10_GDP, cell 0", "unit=CLV_I20", "geo=DK, time=2023", `value "111.757"`, "is a string, not a number or null"}},
		{"unknown place code", strings.ReplaceAll(data, `"DK"`, `"ZZ"`), false,
			[]string{"dataset NAMA_10_GDP", `dimension "geo", category "ZZ"`, "not a place code the place catalogue knows"}},
		{"bad time code", strings.ReplaceAll(data, `"2023"`, `"FY23"`), false,
			[]string{`dimension "time", category "FY23"`, "not a Eurostat time code"}},
		{"sparse key outside the cube", edit(`"0": 111.757`, `"640": 111.757`), false,
			[]string{"cell index", "0..63"}},
		{"size disagrees with index", edit(`"size": [`+"\n        1,", `"size": [`+"\n        2,"), false,
			[]string{`dimension "freq"`, "category index has 1 categories, size says 2"}},
		{"dense value cut", strings.Replace(string(oecdRaw), "5.943826289,", "", 1), true,
			[]string{"feed oecd-unemployment", "value has 431 cells, the dimensions' sizes make 432"}},
		{"unknown aggregate", strings.ReplaceAll(string(oecdRaw), `"EU15"`, `"EA17"`), true,
			[]string{`dimension "area", category "EA17"`, "oecd:<code>"}},
		{"unmapped breakdown", `{"version":"2.0","class":"dataset","id":["concept","area","year","sex"],"size":[1,1,1,2],"role":{"geo":["area"],"time":["year"]},` +
			`"dimension":{"concept":{"category":{"index":["UNR"]}},"area":{"category":{"index":["AU"]}},"year":{"category":{"index":["2003"]}},"sex":{"category":{"index":{"F":0,"M":1}}}},"value":[1,2]}`, true,
			[]string{`dimension "sex" has 2 categories but is neither the place, the time`, "breakdown would be lost"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mm := m
			if tc.oecd {
				mm = oecdM
			}
			obs, _, err := readAll(t, []byte(tc.body), mm)
			require.Error(t, err)
			for _, s := range tc.errContains {
				require.ErrorContains(t, err, s)
			}
			require.Empty(t, obs)
		})
	}
}

func TestFieldsCheck(t *testing.T) {
	for _, tc := range []struct{ yaml, err string }{
		{"status: status", "field status not found"}, // a status is the observation's flag, never a dim
		{"dims: [Sex]", `dims entry "Sex"`},
		{"geo: area\ndims: [area]", "also the geo or time"},
		{"aggregate: x", "field aggregate not found"},
	} {
		_, err := parseFields(tc.yaml)
		require.ErrorContains(t, err, tc.err, tc.yaml)
	}
	f, err := parseFields("")
	require.NoError(t, err)
	require.Equal(t, "eurostat:", f.Aggregates)
}
