package observation

import (
	"bytes"
	"fmt"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// decoder is a hand-written reader for the batch JSON. It accepts exactly
// what encoding/json accepts for Batch with unknown fields disallowed (a
// differential fuzz test holds it to that), at several times the speed: the
// loader decodes every observation that enters Ounce.
type decoder struct {
	data     []byte
	pos      int
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
	return &syntaxError{path: at.String(), pos: d.pos, msg: fmt.Sprintf(format, args...)}
}

func (d *decoder) ws() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *decoder) peek() byte {
	d.ws()
	if d.pos < len(d.data) {
		return d.data[d.pos]
	}
	return 0
}

func (d *decoder) expect(at path, c byte) error {
	if d.peek() != c {
		if d.pos >= len(d.data) {
			return d.fail(at, "unexpected end of input, want %q", c)
		}
		return d.fail(at, "want %q, got %q", c, d.data[d.pos])
	}
	d.pos++
	return nil
}

func (d *decoder) literal(at path, word string) error {
	if len(d.data)-d.pos < len(word) || string(d.data[d.pos:d.pos+len(word)]) != word {
		return d.fail(at, "invalid literal, want %s", word)
	}
	d.pos += len(word)
	return nil
}

// isNull consumes a null literal when one is next.
func (d *decoder) isNull(at path) (bool, error) {
	if d.peek() != 'n' {
		return false, nil
	}
	return true, d.literal(at, "null")
}

// object calls field for each key of an object; field must consume the value.
func (d *decoder) object(at path, field func(key string) error) error {
	if err := d.expect(at, '{'); err != nil {
		return err
	}
	if d.peek() == '}' {
		d.pos++
		return nil
	}
	for {
		key, err := d.str(at)
		if err != nil {
			return err
		}
		if err := d.expect(at, ':'); err != nil {
			return err
		}
		if err := field(key); err != nil {
			return err
		}
		switch d.peek() {
		case ',':
			d.pos++
		case '}':
			d.pos++
			return nil
		default:
			return d.fail(at, "want ',' or '}' after object member")
		}
	}
}

// open consumes '{' and reports whether a member follows.
func (d *decoder) open(at path) (bool, error) {
	if err := d.expect(at, '{'); err != nil {
		return false, err
	}
	if d.peek() == '}' {
		d.pos++
		return false, nil
	}
	return true, nil
}

// key reads a member name and its ':'. The bytes may alias the input.
func (d *decoder) key(at path) ([]byte, error) {
	if d.peek() != '"' {
		return nil, d.fail(at, "want a string")
	}
	start := d.pos + 1
	end := start
	for end < len(d.data) && d.data[end] != '"' && d.data[end] != '\\' && d.data[end] >= 0x20 && d.data[end] < utf8.RuneSelf {
		end++
	}
	var k []byte
	if end < len(d.data) && d.data[end] == '"' {
		k = d.data[start:end]
		d.pos = end + 1
	} else {
		s, err := d.str(at)
		if err != nil {
			return nil, err
		}
		k = []byte(s)
	}
	return k, d.expect(at, ':')
}

// next consumes ',' (another member follows) or '}' (the object ends).
func (d *decoder) next(at path) (bool, error) {
	switch d.peek() {
	case ',':
		d.pos++
		return true, nil
	case '}':
		d.pos++
		return false, nil
	}
	return false, d.fail(at, "want ',' or '}' after object member")
}

func (d *decoder) str(at path) (string, error) {
	if d.peek() != '"' {
		return "", d.fail(at, "want a string")
	}
	d.pos++
	start := d.pos
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			s := string(d.data[start:d.pos])
			d.pos++
			return s, nil
		case c == '\\':
			return d.strSlow(at, start)
		case c < 0x20:
			return "", d.fail(at, "control character in string")
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(d.data[d.pos:])
			if r == utf8.RuneError && size == 1 {
				return d.strSlow(at, start)
			}
			d.pos += size
		default:
			d.pos++
		}
	}
	return "", d.fail(at, "unterminated string")
}

// strSlow decodes a string with escapes or invalid UTF-8 (replaced by U+FFFD,
// as encoding/json does).
func (d *decoder) strSlow(at path, start int) (string, error) {
	buf := append([]byte(nil), d.data[start:d.pos]...)
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			return string(buf), nil
		case c < 0x20:
			return "", d.fail(at, "control character in string")
		case c == '\\':
			if d.pos+1 >= len(d.data) {
				return "", d.fail(at, "unterminated escape")
			}
			e := d.data[d.pos+1]
			d.pos += 2
			switch e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, ok := d.hex4()
				if !ok {
					return "", d.fail(at, "invalid \\u escape")
				}
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if d.pos+1 < len(d.data) && d.data[d.pos] == '\\' && d.data[d.pos+1] == 'u' {
						save := d.pos
						d.pos += 2
						if x, ok := d.hex4(); ok {
							r2 = x
						} else {
							d.pos = save
						}
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							buf = utf8.AppendRune(buf, dec)
							continue
						}
						d.pos = save
					}
					r = utf8.RuneError
				}
				buf = utf8.AppendRune(buf, r)
			default:
				return "", d.fail(at, "invalid escape \\%c", e)
			}
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(d.data[d.pos:])
			d.pos += size
			buf = utf8.AppendRune(buf, r)
		default:
			buf = append(buf, c)
			d.pos++
		}
	}
	return "", d.fail(at, "unterminated string")
}

func (d *decoder) hex4() (rune, bool) {
	if d.pos+4 > len(d.data) {
		return 0, false
	}
	var r rune
	for _, c := range d.data[d.pos : d.pos+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	d.pos += 4
	return r, true
}

// number returns the bytes of a JSON number, checked against the grammar.
func (d *decoder) number(at path) ([]byte, error) {
	d.ws()
	start, i, n := d.pos, d.pos, len(d.data)
	if i < n && d.data[i] == '-' {
		i++
	}
	switch {
	case i < n && d.data[i] == '0':
		i++
	case i < n && d.data[i] >= '1' && d.data[i] <= '9':
		for i < n && d.data[i] >= '0' && d.data[i] <= '9' {
			i++
		}
	default:
		return nil, d.fail(at, "want a number")
	}
	if i < n && d.data[i] == '.' {
		i++
		if i >= n || d.data[i] < '0' || d.data[i] > '9' {
			return nil, d.fail(at, "want digits after the decimal point")
		}
		for i < n && d.data[i] >= '0' && d.data[i] <= '9' {
			i++
		}
	}
	if i < n && (d.data[i] == 'e' || d.data[i] == 'E') {
		i++
		if i < n && (d.data[i] == '+' || d.data[i] == '-') {
			i++
		}
		if i >= n || d.data[i] < '0' || d.data[i] > '9' {
			return nil, d.fail(at, "want digits in the exponent")
		}
		for i < n && d.data[i] >= '0' && d.data[i] <= '9' {
			i++
		}
	}
	d.pos = i
	return d.data[start:i], nil
}

func (d *decoder) float(at path) (float64, error) {
	b, err := d.number(at)
	if err != nil {
		return 0, err
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return 0, d.fail(at, "number %s is out of range", b)
	}
	return f, nil
}

func (d *decoder) uint(at path) (uint64, error) {
	b, err := d.number(at)
	if err != nil {
		return 0, err
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
	if null, err := d.isNull(top); err != nil || null {
		if err == nil {
			err = d.fail(top, "the batch is null")
		}
		return b, err
	}
	err := d.object(top, func(key string) error {
		switch key {
		case "batch_id":
			return d.optStr(path{idx: -1, field: "batch_id"}, &b.ID)
		case "common":
			return d.common(&b)
		case "observations":
			at := path{idx: -1, field: "observations"}
			null, err := d.isNull(at)
			if err != nil || null {
				if null {
					b.Observations, sawObs = nil, false
				}
				return err
			}
			sawObs = true
			return d.observations(&b)
		default:
			return d.fail(top, "unknown field %q", key)
		}
	})
	if err != nil {
		return Batch{}, err
	}
	if d.peek() != 0 {
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
	null, err := d.isNull(at)
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
	more, err := d.open(at)
	for more && err == nil {
		var k []byte
		if k, err = d.key(at); err != nil {
			break
		}
		switch string(k) {
		case "unit":
			err = d.internStr(at.sub("unit"), &c.Unit)
		case "source":
			err = d.internStr(at.sub("source"), &c.Source)
		case "version":
			p := at.sub("version")
			var null bool
			if null, err = d.isNull(p); err == nil && !null {
				c.Version, err = d.uint(p)
			}
		case "provenance":
			p := at.sub("provenance")
			var null bool
			if null, err = d.isNull(p); err == nil && null {
				c.Provenance = nil
			} else if err == nil {
				if c.Provenance == nil {
					c.Provenance = &Provenance{}
				}
				err = d.provenance(p, c.Provenance)
			}
		default:
			err = d.fail(at, "unknown field %q", k)
		}
		if err != nil {
			break
		}
		more, err = d.next(at)
	}
	return err
}

func (d *decoder) observations(b *Batch) error {
	at := path{idx: -1, field: "observations"}
	if err := d.expect(at, '['); err != nil {
		return err
	}
	// Size the slices once: growing them copies everything decoded so far.
	n := bytes.Count(d.data[d.pos:], []byte(`{"indicator"`))
	if cap(d.obs) >= n {
		b.Observations = d.obs[:0]
	} else {
		b.Observations = make([]Observation, 0, n)
	}
	if cap(d.vals)-len(d.vals) < n {
		d.vals = make([]float64, 0, n)
	}
	if d.peek() == ']' {
		d.pos++
		return nil
	}
	for i := 0; ; i++ {
		b.Observations = append(b.Observations, Observation{})
		if err := d.observation(&b.Observations[i], i); err != nil {
			return err
		}
		switch d.peek() {
		case ',':
			d.pos++
		case ']':
			d.pos++
			return nil
		default:
			return d.fail(at, "want ',' or ']' after observation %d", i)
		}
	}
}

func (d *decoder) observation(o *Observation, i int) error {
	at := path{idx: i}
	if null, err := d.isNull(at); err != nil || null {
		return err
	}
	more, err := d.open(at)
	for more && err == nil {
		var k []byte
		if k, err = d.key(at); err != nil {
			break
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
		case "value":
			p := path{idx: i, field: "value"}
			var null bool
			if null, err = d.isNull(p); err == nil && null {
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
			if null, err = d.isNull(p); err == nil && !null {
				o.Version, err = d.uint(p)
			}
		case "period":
			err = d.period(path{idx: i, field: "period"}, &o.Period)
		case "dims":
			err = d.dims(path{idx: i, field: "dims"}, o)
		case "provenance":
			err = d.provenance(path{idx: i, field: "provenance"}, &o.Provenance)
		default:
			err = d.fail(at, "unknown field %q", k)
		}
		if err != nil {
			break
		}
		more, err = d.next(at)
	}
	return err
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
	null, err := d.isNull(at)
	if err != nil || null {
		return err
	}
	*dst, err = d.str(at)
	return err
}

// internStr reads a string that repeats across a batch (indicator, geo,
// unit, source, licence…) and shares one copy of each distinct value.
func (d *decoder) internStr(at path, dst *string) error {
	if d.peek() == '"' {
		end := d.pos + 1
		for end < len(d.data) && d.data[end] != '"' && d.data[end] != '\\' && d.data[end] >= 0x20 && d.data[end] < utf8.RuneSelf {
			end++
		}
		if end < len(d.data) && d.data[end] == '"' {
			raw := d.data[d.pos+1 : end]
			if s, ok := d.interned[string(raw)]; ok {
				*dst = s
				d.pos = end + 1
				return nil
			}
		}
	}
	if err := d.optStr(at, dst); err != nil {
		return err
	}
	d.remember(*dst)
	return nil
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
	null, err := d.isNull(at)
	if err != nil || null {
		if null {
			o.Dims = nil
		}
		return err
	}
	if o.Dims == nil {
		o.Dims = Dims{}
	}
	more, err := d.open(at)
	for more && err == nil {
		var k []byte
		if k, err = d.key(at); err != nil {
			break
		}
		key, ok := d.interned[string(k)]
		if !ok {
			key = string(k)
			d.remember(key)
		}
		var v string
		if err = d.internStr(at.sub(key), &v); err != nil {
			break
		}
		o.Dims[key] = v
		more, err = d.next(at)
	}
	return err
}

func (d *decoder) provenance(at path, pv *Provenance) error {
	if null, err := d.isNull(at); err != nil || null {
		return err
	}
	more, err := d.open(at)
	for more && err == nil {
		var k []byte
		if k, err = d.key(at); err != nil {
			break
		}
		switch string(k) {
		case "url":
			err = d.internStr(at.sub("url"), &pv.URL)
		case "licence":
			err = d.internStr(at.sub("licence"), &pv.Licence)
		case "retrieved_at":
			err = d.retrievedAt(at.sub("retrieved_at"), pv)
		default:
			err = d.fail(at, "unknown field %q", k)
		}
		if err != nil {
			break
		}
		more, err = d.next(at)
	}
	return err
}

func (d *decoder) retrievedAt(p path, pv *Provenance) error {
	null, err := d.isNull(p)
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
	if null, err := d.isNull(at); err != nil || null {
		return err
	}
	if d.peek() == '"' {
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
	more, err := d.open(at)
	for more && err == nil {
		var k []byte
		if k, err = d.key(at); err != nil {
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
			err = d.fail(at, "unknown field %q", k)
		}
		if err != nil {
			break
		}
		more, err = d.next(at)
	}
	if err != nil {
		return err
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
