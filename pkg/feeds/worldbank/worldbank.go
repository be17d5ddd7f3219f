// Package worldbank parses responses of the World Bank Indicators API v2 in
// JSON (https://api.worldbank.org/v2/country/<countries>/indicator/<ids>?format=json):
// one page of records, as the array [ {page metadata}, [records] ].
//
// Each record is one indicator for one economy and one date:
//
//	{"indicator":{"id":"SH.XPD.CHEX.GD.ZS","value":"Current health expenditure (% of GDP)"},
//	 "country":{"id":"ZH","value":"Africa Eastern and Southern"},"countryiso3code":"AFE",
//	 "date":"2023","value":5.54,"unit":"","obs_status":"","decimal":2}
//
// A record of a mapped indicator with a numeric value is one observation; a
// null value (or an empty string) is a missing value and yields nothing,
// never zero. A value given as a string holding a number is read as that
// number. The record's unit, obs_status, decimal, scale and footnote fields
// are not used: the unit comes from the indicator catalogue. Several
// indicators may share a page (…/indicator/NY.GDP.MKTP.CD;SP.POP.TOTL?source=2);
// records of indicators not in the mapping are counted in Stats.Unmapped and
// skipped.
//
// Dates: "2018" is a year, "2018Q1" a quarter and "2018M03" a month; any
// other date is an error naming the record.
//
// Places: a record's geo is its countryiso3code when that is a 3-letter
// code. The World Bank gives its aggregates codes of the same shape (regions
// such as EAS, AFE, ARB; WLD for the world) and a record carries nothing else
// that tells an aggregate from an economy (country.id is an ISO 3166-1
// alpha-2 code or a World Bank code such as 1A, Z4 or XD, with no rule to
// tell which), so aggregates are kept as they come: filter them with the
// place catalogue, not here. Records with an empty countryiso3code — in the
// 2026 recordings the income groups High income (XD), Low income (XM), Lower
// and Upper middle income (XN, XT) and Not classified (XY) — get the geo
// "wb:" + country.id (wb:XD) and are listed in Stats.Uncoded.
//
// Errors: the API answers an unknown indicator or a bad parameter with HTTP
// 200 and the body [{"message":[{"id":"120","key":"Invalid value","value":…}]}];
// NewReader returns it as an *APIError naming every message, never as an
// empty page. Other API responses (countries, sources, topics, indicator
// metadata) have the same [metadata, records] shape with other records;
// NewReader refuses them with ErrNotIndicatorData. Malformed bodies — HTML,
// truncated JSON, a record without a date, a value that is not a number —
// are errors naming the record's index and field (*RecordError).
//
// Paging: a response is one page of at most per_page records. Reader.Page
// reports (page, pages) and Reader.Metadata the rest (per_page, total, the
// source and its last update); PageURL gives the URL of another page. A
// caller that wants every record either fetches pages 1..pages, or asks for
// a per_page of at least total, as the feeds under schemas/feeds do
// (per_page=20000 for indicators with about 17,500 records) so that one URL
// is the whole indicator.
package worldbank

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ounce-data/ounce/pkg/feeds"
	"github.com/ounce-data/ounce/pkg/jsonscan"
	"github.com/ounce-data/ounce/pkg/observation"
)

// UncodedPrefix starts the geo of a record without a countryiso3code.
const UncodedPrefix = "wb:"

// ErrNotIndicatorData is returned for a well-formed API v2 response whose
// records are not indicator values (a country, source, topic or indicator
// metadata list).
var ErrNotIndicatorData = errors.New("not an indicator data response")

// Mapping says how to read a response: which World Bank indicators are which
// catalogue indicators, and what to stamp on every observation.
type Mapping struct {
	feeds.Meta
	// Indicators maps a World Bank indicator id (SH.XPD.CHEX.GD.ZS) to its
	// catalogue indicator: the catalogue entries' column is the id, see
	// feeds.Columns. Records of other indicators are counted and skipped.
	Indicators map[string]feeds.Column
}

// Metadata is the first element of a response: where this page is in the
// whole. The API writes its numbers as JSON numbers or as strings ("50");
// both are read.
type Metadata struct {
	Page        int    // this page, from 1
	Pages       int    // number of pages
	PerPage     int    // records per page asked for
	Total       int    // records in all pages
	SourceID    string // source database id ("2" = World Development Indicators); may be empty
	SourceName  string
	LastUpdated string // date of the source's last update, e.g. "2026-02-24"; may be empty
}

// Message is one message of an API error body.
type Message struct {
	ID    string // e.g. "120"
	Key   string // e.g. "Invalid value"
	Value string // e.g. "The provided parameter value is not valid"
}

// APIError is the error body the API answers with HTTP 200 instead of data.
type APIError struct {
	Messages []Message
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("worldbank api answered with an error instead of data")
	if len(e.Messages) == 0 {
		b.WriteString(" (no message)")
		return b.String()
	}
	// Say each distinct message once, with how often it came.
	type counted struct {
		m Message
		n int
	}
	var distinct []counted
next:
	for _, m := range e.Messages {
		for i := range distinct {
			if distinct[i].m == m {
				distinct[i].n++
				continue next
			}
		}
		distinct = append(distinct, counted{m, 1})
	}
	for i, d := range distinct {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "message id %q, key %q, value %q", d.m.ID, d.m.Key, d.m.Value)
		if d.n > 1 {
			fmt.Fprintf(&b, " (%d times)", d.n)
		}
	}
	return b.String()
}

// recordError is the error of records[index], which starts at byte offset
// of the body; field is empty when the whole record is at fault.
func recordError(index, offset int, field, value, reason string) *feeds.Error {
	return &feeds.Error{Format: "worldbank json", At: fmt.Sprintf("records[%d] (byte %d)", index, offset), Record: index,
		Offset: offset, Field: field, Value: value, Reason: reason}
}

// Entity is a place without a countryiso3code and the geo given to it:
// ID is its country.id ("XD"), Name its country.value ("High income"),
// Geo "wb:XD".
type Entity = feeds.Entity

// Reader reads observations from one API v2 JSON page. It is not safe for
// concurrent use and yields its observations once.
type Reader struct {
	m     Mapping
	meta  Metadata
	s     jsonscan.Scanner
	null  bool // the records element is null: no records
	stats feeds.Stats
	used  bool

	geos    map[string]string // countryiso3code -> geo
	uncoded map[string]string // country.id -> geo
	periods map[string]observation.Period
	seen    map[obsKey]int // key -> record index, to refuse repeats
}

type obsKey struct {
	indicator, geo string
	grain          observation.Grain
	start          int64
}

// NewReader reads the whole body of r into memory (a page of 10,000 records
// is about 2.3 MB) and checks its page metadata and first record. An empty
// body, HTML, a JSON shape other than [metadata, records], the API's error
// body (*APIError) and a response of other records (ErrNotIndicatorData)
// are errors.
func NewReader(r io.Reader, m Mapping) (*Reader, error) {
	if err := feeds.Check(m.Meta, m.Indicators); err != nil {
		return nil, fmt.Errorf("worldbank json: %w", err)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("worldbank json: read body: %w", err)
	}
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	rd := &Reader{
		m:       m,
		geos:    map[string]string{},
		uncoded: map[string]string{},
		periods: map[string]observation.Period{},
		seen:    map[obsKey]int{},
	}
	rd.s.Reset(data)
	if err := rd.readHead(); err != nil {
		return nil, err
	}
	return rd, nil
}

// readHead reads up to the first record and checks that it is an indicator
// value.
func (r *Reader) readHead() error {
	s := &r.s
	switch c := s.Peek(); {
	case s.AtEnd():
		return errors.New("worldbank json: body is empty")
	case c == '<':
		return fmt.Errorf("worldbank json: body is HTML or XML, not JSON: starts %q", head(rest(s), 60))
	case c == '{':
		return fmt.Errorf("worldbank json: body is a JSON object, not the API v2 array [page metadata, records]: starts %q", head(rest(s), 60))
	case c != '[':
		return fmt.Errorf("worldbank json: body is not JSON: starts %q", head(rest(s), 60))
	}
	next(s)
	if c := s.Peek(); c != '{' {
		if c == ']' {
			return errors.New("worldbank json: body is an empty array, not [page metadata, records]")
		}
		return fmt.Errorf("worldbank json: the first element is not the page metadata object: %w", s.Errorf("want '{', found %s", s.Found()))
	}
	apiErr, err := r.readMetadata()
	if err != nil {
		return fmt.Errorf("worldbank json: page metadata: %w", err)
	}
	if apiErr != nil {
		return apiErr
	}
	switch s.Peek() {
	case ',':
		next(s)
	case ']':
		return errors.New("worldbank json: the response has page metadata but no records array")
	default:
		return fmt.Errorf("worldbank json: after the page metadata: %w", s.Errorf("want ',', found %s", s.Found()))
	}
	switch s.Peek() {
	case 'n':
		if err := s.Literal("null"); err != nil {
			return fmt.Errorf("worldbank json: records: %w", err)
		}
		r.null = true
		return nil
	case '[':
		next(s)
	default:
		return fmt.Errorf("worldbank json: the second element is not the records array: %w", s.Errorf("want '[' or null, found %s", s.Found()))
	}
	// The first record says what kind of response this is.
	if c := s.Peek(); c == ']' || c == 0 {
		return nil
	}
	probe := *s
	if probe.Peek() != '{' {
		return fmt.Errorf("worldbank json: %w: the records are not objects (records[0] starts %q)", ErrNotIndicatorData, head(rest(&probe), 40))
	}
	var keys []string
	hasIndicator := false
	err = probe.Object(func(key []byte) error {
		if string(key) == "indicator" {
			hasIndicator = true
		}
		if len(keys) < 8 {
			keys = append(keys, string(key))
		}
		return probe.SkipIn(2)
	})
	if err != nil {
		return r.recordErr(0, s.Pos(), err)
	}
	if !hasIndicator {
		return fmt.Errorf("worldbank json: %w: records[0] has no \"indicator\" (its fields: %s); was the URL a country, source, topic or indicator list rather than …/indicator/<id>?", ErrNotIndicatorData, strings.Join(keys, ", "))
	}
	return nil
}

// readMetadata reads the metadata object, or the messages of an error body.
func (r *Reader) readMetadata() (*APIError, error) {
	s := &r.s
	var (
		apiErr          *APIError
		hasPage, hasPgs bool
	)
	err := s.Object(func(key []byte) error {
		var err error
		switch string(key) {
		case "page":
			r.meta.Page, err = r.metaInt("page")
			hasPage = true
		case "pages":
			r.meta.Pages, err = r.metaInt("pages")
			hasPgs = true
		case "per_page":
			r.meta.PerPage, err = r.metaInt("per_page")
		case "total":
			r.meta.Total, err = r.metaInt("total")
		case "sourceid":
			r.meta.SourceID, err = r.metaString("sourceid")
		case "sourcename":
			r.meta.SourceName, err = r.metaString("sourcename")
		case "lastupdated":
			r.meta.LastUpdated, err = r.metaString("lastupdated")
		case "message":
			apiErr = &APIError{}
			if s.Peek() != '[' {
				return r.metaFieldErr("message", "is not an array of messages")
			}
			err = s.Array(func(int) error {
				msg, err := r.readMessage()
				apiErr.Messages = append(apiErr.Messages, msg)
				return err
			})
		default:
			err = s.SkipIn(2)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if apiErr != nil {
		return apiErr, nil
	}
	if !hasPage || !hasPgs {
		return nil, errors.New("has no page and pages: the first element is not page metadata")
	}
	return nil, nil
}

func (r *Reader) readMessage() (Message, error) {
	s := &r.s
	var msg Message
	if s.Peek() != '{' {
		return msg, r.metaFieldErr("message", "holds an element that is not an object")
	}
	err := s.Object(func(key []byte) error {
		var err error
		switch string(key) {
		case "id":
			msg.ID, err = r.metaString("message.id")
		case "key":
			msg.Key, err = r.metaString("message.key")
		case "value":
			msg.Value, err = r.metaString("message.value")
		default:
			err = s.SkipIn(4)
		}
		return err
	})
	return msg, err
}

// metaInt reads a non-negative whole number given as a number or a string.
func (r *Reader) metaInt(field string) (int, error) {
	s := &r.s
	var text []byte
	var err error
	switch c := s.Peek(); {
	case c == '"':
		text, err = s.String()
	case c == '-' || isDigit(c):
		text, err = s.Number()
	default:
		return 0, r.metaFieldErr(field, "is not a number")
	}
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(string(text))
	if err != nil || n < 0 || (len(text) > 1 && text[0] == '0') {
		return 0, fmt.Errorf("field %s: %q is not a whole number of at least 0", field, text)
	}
	return n, nil
}

// metaString reads a string, a number as its text, or null as "".
func (r *Reader) metaString(field string) (string, error) {
	s := &r.s
	switch c := s.Peek(); {
	case c == '"':
		b, err := s.String()
		return string(b), err
	case c == 'n':
		return "", s.Literal("null")
	case c == '-' || isDigit(c):
		b, err := s.Number()
		return string(b), err
	}
	return "", r.metaFieldErr(field, "is not a string")
}

func (r *Reader) metaFieldErr(field, reason string) error {
	v, err := r.s.RawIn(3)
	if err != nil {
		return err
	}
	return fmt.Errorf("field %s: %s is %s", field, head(v, 40), strings.TrimPrefix(reason, "is "))
}

// Page reports which page this is and how many there are.
func (r *Reader) Page() (page, pages int) { return r.meta.Page, r.meta.Pages }

// Metadata returns the page metadata.
func (r *Reader) Metadata() Metadata { return r.meta }

// Stats returns what was read so far; complete once All has finished.
//
// Rows are the records read; Unmapped the indicator ids not in the mapping
// with their records, skipped; Uncoded the places with an empty
// countryiso3code, in order of first record, and UncodedRows their mapped
// records, with or without a value. Details give the page metadata: page,
// pages, total_records and source_last_updated; a page that is not the
// last makes the body Incomplete.
func (r *Reader) Stats() feeds.Stats {
	st := r.stats.Clone()
	st.SetDetail("page", r.meta.Page)
	st.SetDetail("pages", r.meta.Pages)
	st.SetDetail("total_records", r.meta.Total)
	if r.meta.LastUpdated != "" {
		st.SetDetail("source_last_updated", r.meta.LastUpdated)
	}
	if r.meta.Page < r.meta.Pages {
		st.Incomplete = fmt.Sprintf("page %d of %d: the source declares %d records, the body holds %d; the records of pages %d to %d are missing (ask for per_page of at least %d)",
			r.meta.Page, r.meta.Pages, r.meta.Total, st.Rows, r.meta.Page+1, r.meta.Pages, r.meta.Total)
	}
	return st
}

// record is the fields of one record that matter, as read.
type record struct {
	indicator   field // indicator.id
	country     field // country.id
	countryName field // country.value
	iso3        field // countryiso3code
	date        field
	value       field
}

// field is one value of a record: its kind and text.
type field struct {
	kind byte   // 0 absent, 'n' null, '"' string, '0' number, '?' anything else, 'o' a parent that is not an object
	text []byte // a string's contents, a number's text, or other JSON text
}

// All yields the observations of the page in record order. The first error
// ends the sequence: a malformed record, a field of the wrong type, a date
// or place that cannot be read, a value that is not a number, a repeated
// (indicator, place, date), or a body cut short; observations already
// yielded from a body that ends in an error are not to be trusted. All
// yields once; a second call yields only an error.
func (r *Reader) All() iter.Seq2[observation.Observation, error] {
	return func(yield func(observation.Observation, error) bool) {
		if r.used {
			yield(observation.Observation{}, errors.New("worldbank json: observations were already read"))
			return
		}
		r.used = true
		if err := r.each(yield); err != nil {
			yield(observation.Observation{}, err)
		}
	}
}

// each yields the observations and returns the error that ends them, nil
// at the end of a whole body or when yield asks to stop.
func (r *Reader) each(yield func(observation.Observation, error) bool) error {
	s := &r.s
	var (
		o    observation.Observation
		rec  record
		vals []float64 // values are carved from one slab at a time
	)
	r.m.Stamp(&o)
	if !r.null {
		for i := 0; ; i++ {
			c := s.Peek()
			if c == ']' {
				next(s)
				break
			}
			if i > 0 {
				if c != ',' {
					if s.AtEnd() {
						return fmt.Errorf("worldbank json: the body ends after records[%d] (byte %d); it was probably cut short", i-1, s.Pos())
					}
					return fmt.Errorf("worldbank json: after records[%d]: %w", i-1, s.Errorf("want ',' or ']', found %s", s.Found()))
				}
				next(s)
				c = s.Peek()
			}
			if s.AtEnd() {
				return fmt.Errorf("worldbank json: the body ends before records[%d] (byte %d); it was probably cut short", i, s.Pos())
			}
			start := s.Pos()
			if c != '{' {
				v, err := s.RawIn(2)
				if err != nil {
					return r.recordErr(i, start, err)
				}
				return recordError(i, start, "", head(v, 60), "is not a JSON object")
			}
			if err := r.readRecord(&rec); err != nil {
				return r.recordErr(i, start, err)
			}
			r.stats.Rows++
			v, ok, err := r.observe(&o, &rec, i, start)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			if len(vals) == cap(vals) {
				vals = make([]float64, 0, 256)
			}
			vals = append(vals, v)
			o.Value = &vals[len(vals)-1]
			r.stats.Observations++
			if !yield(o, nil) {
				return nil
			}
		}
	}
	switch c := s.Peek(); {
	case s.AtEnd():
		return errors.New("worldbank json: the body ends before the closing ']' of the response; it was probably cut short")
	case c == ']':
		next(s)
	case c == ',':
		return fmt.Errorf("worldbank json: the response has more than two elements: %w", s.Errorf("want ']' after the records, found ','"))
	default:
		return fmt.Errorf("worldbank json: after the records: %w", s.Errorf("want ']', found %s", s.Found()))
	}
	if !s.AtEnd() {
		return fmt.Errorf("worldbank json: data after the end of the response: %w", s.Errorf("want the end of the body, found %s", s.Found()))
	}
	return nil
}

// readRecord reads the record object at the scanner's position.
func (r *Reader) readRecord(rec *record) error {
	s := &r.s
	*rec = record{}
	return s.Object(func(key []byte) error {
		switch string(key) {
		case "indicator":
			return r.readIDValue(&rec.indicator, nil)
		case "country":
			return r.readIDValue(&rec.country, &rec.countryName)
		case "countryiso3code":
			return r.readField(&rec.iso3)
		case "date":
			return r.readField(&rec.date)
		case "value":
			return r.readField(&rec.value)
		default:
			return s.SkipIn(3)
		}
	})
}

// readIDValue reads an {"id":…,"value":…} object, or null.
func (r *Reader) readIDValue(id, value *field) error {
	s := &r.s
	switch s.Peek() {
	case '{':
	case 'n':
		*id = field{kind: 'n'}
		return s.Literal("null")
	default:
		v, err := s.RawIn(4)
		*id = field{kind: 'o', text: v} // refused by observe
		return err
	}
	*id = field{kind: 0}
	return s.Object(func(key []byte) error {
		switch string(key) {
		case "id":
			return r.readField(id)
		case "value":
			if value != nil {
				return r.readField(value)
			}
		}
		return s.SkipIn(4)
	})
}

// readField reads a scalar and remembers its kind; other values are kept as
// their JSON text.
func (r *Reader) readField(f *field) error {
	s := &r.s
	var err error
	switch c := s.Peek(); {
	case c == '"':
		f.kind = '"'
		f.text, err = s.String()
	case c == 'n':
		f.kind, f.text = 'n', nil
		err = s.Literal("null")
	case c == '-' || isDigit(c):
		f.kind = '0'
		f.text, err = s.Number()
	default:
		f.kind = '?'
		f.text, err = s.RawIn(4)
	}
	return err
}

// recordErr turns a scanning error inside record i into a RecordError.
func (r *Reader) recordErr(i, start int, err error) error {
	var se *jsonscan.SyntaxError
	if errors.As(err, &se) {
		reason := se.Error()
		if se.EOF {
			reason = "the body ends inside this record; it was probably cut short"
		}
		return recordError(i, start, "", "", reason)
	}
	var re *feeds.Error
	if errors.As(err, &re) {
		return err
	}
	return recordError(i, start, "", "", err.Error())
}

// observe sets o's indicator, unit, geo and period from rec and returns its
// value, or reports false for a record that yields no observation (an
// unmapped indicator, a missing value).
func (r *Reader) observe(o *observation.Observation, rec *record, i, start int) (float64, bool, error) {
	fail := func(name string, f field, reason string) (float64, bool, error) {
		return 0, false, recordError(i, start, name, head(f.text, 60), reason)
	}
	ind := rec.indicator
	switch ind.kind {
	case '"':
	case 0, 'n':
		return fail("indicator.id", ind, "is missing")
	case 'o':
		return fail("indicator", ind, `is not an object like {"id":"SH.XPD.CHEX.GD.ZS"}`)
	default:
		return fail("indicator.id", ind, "is not a string")
	}
	col, mapped := r.m.Indicators[string(ind.text)]
	if !mapped {
		feeds.Count(&r.stats.Unmapped, string(ind.text), 1)
		return 0, false, nil
	}

	// Every mapped record must have a date and a place, with or without a value.
	d := rec.date
	switch d.kind {
	case '"':
	case 0:
		return fail("date", d, "is missing")
	case 'n':
		return fail("date", d, "is null; want a year like 2018")
	default:
		return fail("date", d, "is not a string; want a year like \"2018\"")
	}
	period, ok := r.periods[string(d.text)]
	if !ok {
		p, err := parseDate(d.text)
		if err != nil {
			return fail("date", d, err.Error())
		}
		r.periods[string(d.text)] = p
		period = p
	}
	geo, err := r.geo(rec, i, start)
	if err != nil {
		return 0, false, err
	}

	var v float64
	switch val := rec.value; val.kind {
	case 0:
		return fail("value", val, "is missing; want a number or null")
	case 'n':
		r.stats.Missing++
		return 0, false, nil
	case '0', '"':
		if val.kind == '"' && len(val.text) == 0 {
			r.stats.Missing++
			return 0, false, nil
		}
		v, err = jsonscan.ParseFloat(val.text)
		if err != nil {
			return fail("value", val, err.Error())
		}
	default:
		return fail("value", val, "is not a number or null")
	}

	k := obsKey{indicator: col.Indicator, geo: geo, grain: period.Grain, start: period.Start.Unix()}
	if prev, dup := r.seen[k]; dup {
		return 0, false, recordError(i, start, "", "",
			fmt.Sprintf("repeats %s %s %s of records[%d]", string(ind.text), geo, period.Code(), prev))
	}
	r.seen[k] = i
	o.Indicator, o.Unit = col.Indicator, col.Unit
	o.Geo, o.Period = geo, period
	return v, true, nil
}

// geo returns the interned geo of a record.
func (r *Reader) geo(rec *record, i, start int) (string, error) {
	iso := rec.iso3
	switch iso.kind {
	case '"':
	case 0, 'n':
		iso.text = nil
	default:
		return "", recordError(i, start, "countryiso3code", head(iso.text, 60), "is not a string")
	}
	if len(iso.text) > 0 {
		if g, ok := r.geos[string(iso.text)]; ok {
			return g, nil
		}
		if !isISO3(iso.text) {
			return "", recordError(i, start, "countryiso3code", head(iso.text, 60), "is not a 3-letter code (nor empty)")
		}
		g := string(iso.text)
		r.geos[g] = g
		return g, nil
	}
	id := rec.country
	if id.kind == 'o' {
		return "", recordError(i, start, "country", head(id.text, 60),
			`is not an object like {"id":"XD","value":"High income"}, and countryiso3code is empty`)
	}
	if id.kind != '"' || len(id.text) == 0 {
		return "", recordError(i, start, "country.id", head(id.text, 60), "is missing, and countryiso3code is empty: the record names no place")
	}
	r.stats.UncodedRows++
	if g, ok := r.uncoded[string(id.text)]; ok {
		return g, nil
	}
	g := UncodedPrefix + string(id.text)
	if !observation.ValidGeo(g) {
		return "", recordError(i, start, "country.id", head(id.text, 60), fmt.Sprintf("makes the place code %q, which is not letters, digits, '.', '_', ':' or '-' (at most 64)", g))
	}
	idStr := string(id.text)
	r.uncoded[idStr] = g
	r.stats.Uncoded = append(r.stats.Uncoded, Entity{ID: idStr, Name: string(rec.countryName.text), Geo: g})
	return g, nil
}

func isISO3(b []byte) bool {
	if len(b) != 3 {
		return false
	}
	for _, c := range b {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

// parseDate reads "2018" (a year), "2018Q1" (a quarter) or "2018M03" (a month).
func parseDate(b []byte) (observation.Period, error) {
	year := func(b []byte) (int, bool) {
		if len(b) != 4 {
			return 0, false
		}
		y := 0
		for _, c := range b {
			if !isDigit(c) {
				return 0, false
			}
			y = y*10 + int(c-'0')
		}
		return y, true
	}
	bad := errors.New(`is not a date like "2018", "2018Q1" or "2018M03"`)
	y, ok := year(b[:min(4, len(b))])
	if !ok {
		return observation.Period{}, bad
	}
	if y < 1000 || y > 2999 {
		return observation.Period{}, errors.New("is outside the years 1000..2999")
	}
	switch {
	case len(b) == 4:
		return observation.Year(y), nil
	case len(b) == 6 && b[4] == 'Q' && b[5] >= '1' && b[5] <= '4':
		q := int(b[5] - '0')
		return observation.Period{Grain: observation.GrainQuarter, Start: time.Date(y, time.Month(3*q-2), 1, 0, 0, 0, 0, time.UTC)}, nil
	case len(b) == 7 && b[4] == 'M' && isDigit(b[5]) && isDigit(b[6]):
		mo := int(b[5]-'0')*10 + int(b[6]-'0')
		if mo < 1 || mo > 12 {
			return observation.Period{}, errors.New("has a month outside 01..12")
		}
		return observation.Period{Grain: observation.GrainMonth, Start: time.Date(y, time.Month(mo), 1, 0, 0, 0, 0, time.UTC)}, nil
	}
	return observation.Period{}, bad
}

// PageURL returns u with its page query parameter set to page (from 1), to
// fetch the next pages of a response whose Metadata says pages > 1. Other
// query parameters are kept.
func PageURL(u string, page int) (string, error) {
	if page < 1 {
		return "", fmt.Errorf("page url: page %d is not at least 1", page)
	}
	p, err := url.Parse(u)
	if err != nil {
		return "", fmt.Errorf("page url: %w", err)
	}
	if p.Scheme != "http" && p.Scheme != "https" || p.Host == "" {
		return "", fmt.Errorf("page url: %q is not an absolute http or https URL", u)
	}
	q := p.Query()
	q.Set("page", strconv.Itoa(page))
	p.RawQuery = q.Encode()
	return p.String(), nil
}

// rest is what s has still to read.
func rest(s *jsonscan.Scanner) []byte { return s.Data()[s.Pos():] }

// next moves s past the byte it peeked at.
func next(s *jsonscan.Scanner) { s.Seek(s.Pos() + 1) }

// isDigit reports whether c is an ASCII digit.
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// head is the start of b for an error message.
func head(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "…"
}
