package gho_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/feeds"
	"github.com/ounce-data/ounce/pkg/feeds/gho"
	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/pkg/testenv"
)

// Recordings in ../shared/data (see its README).
const (
	fileNCDMort    = "who/gho_odata/NCDMORT3070_SEX_BTSX.json"
	filePAA        = "who/gho_odata/NCD_PAA_SEX_BTSX.json"
	fileGlucEmpty  = "who/gho_odata/NCD_GLUC_01_SEX_BTSX_empty.json"
	fileCHEGDP     = "who/gho_ghed/data/GHED_CHEGDP_SHA2011.csv"
	fileCHEPerCap  = "who/gho_ghed/data/GHED_CHE_pc_US_SHA2011.csv"
	largestOData   = filePAA
	largestCSVFile = fileCHEPerCap
)

func sharedFile(tb testing.TB, rel string) []byte {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.SharedDataDir(tb), filepath.FromSlash(rel)))
	require.NoError(tb, err)
	return data
}

func mapping(tb testing.TB) gho.Mapping {
	tb.Helper()
	cat, err := indicators.Load()
	require.NoError(tb, err)
	f, ok := cat.Files["who-gho"]
	require.True(tb, ok)
	cols, err := feeds.Columns(f)
	require.NoError(tb, err)
	return gho.Mapping{
		Meta: feeds.Meta{
			Source:      "who-test",
			URL:         "https://ghoapi.azureedge.net/api/NCDMORT3070",
			Licence:     f.Licence,
			RetrievedAt: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC),
			Version:     1_700_000_000_000,
		},
		Indicators: cols,
	}
}

// rawDoc is an OData answer as read by encoding/json alone, independent of
// the parser: each record a map of its members, numbers as json.Number.
type rawDoc struct {
	Value []map[string]any
}

// readRawOData decodes through maps, so that member names match exactly
// (decoding into a struct would match "Value" for "value").
func readRawOData(tb testing.TB, data []byte) rawDoc {
	tb.Helper()
	var top map[string]json.RawMessage
	require.NoError(tb, json.Unmarshal(data, &top))
	var doc rawDoc
	dec := json.NewDecoder(bytes.NewReader(top["value"]))
	dec.UseNumber()
	require.NoError(tb, dec.Decode(&doc.Value))
	return doc
}

// rawText is a record member as a string: "" for null or absent.
func rawText(rec map[string]any, key string) string {
	switch v := rec[key].(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	}
	return ""
}

// rawTable is a CSV body as read by encoding/csv alone.
type rawTable struct {
	header []string
	rows   [][]string
	col    map[string]int
}

func readRawCSV(tb testing.TB, data []byte) rawTable {
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

func (t rawTable) get(row []string, col string) string {
	i, ok := t.col[col]
	if !ok {
		return ""
	}
	return row[i]
}

// fields of one source record, in the names both formats share.
type rawRecord struct {
	id, indicator, spatialType, spatial, time, value, low, high string
	dims                                                        [][2]string // type, code
}

func odataRecords(doc rawDoc) []rawRecord {
	out := make([]rawRecord, len(doc.Value))
	for i, r := range doc.Value {
		out[i] = rawRecord{
			id: rawText(r, "Id"), indicator: rawText(r, "IndicatorCode"),
			spatialType: rawText(r, "SpatialDimType"), spatial: rawText(r, "SpatialDim"),
			time: rawText(r, "TimeDim"), value: rawText(r, "NumericValue"),
			low: rawText(r, "Low"), high: rawText(r, "High"),
		}
		for _, d := range [][2]string{{"Dim1Type", "Dim1"}, {"Dim2Type", "Dim2"}, {"Dim3Type", "Dim3"}, {"DataSourceDimType", "DataSourceDim"}} {
			if typ := rawText(r, d[0]); typ != "" {
				out[i].dims = append(out[i].dims, [2]string{typ, rawText(r, d[1])})
			}
		}
	}
	return out
}

func csvRecords(t rawTable) []rawRecord {
	out := make([]rawRecord, len(t.rows))
	for i, r := range t.rows {
		out[i] = rawRecord{
			id: t.get(r, "Id"), indicator: t.get(r, "IndicatorCode"),
			spatialType: t.get(r, "SpatialDimension"), spatial: t.get(r, "SpatialDimensionValueCode"),
			time: t.get(r, "TimeDim"), value: t.get(r, "NumericValue"),
			low: t.get(r, "Low"), high: t.get(r, "High"),
		}
		for _, d := range [][2]string{
			{"DisaggregatingDimension1", "DisaggregatingDimension1ValueCode"},
			{"DisaggregatingDimension2", "DisaggregatingDimension2ValueCode"},
			{"DisaggregatingDimension3", "DisaggregatingDimension3ValueCode"},
			{"DataSourceDimension", "DataSourceDimensionValueCode"},
		} {
			if typ := t.get(r, d[0]); typ != "" {
				out[i].dims = append(out[i].dims, [2]string{typ, t.get(r, d[1])})
			}
		}
	}
	return out
}

// expected is the observation the rules of the package make of a raw
// record, written out independently of the parser; ok is false for a
// record without a value or of an indicator not in m.
func expected(tb testing.TB, m gho.Mapping, r rawRecord) (o observation.Observation, ok bool) {
	tb.Helper()
	col, mapped := m.Indicators[r.indicator]
	if !mapped || r.value == "" {
		return o, false
	}
	v, err := strconv.ParseFloat(r.value, 64)
	require.NoError(tb, err)
	year, err := strconv.Atoi(r.time)
	require.NoError(tb, err)
	geo := r.spatial
	switch r.spatialType {
	case "COUNTRY":
	case "GLOBAL":
		geo = "who:GLOBAL"
	case "REGION", "WORLDBANKINCOMEGROUP":
		geo = "who:" + r.spatial
	default:
		tb.Fatalf("record %s: SpatialDimType %q", r.id, r.spatialType)
	}
	o = observation.Observation{
		Indicator: col.Indicator, Geo: geo, Period: observation.Year(year), Value: &v, Unit: col.Unit,
	}
	for _, d := range r.dims {
		if o.Dims == nil {
			o.Dims = observation.Dims{}
		}
		o.Dims[feeds.SnakeCase(d[0])] = d[1]
	}
	m.Stamp(&o)
	return o, true
}
