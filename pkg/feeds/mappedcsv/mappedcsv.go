// Package mappedcsv reads any publisher's CSV whose layout is declared: which
// column holds the place and in which code scheme, where the period is, which
// columns hold which indicators, which columns are breakdowns. The layouts
// of the World Bank bulk CSV, the OWID grapher download, the WHO data-portal
// export and the World Bank's What a Waste file are presets (presets.go);
// any other CSV is declared in its catalogue file's csv block (format
// mapped-csv).
//
// Each non-empty cell of a mapped value column is one observation; an empty
// cell (or one of Layout.Missing) is a missing value and yields nothing,
// never zero. Place codes are resolved through the place catalogue
// (pkg/places): a publisher's aggregate is kept under its catalogue code and
// counted in Stats.Aggregates, never turned into a country.
//
// Errors name the feed, the line and data row, the column and the value:
// a body that is empty, HTML or JSON, cut short, a header without a
// declared column, a row with the wrong number of fields, a value that is
// not a number, a year that is not a year, a place code the catalogue does
// not know (unless the layout counts them), and a row repeating an earlier
// one's indicator, place, period and breakdown.
package mappedcsv

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"iter"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/ounce-data/ounce/pkg/feeds"
	"github.com/ounce-data/ounce/pkg/feeds/csvrows"
	"github.com/ounce-data/ounce/pkg/feeds/owid"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/pkg/places"
)

// Mapping says which indicators the file holds and what to stamp on every
// observation.
type Mapping struct {
	feeds.Meta
	// Columns maps a catalogue entry's column field to the entry: a header
	// column (wide by indicator) or a code of the Indicator column (long,
	// wide by year), as feeds.Columns builds it.
	Columns map[string]feeds.Column
	// Places resolves place codes.
	Places *places.Catalogue
}

// Entity is a place without a code and the place it got.
type Entity = feeds.Entity

// valueColumn is a header column holding values: of one indicator (wide by
// indicator) or of one year (wide by year).
type valueColumn struct {
	index int
	col   feeds.Column // wide by indicator
	scale float64
	year  int // wide by year
}

type place struct {
	geo       string
	id        uint32 // small number of the geo, for row keys
	aggregate bool
	unknown   bool
}

type dimsEntry struct {
	dims observation.Dims
	id   uint32
}

// rowKey identifies a row's indicator, place, period and breakdown by the
// small numbers given to each.
type rowKey struct {
	indicator, geo, dims uint32
	year                 int32
}

// Reader reads observations from one CSV body. It is not safe for
// concurrent use and yields its observations once.
type Reader struct {
	l      Layout
	m      Mapping
	tail   *feeds.TailReader
	recs   *csvrows.Reader
	header []string
	skip   int // lines before the header

	place, name, period, indicator, value, lower, upper int
	dimKeys                                             []string
	dimCols                                             []int
	require                                             []requirement
	values                                              []valueColumn
	missing                                             []string // besides ""

	places map[string]place
	names  map[string]place // places without a code, by name
	// the last row's place code (or name, when it had no code) and place:
	// a file's rows come grouped by place (csvrows' fields are strings of
	// their own, kept here until the next place)
	lastCode, lastName string
	last               place
	// periodYear is the year of the period of the observation All fills,
	// 0 while it has none
	periodYear int
	geoIDs     map[string]uint32 // geo -> id
	indIDs     map[string]uint32 // indicator code -> id
	dims       map[string]dimsEntry
	dimIDs     map[string]uint32 // canonical dims -> id
	seen       *feeds.KeySet     // keys whose numbers fit in 16 bits, packed
	wide       map[rowKey]int32  // the other keys
	stats      feeds.Stats
	preamble   []string // the lines skipped before the header, as text
	line       int
	used       bool
	// buf is the dims values of the current row joined, reused.
	buf []byte
	// vals holds yielded values; a full chunk is left to its observations.
	vals []float64
}

type requirement struct {
	index int
	want  string
}

// NewReader reads the preamble and header of r and checks them against the
// layout and the mapping.
func NewReader(r io.Reader, l Layout, m Mapping) (*Reader, error) {
	if l.Name == "" {
		l.Name = "csv"
	}
	if err := l.Check(); err != nil {
		return nil, fmt.Errorf("%s layout: %w", l.Name, err)
	}
	if m.Places == nil {
		return nil, fmt.Errorf("%s: no place catalogue", l.Name)
	}
	if err := feeds.Check(m.Meta, m.Columns); err != nil {
		return nil, fmt.Errorf("%s: %w", l.Name, err)
	}
	prefix := l.Name
	if m.Source != "" {
		prefix = "feed " + m.Source + ": " + l.Name
	}
	br, tail, err := feeds.OpenCSV(r, prefix, 8<<10)
	if err != nil {
		return nil, err
	}
	rd := &Reader{
		l: l, m: m, tail: tail, skip: l.SkipLines,
		place: -1, name: -1, period: -1, indicator: -1, value: -1, lower: -1, upper: -1,
		places: make(map[string]place, 256), names: map[string]place{}, geoIDs: make(map[string]uint32, 256), indIDs: map[string]uint32{}, dims: map[string]dimsEntry{}, dimIDs: map[string]uint32{},
		seen: feeds.NewKeySet(0), wide: map[rowKey]int32{},
		stats: feeds.Stats{Unmapped: map[string]int{}, UnknownPlaces: map[string]int{}},
	}
	for i := range l.SkipLines {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("%s: the body ends in its %d-line preamble, at line %d: not this format", prefix, l.SkipLines, i+1)
		}
		rd.preamble = append(rd.preamble, strings.TrimRight(line, "\r\n"))
	}
	rd.recs = csvrows.New(br)
	header, err := rd.recs.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: read header: %w", prefix, err)
	}
	rd.header = slices.Clone(header)
	rd.header[0] = strings.TrimPrefix(rd.header[0], "\uFEFF")
	rd.line = rd.skip + rd.recs.StartLine()
	if err := rd.bind(); err != nil {
		return nil, fmt.Errorf("%s header (line %d): %w", prefix, rd.line, err)
	}
	rd.missing = l.Missing
	rd.recs.SetFieldCount(len(rd.header))
	return rd, nil
}

// bind finds the layout's and the mapping's columns in the header.
func (r *Reader) bind() error {
	l := r.l
	index := make(map[string]int, len(r.header))
	var errs []error
	for i, h := range r.header {
		if h == "" {
			continue // a trailing comma's empty column
		}
		if prev, dup := index[h]; dup {
			errs = append(errs, fmt.Errorf("column %q appears twice (positions %d and %d)", h, prev+1, i+1))
			continue
		}
		index[h] = i
	}
	used := map[int]bool{}
	need := func(dst *int, what, name string) {
		if name == "" {
			return
		}
		i, ok := index[name]
		if !ok {
			errs = append(errs, fmt.Errorf("%s column %q is missing from the header", what, name))
			return
		}
		*dst = i
		used[i] = true
	}
	need(&r.place, "place", l.Place.Column)
	need(&r.name, "place name", l.Place.NameColumn)
	need(&r.period, "period", l.Period.Column)
	need(&r.indicator, "indicator", l.Indicator)
	need(&r.value, "value", l.Value)
	need(&r.lower, "lower bound", l.Lower)
	need(&r.upper, "upper bound", l.Upper)
	for _, k := range slices.Sorted(maps.Keys(l.Dims)) {
		i := -1
		need(&i, "dims."+k, l.Dims[k])
		r.dimKeys = append(r.dimKeys, k)
		r.dimCols = append(r.dimCols, i)
	}
	for _, c := range slices.Sorted(maps.Keys(l.Require)) {
		i := -1
		need(&i, "required-value", c)
		r.require = append(r.require, requirement{index: i, want: l.Require[c]})
	}
	switch {
	case l.Period.WideYears:
		for i, h := range r.header {
			if y, ok := parseYear(h); ok && !used[i] {
				r.values = append(r.values, valueColumn{index: i, year: y})
				used[i] = true
			}
		}
		if len(r.values) == 0 {
			errs = append(errs, errors.New("no column is a year (1960, 1961, …); the values are to be in year columns"))
		}
	case l.Indicator == "":
		for _, c := range slices.Sorted(maps.Keys(r.m.Columns)) {
			i, ok := index[c]
			if !ok {
				errs = append(errs, fmt.Errorf("column %q (indicator %s) is missing from the header", c, r.m.Columns[c].Indicator))
				continue
			}
			col := r.m.Columns[c]
			r.values = append(r.values, valueColumn{index: i, col: col, scale: r.scale(col.Indicator)})
			used[i] = true
		}
		slices.SortFunc(r.values, func(a, b valueColumn) int { return a.index - b.index })
	}
	for i, h := range r.header {
		if !used[i] && h != "" {
			feeds.Count(&r.stats.Unmapped, h, 0)
		}
	}
	return errors.Join(errs...)
}

func (r *Reader) scale(indicator string) float64 {
	if s, ok := r.l.Scale[indicator]; ok {
		return s
	}
	return 1
}

// Header returns the header's column names.
func (r *Reader) Header() []string { return slices.Clone(r.header) }

// Stats returns what was read so far, complete once All has finished:
// Rows are data rows, Missing the empty or missing-value cells of mapped
// values, Aggregates the observations of places the catalogue marks as
// aggregates, Intervals those with an uncertainty interval (checked, not
// stored). Unmapped holds the header columns no catalogue entry maps
// (wide by indicator; 0 rows) and the indicator codes no entry maps (long
// and wide-by-year shapes) with their rows, skipped; UnknownPlaces the
// rows of each place the catalogue does not know, when the layout counts
// them, skipped; Uncoded the entities without a code and the place each
// got. The detail preamble holds the lines skipped before the header.
func (r *Reader) Stats() feeds.Stats {
	s := r.stats.Clone()
	if len(r.preamble) > 0 {
		s.SetDetail("preamble", slices.Clone(r.preamble))
	}
	return s
}

// All yields every observation of the body in file order; the first error
// ends the sequence, and observations already yielded from a body that ends
// in an error are not to be trusted. All yields once.
func (r *Reader) All() iter.Seq2[observation.Observation, error] {
	return func(yield func(observation.Observation, error) bool) {
		if r.used {
			yield(observation.Observation{}, fmt.Errorf("%s: observations were already read", r.l.Name))
			return
		}
		r.used = true
		var o observation.Observation
		r.m.Stamp(&o)
		for {
			rec, err := r.next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				yield(observation.Observation{}, err)
				return
			}
			if !r.row(rec, &o, yield) {
				return
			}
		}
	}
}

// next reads the next data row; io.EOF at the end of a whole body.
func (r *Reader) next() ([]string, error) {
	rec, err := r.recs.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			if r.l.FinalNewline && r.tail.Last != '\n' {
				return nil, r.fail(-1, "", "the body ends without a line break after this line; it was probably cut short")
			}
			return nil, io.EOF
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			r.line = r.skip + pe.StartLine
			r.stats.Rows++
			if errors.Is(pe.Err, csv.ErrFieldCount) {
				return nil, r.fail(-1, "", "has %d fields, the header has %d; the body was probably cut short or is not this format", len(rec), len(r.header))
			}
			return nil, r.fail(-1, "", "is not valid CSV: %s", pe.Err)
		}
		return nil, fmt.Errorf("%s: read data row %d: %w", r.l.Name, r.stats.Rows+1, err)
	}
	r.stats.Rows++
	r.line = r.skip + r.recs.StartLine()
	return rec, nil
}

// row yields the observations of one row; false when the sequence ends.
func (r *Reader) row(rec []string, o *observation.Observation, yield func(observation.Observation, error) bool) bool {
	fail := func(err error) bool {
		yield(observation.Observation{}, err)
		return false
	}
	for _, q := range r.require {
		if rec[q.index] != q.want {
			return fail(r.fail(q.index, rec[q.index], "must be %q in every row of this format", q.want))
		}
	}
	// Indicator first: rows of unmapped indicators are skipped unchecked.
	var col feeds.Column
	var indID uint32
	if r.indicator >= 0 {
		code := rec[r.indicator]
		c, ok := r.m.Columns[code]
		if !ok {
			if code == "" {
				return fail(r.fail(r.indicator, "", "is empty; every row names its indicator"))
			}
			r.stats.Unmapped[strings.Clone(code)]++
			return true
		}
		col = c
		indID = intern(r.indIDs, c.Indicator)
	}
	pl, err := r.placeOf(rec)
	if err != nil {
		return fail(err)
	}
	if pl.unknown {
		return true
	}
	year := r.l.Period.Year
	if r.period >= 0 {
		y, ok := parseYear(rec[r.period])
		if !ok {
			return fail(r.fail(r.period, rec[r.period], "is not a year between 1000 and 2999"))
		}
		year = y
	}
	dims, dimsID, err := r.dimsOf(rec)
	if err != nil {
		return fail(err)
	}
	key := rowKey{indicator: indID, geo: pl.id, dims: dimsID, year: int32(year)}
	if prev, dup := r.claim(key); dup {
		return fail(r.fail(-1, "", "repeats the indicator, place %s, period and breakdown of line %d", pl.geo, prev))
	}
	o.Geo, o.Dims = pl.geo, dims
	if year != 0 && year != r.periodYear {
		o.Period, r.periodYear = yearPeriod(year), year
	}
	emit := func(c feeds.Column, scale float64, v float64) bool {
		v *= scale
		if math.IsInf(v, 0) {
			return fail(r.fail(-1, "", "a value times its scale %v is out of the range of a 64-bit float", scale))
		}
		o.Indicator, o.Unit, o.Value = c.Indicator, c.Unit, r.keep(v)
		r.stats.Observations++
		if pl.aggregate {
			r.stats.Aggregates++
		}
		return yield(*o, nil)
	}
	if r.value >= 0 {
		cell := rec[r.value]
		if r.isMissing(cell) {
			r.stats.Missing++
			return true
		}
		v, err := feeds.ParseNumber(cell)
		if err != nil {
			return fail(r.fail(r.value, cell, "%s", err))
		}
		if err := r.checkInterval(rec, v); err != nil {
			return fail(err)
		}
		return emit(col, r.scale(col.Indicator), v)
	}
	// Wide by indicator: each value column is its own indicator. Wide by
	// year: the row's indicator, each column its own year.
	rowScale := 1.0
	if r.l.Period.WideYears {
		rowScale = r.scale(col.Indicator)
	}
	for _, vc := range r.values {
		cell := rec[vc.index]
		if r.isMissing(cell) {
			r.stats.Missing++
			continue
		}
		v, err := feeds.ParseNumber(cell)
		if err != nil {
			return fail(r.fail(vc.index, cell, "%s", err))
		}
		c, scale := vc.col, vc.scale
		if r.l.Period.WideYears {
			c, scale = col, rowScale
			if vc.year != r.periodYear {
				o.Period, r.periodYear = yearPeriod(vc.year), vc.year
			}
		}
		if !emit(c, scale, v) {
			return false
		}
	}
	return true
}

// isMissing reports whether a value cell is empty or a missing-value mark
// of the layout.
func (r *Reader) isMissing(cell string) bool {
	return cell == "" || len(r.missing) > 0 && slices.Contains(r.missing, cell)
}

// claim records the current line for key, returning the line that had it
// first when one did.
func (r *Reader) claim(k rowKey) (prev int32, dup bool) {
	const narrow = 1 << 16
	if k.indicator < narrow && k.geo < narrow && k.dims < narrow && uint32(k.year) < narrow {
		return r.seen.Claim(uint64(k.indicator)<<48|uint64(k.geo)<<32|uint64(k.dims)<<16|uint64(k.year), int32(r.line))
	}
	if prev, dup := r.wide[k]; dup {
		return prev, true
	}
	r.wide[k] = int32(r.line)
	return 0, false
}

// years holds the periods of the years parseYear reads, built once.
var years = sync.OnceValue(func() []observation.Period {
	ps := make([]observation.Period, maxYear-minYear+1)
	for i := range ps {
		ps[i] = observation.Year(minYear + i)
	}
	return ps
})

const minYear, maxYear = 1000, 2999

// yearPeriod returns the period of year y.
func yearPeriod(y int) observation.Period {
	if y < minYear || y > maxYear {
		return observation.Year(y)
	}
	return years()[y-minYear]
}

// keep stores v where it outlives the row, allocating values in chunks
// rather than one by one.
func (r *Reader) keep(v float64) *float64 {
	if len(r.vals) == cap(r.vals) {
		r.vals = make([]float64, 0, 256)
	}
	r.vals = append(r.vals, v)
	return &r.vals[len(r.vals)-1]
}

// checkInterval checks the lower and upper bounds of value v, when the
// layout has them and the row fills them.
func (r *Reader) checkInterval(rec []string, v float64) error {
	if r.lower < 0 && r.upper < 0 {
		return nil
	}
	found := false
	for _, b := range []struct {
		index int
		below bool
	}{{r.lower, true}, {r.upper, false}} {
		if b.index < 0 || r.isMissing(rec[b.index]) {
			continue
		}
		x, err := feeds.ParseNumber(rec[b.index])
		if err != nil {
			return r.fail(b.index, rec[b.index], "%s", err)
		}
		if b.below && x > v || !b.below && x < v {
			side := "lower bound is above"
			if !b.below {
				side = "upper bound is below"
			}
			return r.fail(b.index, rec[b.index], "the %s the value %s", side, rec[r.value])
		}
		found = true
	}
	if found {
		r.stats.Intervals++
	}
	return nil
}

// placeOf resolves the row's place, checking a new code once.
func (r *Reader) placeOf(rec []string) (place, error) {
	code := rec[r.place]
	if code == "" {
		if r.name < 0 {
			return place{}, r.fail(r.place, "", "is empty; every row needs a place code")
		}
		name := rec[r.name]
		if r.lastCode == "" && r.lastName == name && name != "" {
			return r.last, nil
		}
		p, err := r.uncoded(name)
		if err == nil {
			r.lastCode, r.lastName, r.last = "", name, p
		}
		return p, err
	}
	if code == r.lastCode && !r.last.unknown {
		return r.last, nil
	}
	p, err := r.coded(code)
	if err == nil {
		r.lastCode, r.lastName, r.last = code, "", p
	}
	return p, err
}

// coded resolves a place code, checking a new one once.
func (r *Reader) coded(code string) (place, error) {
	if p, ok := r.places[code]; ok {
		if p.unknown {
			r.stats.UnknownPlaces[code]++
		}
		return p, nil
	}
	var pp places.Place
	geo, ok := code, false
	if r.l.Place.Scheme == places.SchemeCode {
		// Resolve takes a catalogue code as it is: look it up once.
		pp, ok = r.m.Places.Place(code)
	} else {
		geo, ok = r.m.Places.Resolve(r.l.Place.Scheme, code)
	}
	if !ok && (r.l.Place.Scheme == places.SchemeM49 || r.l.Place.Scheme == places.SchemeWHOM49) && !isNumber(code) {
		return place{}, r.fail(r.place, code, "is not an M49 number (1 to 3 digits)")
	}
	if !ok {
		if r.l.Place.Unknown != UnknownCount {
			return place{}, r.fail(r.place, code, "is not a %s place code in the place catalogue (schemas/places); add the place there or fix the code", r.l.Place.Scheme)
		}
		p := place{unknown: true}
		code = strings.Clone(code)
		r.places[code] = p
		r.stats.UnknownPlaces[code]++
		return p, nil
	}
	if pp.Code == "" {
		pp, _ = r.m.Places.Place(geo)
	}
	p := place{geo: geo, id: intern(r.geoIDs, geo), aggregate: pp.Level == places.Aggregate}
	r.places[strings.Clone(code)] = p
	return p, nil
}

// uncoded gives a place without a code BlankPrefix + the slug of its name.
func (r *Reader) uncoded(name string) (place, error) {
	if p, ok := r.names[name]; ok {
		return p, nil
	}
	if strings.TrimSpace(name) == "" {
		return place{}, r.fail(r.name, "", "is empty, and so is the place code")
	}
	geo := r.l.Place.BlankPrefix + owid.Slug(name)
	if geo == r.l.Place.BlankPrefix || !observation.ValidGeo(geo) {
		return place{}, r.fail(r.name, name, "makes no place code (%q)", geo)
	}
	if country, ok := r.m.Places.EntityCountry(geo); ok {
		geo = country // reviewed as that country (schemas/places/entities.yaml)
	}
	pp, ok := r.m.Places.Place(geo)
	if !ok {
		if r.l.Place.Unknown != UnknownCount {
			return place{}, r.fail(r.name, name, "has no place code, and %s is not in the place catalogue (schemas/places); add it there", geo)
		}
		p := place{unknown: true}
		r.names[strings.Clone(name)] = p
		r.stats.UnknownPlaces[geo]++
		return p, nil
	}
	p := place{geo: geo, id: intern(r.geoIDs, geo), aggregate: pp.Level == places.Aggregate}
	r.names[strings.Clone(name)] = p
	r.stats.Uncoded = append(r.stats.Uncoded, Entity{Name: strings.Clone(name), Geo: geo})
	return p, nil
}

// dimsOf returns the row's breakdown, shared between rows with the same one.
func (r *Reader) dimsOf(rec []string) (observation.Dims, uint32, error) {
	if len(r.dimCols) == 0 {
		return nil, 0, nil
	}
	r.buf = r.buf[:0]
	for _, i := range r.dimCols {
		r.buf = append(r.buf, rec[i]...)
		r.buf = append(r.buf, 0)
	}
	if d, ok := r.dims[string(r.buf)]; ok {
		return d.dims, d.id, nil
	}
	d := observation.Dims{}
	for k, key := range r.dimKeys {
		v := rec[r.dimCols[k]]
		if v == "" {
			continue
		}
		if len(v) > observation.MaxDimValueLen {
			return nil, 0, r.fail(r.dimCols[k], v, "is longer than %d characters", observation.MaxDimValueLen)
		}
		d[key] = strings.Clone(v)
	}
	if len(d) == 0 {
		d = nil
	}
	// Rows whose cells differ but whose dims are equal (an empty cell, a
	// key left out) share one id through the canonical form.
	e := dimsEntry{dims: d, id: intern(r.dimIDs, d.Canonical())}
	r.dims[string(r.buf)] = e
	return e.dims, e.id, nil
}

// fail is the error of the current row; col < 0 blames the whole row.
func (r *Reader) fail(col int, value, format string, args ...any) error {
	return RowError(r.m.Source, r.l.Name, r.line, r.stats.Rows, r.header, col, value, fmt.Sprintf(format, args...))
}

// RowError is the error of the CSV data row row, at line, of feed (when
// known) read as format; col indexes header, < 0 blames the whole row.
func RowError(feed, format string, line, row int, header []string, col int, value, reason string) *feeds.Error {
	field := ""
	if col >= 0 {
		field = header[col]
	}
	e := feeds.LineError(format, line, row, field, value, reason)
	e.Feed = feed
	return e
}

// intern returns the id of s in ids, giving it the next one when new.
func intern(ids map[string]uint32, s string) uint32 {
	id, ok := ids[s]
	if !ok {
		id = uint32(len(ids))
		ids[s] = id
	}
	return id
}

// isNumber reports whether s is 1 to 3 digits.
func isNumber(s string) bool {
	if len(s) == 0 || len(s) > 3 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseYear reads a year 1000..2999 written as four digits.
func parseYear(s string) (int, bool) {
	if len(s) != 4 {
		return 0, false
	}
	y := 0
	for i := range 4 {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		y = y*10 + int(c-'0')
	}
	return y, y >= 1000 && y <= 2999
}
