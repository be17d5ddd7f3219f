// Package owid parses Our World in Data's full-dataset CSV files, such as the
// CO2 and greenhouse-gas dataset (github.com/owid/co2-data): one row per
// entity and year, the columns iso_code, country and year, then one indicator
// per column. Each non-empty cell of a mapped column is one observation; an
// empty cell is a missing value and yields nothing (never zero).
//
// Places: a row's geo is its iso_code (ISO 3166-1 alpha-3, or OWID's own
// OWID_* codes such as OWID_WRL for the world). Rows with a blank iso_code are
// entities without a code — continents and income groups (Africa, EU-27),
// historical states (USSR, Czechoslovakia) and accounting lines
// (International transport) — and get the geo "owid:" + the slug of their
// name: lower-case ASCII letters and digits, every other run of characters
// one '-' (Asia (excl. China & India) → owid:asia-excl-china-india). Stats
// lists them.
package owid

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"iter"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/ounce-data/ounce/pkg/feeds"
	"github.com/ounce-data/ounce/pkg/feeds/csvrows"
	"github.com/ounce-data/ounce/pkg/observation"
)

// Required columns, in any position.
const (
	ColumnISOCode = "iso_code"
	ColumnCountry = "country"
	ColumnYear    = "year"
)

// UncodedPrefix starts the geo of an entity without an iso_code.
const UncodedPrefix = "owid:"

// Mapping says how to read one file: which columns hold which indicator,
// and what to stamp on every observation.
type Mapping struct {
	feeds.Meta
	// Columns maps a header name to its indicator. Every mapped column must
	// be in the header; header columns not mapped are counted in
	// Stats.Unmapped and skipped.
	Columns map[string]feeds.Column
}

// Entity is a place without an iso_code and the geo given to it.
type Entity = feeds.Entity

// format names this reader in errors.
const format = "owid csv"

type mappedColumn struct {
	index int
	feeds.Column
}

type geoYear struct {
	geo  string
	year int
}

// Reader reads observations from one OWID CSV body. It is not safe for
// concurrent use and yields its observations once.
type Reader struct {
	m      Mapping
	tail   *feeds.TailReader
	recs   *csvrows.Reader
	header []string
	iso    int
	name   int
	year   int
	cols   []mappedColumn
	stats  feeds.Stats
	// geos interns the geo of each iso code or uncoded name.
	geos   map[string]string
	bySlug map[string]string // uncoded geo -> the name that took it
	seen   map[geoYear]int   // (geo, year) -> line, to refuse repeated rows
	line   int               // line of the last record read
	used   bool
}

// NewReader reads and checks the header of r. Missing required or mapped
// columns, a repeated column, an empty body and an HTML page are errors.
func NewReader(r io.Reader, m Mapping) (*Reader, error) {
	if err := feeds.Check(m.Meta, m.Columns); err != nil {
		return nil, fmt.Errorf("owid csv: %w", err)
	}
	tail := &feeds.TailReader{R: r}
	br := bufio.NewReaderSize(tail, 64<<10)
	head, _ := br.Peek(512)
	head = bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\uFEFF")), " \t\r\n")
	switch {
	case len(head) == 0:
		if tail.Err != nil && !errors.Is(tail.Err, io.EOF) {
			return nil, fmt.Errorf("owid csv: read header: %w", tail.Err)
		}
		return nil, errors.New("owid csv: body is empty")
	case head[0] == '<':
		return nil, fmt.Errorf("owid csv: body is HTML or XML, not CSV: starts %q", feeds.Shorten(string(head), 60))
	case head[0] == '{' || head[0] == '[':
		return nil, fmt.Errorf("owid csv: body is JSON, not CSV: starts %q", feeds.Shorten(string(head), 60))
	}
	recs := csvrows.New(br)
	header, err := recs.Read()
	if err != nil {
		return nil, fmt.Errorf("owid csv: read header: %w", err)
	}
	header = slices.Clone(header)
	header[0] = strings.TrimPrefix(header[0], "\uFEFF")
	recs.SetFieldCount(len(header))

	rd := &Reader{
		m: m, tail: tail, recs: recs, header: header,
		iso: -1, name: -1, year: -1, line: recs.StartLine(),
		geos: map[string]string{}, bySlug: map[string]string{}, seen: map[geoYear]int{},
	}
	index := make(map[string]int, len(header))
	var errs []error
	for i, h := range header {
		if prev, dup := index[h]; dup {
			errs = append(errs, fmt.Errorf("column %q appears twice (positions %d and %d)", h, prev+1, i+1))
			continue
		}
		index[h] = i
	}
	for _, req := range []struct {
		name string
		dst  *int
	}{{ColumnISOCode, &rd.iso}, {ColumnCountry, &rd.name}, {ColumnYear, &rd.year}} {
		i, ok := index[req.name]
		if !ok {
			errs = append(errs, fmt.Errorf("required column %q is missing from the header", req.name))
			continue
		}
		*req.dst = i
	}
	for _, col := range slices.Sorted(maps.Keys(m.Columns)) {
		i, ok := index[col]
		if !ok {
			errs = append(errs, fmt.Errorf("column %q (indicator %s) is missing from the header", col, m.Columns[col].Indicator))
			continue
		}
		rd.cols = append(rd.cols, mappedColumn{index: i, Column: m.Columns[col]})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("owid csv header: %w", err)
	}
	slices.SortFunc(rd.cols, func(a, b mappedColumn) int { return a.index - b.index })
	for i, h := range header {
		if i == rd.iso || i == rd.name || i == rd.year {
			continue
		}
		if _, ok := m.Columns[h]; !ok {
			feeds.Count(&rd.stats.Unmapped, h, 0)
		}
	}
	return rd, nil
}

// Header returns the header's column names.
func (r *Reader) Header() []string { return slices.Clone(r.header) }

// Stats returns what was read so far, complete once All has finished:
// Rows are data rows, Unmapped the header columns not in the mapping (each
// with 0: nothing is skipped), Uncoded the entities with a blank iso_code,
// in order of first row.
func (r *Reader) Stats() feeds.Stats { return r.stats.Clone() }

// All yields every observation of the body in file order. The first error
// ends the sequence: a malformed row, a non-numeric value, a repeated
// (geo, year), or a body cut short; observations already yielded from a body
// that ends in an error are not to be trusted. All yields once; a second call
// yields only an error.
func (r *Reader) All() iter.Seq2[observation.Observation, error] {
	return func(yield func(observation.Observation, error) bool) {
		if r.used {
			yield(observation.Observation{}, errors.New("owid csv: observations were already read"))
			return
		}
		r.used = true
		var o observation.Observation
		r.m.Stamp(&o)
		for {
			rec, err := r.readRow(&o)
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				yield(observation.Observation{}, err)
				return
			}
			// One allocation for the values of the row.
			var vals []float64
			for _, c := range r.cols {
				cell := rec[c.index]
				if cell == "" {
					r.stats.Missing++
					continue
				}
				v, err := feeds.ParseNumber(cell)
				if err != nil {
					yield(observation.Observation{}, r.rowErr(c.index, cell, "%s", err))
					return
				}
				if vals == nil {
					vals = make([]float64, 0, len(r.cols))
				}
				vals = append(vals, v)
				o.Indicator, o.Unit, o.Value = c.Indicator, c.Unit, &vals[len(vals)-1]
				r.stats.Observations++
				if !yield(o, nil) {
					return
				}
			}
		}
	}
}

// readRow reads the next data row, sets o's geo and period from it and
// returns its cells; io.EOF at the end of a complete body.
func (r *Reader) readRow(o *observation.Observation) ([]string, error) {
	rec, err := r.recs.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			if r.tail.Last != '\n' {
				return nil, fmt.Errorf("owid csv: body ends without a line break after line %d; it was probably cut short", r.line)
			}
			return nil, io.EOF
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrFieldCount) {
			return nil, feeds.LineError(format, pe.StartLine, r.stats.Rows+1, "", "",
				fmt.Sprintf("has %d fields, the header has %d; the body was probably cut short or is not this format", len(rec), len(r.header)))
		}
		return nil, fmt.Errorf("owid csv: read row %d: %w", r.stats.Rows+1, err)
	}
	r.stats.Rows++
	r.line = r.recs.StartLine()

	year, err := strconv.Atoi(rec[r.year])
	if err != nil {
		return nil, r.rowErr(r.year, rec[r.year], "is not a whole year")
	}
	if year < 1000 || year > 2999 {
		return nil, r.rowErr(r.year, rec[r.year], "is outside the years 1000..2999")
	}
	geo, err := r.geo(rec[r.iso], rec[r.name])
	if err != nil {
		return nil, err
	}
	if rec[r.iso] == "" {
		r.stats.UncodedRows++
	}
	if prev, dup := r.seen[geoYear{geo, year}]; dup {
		return nil, r.rowErr(-1, "", "repeats %s %d of line %d", geo, year, prev)
	}
	r.seen[geoYear{geo, year}] = r.line
	o.Geo = geo
	if o.Period.Start.Year() != year || o.Period.Grain != observation.GrainYear {
		o.Period = observation.Year(year)
	}
	return rec, nil
}

// rowErr is the error of the current row; col < 0 blames the whole row.
func (r *Reader) rowErr(col int, value, reason string, args ...any) error {
	field := ""
	if col >= 0 {
		field = r.header[col]
	}
	return feeds.LineError(format, r.line, r.stats.Rows, field, value, fmt.Sprintf(reason, args...))
}

// geo returns the interned geo of a row, checking a new one once.
func (r *Reader) geo(iso, name string) (string, error) {
	key := iso
	if iso == "" {
		key = "\x00" + name // uncoded names never collide with codes
	}
	if g, ok := r.geos[key]; ok {
		return g, nil
	}
	if iso != "" {
		if !observation.ValidGeo(iso) {
			return "", r.rowErr(r.iso, iso, "is not a place code (letters, digits, '.', '_', ':' or '-', at most 64)")
		}
		g := strings.Clone(iso)
		r.geos[strings.Clone(key)] = g
		return g, nil
	}
	if strings.TrimSpace(name) == "" {
		return "", r.rowErr(r.name, "", "both iso_code and country are empty")
	}
	g := UncodedPrefix + Slug(name)
	if g == UncodedPrefix {
		return "", r.rowErr(r.name, name, "has no ASCII letters or digits to make a place code of")
	}
	if !observation.ValidGeo(g) {
		return "", r.rowErr(r.name, name, "makes the place code %q, longer than 64 characters", g)
	}
	if other, taken := r.bySlug[g]; taken {
		return "", r.rowErr(r.name, name, "makes the place code %q, already taken by %q", g, other)
	}
	name = strings.Clone(name)
	r.bySlug[g] = name
	r.geos["\x00"+name] = g
	r.stats.Uncoded = append(r.stats.Uncoded, Entity{Name: name, Geo: g})
	return g, nil
}

// Slug is the lower-case ASCII letters and digits of s, every other run of
// characters replaced by one '-', with no '-' at either end.
func Slug(s string) string { return feeds.Slug(s) }
