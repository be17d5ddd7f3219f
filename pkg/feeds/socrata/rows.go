package socrata

import (
	"fmt"
	"io"
	"strings"

	"github.com/valyala/fastjson"

	"github.com/ounce-data/ounce/pkg/feeds"
)

// NewRowsReader reads r whole as a views rows.json export and checks its
// shape: meta.view.columns naming every position of the rows, and a data
// array. A field the mapping names that is not among the columns is an
// error here, before any row: the dataset renamed or dropped it.
func NewRowsReader(r io.Reader, m Mapping) (*Reader, error) {
	rd, err := newReader(m, ShapeRows)
	if err != nil {
		return nil, err
	}
	body, err := feeds.ReadBody(r)
	if err != nil {
		return nil, fmt.Errorf("socrata %s: read body: %w", ShapeRows, err)
	}
	if err := sniff(ShapeRows, body, '{'); err != nil {
		return nil, err
	}
	p := parsers.Get()
	doc, err := p.ParseBytes(body)
	if err != nil {
		return nil, syntax(ShapeRows, body, err)
	}
	if msg := doc.GetStringBytes("message"); doc.Get("error") != nil {
		return nil, fmt.Errorf("socrata %s: the portal answered with an error: %s", ShapeRows, msg)
	}
	view := doc.Get("meta", "view")
	if view == nil || view.Type() != fastjson.TypeObject {
		return nil, fmt.Errorf("socrata %s: the export has no meta.view object", ShapeRows)
	}
	colVals := view.GetArray("columns")
	if len(colVals) == 0 {
		return nil, fmt.Errorf("socrata %s: meta.view.columns is missing or empty", ShapeRows)
	}
	data := doc.Get("data")
	if data == nil || data.Type() != fastjson.TypeArray {
		return nil, fmt.Errorf("socrata %s: the export has no data array", ShapeRows)
	}
	rd.rowsUpdatedAt = view.GetInt64("rowsUpdatedAt")
	rd.rowsHint, rd.bodyLen = len(data.GetArray()), len(body)
	names := make([]string, len(colVals))
	roles := make([]*role, len(colVals))
	have := map[string]bool{}
	for i, c := range colVals {
		name := string(c.GetStringBytes("fieldName"))
		if name == "" {
			return nil, fmt.Errorf("socrata %s: meta.view.columns[%d] has no fieldName", ShapeRows, i)
		}
		names[i] = name
		have[name] = true
		roles[i] = rd.classify(name)
	}
	var absent []string
	for _, field := range rd.required() {
		if !have[field] {
			absent = append(absent, field)
		}
	}
	if len(absent) > 0 {
		return nil, fmt.Errorf("socrata %s: the mapping's fields %s are not in meta.view.columns (%s); were they renamed?",
			ShapeRows, strings.Join(absent, ", "), strings.Join(names, ", "))
	}
	rd.rows = func(yield func(int, rowSource) bool) error {
		defer parsers.Put(p)
		for i, row := range data.GetArray() {
			if !yield(i, rowsRow{v: row, names: names, roles: roles}) {
				return nil
			}
		}
		return nil
	}
	return rd, nil
}

// parsers keep fastjson's value caches between bodies (see scanners).
var parsers fastjson.ParserPool

// rowsRow is one positional row of a rows.json export.
type rowsRow struct {
	v     *fastjson.Value
	names []string
	roles []*role
}

func (s rowsRow) visit(r *Reader, index int) error {
	vals, err := s.v.Array()
	if err != nil {
		return r.fail(index, "", start([]byte(s.v.String()), 60), "is not a JSON array")
	}
	if len(vals) != len(s.names) {
		return r.fail(index, "", "", "has %d values for %d columns in meta.view.columns", len(vals), len(s.names))
	}
	for i, v := range vals {
		ro := s.roles[i]
		if ro.kind == roleNone {
			continue
		}
		text, present, ok := valueText(v)
		if !ok {
			return r.fail(index, s.names[i], start([]byte(v.String()), 60), "is a JSON %s, not a string or number", v.Type())
		}
		if present {
			r.set(ro, text)
		}
	}
	return nil
}
