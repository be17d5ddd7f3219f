// Package eurostat reads Eurostat's "with labels" CSV export (the legacy
// Data Explorer download): a header "TIME","GEO",<dimension columns>,
// "Value","Flag and Footnotes", every field quoted, places and dimensions
// written as English labels, values with comma thousands separators
// ("1,897,000,000") and ":" for a value that is not available.
//
// A feed's mapping: block (Fields) says which dimension column names the
// indicator (its label is a catalogue entry's column), which become dims
// and which must hold one value. A ":" or empty value is missing and yields
// nothing, never zero; the flag letters (e estimated, p provisional, s
// Eurostat estimate, c confidential…) are the observation's Flag, an
// attribute and not a dim, so that a value whose flag changes between
// releases (p, then final) stays one fact with a new version; they are
// counted in Stats.Flags. Geo labels
// resolve to Eurostat geo codes (LabelCode), then to the place catalogue
// (Places): EL is Greece, UK the United Kingdom, aggregates such as
// EU27_2020 are "eurostat:EU27_2020".
//
// Errors name the feed, the line and data row, the column and the value.
package eurostat

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"iter"
	"maps"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/ounce-data/ounce/pkg/feeds"
	"github.com/ounce-data/ounce/pkg/feeds/csvrows"
	"github.com/ounce-data/ounce/pkg/feeds/mappedcsv"
	"github.com/ounce-data/ounce/pkg/observation"
)

// Fixed columns of the export.
const (
	ColTime  = "TIME"
	ColGeo   = "GEO"
	ColValue = "Value"
	ColFlag  = "Flag and Footnotes"
)

// format names the format in errors.
const format = "eurostat csv"

// Fields is a feed's mapping: block.
//
//	mapping:
//	  indicator: WST_OPER          # its label is a catalogue entry's column
//	  require: {UNIT: Tonne}       # the one value a column must hold
//	  dims: {hazard: HAZARD, waste: WASTE}
//
// Every header column other than TIME, GEO, Value and Flag and Footnotes
// must be the indicator, a dim or required, so that a renamed or new
// dimension fails instead of folding distinct values together.
type Fields struct {
	Indicator string            `yaml:"indicator"`
	Require   map[string]string `yaml:"require"`
	Dims      map[string]string `yaml:"dims"`
}

// ParseFields reads a mapping: block strictly and checks it.
func ParseFields(data []byte) (Fields, error) {
	var f Fields
	if len(bytes.TrimSpace(data)) == 0 {
		return f, errors.New("eurostat csv: the feed declares no mapping: block (indicator, dims…)")
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return f, fmt.Errorf("eurostat csv mapping: %w", err)
	}
	return f, f.Check()
}

// Check reports every problem with f.
func (f Fields) Check() error {
	var errs []error
	if f.Indicator == "" {
		errs = append(errs, errors.New("indicator is missing: name the column whose label picks the catalogue entry"))
	}
	for _, k := range slices.Sorted(maps.Keys(f.Dims)) {
		if !observation.ValidDimKey(k) {
			errs = append(errs, fmt.Errorf("dims key %q must be lower-case snake_case, 1-32 characters", k))
		}
	}
	if len(f.Dims) > observation.MaxDims {
		errs = append(errs, fmt.Errorf("dims has %d keys; at most %d", len(f.Dims), observation.MaxDims))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("eurostat csv mapping: %w", err)
	}
	return nil
}

// Mapping says which indicators the file holds and what to stamp.
type Mapping struct {
	feeds.Meta
	// Columns maps an indicator label (a catalogue entry's column) to the
	// entry, as feeds.Columns builds it.
	Columns map[string]feeds.Column
	Fields  Fields
	// Places resolves geo codes (NewPlaces with EurostatPrefix).
	Places *Places
}

type dimCol struct {
	key   string
	index int
}

type require struct {
	index int
	want  string
}

// Reader reads observations from one body. It yields them once.
type Reader struct {
	m      Mapping
	tail   *feeds.TailReader
	recs   *csvrows.Reader
	header []string

	time, geo, value, flag, indicator int
	dims                              []dimCol
	require                           []require

	geos   map[string]Place
	seen   map[string]int
	key    []byte
	dimsOf map[string]observation.Dims
	flags  map[string]string // each distinct flag once (intern)
	stats  feeds.Stats
	line   int
	used   bool
}

// NewReader reads the header of r and checks it against the mapping.
func NewReader(r io.Reader, m Mapping) (*Reader, error) {
	if m.Places == nil {
		return nil, fmt.Errorf("%s: no places", format)
	}
	if err := m.Fields.Check(); err != nil {
		return nil, err
	}
	if err := feeds.Check(m.Meta, m.Columns); err != nil {
		return nil, fmt.Errorf("%s: %w", format, err)
	}
	prefix := format
	if m.Source != "" {
		prefix = "feed " + m.Source + ": " + format
	}
	br, tail, err := feeds.OpenCSV(r, prefix, 64<<10)
	if err != nil {
		return nil, err
	}
	rd := &Reader{m: m, tail: tail, recs: csvrows.New(br),
		geos: map[string]Place{}, seen: make(map[string]int, 64), dimsOf: map[string]observation.Dims{}, flags: map[string]string{},
		stats: feeds.Stats{Flags: map[string]int{}, Unmapped: map[string]int{}}}
	header, err := rd.recs.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: read header: %w", prefix, err)
	}
	rd.header = slices.Clone(header)
	rd.header[0] = strings.TrimPrefix(rd.header[0], "\uFEFF")
	rd.line = rd.recs.StartLine()
	if err := rd.bind(); err != nil {
		return nil, fmt.Errorf("%s header (line %d): %w", prefix, rd.line, err)
	}
	rd.recs.SetFieldCount(len(rd.header))
	return rd, nil
}

func (r *Reader) bind() error {
	index := map[string]int{}
	var errs []error
	for i, h := range r.header {
		if _, dup := index[h]; dup {
			errs = append(errs, fmt.Errorf("column %q appears twice", h))
		}
		index[h] = i
	}
	used := map[int]bool{}
	need := func(what, name string) int {
		i, ok := index[name]
		if !ok {
			errs = append(errs, fmt.Errorf("%s column %q is missing from the header (columns: %s)", what, name, strings.Join(r.header, ", ")))
			return -1
		}
		used[i] = true
		return i
	}
	r.time = need("time", ColTime)
	r.geo = need("place", ColGeo)
	r.value = need("value", ColValue)
	r.flag = need("flag", ColFlag)
	r.indicator = need("indicator", r.m.Fields.Indicator)
	for _, k := range slices.Sorted(maps.Keys(r.m.Fields.Dims)) {
		r.dims = append(r.dims, dimCol{key: k, index: need("dims."+k, r.m.Fields.Dims[k])})
	}
	for _, c := range slices.Sorted(maps.Keys(r.m.Fields.Require)) {
		r.require = append(r.require, require{index: need("required", c), want: r.m.Fields.Require[c]})
	}
	for i, h := range r.header {
		if !used[i] {
			errs = append(errs, fmt.Errorf("column %q is not in the feed's mapping (indicator, dims or require): a breakdown would be lost", h))
		}
	}
	return errors.Join(errs...)
}

// Header returns the header's column names.
func (r *Reader) Header() []string { return slices.Clone(r.header) }

// Stats returns what was read so far, complete once All has finished:
// Rows are data rows, Missing the ":" or empty values, Aggregates the
// observations of aggregates (EU27_2020…), Flags the observations (and
// missing values) per flag, Unmapped the rows of each indicator label no
// catalogue entry maps, skipped.
func (r *Reader) Stats() feeds.Stats { return r.stats.Clone() }

// All yields every observation in file order; the first error ends the
// sequence. All yields once.
func (r *Reader) All() iter.Seq2[observation.Observation, error] {
	return func(yield func(observation.Observation, error) bool) {
		if r.used {
			yield(observation.Observation{}, fmt.Errorf("%s: observations were already read", format))
			return
		}
		r.used = true
		for {
			rec, err := r.next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err == nil {
				var o observation.Observation
				var ok bool
				o, ok, err = r.row(rec)
				if err == nil && ok && !yield(o, nil) {
					return
				}
			}
			if err != nil {
				yield(observation.Observation{}, err)
				return
			}
		}
	}
}

func (r *Reader) next() ([]string, error) {
	rec, err := r.recs.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			if r.tail.Last != '\n' && r.stats.Rows > 0 {
				return nil, r.fail(-1, "", "the body ends without a line break after this line; it was probably cut short")
			}
			return nil, io.EOF
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			r.line = pe.StartLine
			r.stats.Rows++
			if errors.Is(pe.Err, csv.ErrFieldCount) {
				return nil, r.fail(-1, "", "has %d fields, the header has %d; the body was probably cut short or is not this format", len(rec), len(r.header))
			}
			return nil, r.fail(-1, "", "is not valid CSV: %s", pe.Err)
		}
		return nil, fmt.Errorf("%s: read data row %d: %w", format, r.stats.Rows+1, err)
	}
	r.stats.Rows++
	r.line = r.recs.StartLine()
	return rec, nil
}

// row reads one data row; ok is false for a row that yields nothing.
func (r *Reader) row(rec []string) (o observation.Observation, ok bool, err error) {
	for _, q := range r.require {
		if rec[q.index] != q.want {
			return o, false, r.fail(q.index, rec[q.index], "must be %q in every row of this feed", q.want)
		}
	}
	label := rec[r.indicator]
	col, mapped := r.m.Columns[label]
	if !mapped {
		if label == "" {
			return o, false, r.fail(r.indicator, "", "is empty; every row names its indicator")
		}
		r.stats.Unmapped[strings.Clone(label)]++
		return o, false, nil
	}
	pl, err := r.place(rec[r.geo])
	if err != nil {
		return o, false, err
	}
	period, err := Period(rec[r.time])
	if err != nil {
		return o, false, r.fail(r.time, rec[r.time], "%s", err)
	}
	flag := strings.TrimSpace(rec[r.flag])
	if flag != "" && !observation.ValidFlag(flag) {
		return o, false, r.fail(r.flag, feeds.Shorten(flag, 40), "is not 1-%d flag letters (e estimated, p provisional…)", observation.MaxFlagLen)
	}
	cell := rec[r.value]
	if cell == ":" || cell == "" {
		r.stats.Missing++
		if flag != "" {
			r.stats.Flags[strings.Clone(flag)]++
		}
		return o, false, nil
	}
	v, err := Number(cell)
	if err != nil {
		return o, false, r.fail(r.value, cell, "%s", err)
	}
	dims, err := r.dimsFor(rec)
	if err != nil {
		return o, false, err
	}
	r.key = append(r.key[:0], label...)
	r.key = append(r.key, 0)
	r.key = append(r.key, pl.Geo...)
	r.key = append(r.key, 0)
	r.key = append(r.key, rec[r.time]...)
	for _, d := range r.dims {
		r.key = append(r.key, 0)
		r.key = append(r.key, rec[d.index]...)
	}
	if prev, dup := r.seen[string(r.key)]; dup {
		return o, false, r.fail(-1, "", "repeats the indicator, place %s, period and breakdown of line %d", pl.Geo, prev)
	}
	r.seen[string(r.key)] = r.line
	r.m.Stamp(&o)
	o.Indicator, o.Unit, o.Geo, o.Period, o.Dims, o.Value = col.Indicator, col.Unit, pl.Geo, period, dims, &v
	o.Flag = r.intern(flag)
	r.stats.Observations++
	if pl.Aggregate {
		r.stats.Aggregates++
	}
	if flag != "" {
		r.stats.Flags[strings.Clone(flag)]++
	}
	return o, true, nil
}

// place resolves a geo label.
func (r *Reader) place(label string) (Place, error) {
	if p, ok := r.geos[label]; ok {
		return p, nil
	}
	code, ok := LabelCode(label)
	if !ok {
		return Place{}, r.fail(r.geo, label, "is not a Eurostat geo label this reader knows (pkg/feeds/eurostat places.go); add it with its Eurostat geo code")
	}
	p, ok := r.m.Places.Resolve(code)
	if !ok {
		return Place{}, r.fail(r.geo, label, "is Eurostat geo code %s, which the place catalogue (schemas/places) lacks; add it there", code)
	}
	r.geos[strings.Clone(label)] = p
	return p, nil
}

// dimsFor returns the row's dims, shared between rows with the same ones.
func (r *Reader) dimsFor(rec []string) (observation.Dims, error) {
	r.key = r.key[:0]
	for _, d := range r.dims {
		r.key = append(r.key, rec[d.index]...)
		r.key = append(r.key, 0)
	}
	if d, ok := r.dimsOf[string(r.key)]; ok {
		return d, nil
	}
	d := observation.Dims{}
	for _, c := range r.dims {
		v := rec[c.index]
		if v == "" {
			continue
		}
		if len(v) > observation.MaxDimValueLen {
			return nil, r.fail(c.index, v, "is longer than %d characters", observation.MaxDimValueLen)
		}
		if !observation.PlainText(v) {
			return nil, r.fail(c.index, observation.Quote(v), "holds a control character or is not UTF-8")
		}
		d[c.key] = strings.Clone(v)
	}
	if len(d) == 0 {
		d = nil
	}
	r.dimsOf[string(r.key)] = d
	return d, nil
}

// intern returns flag as one shared string per distinct flag: a few
// letters repeated over many rows.
func (r *Reader) intern(flag string) string {
	if flag == "" {
		return ""
	}
	if s, ok := r.flags[flag]; ok {
		return s
	}
	s := strings.Clone(flag)
	r.flags[s] = s
	return s
}

// Number reads a Eurostat value: a decimal number, its integer part
// optionally grouped in threes by commas ("1,897,000,000", "12,345.6").
func Number(s string) (float64, error) {
	if strings.IndexByte(s, ',') < 0 {
		return feeds.ParseNumber(s)
	}
	intPart, frac, _ := strings.Cut(s, ".")
	digits := strings.TrimPrefix(intPart, "-")
	groups := strings.Split(digits, ",")
	for i, g := range groups {
		if len(g) > 3 || len(g) == 0 || (i > 0 && len(g) != 3) {
			return 0, errors.New("has commas that are not thousands separators (1,234,567.8)")
		}
	}
	plain := strings.ReplaceAll(intPart, ",", "")
	if frac != "" || strings.HasSuffix(s, ".") {
		plain += "." + frac
	}
	return feeds.ParseNumber(plain)
}

// fail is a row error at the current row; col < 0 blames the whole row.
func (r *Reader) fail(col int, value, reason string, args ...any) error {
	return mappedcsv.RowError(r.m.Source, format, r.line, r.stats.Rows, r.header, col, value, fmt.Sprintf(reason, args...))
}
