package eurostat_test

import (
	"bytes"
	"encoding/csv"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/feeds/eurostat"
	"github.com/ounce-data/ounce/pkg/observation"
)

// The recording read with encoding/csv alone: every row with a value gives
// one observation equal to the value with its commas removed; ":" gives
// none; the flag letter is kept; every geo label resolves.
func TestRecordingMatchesRawRows(t *testing.T) {
	m, data := setup(t)
	obs, stats, err := readAll(t, data, m)
	require.NoError(t, err)

	raw, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	require.NoError(t, err)
	head := map[string]int{}
	for i, h := range raw[0] {
		head[h] = i
	}
	type key struct{ ind, geo, year, flag string }
	want := map[key]float64{}
	missing, flagged := 0, 0
	for _, r := range raw[1:] {
		v := r[head["Value"]]
		if v == ":" {
			missing++
			continue
		}
		f, err := strconv.ParseFloat(strings.ReplaceAll(v, ",", ""), 64)
		require.NoError(t, err)
		if r[head["Flag and Footnotes"]] != "" {
			flagged++
		}
		want[key{r[head["WST_OPER"]], r[head["GEO"]], r[head["TIME"]], r[head["Flag and Footnotes"]]}] = f
	}
	require.Len(t, raw[1:], stats.Rows)
	require.Equal(t, missing, stats.Missing)
	require.Len(t, obs, len(want))
	require.Greater(t, missing, 100, "the recording has many ':' values")
	require.Positive(t, flagged)

	labels := map[string]string{}
	for c, col := range m.Columns {
		labels[col.Indicator] = c
	}
	names := map[string]string{"GRC": "Greece", "GBR": "United Kingdom", "DEU": "Germany (until 1990 former territory of the FRG)",
		"XKX": "Kosovo (under United Nations Security Council Resolution 1244/99)", "eurostat:EU27_2020": "European Union - 27 countries (from 2020)", "DNK": "Denmark"}
	checked := map[string]bool{}
	for _, o := range obs {
		require.Equal(t, "t", o.Unit)
		require.Equal(t, observation.GrainYear, o.Period.Grain)
		require.Equal(t, "Hazardous and non-hazardous - Total", o.Dims["hazard"])
		require.Equal(t, "Total waste", o.Dims["waste"])
		k := key{labels[o.Indicator], "", strconv.Itoa(o.Period.Start.Year()), o.Dims["flag"]}
		if name, ok := names[o.Geo]; ok {
			k.geo = name
			v, ok := want[k]
			require.True(t, ok, "%+v is not in the raw file", k)
			require.Equal(t, v, *o.Value, "%+v", k)
			require.NotZero(t, *o.Value+1)
			checked[o.Geo] = true
		}
	}
	require.Len(t, checked, len(names), "every named place is read")
	aggregates := 0
	for _, r := range raw[1:] {
		if strings.HasPrefix(r[head["GEO"]], "European Union - ") && r[head["Value"]] != ":" {
			aggregates++
		}
	}
	require.Positive(t, aggregates)
	require.Equal(t, aggregates, stats.Aggregates)
	require.Empty(t, stats.Unmapped)
}

// A ":" value stays missing, never zero, whatever its flag.
func TestMissingIsNeverZero(t *testing.T) {
	m, _ := setup(t)
	body := `"TIME","GEO","UNIT","HAZARD","WASTE","WST_OPER","Value","Flag and Footnotes"
"2016","Denmark","Tonne","Hazardous and non-hazardous - Total","Total waste","Waste treatment",":","c"
"2016","Greece","Tonne","Hazardous and non-hazardous - Total","Total waste","Waste treatment","0",""
"2016","United Kingdom","Tonne","Hazardous and non-hazardous - Total","Total waste","Waste treatment","12,345.5","e"
`
	obs, stats, err := readAll(t, []byte(body), m)
	require.NoError(t, err)
	require.Len(t, obs, 2)
	require.Equal(t, "GRC", obs[0].Geo)
	require.Equal(t, 0.0, *obs[0].Value)
	require.Equal(t, "GBR", obs[1].Geo)
	require.Equal(t, 12345.5, *obs[1].Value)
	require.NotContains(t, obs[1].Dims, "flag", "a flag is not part of the key")
	require.Equal(t, "e", obs[1].Flag, "it is the observation's attribute")
	require.Empty(t, obs[0].Flag)
	require.Equal(t, 1, stats.Missing)
	require.Equal(t, map[string]int{"c": 1, "e": 1}, stats.Flags)
}

func TestNumber(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
		err  string
	}{
		{"1,897,000,000", 1897000000, ""},
		{"990,490,000", 990490000, ""},
		{"12,345.25", 12345.25, ""},
		{"-1,000", -1000, ""},
		{"0", 0, ""},
		{"3.5", 3.5, ""},
		{"1,23", 0, "thousands separators"},
		{"1,,000", 0, "thousands separators"},
		{",100", 0, "thousands separators"},
		{"1234,567", 0, "thousands separators"},
		{"12a", 0, "not a number"},
		{"1,00x", 0, "not a number"},
	} {
		v, err := eurostat.Number(tc.in)
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, v, tc.in)
	}
}

func TestPeriod(t *testing.T) {
	for in, want := range map[string]string{"2016": "2016", "2016Q1": "2016-Q1", "2016-Q3": "2016-Q3", "2016M03": "2016-03", "2016-11": "2016-11"} {
		p, err := eurostat.Period(in)
		require.NoError(t, err, in)
		require.Equal(t, want, p.Code())
	}
	for _, in := range []string{"", "16", "-201", "2016Q5", "0000", "2016M13", "20x6", "2016-13"} {
		_, err := eurostat.Period(in)
		require.Error(t, err, in)
	}
}
