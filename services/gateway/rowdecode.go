package gateway

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// rowReader decodes the rows of one push. Its fast path reads the common
// shape of a partner row without encoding/json: the fields spelt exactly,
// each at most once; strings without escapes (valid UTF-8); numbers, strings
// or null for value and version; a code, null or an object of strings for
// period; dims an object of strings or null. Anything else (an unknown or
// differently cased field, an escape, a type error, broken JSON) goes to
// decodeJSONRow, which reads and words it as before. What the fast path
// accepts, encoding/json reads the same way: FuzzFastRow holds it to that.
// It follows pkg/observation's batch decoder.
type rowReader struct {
	data []byte
	pos  int
	// strs shares one copy of each distinct string of a push (indicators,
	// places, dims): a push repeats a few values thousands of times.
	strs map[string]string
}

// decode returns row n read from raw, whichever path reads it.
func (rr *rowReader) decode(raw []byte, n int) row {
	if r, ok := rr.fast(raw, n); ok {
		return r
	}
	return decodeJSONRow(raw, n)
}

// Fields of a partner row, as bits to find one given twice.
const (
	fIndicator = 1 << iota
	fGeo
	fPeriod
	fDims
	fValue
	fUnit
	fInitiative
	fSource
	fVersion
)

// fast decodes raw, or reports false when encoding/json must.
func (rr *rowReader) fast(raw []byte, n int) (row, bool) {
	rr.data, rr.pos = raw, 0
	r, ok := rr.object(n)
	return r, ok && rr.end()
}

// fastJSON reads a whole {"observations":[…]} body whose rows all take the
// fast path, or reports false and leaves it to decodeJSON. It refuses what
// decodeJSON would refuse or word (more than maxRows rows included), so
// whatever it reads decodeJSON reads the same way.
func (rr *rowReader) fastJSON(body []byte, maxRows int) ([]row, bool) {
	rr.data, rr.pos = body, 0
	if !rr.open() {
		return nil, false
	}
	if k, ok := rr.plainStr(); !ok || string(k) != "observations" || rr.peek() != ':' {
		return nil, false
	}
	rr.pos++
	if rr.peek() != '[' {
		return nil, false
	}
	rr.pos++
	rows := make([]row, 0, min(bytes.Count(body, []byte(`"indicator"`)), maxRows))
	if rr.peek() == ']' {
		rr.pos++
	} else {
		for {
			if len(rows) == maxRows {
				return nil, false
			}
			r, ok := rr.object(len(rows) + 1)
			if !ok {
				return nil, false
			}
			rows = append(rows, r)
			c := rr.peek()
			rr.pos++
			if c == ']' {
				break
			}
			if c != ',' {
				return nil, false
			}
			rr.ws()
		}
	}
	if rr.peek() != '}' {
		return nil, false
	}
	rr.pos++
	if len(rows) == 0 {
		rows = nil // as decodeJSON: a body without rows
	}
	return rows, rr.end()
}

// object reads the row object at the reading position.
func (rr *rowReader) object(n int) (row, bool) {
	r := row{n: n}
	if !rr.open() {
		return r, false
	}
	if rr.peek() == '}' {
		rr.pos++
		return r, true
	}
	seen := 0
	for {
		k, ok := rr.plainStr()
		if !ok || rr.peek() != ':' {
			return r, false
		}
		rr.pos++
		rr.ws()
		var bit int
		switch string(k) {
		case "indicator":
			bit, ok = fIndicator, rr.strField(&r.Indicator)
		case "geo":
			bit, ok = fGeo, rr.strField(&r.Geo)
		case "unit":
			bit, ok = fUnit, rr.strField(&r.Unit)
		case "initiative":
			bit, ok = fInitiative, rr.strField(&r.Initiative)
		case "source":
			bit, ok = fSource, rr.strField(&r.Source)
		case "value":
			bit, ok = fValue, rr.scalar(&r.Value)
		case "version":
			bit, ok = fVersion, rr.scalar(&r.Version)
		case "period":
			bit, ok = fPeriod, rr.period(&r.Period)
		case "dims":
			bit, ok = fDims, rr.dims(&r.Dims)
		default:
			return r, false
		}
		if !ok || seen&bit != 0 {
			return r, false
		}
		seen |= bit
		switch rr.peek() {
		case ',':
			rr.pos++
			rr.ws()
		case '}':
			rr.pos++
			return r, true
		default:
			return r, false
		}
	}
}

func (rr *rowReader) ws() {
	for rr.pos < len(rr.data) {
		switch rr.data[rr.pos] {
		case ' ', '\t', '\n', '\r':
			rr.pos++
		default:
			return
		}
	}
}

func (rr *rowReader) peek() byte {
	rr.ws()
	if rr.pos < len(rr.data) {
		return rr.data[rr.pos]
	}
	return 0
}

// open consumes '{' and the space after it.
func (rr *rowReader) open() bool {
	if rr.peek() != '{' {
		return false
	}
	rr.pos++
	rr.ws()
	return true
}

// end reports whether only space follows the row.
func (rr *rowReader) end() bool {
	rr.ws()
	return rr.pos == len(rr.data)
}

// plainStr reads a string without escapes or control characters and in
// valid UTF-8, which encoding/json takes as it is; the bytes alias the input.
func (rr *rowReader) plainStr() ([]byte, bool) {
	if rr.pos >= len(rr.data) || rr.data[rr.pos] != '"' {
		return nil, false
	}
	start, ascii := rr.pos+1, true
	for i := start; i < len(rr.data); i++ {
		switch c := rr.data[i]; {
		case c == '"':
			s := rr.data[start:i]
			if !ascii && !utf8.Valid(s) {
				return nil, false
			}
			rr.pos = i + 1
			return s, true
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false
}

// intern returns b as a string, one copy per distinct value.
func (rr *rowReader) intern(b []byte) string {
	if s, ok := rr.strs[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(rr.strs) < 4096 {
		if rr.strs == nil {
			rr.strs = make(map[string]string)
		}
		rr.strs[s] = s
	}
	return s
}

// null consumes a null literal when one is next.
func (rr *rowReader) null() bool {
	if len(rr.data)-rr.pos >= 4 && string(rr.data[rr.pos:rr.pos+4]) == "null" {
		rr.pos += 4
		return true
	}
	return false
}

// strField reads a string member; null leaves it empty, as encoding/json
// does to a string it has not set.
func (rr *rowReader) strField(dst *string) bool {
	if rr.null() {
		return true
	}
	s, ok := rr.plainStr()
	if ok {
		*dst = rr.intern(s)
	}
	return ok
}

// scalar reads a number, a plain string or null as its raw JSON.
func (rr *rowReader) scalar(dst *json.RawMessage) bool {
	start := rr.pos
	ok := rr.null()
	if !ok {
		if rr.pos < len(rr.data) && rr.data[rr.pos] == '"' {
			_, ok = rr.plainStr()
		} else {
			ok = rr.number()
		}
	}
	if ok {
		*dst = rr.data[start:rr.pos]
	}
	return ok
}

// number consumes a number of the JSON grammar.
func (rr *rowReader) number() bool {
	d, i, n := rr.data, rr.pos, len(rr.data)
	digits := func() bool {
		from := i
		for i < n && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		return i > from
	}
	if i < n && d[i] == '-' {
		i++
	}
	switch {
	case i < n && d[i] == '0':
		i++
	case i < n && d[i] >= '1' && d[i] <= '9':
		digits()
	default:
		return false
	}
	if i < n && d[i] == '.' {
		i++
		if !digits() {
			return false
		}
	}
	if i < n && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < n && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if !digits() {
			return false
		}
	}
	rr.pos = i
	return true
}

// period reads a code, null or an object of plain strings as its raw JSON;
// the validator parses it.
func (rr *rowReader) period(dst *json.RawMessage) bool {
	start := rr.pos
	switch {
	case rr.null():
	case rr.pos < len(rr.data) && rr.data[rr.pos] == '"':
		if _, ok := rr.plainStr(); !ok {
			return false
		}
	default:
		if !rr.stringObject(func(_, _ []byte) {}) {
			return false
		}
	}
	*dst = rr.data[start:rr.pos]
	return true
}

// dims reads an object of plain strings, or null.
func (rr *rowReader) dims(dst *map[string]string) bool {
	if rr.null() {
		return true
	}
	m := make(map[string]string, 2)
	if !rr.stringObject(func(k, v []byte) { m[rr.intern(k)] = rr.intern(v) }) {
		return false
	}
	*dst = m
	return true
}

// stringObject reads an object whose members are all plain strings, calling
// member for each.
func (rr *rowReader) stringObject(member func(k, v []byte)) bool {
	if !rr.open() {
		return false
	}
	if rr.peek() == '}' {
		rr.pos++
		return true
	}
	for {
		k, ok := rr.plainStr()
		if !ok || rr.peek() != ':' {
			return false
		}
		rr.pos++
		rr.ws()
		v, ok := rr.plainStr()
		if !ok {
			return false
		}
		member(k, v)
		switch rr.peek() {
		case ',':
			rr.pos++
			rr.ws()
		case '}':
			rr.pos++
			return true
		default:
			return false
		}
	}
}
