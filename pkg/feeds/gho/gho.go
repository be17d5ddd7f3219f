// Package gho parses the World Health Organization's Global Health
// Observatory (GHO) in its two published shapes: the OData API's JSON
// answer (https://ghoapi.azureedge.net/api/<IndicatorCode>, a document
// {"@odata.context":…, "value":[records]}) and the "data download" CSV
// (one row per record, columns Id, IndicatorCode, SpatialDimension,
// SpatialDimensionValueCode, …, NumericValue, Low, High, …). Both carry
// the same records and are mapped by the same rules.
//
// A record of a mapped indicator (its IndicatorCode is the column of a
// catalogue entry) with a NumericValue is one observation of that value;
// a null or empty NumericValue is a missing value and yields nothing
// (never zero). The display string Value is not read. Low and High, the
// uncertainty interval, are checked and counted in Stats.Intervals but not
// yet stored. Records of other indicators are counted in Stats.Unmapped and
// skipped without further checks.
//
// Places: a COUNTRY record's geo is its SpatialDim, an ISO 3166-1 alpha-3
// code. Aggregates get a prefixed WHO code: a REGION or
// WORLDBANKINCOMEGROUP record "who:" + SpatialDim (who:EUR, who:WB_HI),
// the GLOBAL record "who:GLOBAL". Any other SpatialDimType is an error.
// Stats.Aggregates counts the observations of aggregates.
//
// Period: TimeDimType must be YEAR; TimeDim is the year.
//
// Breakdown: each of Dim1..Dim3 and DataSourceDim that is set becomes one
// dims entry, its *Type in lower-case snake_case as the key and its code as
// the value: Dim1Type SEX, Dim1 SEX_BTSX → sex=SEX_BTSX; Dim2Type AGEGROUP,
// Dim2 AGEGROUP_YEARS30-69 → agegroup=AGEGROUP_YEARS30-69. In the CSV the
// same fields are DisaggregatingDimensionN / DisaggregatingDimensionNValueCode
// and DataSourceDimension / DataSourceDimensionValueCode.
//
// Two records with the same indicator, place, year and breakdown are an
// error, as is a malformed body (cut short, an HTML page, an OData error
// answer) and a record without IndicatorCode, SpatialDim or TimeDim, with
// a non-numeric NumericValue, Low or High, or with an unknown
// SpatialDimType. Errors in a record are *RecordError values naming the
// record (its index in value[] or its CSV line) and the field.
package gho

import (
	"errors"
	"fmt"
	"iter"
	"strconv"
	"strings"

	"github.com/ounce-data/ounce/pkg/feeds"
	"github.com/ounce-data/ounce/pkg/observation"
)

// SpatialDimType values.
const (
	SpatialCountry     = "COUNTRY"
	SpatialRegion      = "REGION"
	SpatialIncomeGroup = "WORLDBANKINCOMEGROUP"
	SpatialGlobal      = "GLOBAL"
)

// TimeYear is the one TimeDimType read.
const TimeYear = "YEAR"

// AggregatePrefix starts the geo of a WHO region, a World Bank income group
// and the world.
const AggregatePrefix = "who:"

// GlobalGeo is the geo of GLOBAL records.
const GlobalGeo = AggregatePrefix + "GLOBAL"

// Mapping says how to read one body: which IndicatorCode is which
// indicator, and what to stamp on every observation.
type Mapping struct {
	feeds.Meta
	// Indicators maps an IndicatorCode to its catalogue indicator and unit,
	// as feeds.Columns builds it from the catalogue entries' column field.
	Indicators map[string]feeds.Column
}

// recordError is the error of rec, read as format (formatOData or
// formatCSV); field is empty when the whole record is at fault.
func recordError(format string, rec *record, field, value, reason string) *feeds.Error {
	e := &feeds.Error{Format: "gho " + format, Record: rec.index, Field: field, Value: value, Reason: reason}
	id := rec.ID()
	switch {
	case format == formatCSV && id != "":
		e.At = fmt.Sprintf("line %d (data row %d, Id %s)", rec.line, rec.index, id)
	case format == formatCSV:
		e.At = fmt.Sprintf("line %d (data row %d)", rec.line, rec.index)
	case id != "":
		e.At = fmt.Sprintf("record value[%d] (Id %s)", rec.index, id)
	default:
		e.At = fmt.Sprintf("record value[%d]", rec.index)
	}
	return e
}

const (
	formatOData = "odata"
	formatCSV   = "csv"
)

// fields names a format's fields, for errors.
type fields struct {
	indicator, spatialType, spatial, timeType, time string
	dimType, dimCode                                [numDims]string
	value, low, high                                string
}

// numDims is Dim1..Dim3 and DataSourceDim.
const numDims = 4

// record is one source record as text; an empty field is null or absent.
type record struct {
	index, line int
	id          string
	idRaw       []byte // Id as JSON text, when id is not set
	indicator   string
	spatialType string
	spatial     string
	timeType    string
	time        string
	dimType     [numDims]string
	dimCode     [numDims]string
	value       string
	low, high   string
	// bad is the first field of the wrong type, reported only when the
	// record's indicator is mapped.
	bad *problem
}

type problem struct {
	field, value, reason string
}

// ID is the record's Id.
func (rec *record) ID() string {
	if rec.id == "" && rec.idRaw != nil {
		return string(rec.idRaw)
	}
	return rec.id
}

func (rec *record) reset(index, line int) {
	*rec = record{index: index, line: line}
}

// setBad keeps the first problem of a record.
func (rec *record) setBad(field, value, reason string) {
	if rec.bad == nil {
		rec.bad = &problem{field: field, value: value, reason: reason}
	}
}

// source reads the records of one format.
type source interface {
	// next reads the next record into rec; errEnd at the end of a whole body.
	next(rec *record) error
	// finish is called after the last record; it may add to stats.
	finish(r *Reader)
}

type geoKey struct{ spatialType, spatial string }

// place is a checked geo and its number, for the key of seen.
type place struct {
	geo       string
	id        uint32
	aggregate bool
	kind      int // index in spatialTypes
}

// spatialTypes are the SpatialDimType values read.
var spatialTypes = [...]string{SpatialCountry, SpatialRegion, SpatialIncomeGroup, SpatialGlobal}

// dimSet is one breakdown, computed once per distinct set of fields.
type dimSet struct {
	pairs [][2]string // key, value in source order
	id    uint32
	err   *problem
}

// obsKey is the natural key of an observation of one body, in numbers:
// indicator, place and breakdown by their order of first appearance.
type obsKey struct {
	indicator, geo, dims uint32
	year                 int32
}

// Reader reads observations from one GHO body. It is not safe for
// concurrent use and yields its observations once.
type Reader struct {
	m      Mapping
	format string
	names  *fields
	src    source
	stats  feeds.Stats
	// nextLink is the OData @odata.nextLink, when the answer has one.
	nextLink string
	intern   map[string]string
	geos     map[geoKey]*place
	dims     map[string]*dimSet
	dimBuf   []byte
	inds     map[string]uint32 // catalogue indicator -> number
	geoIDs   map[string]uint32 // geo -> number
	dimIDs   map[string]uint32 // canonical breakdown -> number
	years    map[int]observation.Period
	seen     map[obsKey]int32       // -> index (OData) or line (CSV) of the record
	places   [len(spatialTypes)]int // records by SpatialDimType
	used     bool
}

func newReader(m Mapping, format string, names *fields, src source) *Reader {
	return &Reader{
		m: m, format: format, names: names, src: src,
		stats:  feeds.Stats{Unmapped: map[string]int{}},
		intern: map[string]string{},
		geos:   map[geoKey]*place{},
		dims:   map[string]*dimSet{},
		inds:   map[string]uint32{},
		geoIDs: map[string]uint32{},
		dimIDs: map[string]uint32{},
		years:  map[int]observation.Period{},
		seen:   map[obsKey]int32{},
	}
}

// Stats returns what was read so far, complete once All has finished:
// Rows are the records (elements of value[], or CSV data rows), Missing
// the records of mapped indicators without a NumericValue, Intervals the
// observations whose record has a Low or a High (not stored yet),
// Aggregates those of geo who:…, Unmapped the records of each
// IndicatorCode not in the mapping (skipped). Details: spatial_types, the
// records of mapped indicators by SpatialDimType; next_link, the OData
// @odata.nextLink when the service cut the answer into pages and the body
// holds only the first.
func (r *Reader) Stats() feeds.Stats {
	s := r.stats.Clone()
	types := map[string]int{}
	for i, n := range r.places {
		if n > 0 {
			types[spatialTypes[i]] = n
		}
	}
	s.SetDetail("spatial_types", types)
	if r.nextLink != "" {
		s.SetDetail("next_link", r.nextLink)
		s.Incomplete = "the service cut the answer into pages and the body holds only the first; the rest is at its @odata.nextLink " + r.nextLink
	}
	return s
}

// All yields every observation of the body in record order. The first
// error ends the sequence; observations already yielded from a body that
// ends in an error are not to be trusted. All yields once; a second call
// yields only an error.
func (r *Reader) All() iter.Seq2[observation.Observation, error] {
	return func(yield func(observation.Observation, error) bool) {
		if r.used {
			yield(observation.Observation{}, fmt.Errorf("gho %s: observations were already read", r.format))
			return
		}
		r.used = true
		var rec record
		for {
			err := r.src.next(&rec)
			if errors.Is(err, errEnd) {
				r.src.finish(r)
				return
			}
			if err != nil {
				yield(observation.Observation{}, err)
				return
			}
			r.stats.Rows++
			o, ok, err := r.observe(&rec)
			if err != nil {
				yield(observation.Observation{}, err)
				return
			}
			if ok && !yield(o, nil) {
				return
			}
		}
	}
}

// errEnd ends a source's records.
var errEnd = errors.New("end of records")

// fail is the error of rec.
func (r *Reader) fail(rec *record, field, value, format string, args ...any) error {
	return recordError(r.format, rec, field, value, fmt.Sprintf(format, args...))
}

// observe maps one record; ok is false for a record that yields nothing.
func (r *Reader) observe(rec *record) (o observation.Observation, ok bool, err error) {
	n := r.names
	if rec.bad != nil && rec.bad.field == n.indicator {
		return o, false, r.fail(rec, rec.bad.field, rec.bad.value, "%s", rec.bad.reason)
	}
	if rec.indicator == "" {
		return o, false, r.fail(rec, n.indicator, "", "is missing")
	}
	col, mapped := r.m.Indicators[rec.indicator]
	if !mapped {
		r.stats.Unmapped[r.str(rec.indicator)]++
		return o, false, nil
	}
	if rec.bad != nil {
		return o, false, r.fail(rec, rec.bad.field, rec.bad.value, "%s", rec.bad.reason)
	}

	p, err := r.place(rec)
	if err != nil {
		return o, false, err
	}
	r.places[p.kind]++
	switch rec.timeType {
	case TimeYear:
	case "":
		return o, false, r.fail(rec, n.timeType, "", "is missing")
	default:
		return o, false, r.fail(rec, n.timeType, rec.timeType, "is not %s; only yearly data is read", TimeYear)
	}
	if rec.time == "" {
		return o, false, r.fail(rec, n.time, "", "is missing")
	}
	year, err := strconv.Atoi(rec.time)
	if err != nil {
		return o, false, r.fail(rec, n.time, rec.time, "is not a whole year")
	}
	if year < 1000 || year > 2999 {
		return o, false, r.fail(rec, n.time, rec.time, "is outside the years 1000..2999")
	}
	ds := r.dimSet(rec)
	if ds.err != nil {
		return o, false, r.fail(rec, ds.err.field, ds.err.value, "%s", ds.err.reason)
	}
	if rec.value == "" {
		r.stats.Missing++
		return o, false, nil
	}
	v, err := feeds.ParseNumber(rec.value)
	if err != nil {
		return o, false, r.fail(rec, n.value, rec.value, "%s", err)
	}
	interval := false
	for _, b := range []struct{ field, text string }{{n.low, rec.low}, {n.high, rec.high}} {
		if b.text == "" {
			continue
		}
		if _, err := feeds.ParseNumber(b.text); err != nil {
			return o, false, r.fail(rec, b.field, b.text, "%s", err)
		}
		interval = true
	}
	ind := number(r.inds, col.Indicator)
	key := obsKey{indicator: ind, geo: p.id, dims: ds.id, year: int32(year)}
	at := int32(rec.index)
	if r.format == formatCSV {
		at = int32(rec.line)
	}
	if prev, dup := r.seen[key]; dup {
		if r.format == formatCSV {
			return o, false, r.fail(rec, "", "", "repeats the indicator, place, year and breakdown of line %d", prev)
		}
		return o, false, r.fail(rec, "", "", "repeats the indicator, place, year and breakdown of value[%d]", prev)
	}
	r.seen[key] = at

	period, ok := r.years[year]
	if !ok {
		period = observation.Year(year)
		r.years[year] = period
	}
	o = observation.Observation{
		Indicator: col.Indicator,
		Geo:       p.geo,
		Period:    period,
		Value:     &v,
		Unit:      col.Unit,
	}
	if len(ds.pairs) > 0 {
		o.Dims = make(observation.Dims, len(ds.pairs))
		for _, p := range ds.pairs {
			o.Dims[p[0]] = p[1]
		}
	}
	r.m.Stamp(&o)
	r.stats.Observations++
	if interval {
		r.stats.Intervals++
	}
	if p.aggregate {
		r.stats.Aggregates++
	}
	return o, true, nil
}

// number returns the number of s in ids, giving it the next one when new.
func number(ids map[string]uint32, s string) uint32 {
	id, ok := ids[s]
	if !ok {
		id = uint32(len(ids))
		ids[s] = id
	}
	return id
}

// str interns s.
func (r *Reader) str(s string) string {
	if v, ok := r.intern[s]; ok {
		return v
	}
	s = strings.Clone(s)
	r.intern[s] = s
	return s
}

// place returns the place of rec, checking each new one once.
func (r *Reader) place(rec *record) (*place, error) {
	n := r.names
	if p, ok := r.geos[geoKey{rec.spatialType, rec.spatial}]; ok {
		return p, nil
	}
	kind := -1
	for i, t := range spatialTypes {
		if rec.spatialType == t {
			kind = i
		}
	}
	switch {
	case rec.spatialType == "":
		return nil, r.fail(rec, n.spatialType, "", "is missing")
	case kind < 0:
		return nil, r.fail(rec, n.spatialType, rec.spatialType, "is not one of %s, %s, %s or %s",
			SpatialCountry, SpatialRegion, SpatialIncomeGroup, SpatialGlobal)
	case rec.spatial == "":
		return nil, r.fail(rec, n.spatial, "", "is missing")
	}
	var geo string
	switch rec.spatialType {
	case SpatialCountry:
		geo = rec.spatial
	case SpatialGlobal:
		geo = GlobalGeo
	default:
		geo = AggregatePrefix + rec.spatial
	}
	if !observation.ValidGeo(geo) {
		return nil, r.fail(rec, n.spatial, rec.spatial,
			"makes the place code %q: a place code is 1-64 letters, digits, '.', '_', ':' or '-', starting with a letter or digit", geo)
	}
	geo = strings.Clone(geo)
	p := &place{geo: geo, id: number(r.geoIDs, geo), aggregate: rec.spatialType != SpatialCountry, kind: kind}
	r.geos[geoKey{r.str(rec.spatialType), r.str(rec.spatial)}] = p
	return p, nil
}

// dimSet returns the breakdown of rec, computed once per distinct one.
func (r *Reader) dimSet(rec *record) *dimSet {
	b := r.dimBuf[:0]
	for i := range numDims {
		b = append(b, rec.dimType[i]...)
		b = append(b, 0)
		b = append(b, rec.dimCode[i]...)
		b = append(b, 0)
	}
	r.dimBuf = b
	if ds, ok := r.dims[string(b)]; ok {
		return ds
	}
	ds := r.newDimSet(rec)
	r.dims[string(b)] = ds
	return ds
}

func (r *Reader) newDimSet(rec *record) *dimSet {
	n := r.names
	ds := &dimSet{}
	bad := func(field, value, format string, args ...any) *dimSet {
		ds.err = &problem{field: field, value: value, reason: fmt.Sprintf(format, args...)}
		return ds
	}
	d := observation.Dims{}
	for i := range numDims {
		typ, code := rec.dimType[i], rec.dimCode[i]
		switch {
		case typ == "" && code == "":
			continue
		case typ == "":
			return bad(n.dimType[i], "", "is missing while %s is %q", n.dimCode[i], code)
		case code == "":
			return bad(n.dimCode[i], "", "is missing while %s is %q", n.dimType[i], typ)
		}
		key := feeds.SnakeCase(typ)
		if !observation.ValidDimKey(key) {
			return bad(n.dimType[i], typ, "makes the dimension key %q: a key is 1-32 lower-case letters, digits or '_', starting with a letter", key)
		}
		if prev, dup := d[key]; dup {
			return bad(n.dimType[i], typ, "repeats the dimension %s (already %q)", key, prev)
		}
		if len(code) > observation.MaxDimValueLen {
			return bad(n.dimCode[i], code, "is longer than %d bytes", observation.MaxDimValueLen)
		}
		key, code = strings.Clone(key), strings.Clone(code)
		d[key] = code
		ds.pairs = append(ds.pairs, [2]string{key, code})
	}
	ds.id = number(r.dimIDs, d.Canonical())
	return ds
}

// start is the first n bytes of b as text, for errors.
func start(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "…"
}
