package gho_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/feeds"
	"github.com/ounce-data/ounce/pkg/feeds/gho"
)

// odataParts splits an OData answer into its context and raw records,
// with encoding/json.
func odataParts(tb testing.TB, body []byte) (context json.RawMessage, recs []json.RawMessage) {
	tb.Helper()
	var doc struct {
		Context json.RawMessage   `json:"@odata.context"`
		Value   []json.RawMessage `json:"value"`
	}
	require.NoError(tb, json.Unmarshal(body, &doc))
	return doc.Context, doc.Value
}

// odataJoin writes an OData answer of raw records.
func odataJoin(context json.RawMessage, recs []json.RawMessage) []byte {
	var b bytes.Buffer
	b.WriteString(`{"@odata.context":`)
	b.Write(context)
	b.WriteString(`,"value":[`)
	for i, r := range recs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(r)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// headOData is the answer of a recording cut to its first n records, each
// record's bytes unchanged.
func headOData(tb testing.TB, file string, n int) []byte {
	tb.Helper()
	ctx, recs := odataParts(tb, sharedFile(tb, file))
	require.GreaterOrEqual(tb, len(recs), n)
	return odataJoin(ctx, recs[:n])
}

// editOData changes record i of body through its decoded members.
func editOData(tb testing.TB, body []byte, i int, change func(map[string]any)) []byte {
	tb.Helper()
	ctx, recs := odataParts(tb, body)
	dec := json.NewDecoder(bytes.NewReader(recs[i]))
	dec.UseNumber()
	var rec map[string]any
	require.NoError(tb, dec.Decode(&rec))
	change(rec)
	recs = slices.Clone(recs)
	recs[i] = marshal(tb, rec)
	return odataJoin(ctx, recs)
}

// rawRecordAt returns record i of body decoded, for the values a case expects.
func rawRecordAt(tb testing.TB, body []byte, i int) map[string]any {
	tb.Helper()
	return readRawOData(tb, body).Value[i]
}

func marshal(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	require.NoError(tb, err)
	return b
}

func jsonNumber(s string) json.Number { return json.Number(s) }

// headCSV is the header and first n data lines of a recording, byte for byte.
func headCSV(tb testing.TB, file string, n int) []byte {
	tb.Helper()
	data := sharedFile(tb, file)
	lines := bytes.SplitAfter(data, []byte("\n"))
	require.Greater(tb, len(lines), n)
	return bytes.Join(lines[:n+1], nil)
}

// editCSV rewrites body through encoding/csv after change.
func editCSV(tb testing.TB, body []byte, change func([][]string) [][]string) []byte {
	tb.Helper()
	recs, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	require.NoError(tb, err)
	recs = change(recs)
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	require.NoError(tb, w.WriteAll(recs))
	return b.Bytes()
}

// setCell sets column col of data row row (1 = first) to v.
func setCell(col string, row int, v string) func([][]string) [][]string {
	return func(recs [][]string) [][]string {
		i := slices.Index(recs[0], col)
		if i < 0 {
			panic("no column " + col)
		}
		recs[row][i] = v
		return recs
	}
}

func renameColumn(from, to string) func([][]string) [][]string {
	return func(recs [][]string) [][]string {
		recs[0][slices.Index(recs[0], from)] = to
		return recs
	}
}

func TestODataMalformed(t *testing.T) {
	const n = 12
	body := headOData(t, fileNCDMort, n)
	rec := func(i int) map[string]any { return rawRecordAt(t, body, i) }
	id := func(i int) string { return rawText(rec(i), "Id") }
	quoted := func(i int, key string) string { return `"` + rawText(rec(i), key) + `"` }
	edit := func(i int, change func(map[string]any)) []byte { return editOData(t, body, i, change) }
	_, recs := odataParts(t, body)

	tests := []struct {
		name        string
		body        []byte
		openErr     bool // NewODataReader fails, before any record
		errContains []string
		recErr      *recordErr
	}{
		{name: "empty body", body: nil, openErr: true, errContains: []string{"gho odata: body is empty"}},
		{name: "white space", body: []byte(" \r\n"), openErr: true, errContains: []string{"body is empty"}},
		{name: "HTML page", body: []byte("<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head></html>"),
			openErr: true, errContains: []string{"body is HTML or XML, not JSON", "502 Bad Gateway"}},
		{name: "JSON array", body: []byte("[" + string(recs[0]) + "]"), openErr: true, errContains: []string{"JSON array, not an OData answer"}},
		{name: "not JSON", body: []byte("IndicatorCode,SpatialDim\n"), openErr: true, errContains: []string{"body is not JSON"}},
		{name: "OData error answer",
			body:    []byte(`{"error":{"code":"BadRequest","message":"The query specified in the URI is not valid."}}`),
			openErr: true, errContains: []string{"the service answered with an error: BadRequest: The query specified in the URI is not valid."}},
		{name: "no value array", body: []byte(`{"@odata.context":"https://ghoapi.azureedge.net/api/$metadata#NCDMORT3070"}`),
			openErr: true, errContains: []string{`no "value" array`}},
		{name: "value not an array", body: []byte(`{"value":{}}`), openErr: true, errContains: []string{"value is not an array"}},
		{name: "cut before the value array", body: body[:20], openErr: true, errContains: []string{"cut short"}},
		{
			name:        "cut in the middle of a record",
			body:        body[:len(body)-len(recs[n-1])/2],
			errContains: []string{"gho odata record value[11]", "the body ends at byte", "cut short"},
		},
		{
			name:        "cut before the closing brackets",
			body:        body[:len(body)-2],
			errContains: []string{"cut short"},
		},
		{
			name:        "data after the document",
			body:        append(slices.Clone(body), []byte(` {"value":[]}`)...),
			errContains: []string{"data after the end of the JSON document"},
		},
		{
			name:        "value twice",
			body:        append(slices.Clone(body[:len(body)-1]), []byte(`,"value":[]}`)...),
			errContains: []string{`"value" twice`},
		},
		{
			name:        "malformed JSON in a record",
			body:        bytes.Replace(body, recs[3], append(slices.Clone(recs[3][:len(recs[3])-1]), ",}"...), 1),
			errContains: []string{"gho odata record value[3]", "malformed JSON at byte"},
		},
		{
			name:   "record not an object",
			body:   odataJoin(json.RawMessage(`"x"`), append([]json.RawMessage{recs[0], json.RawMessage(`42`)}, recs[1:]...)),
			recErr: &recordErr{Format: "odata", Index: 1, Value: "42", Reason: "is not a JSON object"},
		},
		{
			name:   "no SpatialDim",
			body:   edit(4, func(r map[string]any) { delete(r, "SpatialDim") }),
			recErr: &recordErr{Format: "odata", Index: 4, ID: id(4), Field: "SpatialDim", Reason: "is missing"},
		},
		{
			name:   "null SpatialDim",
			body:   edit(5, func(r map[string]any) { r["SpatialDim"] = nil }),
			recErr: &recordErr{Format: "odata", Index: 5, ID: id(5), Field: "SpatialDim", Reason: "is missing"},
		},
		{
			name:   "no TimeDim",
			body:   edit(2, func(r map[string]any) { delete(r, "TimeDim") }),
			recErr: &recordErr{Format: "odata", Index: 2, ID: id(2), Field: "TimeDim", Reason: "is missing"},
		},
		{
			name:   "TimeDim as a string",
			body:   edit(2, func(r map[string]any) { r["TimeDim"] = rawText(r, "TimeDim") }),
			recErr: &recordErr{Format: "odata", Index: 2, ID: id(2), Field: "TimeDim", Value: quoted(2, "TimeDim"), Reason: "is not a whole year"},
		},
		{
			name:   "TimeDim not whole",
			body:   edit(2, func(r map[string]any) { r["TimeDim"] = jsonNumber(rawText(r, "TimeDim") + ".5") }),
			recErr: &recordErr{Format: "odata", Index: 2, ID: id(2), Field: "TimeDim", Value: rawText(rec(2), "TimeDim") + ".5", Reason: "is not a whole year"},
		},
		{
			name:   "TimeDimType not YEAR",
			body:   edit(2, func(r map[string]any) { r["TimeDimType"] = "DATE" }),
			recErr: &recordErr{Format: "odata", Index: 2, ID: id(2), Field: "TimeDimType", Value: "DATE", Reason: "is not YEAR; only yearly data is read"},
		},
		{
			name:   "NumericValue as a string",
			body:   edit(7, func(r map[string]any) { r["NumericValue"] = rawText(r, "NumericValue") }),
			recErr: &recordErr{Format: "odata", Index: 7, ID: id(7), Field: "NumericValue", Value: quoted(7, "NumericValue"), Reason: "is not a number"},
		},
		{
			name:   "NumericValue true",
			body:   edit(7, func(r map[string]any) { r["NumericValue"] = true }),
			recErr: &recordErr{Format: "odata", Index: 7, ID: id(7), Field: "NumericValue", Value: "true", Reason: "is not a number"},
		},
		{
			name:   "NumericValue out of range",
			body:   edit(7, func(r map[string]any) { r["NumericValue"] = jsonNumber("1e999") }),
			recErr: &recordErr{Format: "odata", Index: 7, ID: id(7), Field: "NumericValue", Value: "1e999", Reason: "is out of the range of a 64-bit float"},
		},
		{
			name:   "Low as a string",
			body:   edit(8, func(r map[string]any) { r["Low"] = rawText(r, "Low") }),
			recErr: &recordErr{Format: "odata", Index: 8, ID: id(8), Field: "Low", Value: quoted(8, "Low"), Reason: "is not a number"},
		},
		{
			name: "unknown SpatialDimType",
			body: edit(3, func(r map[string]any) { r["SpatialDimType"] = "UNREGION" }),
			recErr: &recordErr{Format: "odata", Index: 3, ID: id(3), Field: "SpatialDimType", Value: "UNREGION",
				Reason: "is not one of COUNTRY, REGION, WORLDBANKINCOMEGROUP or GLOBAL"},
		},
		{
			name:   "no SpatialDimType",
			body:   edit(3, func(r map[string]any) { r["SpatialDimType"] = nil }),
			recErr: &recordErr{Format: "odata", Index: 3, ID: id(3), Field: "SpatialDimType", Reason: "is missing"},
		},
		{
			name:   "SpatialDim not a string",
			body:   edit(3, func(r map[string]any) { r["SpatialDim"] = []any{} }),
			recErr: &recordErr{Format: "odata", Index: 3, ID: id(3), Field: "SpatialDim", Value: "[]", Reason: "is not a string"},
		},
		{
			name: "SpatialDim not a place code",
			body: edit(3, func(r map[string]any) { r["SpatialDim"] = "A B" }),
			errContains: []string{"gho odata record value[3]", "field SpatialDim", `value "A B"`,
				`makes the place code "`},
		},
		{
			name:   "no IndicatorCode",
			body:   edit(0, func(r map[string]any) { delete(r, "IndicatorCode") }),
			recErr: &recordErr{Format: "odata", Index: 0, ID: id(0), Field: "IndicatorCode", Reason: "is missing"},
		},
		{
			name:   "Dim1Type without Dim1",
			body:   edit(6, func(r map[string]any) { r["Dim1"] = nil }),
			recErr: &recordErr{Format: "odata", Index: 6, ID: id(6), Field: "Dim1", Reason: `is missing while Dim1Type is "` + rawText(rec(6), "Dim1Type") + `"`},
		},
		{
			name: "dimension twice",
			body: edit(6, func(r map[string]any) { r["Dim3Type"], r["Dim3"] = r["Dim1Type"], r["Dim1"] }),
			recErr: &recordErr{Format: "odata", Index: 6, ID: id(6), Field: "Dim3Type", Value: rawText(rec(6), "Dim1Type"),
				Reason: `repeats the dimension ` + strings.ToLower(rawText(rec(6), "Dim1Type")) + ` (already "` + rawText(rec(6), "Dim1") + `")`},
		},
		{
			name:        "repeated record",
			body:        odataJoin(json.RawMessage(`"x"`), append(slices.Clone(recs), recs[2])),
			errContains: []string{"gho odata record value[12]", "repeats the indicator, place, year and breakdown of value[2]"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rd, err := gho.NewODataReader(bytes.NewReader(tt.body), mapping(t))
			if tt.openErr {
				require.Error(t, err)
				for _, want := range tt.errContains {
					require.ErrorContains(t, err, want)
				}
				return
			}
			require.NoError(t, err)
			n := 0
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
			if tt.recErr != nil {
				requireRecordErr(t, tt.recErr, err)
				require.Equal(t, tt.recErr.Index, n, "the records before the bad one were yielded")
			}
		})
	}
}

func TestCSVMalformed(t *testing.T) {
	const n = 20
	body := headCSV(t, fileCHEGDP, n)
	raw := readRawCSV(t, body)
	id := func(row int) string { return raw.get(raw.rows[row-1], "Id") }
	cell := func(col string, row int) string { return raw.get(raw.rows[row-1], col) }
	edit := func(change ...func([][]string) [][]string) []byte {
		return editCSV(t, body, func(recs [][]string) [][]string {
			for _, c := range change {
				recs = c(recs)
			}
			return recs
		})
	}
	lines := bytes.SplitAfter(body, []byte("\n"))
	last := lines[len(lines)-2]

	tests := []struct {
		name        string
		body        []byte
		headerErr   bool
		errContains []string
		recErr      *recordErr
	}{
		{name: "empty body", body: nil, headerErr: true, errContains: []string{"gho csv: body is empty"}},
		{name: "HTML page", body: []byte("<html><body>Service unavailable</body></html>\n"), headerErr: true,
			errContains: []string{"body is HTML or XML, not CSV"}},
		{name: "JSON", body: headOData(t, fileNCDMort, 1), headerErr: true, errContains: []string{"body is JSON, not CSV"}},
		{name: "missing column", body: edit(renameColumn("TimeDim", "Year")), headerErr: true,
			errContains: []string{`required column "TimeDim" is missing from the header`}},
		{name: "repeated column", body: edit(renameColumn("Value", "NumericValue")), headerErr: true,
			errContains: []string{`column "NumericValue" appears twice`}},
		{
			name:        "cut in the middle of a line",
			body:        body[:len(body)-len(last)/2],
			errContains: []string{"gho csv line 21 (data row 20", "fields, the header has 25", "cut short"},
		},
		{
			name:        "cut before the last line break",
			body:        body[:len(body)-1],
			errContains: []string{"ends without a line break after line 21", "cut short"},
		},
		{
			name:   "non-numeric NumericValue",
			body:   edit(setCell("NumericValue", 7, "n/a")),
			recErr: &recordErr{Format: "csv", Index: 7, Line: 8, ID: id(7), Field: "NumericValue", Value: "n/a", Reason: "is not a number"},
		},
		{
			name:   "decimal comma",
			body:   edit(setCell("NumericValue", 3, strings.Replace(cell("NumericValue", 3), ".", ",", 1))),
			recErr: &recordErr{Format: "csv", Index: 3, Line: 4, ID: id(3), Field: "NumericValue", Value: strings.Replace(cell("NumericValue", 3), ".", ",", 1), Reason: "is not a number"},
		},
		{
			name:   "NaN",
			body:   edit(setCell("NumericValue", 2, "NaN")),
			recErr: &recordErr{Format: "csv", Index: 2, Line: 3, ID: id(2), Field: "NumericValue", Value: "NaN", Reason: "is not a number"},
		},
		{
			name:   "non-numeric High",
			body:   edit(setCell("High", 2, "-")),
			recErr: &recordErr{Format: "csv", Index: 2, Line: 3, ID: id(2), Field: "High", Value: "-", Reason: "is not a number"},
		},
		{
			name:   "no SpatialDimensionValueCode",
			body:   edit(setCell("SpatialDimensionValueCode", 5, "")),
			recErr: &recordErr{Format: "csv", Index: 5, Line: 6, ID: id(5), Field: "SpatialDimensionValueCode", Reason: "is missing"},
		},
		{
			name:   "no TimeDim",
			body:   edit(setCell("TimeDim", 9, "")),
			recErr: &recordErr{Format: "csv", Index: 9, Line: 10, ID: id(9), Field: "TimeDim", Reason: "is missing"},
		},
		{
			name:   "TimeDim not a year",
			body:   edit(setCell("TimeDim", 9, "c. "+cell("TimeDim", 9))),
			recErr: &recordErr{Format: "csv", Index: 9, Line: 10, ID: id(9), Field: "TimeDim", Value: "c. " + cell("TimeDim", 9), Reason: "is not a whole year"},
		},
		{
			name:   "TimeDim out of range",
			body:   edit(setCell("TimeDim", 9, cell("TimeDim", 9)+"0")),
			recErr: &recordErr{Format: "csv", Index: 9, Line: 10, ID: id(9), Field: "TimeDim", Value: cell("TimeDim", 9) + "0", Reason: "is outside the years 1000..2999"},
		},
		{
			name: "unknown SpatialDimension",
			body: edit(setCell("SpatialDimension", 4, "UNSDGREGION")),
			recErr: &recordErr{Format: "csv", Index: 4, Line: 5, ID: id(4), Field: "SpatialDimension", Value: "UNSDGREGION",
				Reason: "is not one of COUNTRY, REGION, WORLDBANKINCOMEGROUP or GLOBAL"},
		},
		{
			name:   "no IndicatorCode",
			body:   edit(setCell("IndicatorCode", 1, "")),
			recErr: &recordErr{Format: "csv", Index: 1, Line: 2, ID: id(1), Field: "IndicatorCode", Reason: "is missing"},
		},
		{
			name:   "dimension value without its type",
			body:   edit(setCell("DisaggregatingDimension1ValueCode", 6, "X")),
			recErr: &recordErr{Format: "csv", Index: 6, Line: 7, ID: id(6), Field: "DisaggregatingDimension1", Reason: `is missing while DisaggregatingDimension1ValueCode is "X"`},
		},
		{
			name: "repeated row",
			body: edit(func(recs [][]string) [][]string {
				return append(recs, slices.Clone(recs[3]))
			}),
			errContains: []string{"gho csv line 22 (data row 21", "repeats the indicator, place, year and breakdown of line 4"},
		},
		{
			name:        "stray quote",
			body:        bytes.Replace(body, last, append([]byte(`"`), last...), 1),
			errContains: []string{"gho csv line 21 (data row 20)", "is not valid CSV"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rd, err := gho.NewCSVReader(bytes.NewReader(tt.body), mapping(t))
			if tt.headerErr {
				require.Error(t, err)
				for _, want := range tt.errContains {
					require.ErrorContains(t, err, want)
				}
				return
			}
			require.NoError(t, err)
			n := 0
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
			if tt.recErr != nil {
				requireRecordErr(t, tt.recErr, err)
			}
		})
	}
}

// recordErr is where and why a record is refused: Format "odata" or
// "csv", Index the record's index in value[] or its CSV data row, Line
// the CSV line.
type recordErr struct {
	Format                   string
	Index, Line              int
	ID, Field, Value, Reason string
}

// requireRecordErr requires err to be the *feeds.Error of want.
func requireRecordErr(t *testing.T, want *recordErr, err error) {
	t.Helper()
	var re *feeds.Error
	require.True(t, errors.As(err, &re), "error %v is not a *feeds.Error", err)
	at := fmt.Sprintf("record value[%d]", want.Index)
	if want.ID != "" {
		at += " (Id " + want.ID + ")"
	}
	if want.Format == "csv" {
		at = fmt.Sprintf("line %d (data row %d)", want.Line, want.Index)
		if want.ID != "" {
			at = fmt.Sprintf("line %d (data row %d, Id %s)", want.Line, want.Index, want.ID)
		}
	}
	require.Equal(t, &feeds.Error{Format: "gho " + want.Format, At: at, Record: want.Index,
		Field: want.Field, Value: want.Value, Reason: want.Reason}, re)
}
