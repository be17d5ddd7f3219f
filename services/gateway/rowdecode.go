package gateway

import (
	"bytes"
	"encoding/json"

	"github.com/ounce-data/ounce/pkg/jsonscan"
)

// rowReader decodes the rows of one push. Its fast path reads the common
// shape of a partner row without encoding/json: the fields spelt exactly,
// each at most once; strings without escapes (valid UTF-8); numbers, strings
// or null for value and version; a code, null or an object of strings for
// period; dims an object of strings or null. Anything else (an unknown or
// differently cased field, an escape, a type error, broken JSON) goes to
// decodeJSONRow, which reads and words it as before. What the fast path
// accepts, encoding/json reads the same way: FuzzFastRow holds it to that.
// It walks the row's grammar over jsonscan's lexing, as pkg/observation's
// batch decoder does.
type rowReader struct {
	s jsonscan.Scanner
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
	rr.s.Reset(raw)
	r, ok := rr.object(n)
	return r, ok && rr.s.AtEnd()
}

// fastJSON reads a whole {"observations":[…]} body whose rows all take the
// fast path, or reports false and leaves it to decodeJSON. It refuses what
// decodeJSON would refuse or word (more than maxRows rows included), so
// whatever it reads decodeJSON reads the same way.
func (rr *rowReader) fastJSON(body []byte, maxRows int) ([]row, bool) {
	s := &rr.s
	s.Reset(body)
	first := true
	if k, more, ok := rr.member(&first); !ok || !more || string(k) != "observations" || s.Peek() != '[' {
		return nil, false
	}
	rows := make([]row, 0, min(bytes.Count(body, []byte(`"indicator"`)), maxRows))
	for efirst := true; ; {
		more, err := s.Element(&efirst)
		if err != nil {
			return nil, false
		}
		if !more {
			break
		}
		if len(rows) == maxRows {
			return nil, false
		}
		r, ok := rr.object(len(rows) + 1)
		if !ok {
			return nil, false
		}
		rows = append(rows, r)
	}
	if _, more, ok := rr.member(&first); !ok || more {
		return nil, false // "observations" must be the only member
	}
	if len(rows) == 0 {
		rows = nil // as decodeJSON: a body without rows
	}
	return rows, s.AtEnd()
}

// object reads the row object at the reading position.
func (rr *rowReader) object(n int) (row, bool) {
	r := row{n: n}
	seen := 0
	for first := true; ; {
		k, more, ok := rr.member(&first)
		if !ok || !more {
			return r, ok
		}
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
	}
}

// member steps to the next member of the object being read and returns its
// key, with more false after the last member. ok is false where
// encoding/json must read the row: broken JSON, or a key that is not plain.
func (rr *rowReader) member(first *bool) (key []byte, more, ok bool) {
	key, verbatim, more, err := rr.s.MemberRaw(first)
	return key, more, err == nil && (verbatim || !more)
}

// plain reads a string without escapes and in valid UTF-8, which
// encoding/json takes as it is; the bytes alias the input.
func (rr *rowReader) plain() ([]byte, bool) {
	s, verbatim, err := rr.s.RawString()
	return s, err == nil && verbatim
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

// null reads null when it is next; ok is false for broken JSON.
func (rr *rowReader) null() (null, ok bool) {
	if rr.s.Peek() != 'n' {
		return false, true // the common case, without a call
	}
	null, err := rr.s.Null()
	return null, err == nil
}

// strField reads a string member; null leaves it empty, as encoding/json
// does to a string it has not set.
func (rr *rowReader) strField(dst *string) bool {
	if null, ok := rr.null(); null || !ok {
		return ok
	}
	s, ok := rr.plain()
	if ok {
		*dst = rr.intern(s)
	}
	return ok
}

// scalar reads a number, a plain string or null as its raw JSON.
func (rr *rowReader) scalar(dst *json.RawMessage) bool { return rr.raw(dst, false) }

// period reads a code, null or an object of plain strings as its raw JSON;
// the validator parses it.
func (rr *rowReader) period(dst *json.RawMessage) bool { return rr.raw(dst, true) }

// raw reads null, a plain string, or else a number (an object of plain
// strings when object is set) as its raw JSON.
func (rr *rowReader) raw(dst *json.RawMessage, object bool) bool {
	s := &rr.s
	c, start := s.Peek(), s.Pos()
	var ok bool
	switch {
	case c == 'n':
		_, ok = rr.null()
	case c == '"':
		_, ok = rr.plain()
	case object:
		ok = rr.stringObject(nil)
	default:
		_, err := s.Number()
		ok = err == nil
	}
	if ok {
		*dst = s.Data()[start:s.Pos()]
	}
	return ok
}

// dims reads an object of plain strings, or null.
func (rr *rowReader) dims(dst *map[string]string) bool {
	if null, ok := rr.null(); null || !ok {
		return ok
	}
	m := make(map[string]string, 2)
	if !rr.stringObject(m) {
		return false
	}
	*dst = m
	return true
}

// stringObject reads an object whose members are all plain strings, into m
// unless it is nil.
func (rr *rowReader) stringObject(m map[string]string) bool {
	for first := true; ; {
		k, more, ok := rr.member(&first)
		if !ok || !more {
			return ok
		}
		v, ok := rr.plain()
		if !ok {
			return false
		}
		if m != nil {
			m[rr.intern(k)] = rr.intern(v)
		}
	}
}
