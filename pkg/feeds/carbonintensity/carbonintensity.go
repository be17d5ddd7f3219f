// Package carbonintensity parses responses of the GB Carbon Intensity API
// (api.carbonintensity.org.uk, run by the National Energy System Operator):
// the carbon intensity of electricity in gCO2/kWh per half hour, nationally
// and for the 14 distribution network operator regions, with the regional
// generation mix.
//
// Two response shapes are read, both {"data":[…]} with one record per half
// hour ("from" and "to" in UTC, "2019-08-25T12:30Z"):
//
//   - National (/intensity/…): a record's "intensity" holds "forecast" and
//     "actual" (null while not yet known). Each non-null value is one
//     observation for geo "GB".
//   - Regional (/regional/intensity/…): a record's "regions" lists regions by
//     "regionid" with an "intensity.forecast" and a "generationmix" of
//     {"fuel", "perc"}. The forecast is one observation per region; each
//     fuel's percentage is one observation with dims {"fuel": <fuel>}.
//
// Places: regionid 1–17 becomes the geo "ci:<regionid>" (1–14 the DNO
// regions, 15 England, 16 Scotland, 17 Wales); regionid 18, which the API
// calls "GB", is Great Britain as a whole and gets the geo "GB" — the geo of
// the national figures too. The regions' names are in the stats' regions detail.
//
// Which fields become which indicators is the Mapping's Columns, keyed by
// ColumnForecast, ColumnActual and ColumnGenerationMix; a field not mapped is
// not read into observations. A null value is missing: it yields nothing
// (never zero) and is counted in Stats.Missing.
//
// The API's error answer {"error":{"code":…,"message":…}} is an *APIError;
// every problem of a record is a *RecordError naming the record's index in
// data[] and the field. The /regional/regionid/… and /regional/postcode/…
// responses (whose "data" is an object) are not read by this package.
package carbonintensity

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"iter"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ounce-data/ounce/pkg/feeds"
	"github.com/ounce-data/ounce/pkg/jsonscan"
	"github.com/ounce-data/ounce/pkg/observation"
)

// Kind is the response shape a Reader reads.
type Kind string

// Response shapes.
const (
	National Kind = "national" // /intensity/… responses
	Regional Kind = "regional" // /regional/intensity/… responses
)

// Mapping column names: the fields of a record that can be mapped to an
// indicator.
const (
	ColumnForecast      = "intensity.forecast" // gCO2/kWh, national and regional
	ColumnActual        = "intensity.actual"   // gCO2/kWh, national only (null until known)
	ColumnGenerationMix = "generationmix"      // % of generation per fuel, regional only
)

// Places and breakdown.
const (
	GeoGB        = "GB"  // Great Britain: the national figures and regionid 18
	RegionPrefix = "ci:" // starts the geo of regionid 1–17, e.g. "ci:13"
	RegionGB     = 18    // the regionid of Great Britain as a whole
	MaxRegionID  = 18    // regionids run from 1 to MaxRegionID
	DimFuel      = "fuel"
)

// RegionGeo is the geo of a regionid: "ci:<id>" for 1–17, "GB" for 18; ok is
// false outside 1–18.
func RegionGeo(id int) (geo string, ok bool) {
	switch {
	case id == RegionGB:
		return GeoGB, true
	case id >= 1 && id < RegionGB:
		return regionGeos[id], true
	}
	return "", false
}

var regionGeos = func() [RegionGB]string {
	var g [RegionGB]string
	for id := 1; id < RegionGB; id++ {
		g[id] = RegionPrefix + strconv.Itoa(id)
	}
	return g
}()

// Mapping says which fields become which indicators, and what to stamp on
// every observation.
type Mapping struct {
	feeds.Meta
	// Columns maps ColumnForecast, ColumnActual and ColumnGenerationMix to
	// indicators; other names are an error. A mapping may name fields the
	// response kind does not have (generationmix for a national response):
	// one catalogue file serves both kinds.
	Columns map[string]feeds.Column
}

// Region is a region as a regional response names it.
type Region struct {
	ID        int    // regionid
	Geo       string // "ci:<id>", or "GB" for 18
	ShortName string // shortname, e.g. "North Scotland"
	DNORegion string // dnoregion, e.g. "Scottish Hydro Electric Power Distribution"
}

// APIError is the API's own error answer, such as
// {"error":{"code":"400 Bad Request","message":"Please enter a valid datetime…"}}.
type APIError struct {
	Kind    Kind
	Code    string
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("carbon intensity %s response is an API error, code %q: %s", e.Kind, e.Code, e.Message)
}

// recordError is the error at byte offset of the body: within record rec
// of data[] (≥ 0) or outside the records (-1). field is the path of the
// field within the record (or the body), e.g.
// "regions[3].intensity.forecast", empty for the record as a whole; value
// the offending JSON text, shortened.
func recordError(kind Kind, rec int, field string, offset int, value, reason string) *feeds.Error {
	path := field
	at := fmt.Sprintf("(byte %d)", offset)
	if rec >= 0 {
		path = "data[" + strconv.Itoa(rec) + "]"
		if field != "" {
			path += "." + field
		}
		at = fmt.Sprintf("(record %d, byte %d)", rec, offset)
	}
	if path != "" {
		at = path + " " + at
	}
	return &feeds.Error{Format: "carbon intensity " + string(kind) + " response", At: at, Record: rec, Offset: offset,
		Field: field, Value: value, JSON: true, Reason: reason}
}

// Reader reads observations from one response body. It is not safe for
// concurrent use and yields its observations once.
type Reader struct {
	kind     Kind
	m        Mapping
	s        jsonscan.Scanner
	forecast *feeds.Column
	actual   *feeds.Column
	mix      *feeds.Column
	stats    feeds.Stats
	// regions are the regions in order of first appearance, regionEntries
	// the regions[] entries read (regional responses).
	regions       []Region
	regionEntries int
	used          bool

	cols   [numColumns]*feeds.Column // by colForecast, colActual, colMix
	counts [numColumns]int           // observations yielded per column
	buf    []pending                 // observations of the record being read
	period observation.Period        // of the record being read
	vals   []float64                 // slab the yielded values point into; never reused
	// mixCache is the fuels of the last generation mix by position: the
	// API lists them in the same order every time, so a fuel is found
	// without hashing its name.
	mixCache []fuelDims
	fuels    map[string]fuelDims
	// fuels of the generation mix being read, and their index in it
	mixFuels   []string
	mixIndex   []int
	periods    map[int64]int         // half hour start (Unix seconds) -> record that had it
	regionSeen [MaxRegionID + 1]bool // regionids in regions
}

// NewReader reads body and checks its start: an empty body, an HTML page,
// anything but a JSON object, the API's error answer (*APIError) and a body
// without a data array are errors here; records are read by All.
func NewReader(body io.Reader, kind Kind, m Mapping) (*Reader, error) {
	if kind != National && kind != Regional {
		return nil, fmt.Errorf("carbon intensity: response kind %q is not %s or %s", kind, National, Regional)
	}
	r := &Reader{kind: kind, m: m}
	if err := r.checkMapping(); err != nil {
		return nil, err
	}
	data, err := readBody(body)
	if err != nil {
		return nil, fmt.Errorf("carbon intensity %s response: read body: %w", kind, err)
	}
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	r.s.SetMaxDepth(maxDepth)
	r.s.Reset(data)
	r.fuels = map[string]fuelDims{}
	r.periods = map[int64]int{}
	if err := r.start(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Reader) checkMapping() error {
	if err := feeds.Check(r.m.Meta, r.m.Columns); err != nil {
		return fmt.Errorf("carbon intensity %s response: %w", r.kind, err)
	}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(r.m.Columns)) {
		c := r.m.Columns[name]
		switch name {
		case ColumnForecast:
			r.forecast = &c
		case ColumnActual:
			r.actual = &c
		case ColumnGenerationMix:
			r.mix = &c
		default:
			errs = append(errs, fmt.Errorf("column %q (indicator %s) is not a field of carbon intensity responses; map %s, %s or %s",
				name, c.Indicator, ColumnForecast, ColumnActual, ColumnGenerationMix))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("carbon intensity %s response: %w", r.kind, err)
	}
	r.cols = [numColumns]*feeds.Column{colForecast: r.forecast, colActual: r.actual, colMix: r.mix}
	if r.forecast == nil && r.actual == nil && (r.kind == National || r.mix == nil) {
		return fmt.Errorf("carbon intensity %s response: the mapping names none of the fields this response has", r.kind)
	}
	return nil
}

// start reads up to the first record of data[], or the API's error.
func (r *Reader) start() error {
	s := &r.s
	switch c := s.Peek(); {
	case c == 0:
		return fmt.Errorf("carbon intensity %s response: body is empty", r.kind)
	case c == '<':
		return fmt.Errorf("carbon intensity %s response: body is HTML or XML, not JSON: starts %q", r.kind, snippet(s.Data()[s.Pos():], 60))
	case c != '{':
		return fmt.Errorf("carbon intensity %s response: body is not a JSON object: starts %q", r.kind, snippet(s.Data()[s.Pos():], 60))
	}
	first := true
	for {
		key, more, err := s.Member(&first)
		if err != nil {
			return r.fail(-1, "", err)
		}
		if !more {
			return recordError(r.kind, -1, "", s.Pos()-1, "", `the response has neither "data" nor "error"`)
		}
		switch string(key) {
		case "error":
			return r.apiError()
		case "data":
			if s.Peek() == '{' {
				return r.fail(-1, "data", notA(s, `an array; this reader reads /intensity and /regional/intensity responses, not /regional/regionid or /regional/postcode`))
			}
			if err := expect(s, '[', "an array"); err != nil {
				return r.fail(-1, "data", err)
			}
			return nil
		default:
			if err := s.SkipIn(1); err != nil {
				return r.fail(-1, name(key), err)
			}
		}
	}
}

// apiError reads the value of the top-level "error" member.
func (r *Reader) apiError() error {
	s := &r.s
	e := &APIError{Kind: r.kind}
	if s.Peek() == '"' {
		msg, err := s.Text()
		if err != nil {
			return r.fail(-1, "error", err)
		}
		e.Message = string(msg)
		return e
	}
	if err := expect(s, '{', "an object"); err != nil {
		return r.fail(-1, "error", err)
	}
	first := true
	for {
		key, more, err := s.Member(&first)
		if err != nil {
			return r.fail(-1, "error", err)
		}
		if !more {
			break
		}
		start := s.Pos()
		field := "error." + name(key)
		switch string(key) {
		case "code", "message":
			var text string
			if s.Peek() == '"' {
				b, err := s.Text()
				if err != nil {
					return r.fail(-1, field, err)
				}
				text = string(b)
			} else {
				if err := s.SkipIn(1); err != nil {
					return r.fail(-1, field, err)
				}
				text = string(bytes.TrimSpace(s.Data()[start:s.Pos()]))
			}
			if key[0] == 'c' {
				e.Code = text
			} else {
				e.Message = text
			}
		default:
			if err := s.SkipIn(1); err != nil {
				return r.fail(-1, field, err)
			}
		}
	}
	return e
}

// Stats returns what was read so far, complete once All has finished:
// Rows are the data[] records (half hours), Missing the null values of
// mapped fields, From and To the start of the earliest and the end of the
// latest half hour. Details: by_indicator, the observations per
// indicator; for regional responses region_entries, the regions[] entries
// read, and regions, the []Region in order of first appearance.
func (r *Reader) Stats() feeds.Stats {
	st := r.stats.Clone()
	by := map[string]int{}
	for i, c := range r.cols {
		if c != nil && r.counts[i] > 0 {
			by[c.Indicator] += r.counts[i]
		}
	}
	st.SetDetail("by_indicator", by)
	if r.kind == Regional {
		st.SetDetail("region_entries", r.regionEntries)
		st.SetDetail("regions", slices.Clone(r.regions))
	}
	return st
}

// Kind returns the response kind the reader reads.
func (r *Reader) Kind() Kind { return r.kind }

// All yields every observation of the body in body order. The first error
// ends the sequence: a malformed or incomplete record, a value that is not a
// number, a period not on a half hour, a repeated half hour or region, a
// body cut short, or the API's error after the data; observations already
// yielded from a body that ends in an error are not to be trusted. A
// record's observations are yielded only once the whole record has been
// read. Observations of one fuel share one Dims map: do not modify it. All
// yields once; a second call yields only an error.
func (r *Reader) All() iter.Seq2[observation.Observation, error] {
	return func(yield func(observation.Observation, error) bool) {
		if r.used {
			yield(observation.Observation{}, fmt.Errorf("carbon intensity %s response: observations were already read", r.kind))
			return
		}
		r.used = true
		var o observation.Observation
		r.m.Stamp(&o)
		first := true
		for i := 0; ; i++ {
			more, err := element(&r.s, &first)
			if err != nil {
				if i == 0 {
					err = r.fail(-1, "data", err)
				} else {
					e := r.fail(i-1, "", err).(*feeds.Error)
					e.Reason = "after the record: " + e.Reason
					err = e
				}
				yield(observation.Observation{}, err)
				return
			}
			if !more {
				break
			}
			r.buf = r.buf[:0]
			if r.kind == National {
				err = r.national(i)
			} else {
				err = r.regional(i)
			}
			if err != nil {
				yield(observation.Observation{}, err)
				return
			}
			r.stats.Rows++
			o.Period = r.period
			for k := range r.buf {
				p := &r.buf[k]
				c := r.cols[p.col]
				o.Indicator, o.Unit, o.Geo, o.Dims, o.Value = c.Indicator, c.Unit, p.geo, p.dims, p.val
				r.stats.Observations++
				r.counts[p.col]++
				if !yield(o, nil) {
					return
				}
			}
		}
		if err := r.finish(); err != nil {
			yield(observation.Observation{}, err)
		}
	}
}

// finish reads the rest of the body after data[].
func (r *Reader) finish() error {
	s := &r.s
	first := false
	for {
		key, more, err := s.Member(&first)
		if err != nil {
			return r.fail(-1, "", err)
		}
		if !more {
			break
		}
		switch string(key) {
		case "data":
			return r.fail(-1, "data", here(s, `"data" appears twice`))
		case "error":
			return r.apiError()
		default:
			if err := s.SkipIn(1); err != nil {
				return r.fail(-1, name(key), err)
			}
		}
	}
	if !s.AtEnd() {
		return r.fail(-1, "", here(s, "more follows the end of the JSON object: %q", snippet(s.Data()[s.Pos():], 40)))
	}
	return nil
}

// fail wraps a syntax or value error (or any error) at record rec and
// field.
func (r *Reader) fail(rec int, field string, err error) error {
	ve := asValueError(r.s.Data(), err)
	if ve == nil {
		return recordError(r.kind, rec, field, r.s.Pos(), "", err.Error())
	}
	value := ""
	if len(ve.value) > 0 {
		value = snippet(ve.value, 40)
	}
	return recordError(r.kind, rec, field, ve.offset, value, ve.reason)
}

// bad is the error about the value read from start to the scanner's position.
func (r *Reader) bad(rec int, field string, start int, format string, args ...any) error {
	return recordError(r.kind, rec, field, start, snippet(bytes.TrimSpace(r.s.Data()[start:r.s.Pos()]), 40), fmt.Sprintf(format, args...))
}

// missing is the error for a required field a record lacks.
func (r *Reader) missing(rec int, field string, at int) error {
	return recordError(r.kind, rec, field, at, "", "is missing")
}

// repeated is the error for a member that appears twice in one object.
func (r *Reader) repeated(rec int, field string, at int) error {
	return recordError(r.kind, rec, field, at, "", "appears twice in one object")
}

// Column indexes of Reader.cols.
const (
	colForecast = iota
	colActual
	colMix
	numColumns
)

// pending is an observation of the record being read: what varies between
// the observations of one record.
type pending struct {
	geo  string
	dims observation.Dims
	val  *float64
	col  uint8
}

// fuelDims is a fuel's name and the Dims every observation of it shares.
type fuelDims struct {
	name string
	dims observation.Dims
}

// halfHour is the from and to of one record.
type halfHour struct {
	from, to       time.Time
	hasFrom, hasTo bool
	fromAt, toAt   int // offsets of the values
	fromEnd, toEnd int
}

// periodMember reads the "from" (isFrom) or "to" value of record rec into h.
func (r *Reader) periodMember(rec int, h *halfHour, isFrom bool) error {
	s := &r.s
	key := "to"
	if isFrom {
		key = "from"
	}
	s.WS()
	start := s.Pos()
	if (isFrom && h.hasFrom) || (!isFrom && h.hasTo) {
		return r.repeated(rec, key, start)
	}
	if s.Peek() != '"' {
		return r.fail(rec, key, notA(s, "a time like 2019-08-25T12:30Z"))
	}
	b, err := s.Text()
	if err != nil {
		return r.fail(rec, key, err)
	}
	t, ok := parseTime(b)
	if !ok {
		return r.bad(rec, key, start, "is not a UTC time like 2019-08-25T12:30Z")
	}
	if isFrom {
		h.from, h.hasFrom, h.fromAt, h.fromEnd = t, true, start, s.Pos()
	} else {
		h.to, h.hasTo, h.toAt, h.toEnd = t, true, start, s.Pos()
	}
	return nil
}

// checkPeriod checks a record's half hour once the record is read: both
// ends present, from on :00 or :30, to 30 minutes later, and not a half
// hour an earlier record had. It returns the period.
func (r *Reader) checkPeriod(rec int, h *halfHour, end int) (observation.Period, error) {
	if !h.hasFrom {
		return observation.Period{}, r.missing(rec, "from", end)
	}
	if !h.hasTo {
		return observation.Period{}, r.missing(rec, "to", end)
	}
	p := observation.Period{Grain: observation.GrainHalfHour, Start: h.from}
	valueAt := func(from, to int) string { return snippet(bytes.TrimSpace(r.s.Data()[from:to]), 40) }
	if err := p.Check(); err != nil {
		reason := err.Error()
		if m := h.from.Minute(); (m != 0 && m != 30) || h.from.Second() != 0 {
			reason = "is not on a half hour (:00 or :30)"
		}
		return observation.Period{}, recordError(r.kind, rec, "from", h.fromAt, valueAt(h.fromAt, h.fromEnd), reason)
	}
	if !h.to.Equal(p.End()) {
		return observation.Period{}, recordError(r.kind, rec, "to", h.toAt, valueAt(h.toAt, h.toEnd), fmt.Sprintf("is not 30 minutes after from (%s); a record is one half hour", p.Start.Format("2006-01-02T15:04Z")))
	}
	key := p.Start.Unix()
	if prev, dup := r.periods[key]; dup {
		return observation.Period{}, recordError(r.kind, rec, "from", h.fromAt, valueAt(h.fromAt, h.fromEnd), fmt.Sprintf("repeats the half hour of record %d", prev))
	}
	r.periods[key] = rec
	if r.stats.From.IsZero() || p.Start.Before(r.stats.From) {
		r.stats.From = p.Start
	}
	if end := p.End(); end.After(r.stats.To) {
		r.stats.To = end
	}
	return p, nil
}

// value is a number or null as read from one field.
type value struct {
	v       float64
	null    bool
	present bool
	at      int
}

// readValue reads a number or null into dst; the caller names the field
// of an error.
func (r *Reader) readValue(dst *value) error {
	s := &r.s
	s.WS()
	if dst.present {
		return here(s, "appears twice in one object")
	}
	dst.present, dst.at = true, s.Pos()
	null, err := s.Null()
	if err != nil {
		return err
	}
	if null {
		dst.null = true
		return nil
	}
	v, err := number(s)
	if err != nil {
		return err
	}
	dst.v = v
	return nil
}

// regionField is the path of field name of regions[j] (of the record
// itself when j < 0), built only for errors.
func regionField(j int, name string) string {
	if j < 0 {
		return name
	}
	p := "regions[" + strconv.Itoa(j) + "]"
	if name != "" {
		p += "." + name
	}
	return p
}

// mixField is the path of field name of regions[j].generationmix[g].
func mixField(j, g int, name string) string {
	p := regionField(j, "generationmix")
	if g >= 0 {
		p += "[" + strconv.Itoa(g) + "]"
	}
	if name != "" {
		p += "." + name
	}
	return p
}

// intensity reads the "intensity" object of the record (j < 0) or of its
// regions[j]: forecast and actual; index and anything else are skipped.
func (r *Reader) intensity(rec, j int, forecast, actual *value) error {
	s := &r.s
	if err := expect(s, '{', "an object"); err != nil {
		return r.fail(rec, regionField(j, "intensity"), err)
	}
	first := true
	for {
		key, more, err := s.Member(&first)
		if err != nil {
			return r.fail(rec, regionField(j, "intensity"), err)
		}
		if !more {
			return nil
		}
		switch string(key) {
		case "forecast":
			if err := r.readValue(forecast); err != nil {
				return r.fail(rec, regionField(j, "intensity.forecast"), err)
			}
		case "actual":
			if err := r.readValue(actual); err != nil {
				return r.fail(rec, regionField(j, "intensity.actual"), err)
			}
		default:
			if err := s.SkipIn(2); err != nil {
				return r.fail(rec, regionField(j, "intensity."+name(key)), err)
			}
		}
	}
}

// intensityValue checks an intensity value of the record (j < 0) or of its
// regions[j] and, when it is mapped and not null, appends its observation.
func (r *Reader) intensityValue(rec, j int, name string, v value, col int, geo string) error {
	if !v.present {
		return nil
	}
	if v.null {
		if r.cols[col] != nil {
			r.stats.Missing++
		}
		return nil
	}
	if v.v < 0 {
		return r.valueErr(rec, regionField(j, name), v.at, "is negative; carbon intensity is at least 0 gCO2/kWh")
	}
	if r.cols[col] != nil {
		r.add(col, geo, nil, v.v)
	}
	return nil
}

// valueErr is the error about the number at offset at.
func (r *Reader) valueErr(rec int, field string, at int, reason string) error {
	end := at
	data := r.s.Data()
	for end < len(data) && bytes.IndexByte([]byte("+-.0123456789eE"), data[end]) >= 0 {
		end++
	}
	return recordError(r.kind, rec, field, at, snippet(data[at:end], 40), reason)
}

// add appends one observation of column col to the record's buffer.
func (r *Reader) add(col int, geo string, dims observation.Dims, v float64) {
	if len(r.vals) == cap(r.vals) {
		r.vals = make([]float64, 0, 1024)
	}
	r.vals = append(r.vals, v)
	r.buf = append(r.buf, pending{geo: geo, dims: dims, val: &r.vals[len(r.vals)-1], col: uint8(col)})
}

// national reads record rec of a national response.
func (r *Reader) national(rec int) error {
	s := &r.s
	if err := expect(s, '{', "an object"); err != nil {
		return r.fail(rec, "", err)
	}
	var (
		h                halfHour
		forecast, actual value
		hasIntensity     bool
		intensityAt      int
	)
	first := true
	for {
		key, more, err := s.Member(&first)
		if err != nil {
			return r.fail(rec, "", err)
		}
		if !more {
			break
		}
		switch string(key) {
		case "from", "to":
			err = r.periodMember(rec, &h, key[0] == 'f')
		case "intensity":
			s.WS()
			if hasIntensity {
				return r.repeated(rec, "intensity", s.Pos())
			}
			hasIntensity, intensityAt = true, s.Pos()
			err = r.intensity(rec, -1, &forecast, &actual)
		default:
			if err := s.SkipIn(1); err != nil {
				return r.fail(rec, name(key), err)
			}
		}
		if err != nil {
			return err
		}
	}
	end := s.Pos() - 1
	p, err := r.checkPeriod(rec, &h, end)
	if err != nil {
		return err
	}
	if !hasIntensity {
		return r.missing(rec, "intensity", end)
	}
	if r.forecast != nil && !forecast.present {
		return r.missing(rec, "intensity.forecast", intensityAt)
	}
	if r.actual != nil && !actual.present {
		return r.missing(rec, "intensity.actual", intensityAt)
	}
	if err := r.intensityValue(rec, -1, "intensity.forecast", forecast, colForecast, GeoGB); err != nil {
		return err
	}
	if err := r.intensityValue(rec, -1, "intensity.actual", actual, colActual, GeoGB); err != nil {
		return err
	}
	r.period = p
	return nil
}

// regional reads record rec of a regional response.
func (r *Reader) regional(rec int) error {
	s := &r.s
	if err := expect(s, '{', "an object"); err != nil {
		return r.fail(rec, "", err)
	}
	var (
		h          halfHour
		hasRegions bool
		seen       [MaxRegionID + 1]int // regionid -> index in regions[] + 1
	)
	first := true
	for {
		key, more, err := s.Member(&first)
		if err != nil {
			return r.fail(rec, "", err)
		}
		if !more {
			break
		}
		switch string(key) {
		case "from", "to":
			if err := r.periodMember(rec, &h, key[0] == 'f'); err != nil {
				return err
			}
		case "regions":
			s.WS()
			if hasRegions {
				return r.repeated(rec, "regions", s.Pos())
			}
			hasRegions = true
			if err := expect(s, '[', "an array"); err != nil {
				return r.fail(rec, "regions", err)
			}
			firstRegion := true
			for j := 0; ; j++ {
				more, err := element(s, &firstRegion)
				if err != nil {
					return r.fail(rec, "regions", err)
				}
				if !more {
					break
				}
				if err := r.region(rec, j, &seen); err != nil {
					return err
				}
			}
		default:
			if err := s.SkipIn(1); err != nil {
				return r.fail(rec, name(key), err)
			}
		}
	}
	end := s.Pos() - 1
	p, err := r.checkPeriod(rec, &h, end)
	if err != nil {
		return err
	}
	if !hasRegions {
		return r.missing(rec, "regions", end)
	}
	r.period = p
	return nil
}

// region reads regions[j] of record rec.
func (r *Reader) region(rec, j int, seen *[MaxRegionID + 1]int) error {
	s := &r.s
	if err := expect(s, '{', "an object"); err != nil {
		return r.fail(rec, regionField(j, ""), err)
	}
	r.regionEntries++
	bufStart := len(r.buf)
	var (
		id                   int
		idAt                 = -1
		idEnd                int
		forecast, actual     value
		hasIntensity, hasMix bool
		intensityAt          int
		short, dno           []byte
		hasShort, hasDNO     bool
	)
	first := true
	for {
		key, more, err := s.Member(&first)
		if err != nil {
			return r.fail(rec, regionField(j, ""), err)
		}
		if !more {
			break
		}
		s.WS()
		at := s.Pos()
		switch string(key) {
		case "regionid":
			if idAt >= 0 {
				return r.repeated(rec, regionField(j, "regionid"), at)
			}
			idAt = at
			v, err := number(s)
			if err != nil {
				return r.fail(rec, regionField(j, "regionid"), err)
			}
			idEnd = s.Pos()
			if v != float64(int(v)) || v < 1 || v > MaxRegionID {
				return r.bad(rec, regionField(j, "regionid"), at, "is not one of the API's region ids 1 to %d", MaxRegionID)
			}
			id = int(v)
		case "shortname", "dnoregion":
			dst, has := &short, &hasShort
			if key[0] == 'd' {
				dst, has = &dno, &hasDNO
			}
			if *has {
				return r.repeated(rec, regionField(j, name(key)), at)
			}
			*has = true
			if null, err := s.Null(); err != nil {
				return r.fail(rec, regionField(j, name(key)), err)
			} else if !null {
				if s.Peek() != '"' {
					return r.fail(rec, regionField(j, name(key)), notA(s, "a string"))
				}
				if *dst, err = s.Text(); err != nil {
					return r.fail(rec, regionField(j, name(key)), err)
				}
			}
		case "intensity":
			if hasIntensity {
				return r.repeated(rec, regionField(j, "intensity"), at)
			}
			hasIntensity, intensityAt = true, at
			if err := r.intensity(rec, j, &forecast, &actual); err != nil {
				return err
			}
		case "generationmix":
			if hasMix {
				return r.repeated(rec, regionField(j, "generationmix"), at)
			}
			hasMix = true
			if err := r.generationMix(rec, j); err != nil {
				return err
			}
		default:
			if err := s.SkipIn(2); err != nil {
				return r.fail(rec, regionField(j, name(key)), err)
			}
		}
	}
	end := s.Pos() - 1
	if idAt < 0 {
		return r.missing(rec, regionField(j, "regionid"), end)
	}
	if prev := seen[id]; prev > 0 {
		return recordError(r.kind, rec, regionField(j, "regionid"), idAt, snippet(r.s.Data()[idAt:idEnd], 40), fmt.Sprintf("repeats the region of regions[%d]", prev-1))
	}
	seen[id] = j + 1
	if !hasIntensity && r.forecast != nil {
		return r.missing(rec, regionField(j, "intensity"), end)
	}
	if r.forecast != nil && !forecast.present {
		return r.missing(rec, regionField(j, "intensity.forecast"), intensityAt)
	}
	if !hasMix && r.mix != nil {
		return r.missing(rec, regionField(j, "generationmix"), end)
	}
	geo, _ := RegionGeo(id)
	if err := r.intensityValue(rec, j, "intensity.forecast", forecast, colForecast, geo); err != nil {
		return err
	}
	if err := r.intensityValue(rec, j, "intensity.actual", actual, colActual, geo); err != nil {
		return err
	}
	// The generation mix may have come before the regionid.
	for k := range r.buf[bufStart:] {
		r.buf[bufStart+k].geo = geo
	}
	if !r.regionSeen[id] {
		r.regionSeen[id] = true
		r.regions = append(r.regions, Region{ID: id, Geo: geo, ShortName: string(short), DNORegion: string(dno)})
	}
	return nil
}

// generationMix reads the generationmix array of regions[j], appending one
// observation per fuel with a percentage (geo and period are set by the
// caller).
func (r *Reader) generationMix(rec, j int) error {
	s := &r.s
	if err := expect(s, '[', "an array"); err != nil {
		return r.fail(rec, mixField(j, -1, ""), err)
	}
	r.mixFuels, r.mixIndex = r.mixFuels[:0], r.mixIndex[:0]
	first := true
	for g := 0; ; g++ {
		more, err := element(s, &first)
		if err != nil {
			return r.fail(rec, mixField(j, -1, ""), err)
		}
		if !more {
			return nil
		}
		if err := expect(s, '{', "an object"); err != nil {
			return r.fail(rec, mixField(j, g, ""), err)
		}
		var (
			fuel    []byte
			fuelAt  = -1
			perc    value
			member1 = true
		)
		for {
			key, more, err := s.Member(&member1)
			if err != nil {
				return r.fail(rec, mixField(j, g, ""), err)
			}
			if !more {
				break
			}
			switch string(key) {
			case "fuel":
				s.WS()
				if fuelAt >= 0 {
					return r.repeated(rec, mixField(j, g, "fuel"), s.Pos())
				}
				fuelAt = s.Pos()
				if s.Peek() != '"' {
					return r.fail(rec, mixField(j, g, "fuel"), notA(s, "a string"))
				}
				if fuel, err = s.Text(); err != nil {
					return r.fail(rec, mixField(j, g, "fuel"), err)
				}
				if len(fuel) == 0 || len(fuel) > observation.MaxDimValueLen || !utf8.Valid(fuel) {
					return r.bad(rec, mixField(j, g, "fuel"), fuelAt, "must be 1 to %d bytes of text", observation.MaxDimValueLen)
				}
			case "perc":
				if err := r.readValue(&perc); err != nil {
					return r.fail(rec, mixField(j, g, "perc"), err)
				}
			default:
				if err := s.SkipIn(3); err != nil {
					return r.fail(rec, mixField(j, g, name(key)), err)
				}
			}
		}
		end := s.Pos() - 1
		if fuelAt < 0 {
			return r.missing(rec, mixField(j, g, "fuel"), end)
		}
		if !perc.present {
			return r.missing(rec, mixField(j, g, "perc"), end)
		}
		var f fuelDims
		if g < len(r.mixCache) && r.mixCache[g].name == string(fuel) {
			f = r.mixCache[g]
		} else {
			var ok bool
			if f, ok = r.fuels[string(fuel)]; !ok {
				name := string(fuel)
				f = fuelDims{name: name, dims: observation.Dims{DimFuel: name}}
				r.fuels[name] = f
			}
			if g < len(r.mixCache) {
				r.mixCache[g] = f
			} else if g == len(r.mixCache) && g < 64 {
				r.mixCache = append(r.mixCache, f)
			}
		}
		for k, prev := range r.mixFuels {
			if prev == f.name {
				return recordError(r.kind, rec, mixField(j, g, "fuel"), fuelAt, strconv.Quote(f.name), fmt.Sprintf("repeats the fuel of %s", mixField(j, r.mixIndex[k], "")))
			}
		}
		r.mixFuels = append(r.mixFuels, f.name)
		r.mixIndex = append(r.mixIndex, g)
		if perc.null {
			if r.mix != nil {
				r.stats.Missing++
			}
			continue
		}
		if perc.v < 0 || perc.v > 100 {
			return r.valueErr(rec, mixField(j, g, "perc"), perc.at, "is not a percentage from 0 to 100")
		}
		if r.mix == nil {
			continue
		}
		r.add(colMix, "", f.dims, perc.v)
	}
}

// parseTime reads "2019-08-25T12:30Z" (the API's form) or any RFC 3339 time.
func parseTime(b []byte) (time.Time, bool) {
	if len(b) == 17 && b[4] == '-' && b[7] == '-' && b[10] == 'T' && b[13] == ':' && b[16] == 'Z' {
		n := func(i, w int) (int, bool) {
			v := 0
			for _, c := range b[i : i+w] {
				if c < '0' || c > '9' {
					return 0, false
				}
				v = v*10 + int(c-'0')
			}
			return v, true
		}
		y, ok1 := n(0, 4)
		mo, ok2 := n(5, 2)
		d, ok3 := n(8, 2)
		hh, ok4 := n(11, 2)
		mm, ok5 := n(14, 2)
		if !(ok1 && ok2 && ok3 && ok4 && ok5) || mo < 1 || mo > 12 || d < 1 || hh > 23 || mm > 59 {
			return time.Time{}, false
		}
		t := time.Date(y, time.Month(mo), d, hh, mm, 0, 0, time.UTC)
		if t.Day() != d { // 31 April and the like
			return time.Time{}, false
		}
		return t, true
	}
	t, err := time.Parse(time.RFC3339, string(b))
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// readBody reads all of r, in one allocation when r knows its length
// (*bytes.Reader, *strings.Reader, *bytes.Buffer).
func readBody(r io.Reader) ([]byte, error) {
	lr, ok := r.(interface{ Len() int })
	if !ok {
		return io.ReadAll(r)
	}
	buf := bytes.NewBuffer(make([]byte, 0, lr.Len()+bytes.MinRead))
	_, err := buf.ReadFrom(r)
	return buf.Bytes(), err
}

// snippet is the start of b as valid UTF-8 text, shortened to about n bytes.
func snippet(b []byte, n int) string {
	cut := len(b) > n
	if cut {
		b = b[:n]
	}
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	if cut {
		s += "…"
	}
	return s
}
