package gho

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/ounce-data/ounce/pkg/feeds"
	"github.com/ounce-data/ounce/pkg/feeds/csvrows"
)

// CSV columns of the GHO data download.
const (
	ColumnID                = "Id"
	ColumnIndicatorCode     = "IndicatorCode"
	ColumnSpatialDimension  = "SpatialDimension"
	ColumnSpatialValueCode  = "SpatialDimensionValueCode"
	ColumnTimeDimension     = "TimeDimension"
	ColumnTimeDim           = "TimeDim"
	ColumnNumericValue      = "NumericValue"
	ColumnLow               = "Low"
	ColumnHigh              = "High"
	ColumnDataSource        = "DataSourceDimension"
	ColumnDataSourceCode    = "DataSourceDimensionValueCode"
	columnDisaggregating    = "DisaggregatingDimension"
	columnDisaggregatingSfx = "ValueCode"
)

var csvFields = fields{
	indicator:   ColumnIndicatorCode,
	spatialType: ColumnSpatialDimension,
	spatial:     ColumnSpatialValueCode,
	timeType:    ColumnTimeDimension,
	time:        ColumnTimeDim,
	dimType: [numDims]string{
		columnDisaggregating + "1", columnDisaggregating + "2", columnDisaggregating + "3", ColumnDataSource,
	},
	dimCode: [numDims]string{
		columnDisaggregating + "1" + columnDisaggregatingSfx, columnDisaggregating + "2" + columnDisaggregatingSfx,
		columnDisaggregating + "3" + columnDisaggregatingSfx, ColumnDataSourceCode,
	},
	value: ColumnNumericValue,
	low:   ColumnLow,
	high:  ColumnHigh,
}

// requiredColumns must be in a CSV header, in any position; the other
// columns read (Id, Low, High, the disaggregating and data-source
// dimensions) are empty when absent, and the rest are ignored.
var requiredColumns = []string{
	ColumnIndicatorCode, ColumnSpatialDimension, ColumnSpatialValueCode,
	ColumnTimeDimension, ColumnTimeDim, ColumnNumericValue,
}

// NewCSVReader reads and checks the header of r. An empty body, HTML,
// JSON, a repeated column and a missing required column are errors.
func NewCSVReader(r io.Reader, m Mapping) (*Reader, error) {
	if err := feeds.Check(m.Meta, m.Indicators); err != nil {
		return nil, fmt.Errorf("gho csv: %w", err)
	}
	br, tail, err := feeds.OpenCSV(r, "gho csv", 64<<10)
	if err != nil {
		return nil, err
	}
	cr := csvrows.New(br)
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("gho csv: read header: %w", err)
	}
	header = slices.Clone(header)
	src := &csvSource{tail: tail, cr: cr, header: header, nfields: len(header)}
	index := make(map[string]int, len(header))
	var errs []error
	for i, h := range header {
		if prev, dup := index[h]; dup {
			errs = append(errs, fmt.Errorf("column %q appears twice (positions %d and %d)", h, prev+1, i+1))
			continue
		}
		index[h] = i
	}
	for _, c := range requiredColumns {
		if _, ok := index[c]; !ok {
			errs = append(errs, fmt.Errorf("required column %q is missing from the header", c))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("gho csv header: %w", err)
	}
	col := func(name string) int {
		if i, ok := index[name]; ok {
			return i
		}
		return -1
	}
	n := &csvFields
	src.cols = csvColumns{
		id: col(ColumnID), indicator: col(n.indicator), spatialType: col(n.spatialType), spatial: col(n.spatial),
		timeType: col(n.timeType), time: col(n.time), value: col(n.value), low: col(n.low), high: col(n.high),
	}
	for i := range numDims {
		src.cols.dimType[i], src.cols.dimCode[i] = col(n.dimType[i]), col(n.dimCode[i])
	}
	cr.SetFieldCount(len(header))
	src.line = cr.StartLine()
	rd := newReader(m, formatCSV, n, src)
	src.rd = rd
	return rd, nil
}

// csvColumns are the positions of the columns read; -1 when absent.
type csvColumns struct {
	id, indicator, spatialType, spatial, timeType, time, value, low, high int
	dimType, dimCode                                                      [numDims]int
}

type csvSource struct {
	rd      *Reader
	tail    *feeds.TailReader
	cr      *csvrows.Reader
	header  []string
	nfields int
	cols    csvColumns
	rows    int // data rows read
	line    int // line where the last record started
}

func (c *csvSource) finish(*Reader) {}

func (c *csvSource) next(rec *record) error {
	row, err := c.cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			if c.tail.Last != '\n' {
				return fmt.Errorf("gho csv: body ends without a line break after line %d; it was probably cut short", c.line)
			}
			return errEnd
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			rec.reset(c.rows+1, pe.StartLine)
			if errors.Is(pe.Err, csv.ErrFieldCount) {
				return c.rd.fail(rec, "", "", "has %d fields, the header has %d; the body was probably cut short or is not this format", len(row), c.nfields)
			}
			return c.rd.fail(rec, "", "", "is not valid CSV: %s", pe.Err)
		}
		return fmt.Errorf("gho csv: read data row %d: %w", c.rows+1, err)
	}
	c.rows++
	c.line = c.cr.StartLine()
	k := &c.cols
	*rec = record{
		index: c.rows, line: c.line,
		id:          cell(row, k.id),
		indicator:   cell(row, k.indicator),
		spatialType: cell(row, k.spatialType),
		spatial:     cell(row, k.spatial),
		timeType:    cell(row, k.timeType),
		time:        cell(row, k.time),
		value:       cell(row, k.value),
		low:         cell(row, k.low),
		high:        cell(row, k.high),
	}
	for i := range numDims {
		rec.dimType[i] = cell(row, k.dimType[i])
		rec.dimCode[i] = cell(row, k.dimCode[i])
	}
	return nil
}

// cell is row[i], or "" for a column that is absent (i < 0).
func cell(row []string, i int) string {
	if i < 0 {
		return ""
	}
	return row[i]
}
