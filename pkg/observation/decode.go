package observation

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/ounce-data/ounce/pkg/jsonscan"
)

// decoder reads the batch JSON, walking the batch's grammar over
// jsonscan's lexing. It accepts exactly what encoding/json accepts for
// Batch with unknown fields disallowed (a differential fuzz test holds it
// to that), at several times the speed: the loader decodes every
// observation that enters Ounce.
type decoder struct {
	s        jsonscan.Scanner
	interned map[string]string
	times    map[string]time.Time
	periods  map[periodKey]Period

	obs  []Observation // reused for the next batch's observations when set
	vals []float64     // backing store of the observations' values
}

// maxCached bounds each of the decoder's caches (interned strings, times,
// periods): a decoder kept across batches forgets them all at this size.
const maxCached = 4096

// path names where in the batch the decoder is, built into a string only
// when there is an error to report.
type path struct {
	idx   int    // observation index, -1 outside observations
	field string // e.g. "value", "period"
	key   string // member of field, e.g. "start"
}

func (p path) String() string {
	f := p.field
	if p.key != "" {
		f += "." + p.key
	}
	if p.idx < 0 {
		return f
	}
	if f == "" {
		return "observations[" + strconv.Itoa(p.idx) + "]"
	}
	return "observations[" + strconv.Itoa(p.idx) + "]." + f
}

func (p path) sub(key string) path { return path{idx: p.idx, field: p.field, key: key} }

var top = path{idx: -1}

type syntaxError struct {
	path string
	pos  int
	msg  string
}

func (e *syntaxError) Error() string {
	if e.path == "" {
		return fmt.Sprintf("at byte %d: %s", e.pos, e.msg)
	}
	return fmt.Sprintf("%s (byte %d): %s", e.path, e.pos, e.msg)
}

func (d *decoder) fail(at path, format string, args ...any) error {
	return &syntaxError{path: at.String(), pos: d.s.Pos(), msg: fmt.Sprintf(format, args...)}
}

// syntax places a scanner's error at path at, at the byte that went wrong;
// any other error (nil, or one already placed deeper) passes as it is.
func syntax(at path, err error) error { return place(at, err, false) }

// inToken is syntax for an error in a number or literal, placed at the
// token's first byte.
func inToken(at path, err error) error { return place(at, err, true) }

// place is syntax (or inToken, atStart) for both.
func place(at path, err error, atStart bool) error {
	se, ok := err.(*jsonscan.SyntaxError)
	if !ok {
		return err
	}
	e := &syntaxError{path: at.String(), pos: se.Offset, msg: se.Msg}
	if atStart {
		e.pos = se.Start
	}
	if se.EOF {
		e.msg = "the body ends in the middle of a JSON value; it was probably cut short"
	}
	return e
}

// null reads null when it is next, and reports whether it was.
func (d *decoder) null(at path) (bool, error) {
	if d.s.Peek() != 'n' {
		return false, nil // the common case, without a call
	}
	return d.readNull(at)
}

// readNull is null past its look at the next byte.
func (d *decoder) readNull(at path) (bool, error) {
	null, err := d.s.Null()
	return null, inToken(at, err)
}

func (d *decoder) float(at path) (float64, error) {
	d.s.WS()
	start := d.s.Pos()
	f, err := d.s.Float()
	if err != nil && errors.Is(err, jsonscan.ErrRange) {
		return 0, d.fail(at, "number %s is out of range", d.s.Data()[start:d.s.Pos()])
	}
	return f, inToken(at, err)
}

func (d *decoder) uint(at path) (uint64, error) {
	b, err := d.s.Number()
	if err != nil {
		return 0, inToken(at, err)
	}
	u, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		return 0, d.fail(at, "want a non-negative integer, got %s", b)
	}
	return u, nil
}

func (d *decoder) batch() (Batch, error) {
	var b Batch
	sawObs := false
	if null, err := d.null(top); err != nil || null {
		if err == nil {
			err = d.fail(top, "the batch is null")
		}
		return b, err
	}
	for first := true; ; {
		key, more, err := d.s.Member(&first)
		if err != nil {
			return Batch{}, syntax(top, err)
		}
		if !more {
			break
		}
		switch string(key) {
		case "batch_id":
			err = d.optStr(path{idx: -1, field: "batch_id"}, &b.ID)
		case "common":
			err = d.common(&b)
		case "observations":
			var null bool
			if null, err = d.null(path{idx: -1, field: "observations"}); err == nil && null {
				b.Observations, sawObs = nil, false
			} else if err == nil {
				sawObs = true
				err = d.observations(&b)
			}
		default:
			err = d.fail(top, "unknown field %q", jsonscan.ValidUTF8(key))
		}
		if err != nil {
			return Batch{}, err
		}
	}
	if !d.s.AtEnd() {
		return Batch{}, d.fail(top, "trailing data after the batch object")
	}
	if !sawObs {
		return Batch{}, fmt.Errorf("field observations is missing")
	}
	if b.Observations == nil {
		b.Observations = []Observation{}
	}
	return b, nil
}

func (d *decoder) common(b *Batch) error {
	at := path{idx: -1, field: "common"}
	null, err := d.null(at)
	if err != nil || null {
		if null {
			b.Common = nil
		}
		return err
	}
	if b.Common == nil {
		b.Common = &Common{}
	}
	c := b.Common
	for first := true; ; {
		k, more, err := d.s.Member(&first)
		if err != nil || !more {
			return syntax(at, err)
		}
		switch string(k) {
		case "unit":
			err = d.internStr(at.sub("unit"), &c.Unit)
		case "source":
			err = d.internStr(at.sub("source"), &c.Source)
		case "version":
			p := at.sub("version")
			var null bool
			if null, err = d.null(p); err == nil && !null {
				c.Version, err = d.uint(p)
			}
		case "provenance":
			p := at.sub("provenance")
			var null bool
			if null, err = d.null(p); err == nil && null {
				c.Provenance = nil
			} else if err == nil {
				if c.Provenance == nil {
					c.Provenance = &Provenance{}
				}
				err = d.provenance(p, c.Provenance)
			}
		default:
			err = d.fail(at, "unknown field %q", jsonscan.ValidUTF8(k))
		}
		if err != nil {
			return err
		}
	}
}

func (d *decoder) observations(b *Batch) error {
	at := path{idx: -1, field: "observations"}
	first := true
	more, err := d.s.Element(&first)
	if err != nil {
		return syntax(at, err)
	}
	// Size the slices once: growing them copies everything decoded so far.
	n := bytes.Count(d.s.Data()[d.s.Pos():], []byte(`{"indicator"`))
	if cap(d.obs) >= n {
		b.Observations = d.obs[:0]
	} else {
		b.Observations = make([]Observation, 0, n)
	}
	if cap(d.vals)-len(d.vals) < n {
		d.vals = make([]float64, 0, n)
	}
	for i := 0; more; i++ {
		b.Observations = append(b.Observations, Observation{})
		if err := d.observation(&b.Observations[i], i); err != nil {
			return err
		}
		if more, err = d.s.Element(&first); err != nil {
			return syntax(at, err)
		}
	}
	return nil
}

func (d *decoder) observation(o *Observation, i int) error {
	at := path{idx: i}
	if null, err := d.null(at); err != nil || null {
		return err
	}
	for first := true; ; {
		k, more, err := d.s.Member(&first)
		if err != nil || !more {
			return syntax(at, err)
		}
		switch string(k) {
		case "indicator":
			err = d.internStr(path{idx: i, field: "indicator"}, &o.Indicator)
		case "geo":
			err = d.internStr(path{idx: i, field: "geo"}, &o.Geo)
		case "unit":
			err = d.internStr(path{idx: i, field: "unit"}, &o.Unit)
		case "source":
			err = d.internStr(path{idx: i, field: "source"}, &o.Source)
		case "initiative":
			err = d.internStr(path{idx: i, field: "initiative"}, &o.Initiative)
		case "flag":
			err = d.internStr(path{idx: i, field: "flag"}, &o.Flag)
		case "quality":
			err = d.quality(path{idx: i, field: "quality"}, o)
		case "value":
			p := path{idx: i, field: "value"}
			var null bool
			if null, err = d.null(p); err == nil && null {
				o.Value = nil
			} else if err == nil {
				var f float64
				if f, err = d.float(p); err == nil {
					o.Value = d.value(f)
				}
			}
		case "version":
			p := path{idx: i, field: "version"}
			var null bool
			if null, err = d.null(p); err == nil && !null {
				o.Version, err = d.uint(p)
			}
		case "period":
			err = d.period(path{idx: i, field: "period"}, &o.Period)
		case "dims":
			err = d.dims(path{idx: i, field: "dims"}, o)
		case "provenance":
			err = d.provenance(path{idx: i, field: "provenance"}, &o.Provenance)
		default:
			err = d.fail(at, "unknown field %q", jsonscan.ValidUTF8(k))
		}
		if err != nil {
			return err
		}
	}
}

// quality reads the quality codes: an array of strings, or null.
func (d *decoder) quality(at path, o *Observation) error {
	if null, err := d.null(at); err != nil || null {
		o.Quality = nil
		return err
	}
	o.Quality = nil
	first := true
	more, err := d.s.Element(&first)
	for ; err == nil && more; more, err = d.s.Element(&first) {
		var q string
		if err := d.internStr(at, &q); err != nil {
			return err
		}
		o.Quality = append(o.Quality, q)
	}
	return syntax(at, err)
}

// value stores f in the decoder's value chunk: one allocation for a batch's
// values, not one each.
func (d *decoder) value(f float64) *float64 {
	if len(d.vals) == cap(d.vals) {
		d.vals = make([]float64, 0, 1024)
	}
	d.vals = append(d.vals, f)
	return &d.vals[len(d.vals)-1]
}

func (d *decoder) optStr(at path, dst *string) error {
	null, err := d.null(at)
	if err != nil || null {
		return err
	}
	s, err := d.s.Text()
	if err != nil {
		return syntax(at, err)
	}
	*dst = string(s)
	return nil
}

// internStr reads a string that repeats across a batch (indicator, geo,
// unit, source, licence…) and shares one copy of each distinct value.
func (d *decoder) internStr(at path, dst *string) error {
	if d.s.Peek() == 'n' {
		_, err := d.readNull(at)
		return err
	}
	// Most strings are plain and seen before: read them raw, and decode
	// only the others.
	start := d.s.Pos()
	raw, verbatim, err := d.s.RawString()
	if err != nil {
		return syntax(at, err)
	}
	if verbatim {
		*dst = d.intern(raw)
		return nil
	}
	d.s.Seek(start)
	s, err := d.s.Text()
	if err != nil {
		return syntax(at, err)
	}
	*dst = d.intern(s)
	return nil
}

// intern returns b as a string, one copy of each distinct value.
func (d *decoder) intern(b []byte) string {
	if s, ok := d.interned[string(b)]; ok {
		return s
	}
	s := string(b)
	d.remember(s)
	return s
}

// remember interns s for the strings that repeat it, up to maxCached.
func (d *decoder) remember(s string) {
	if len(d.interned) < maxCached {
		if d.interned == nil {
			d.interned = make(map[string]string)
		}
		d.interned[s] = s
	}
}

func (d *decoder) dims(at path, o *Observation) error {
	null, err := d.null(at)
	if err != nil || null {
		if null {
			o.Dims = nil
		}
		return err
	}
	if o.Dims == nil {
		o.Dims = Dims{}
	}
	for first := true; ; {
		k, more, err := d.s.Member(&first)
		if err != nil || !more {
			return syntax(at, err)
		}
		key := d.intern(jsonscan.ValidUTF8(k))
		var v string
		if err := d.internStr(at.sub(key), &v); err != nil {
			return err
		}
		o.Dims[key] = v
	}
}

func (d *decoder) provenance(at path, pv *Provenance) error {
	if null, err := d.null(at); err != nil || null {
		return err
	}
	for first := true; ; {
		k, more, err := d.s.Member(&first)
		if err != nil || !more {
			return syntax(at, err)
		}
		switch string(k) {
		case "url":
			err = d.internStr(at.sub("url"), &pv.URL)
		case "licence":
			err = d.internStr(at.sub("licence"), &pv.Licence)
		case "retrieved_at":
			err = d.retrievedAt(at.sub("retrieved_at"), pv)
		default:
			err = d.fail(at, "unknown field %q", jsonscan.ValidUTF8(k))
		}
		if err != nil {
			return err
		}
	}
}

func (d *decoder) retrievedAt(p path, pv *Provenance) error {
	null, err := d.null(p)
	if err != nil || null {
		return err
	}
	var s string
	if err := d.internStr(p, &s); err != nil {
		return err
	}
	if t, ok := d.times[s]; ok {
		pv.RetrievedAt = t
		return nil
	}
	var t time.Time
	if err := t.UnmarshalText([]byte(s)); err != nil {
		return d.fail(p, "want an RFC 3339 time, got %q", s)
	}
	if d.times == nil {
		d.times = make(map[string]time.Time)
	}
	if len(d.times) < maxCached {
		d.times[s] = t
	}
	pv.RetrievedAt = t
	return nil
}

func (d *decoder) period(at path, p *Period) error {
	if null, err := d.null(at); err != nil || null {
		return err
	}
	if d.s.Peek() == '"' {
		var code string
		if err := d.internStr(at, &code); err != nil {
			return err
		}
		key := periodKey{grain: codeKey, start: code}
		if q, ok := d.periods[key]; ok {
			*p = q
			return nil
		}
		q, err := ParsePeriod(code)
		if err != nil {
			return d.fail(at, "%s", err)
		}
		d.cachePeriod(key, q)
		*p = q
		return nil
	}
	var raw periodJSON
	for first := true; ; {
		k, more, err := d.s.Member(&first)
		if err != nil {
			return syntax(at, err)
		}
		if !more {
			break
		}
		switch string(k) {
		case "grain":
			var g string
			err = d.internStr(at.sub("grain"), &g)
			raw.Grain = Grain(g)
		case "start":
			err = d.internStr(at.sub("start"), &raw.Start)
		case "end":
			err = d.internStr(at.sub("end"), &raw.End)
		default:
			err = d.fail(at, "unknown field %q", jsonscan.ValidUTF8(k))
		}
		if err != nil {
			return err
		}
	}
	key := periodKey{raw.Grain, raw.Start, raw.End}
	if q, ok := d.periods[key]; ok {
		*p = q
		return nil
	}
	q, err := raw.period()
	if err != nil {
		return d.fail(at, "%s", err)
	}
	d.cachePeriod(key, q)
	*p = q
	return nil
}

// cachePeriod remembers a parsed period: a code string under codeKey, an
// object under its three members.
func (d *decoder) cachePeriod(key periodKey, q Period) {
	if d.periods == nil {
		d.periods = make(map[periodKey]Period)
	}
	if len(d.periods) < maxCached {
		d.periods[key] = q
	}
}

type periodKey struct {
	grain      Grain
	start, end string
}

// codeKey marks a cached period that was written as a code string; it is no
// valid grain, so an object can never hit it.
const codeKey Grain = "\x00code"
