package gho_test

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/feeds"
	"github.com/ounce-data/ounce/pkg/feeds/feedtest"
	"github.com/ounce-data/ounce/pkg/feeds/gho"
	"github.com/ounce-data/ounce/pkg/observation"
)

// checkAgainstRaw compares what a reader made of a body with the records as
// read independently: one observation per record of a mapped indicator with
// a value, in record order, equal to the record; and the stats.
func checkAgainstRaw(t *testing.T, m gho.Mapping, recs []rawRecord, obs []observation.Observation, stats feeds.Stats) {
	t.Helper()
	var (
		want                           []observation.Observation
		missing, intervals, aggregates int
		places                         = map[string]int{}
		unmapped                       = map[string]int{}
	)
	for _, r := range recs {
		if _, ok := m.Indicators[r.indicator]; !ok {
			unmapped[r.indicator]++
			continue
		}
		places[r.spatialType]++
		o, ok := expected(t, m, r)
		if !ok {
			missing++
			continue
		}
		want = append(want, o)
		if r.low != "" || r.high != "" {
			intervals++
		}
		if r.spatialType != "COUNTRY" {
			aggregates++
		}
	}
	require.Len(t, obs, len(want), "one observation per record with a NumericValue")
	for i := range want {
		require.Equal(t, want[i], obs[i], "observation %d", i)
		require.NoError(t, obs[i].Validate())
	}
	require.Equal(t, len(recs), stats.Rows)
	require.Equal(t, len(want), stats.Observations)
	require.Equal(t, missing, stats.Missing)
	require.Equal(t, intervals, stats.Intervals)
	require.Equal(t, aggregates, stats.Aggregates)
	require.Equal(t, places, stats.Detail("spatial_types"))
	require.Equal(t, unmapped, stats.Unmapped)
	keys := map[string]bool{}
	for _, o := range obs {
		require.False(t, keys[o.Key()], "key %s twice", o.Key())
		keys[o.Key()] = true
	}
}

// pick is a record chosen by place and year, with the geo it must get.
type pick struct {
	spatial string
	year    int
	geo     string
}

// checkPicks finds each picked record in the raw records and its
// observation by key, and compares value, geo and dims field by field.
func checkPicks(t *testing.T, m gho.Mapping, recs []rawRecord, obs []observation.Observation, picks []pick) {
	t.Helper()
	byKey := map[string]observation.Observation{}
	for _, o := range obs {
		byKey[o.Indicator+"|"+o.Geo+"|"+o.Period.Code()] = o
	}
	for _, p := range picks {
		var r *rawRecord
		for i := range recs {
			if recs[i].spatial == p.spatial && recs[i].time == strconv.Itoa(p.year) {
				require.Nil(t, r, "two records for %s %d; pick by dims too", p.spatial, p.year)
				r = &recs[i]
			}
		}
		require.NotNil(t, r, "no record for %s %d in the raw body", p.spatial, p.year)
		require.NotEmpty(t, r.value, "record Id %s has no value", r.id)
		ind := m.Indicators[r.indicator].Indicator
		o, ok := byKey[ind+"|"+p.geo+"|"+strconv.Itoa(p.year)]
		require.True(t, ok, "no observation %s %s %d (record Id %s)", ind, p.geo, p.year, r.id)
		want, err := strconv.ParseFloat(r.value, 64)
		require.NoError(t, err)
		require.Equal(t, want, *o.Value, "record Id %s", r.id)
		require.Equal(t, p.geo, o.Geo)
		require.Equal(t, observation.Year(p.year), o.Period)
		wantDims := observation.Dims{}
		for _, d := range r.dims {
			wantDims[strings.ToLower(d[0])] = d[1]
		}
		if len(wantDims) == 0 {
			wantDims = nil
		}
		require.Equal(t, wantDims, o.Dims, "record Id %s", r.id)
		require.Equal(t, m.Indicators[r.indicator].Unit, o.Unit)
		require.Equal(t, m.Source, o.Source)
		require.Equal(t, m.Version, o.Version)
		require.Equal(t, m.Licence, o.Provenance.Licence)
	}
}

func TestODataRecordings(t *testing.T) {
	tests := []struct {
		file      string
		indicator string
		picks     []pick
	}{
		{fileNCDMort, "who.NCDMORT3070", []pick{
			{"GBR", 2019, "GBR"}, {"SVN", 2007, "SVN"}, {"WB_HI", 2003, "who:WB_HI"},
			{"EUR", 2010, "who:EUR"}, {"GLOBAL", 2021, "who:GLOBAL"},
		}},
		{filePAA, "who.NCD_PAA", []pick{
			{"AUT", 2019, "AUT"}, {"BTN", 2011, "BTN"}, {"WB_LI", 2015, "who:WB_LI"},
			{"AFR", 2022, "who:AFR"}, {"GLOBAL", 2000, "who:GLOBAL"},
		}},
		{fileGlucEmpty, "who.NCD_GLUC_01", nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data := sharedFile(t, tt.file)
			m := mapping(t)
			obs, stats, err := feedtest.ReadAll(gho.NewODataReader(bytes.NewReader(data), m))
			require.NoError(t, err)
			doc := readRawOData(t, data)
			recs := odataRecords(doc)

			// The count of observations is the count of records with a
			// non-null NumericValue, counted on the raw maps.
			nonNull := 0
			for _, r := range doc.Value {
				if v, ok := r["NumericValue"]; ok && v != nil {
					nonNull++
				}
			}
			require.Len(t, obs, nonNull)
			checkAgainstRaw(t, m, recs, obs, stats)
			checkPicks(t, m, recs, obs, tt.picks)
			for _, o := range obs {
				require.Equal(t, tt.indicator, o.Indicator)
			}
			require.Nil(t, stats.Detail("next_link"))
			if tt.file == fileGlucEmpty {
				require.Empty(t, obs)
				require.Zero(t, stats.Rows)
			} else {
				require.Positive(t, stats.Aggregates)
				require.Positive(t, stats.Intervals)
			}
		})
	}
}

func TestCSVRecordings(t *testing.T) {
	tests := []struct {
		file      string
		indicator string
		picks     []pick
	}{
		{fileCHEGDP, "who.GHED_CHEGDP_SHA2011", []pick{
			{"ROU", 2017, "ROU"}, {"PSE", 2018, "PSE"}, {"WB_UMI", 2000, "who:WB_UMI"},
			{"AMR", 2012, "who:AMR"}, {"GLOBAL", 2022, "who:GLOBAL"},
		}},
		{fileCHEPerCap, "who.GHED_CHE_pc_US_SHA2011", []pick{
			{"MLI", 2004, "MLI"}, {"IRL", 2017, "IRL"}, {"WB_LMI", 2010, "who:WB_LMI"},
			{"SEAR", 2020, "who:SEAR"}, {"GLOBAL", 2005, "who:GLOBAL"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data := sharedFile(t, tt.file)
			m := mapping(t)
			obs, stats, err := feedtest.ReadAll(gho.NewCSVReader(bytes.NewReader(data), m))
			require.NoError(t, err)
			raw := readRawCSV(t, data)
			nonEmpty := 0
			for _, r := range raw.rows {
				if raw.get(r, "NumericValue") != "" {
					nonEmpty++
				}
			}
			require.Len(t, obs, nonEmpty)
			checkAgainstRaw(t, m, csvRecords(raw), obs, stats)
			checkPicks(t, m, csvRecords(raw), obs, tt.picks)
			for _, o := range obs {
				require.Equal(t, tt.indicator, o.Indicator)
				require.Nil(t, o.Dims, "the GHED download has no breakdown")
			}
			require.Positive(t, stats.Aggregates)
		})
	}
}

// The per-capita download has records without a value: they are missing
// values, never zeros.
func TestCSVMissingValues(t *testing.T) {
	data := sharedFile(t, fileCHEPerCap)
	raw := readRawCSV(t, data)
	obs, stats, err := feedtest.ReadAll(gho.NewCSVReader(bytes.NewReader(data), mapping(t)))
	require.NoError(t, err)
	have := map[string]bool{}
	for _, o := range obs {
		have[o.Geo+"|"+o.Period.Code()] = true
	}
	var empty int
	for _, r := range raw.rows {
		if raw.get(r, "NumericValue") == "" {
			empty++
			require.False(t, have[raw.get(r, "SpatialDimensionValueCode")+"|"+raw.get(r, "TimeDim")])
		}
	}
	require.Positive(t, empty)
	require.Equal(t, empty, stats.Missing)
}

func TestUnmappedIndicatorsAreCounted(t *testing.T) {
	m := mapping(t)
	delete(m.Indicators, "NCDMORT3070")
	data := sharedFile(t, fileNCDMort)
	obs, stats, err := feedtest.ReadAll(gho.NewODataReader(bytes.NewReader(data), m))
	require.NoError(t, err)
	require.Empty(t, obs)
	doc := readRawOData(t, data)
	require.Equal(t, map[string]int{"NCDMORT3070": len(doc.Value)}, stats.Unmapped)
	require.Equal(t, []string{"NCDMORT3070"}, slices.Sorted(maps.Keys(stats.Unmapped)))
	require.Empty(t, stats.Detail("spatial_types"))

	// Unmapped records are skipped without checks: one with an unknown
	// SpatialDimType is no error.
	body := editOData(t, headOData(t, fileNCDMort, 4), 1, func(r map[string]any) { r["SpatialDimType"] = "UNREGION" })
	body = editOData(t, body, 1, func(r map[string]any) { r["IndicatorCode"] = "SOMETHING_ELSE" })
	obs, stats, err = feedtest.ReadAll(gho.NewODataReader(bytes.NewReader(body), mapping(t)))
	require.NoError(t, err)
	require.Len(t, obs, 3)
	require.Equal(t, map[string]int{"SOMETHING_ELSE": 1}, stats.Unmapped)
}

func TestCSVColumnsInAnyOrderCRLFAndBOM(t *testing.T) {
	body := headCSV(t, fileCHEGDP, 30)
	moved := editCSV(t, body, func(recs [][]string) [][]string {
		for i, r := range recs {
			recs[i] = append(append([]string{}, r[5:]...), r[:5]...)
		}
		return recs
	})
	crlf := bytes.ReplaceAll(moved, []byte("\n"), []byte("\r\n"))
	bom := append([]byte("\uFEFF"), crlf...)
	want, _, err := feedtest.ReadAll(gho.NewCSVReader(bytes.NewReader(body), mapping(t)))
	require.NoError(t, err)
	require.Len(t, want, 30)
	got, _, err := feedtest.ReadAll(gho.NewCSVReader(bytes.NewReader(bom), mapping(t)))
	require.NoError(t, err)
	require.Equal(t, want, got)
}

func TestODataAndCSVAgree(t *testing.T) {
	// The same records written as OData JSON and as CSV give the same
	// observations: take the head of the CSV download and write its
	// records as an OData answer with encoding/json.
	body := headCSV(t, fileCHEGDP, 50)
	raw := readRawCSV(t, body)
	var doc struct {
		Context string           `json:"@odata.context"`
		Value   []map[string]any `json:"value"`
	}
	doc.Context = "https://ghoapi.azureedge.net/api/$metadata#GHED_CHEGDP_SHA2011"
	for _, r := range raw.rows {
		rec := map[string]any{
			"IndicatorCode":  raw.get(r, "IndicatorCode"),
			"SpatialDimType": raw.get(r, "SpatialDimension"),
			"SpatialDim":     raw.get(r, "SpatialDimensionValueCode"),
			"TimeDimType":    raw.get(r, "TimeDimension"),
			"Dim1Type":       nil,
			"NumericValue":   nil,
		}
		id, err := strconv.Atoi(raw.get(r, "Id"))
		require.NoError(t, err)
		rec["Id"] = id
		year, err := strconv.Atoi(raw.get(r, "TimeDim"))
		require.NoError(t, err)
		rec["TimeDim"] = year
		if v := raw.get(r, "NumericValue"); v != "" {
			rec["NumericValue"] = jsonNumber(v)
		}
		doc.Value = append(doc.Value, rec)
	}
	js := marshal(t, doc)
	fromCSV, csvStats, err := feedtest.ReadAll(gho.NewCSVReader(bytes.NewReader(body), mapping(t)))
	require.NoError(t, err)
	fromJSON, jsonStats, err := feedtest.ReadAll(gho.NewODataReader(bytes.NewReader(js), mapping(t)))
	require.NoError(t, err)
	require.Equal(t, fromCSV, fromJSON)
	require.Equal(t, csvStats, jsonStats)
}

func TestMappingChecked(t *testing.T) {
	tests := []struct {
		name        string
		change      func(*gho.Mapping)
		errContains string
	}{
		{"no licence", func(m *gho.Mapping) { m.Licence = "" }, "provenance.licence"},
		{"no version", func(m *gho.Mapping) { m.Version = 0 }, "version"},
		{"bad source", func(m *gho.Mapping) { m.Source = "WHO GHO" }, "source"},
		{"no retrieval time", func(m *gho.Mapping) { m.RetrievedAt = time.Time{} }, "retrieved_at"},
		{"no indicators", func(m *gho.Mapping) { m.Indicators = nil }, "no columns are mapped"},
		{"no unit", func(m *gho.Mapping) {
			m.Indicators = map[string]feeds.Column{"NCD_PAA": {Indicator: "who.NCD_PAA"}}
		}, `column "NCD_PAA": unit`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mapping(t)
			tt.change(&m)
			_, err := gho.NewODataReader(strings.NewReader(`{"value":[]}`), m)
			require.ErrorContains(t, err, tt.errContains)
			require.ErrorContains(t, err, "gho odata")
			_, err = gho.NewCSVReader(strings.NewReader("IndicatorCode\n"), m)
			require.ErrorContains(t, err, tt.errContains)
			require.ErrorContains(t, err, "gho csv")
		})
	}
}

func TestAllYieldsOnce(t *testing.T) {
	for name, open := range map[string]func() (*gho.Reader, error){
		"odata": func() (*gho.Reader, error) {
			return gho.NewODataReader(bytes.NewReader(headOData(t, fileNCDMort, 3)), mapping(t))
		},
		"csv": func() (*gho.Reader, error) {
			return gho.NewCSVReader(bytes.NewReader(headCSV(t, fileCHEGDP, 3)), mapping(t))
		},
	} {
		t.Run(name, func(t *testing.T) {
			rd, err := open()
			require.NoError(t, err)
			n := 0
			for _, err := range rd.All() {
				require.NoError(t, err)
				n++
			}
			require.Equal(t, 3, n)
			for _, err := range rd.All() {
				require.ErrorContains(t, err, "already read")
			}
		})
	}
}

func TestStopEarly(t *testing.T) {
	rd, err := gho.NewODataReader(bytes.NewReader(sharedFile(t, fileNCDMort)), mapping(t))
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

func TestStatsAreCopies(t *testing.T) {
	rd, err := gho.NewODataReader(bytes.NewReader(headOData(t, fileNCDMort, 3)), mapping(t))
	require.NoError(t, err)
	for _, err := range rd.All() {
		require.NoError(t, err)
	}
	s := rd.Stats()
	s.Detail("spatial_types").(map[string]int)["X"] = 1
	s.Unmapped["X"] = 1
	require.NotContains(t, rd.Stats().Detail("spatial_types"), "X")
	require.NotContains(t, rd.Stats().Unmapped, "X")
}

func ExampleReader_All() {
	m := gho.Mapping{
		Meta: feeds.Meta{Source: "example", Licence: "WHO terms", Version: 1, RetrievedAt: time.Unix(0, 0).UTC()},
		Indicators: map[string]feeds.Column{
			"EXAMPLE_IND": {Indicator: "who.EXAMPLE_IND", Unit: "%"},
		},
	}
	body := `{"@odata.context":"…","value":[
	 {"Id":1,"IndicatorCode":"EXAMPLE_IND","SpatialDimType":"COUNTRY","SpatialDim":"XXA","TimeDimType":"YEAR","TimeDim":2000,
	  "Dim1Type":"SEX","Dim1":"SEX_BTSX","NumericValue":1.5,"Low":1.2,"High":1.9},
	 {"Id":2,"IndicatorCode":"EXAMPLE_IND","SpatialDimType":"REGION","SpatialDim":"EUR","TimeDimType":"YEAR","TimeDim":2000,
	  "Dim1Type":"SEX","Dim1":"SEX_BTSX","NumericValue":2.5},
	 {"Id":3,"IndicatorCode":"EXAMPLE_IND","SpatialDimType":"GLOBAL","SpatialDim":"GLOBAL","TimeDimType":"YEAR","TimeDim":2000,
	  "Dim1Type":"SEX","Dim1":"SEX_BTSX","NumericValue":null},
	 {"Id":4,"IndicatorCode":"OTHER","SpatialDimType":"COUNTRY","SpatialDim":"XXA","TimeDimType":"YEAR","TimeDim":2000,"NumericValue":7}]}`
	rd, err := gho.NewODataReader(strings.NewReader(body), m)
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
	fmt.Println(s.Rows, s.Observations, s.Missing, s.Intervals, s.Aggregates, s.Unmapped)
	// Output:
	// who.EXAMPLE_IND XXA 2000 sex=SEX_BTSX 1.5 %
	// who.EXAMPLE_IND who:EUR 2000 sex=SEX_BTSX 2.5 %
	// 4 2 1 1 1 map[OTHER:1]
}
