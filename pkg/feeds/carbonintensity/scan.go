package carbonintensity

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth is how deeply values the reader skips may nest.
const maxDepth = 256

// scanner reads JSON (RFC 8259) from a body held in memory, one token at a
// time, so that the reader can say where a problem is and yield a record's
// observations before the next record is read. It accepts exactly what
// encoding/json accepts (invalid UTF-8 in a string becomes U+FFFD, as there)
// except values nested deeper than maxDepth.
type scanner struct {
	data []byte
	pos  int
}

// scanError is a problem at a byte offset of the body; value is the
// offending JSON text, when there is one.
type scanError struct {
	offset int
	value  []byte
	reason string
}

func (e *scanError) Error() string { return fmt.Sprintf("byte %d: %s", e.offset, e.reason) }

func (s *scanner) errorf(format string, args ...any) *scanError {
	return &scanError{offset: s.pos, reason: fmt.Sprintf(format, args...)}
}

// ws skips white space. Pretty-printed bodies are mostly indentation, so
// runs of spaces are skipped eight bytes at a time.
func (s *scanner) ws() {
	i, d := s.pos, s.data
	for i < len(d) {
		switch d[i] {
		case ' ':
			if i+8 <= len(d) && binary.LittleEndian.Uint64(d[i:]) == eightSpaces {
				i += 8
				continue
			}
			i++
		case '\n', '\t', '\r':
			i++
		default:
			s.pos = i
			return
		}
	}
	s.pos = i
}

const eightSpaces = 0x2020202020202020

// peek returns the next byte after white space, 0 at the end of the body.
func (s *scanner) peek() byte {
	s.ws()
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

// atEnd reports whether only white space is left.
func (s *scanner) atEnd() bool {
	s.ws()
	return s.pos >= len(s.data)
}

// unexpected is the error for the next byte not being what want describes.
func (s *scanner) unexpected(want string) *scanError {
	s.ws()
	if s.pos >= len(s.data) {
		return s.errorf("the body ends where %s was expected; it was probably cut short", want)
	}
	return s.errorf("%s expected, found %s", want, describeByte(s.data[s.pos]))
}

func describeByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return strconv.QuoteRune(rune(c))
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

// member moves to the next member of an object whose '{' was consumed and
// returns its key; more is false after the closing '}'. first must be true
// for the first call of each object and is cleared by it.
func (s *scanner) member(first *bool) (key []byte, more bool, err error) {
	c := s.peek()
	if *first {
		*first = false
		if c == '}' {
			s.pos++
			return nil, false, nil
		}
	} else {
		switch c {
		case ',':
			s.pos++
			if s.peek() != '"' {
				return nil, false, s.unexpected("a member name (a string)")
			}
		case '}':
			s.pos++
			return nil, false, nil
		default:
			return nil, false, s.unexpected("',' or '}'")
		}
	}
	if s.peek() != '"' {
		return nil, false, s.unexpected("a member name (a string) or '}'")
	}
	key, err = s.str()
	if err != nil {
		return nil, false, err
	}
	if s.peek() != ':' {
		return nil, false, s.unexpected("':'")
	}
	s.pos++
	return key, true, nil
}

// element moves to the next element of an array whose '[' was consumed;
// more is false after the closing ']'. first is as for member.
func (s *scanner) element(first *bool) (more bool, err error) {
	c := s.peek()
	if *first {
		*first = false
		if c == ']' {
			s.pos++
			return false, nil
		}
		return true, nil
	}
	switch c {
	case ',':
		s.pos++
		if s.peek() == ']' {
			return false, s.unexpected("a value after ','")
		}
		return true, nil
	case ']':
		s.pos++
		return false, nil
	}
	return false, s.unexpected("',' or ']'")
}

// open consumes c ('{' or '['), or fails naming what the value is instead.
func (s *scanner) open(c byte, what string) error {
	if s.peek() == c {
		s.pos++
		return nil
	}
	return s.notA(what)
}

// notA is the error for a value that is not what was wanted, carrying the
// value's text; the scanner moves past the value when it is well formed.
func (s *scanner) notA(what string) error {
	s.ws()
	if s.pos >= len(s.data) {
		return s.unexpected(what)
	}
	start := s.pos
	kind := "this"
	switch c := s.data[s.pos]; {
	case c == '{':
		kind = "an object"
	case c == '[':
		kind = "an array"
	case c == '"':
		kind = "a string"
	case c == 't' || c == 'f':
		kind = "a boolean"
	case c == 'n':
		kind = "null"
	case c == '-' || (c >= '0' && c <= '9'):
		kind = "a number"
	}
	if err := s.skip(0); err != nil {
		return err
	}
	return &scanError{offset: start, value: s.data[start:s.pos], reason: fmt.Sprintf("is %s, not %s", kind, what)}
}

// null consumes a null and reports whether there was one.
func (s *scanner) null() (bool, error) {
	if s.peek() != 'n' {
		return false, nil
	}
	return true, s.literal("null")
}

func (s *scanner) literal(word string) error {
	if len(s.data)-s.pos < len(word) || string(s.data[s.pos:s.pos+len(word)]) != word {
		if len(s.data)-s.pos < len(word) && string(s.data[s.pos:]) == word[:len(s.data)-s.pos] {
			return s.errorf("the body ends inside %s; it was probably cut short", word)
		}
		return s.errorf("invalid literal, %s expected", word)
	}
	s.pos += len(word)
	return nil
}

// str reads a string. Without escapes or invalid UTF-8 the result is a slice
// of the body, valid until the body is dropped; callers copy what they keep.
func (s *scanner) str() ([]byte, error) {
	if s.peek() != '"' {
		return nil, s.unexpected("a string")
	}
	start := s.pos
	s.pos++
	for i := s.pos; i < len(s.data); i++ {
		c := s.data[i]
		switch {
		case c == '"':
			s.pos = i + 1
			return s.data[start+1 : i], nil
		case c == '\\' || c >= utf8.RuneSelf:
			return s.strSlow(start)
		case c < 0x20:
			s.pos = i
			return nil, s.errorf("control character %s in a string", describeByte(c))
		}
	}
	s.pos = len(s.data)
	return nil, s.errorf("the body ends inside a string; it was probably cut short")
}

// strSlow decodes a string with escapes or non-ASCII bytes as encoding/json
// does; start is the offset of its opening quote.
func (s *scanner) strSlow(start int) ([]byte, error) {
	buf := make([]byte, 0, 32)
	i := start + 1
	for i < len(s.data) {
		c := s.data[i]
		switch {
		case c == '"':
			s.pos = i + 1
			return buf, nil
		case c < 0x20:
			s.pos = i
			return nil, s.errorf("control character %s in a string", describeByte(c))
		case c == '\\':
			if i+1 >= len(s.data) {
				s.pos = len(s.data)
				return nil, s.errorf("the body ends inside a string; it was probably cut short")
			}
			e := s.data[i+1]
			i += 2
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
				r, ok := hex4(s.data, i)
				if !ok {
					s.pos = i - 2
					return nil, s.errorf(`invalid \u escape in a string`)
				}
				i += 4
				if utf16.IsSurrogate(r) {
					r2, ok := rune(0), false
					if i+6 <= len(s.data) && s.data[i] == '\\' && s.data[i+1] == 'u' {
						r2, ok = hex4(s.data, i+2)
					}
					if dec := utf16.DecodeRune(r, r2); ok && dec != utf8.RuneError {
						r = dec
						i += 6
					} else {
						r = utf8.RuneError
					}
				}
				buf = utf8.AppendRune(buf, r)
			default:
				s.pos = i - 2
				return nil, s.errorf("invalid escape %s in a string", describeByte(e))
			}
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			i++
		default:
			r, size := utf8.DecodeRune(s.data[i:])
			i += size
			buf = utf8.AppendRune(buf, r) // invalid UTF-8 becomes U+FFFD
		}
	}
	s.pos = len(s.data)
	return nil, s.errorf("the body ends inside a string; it was probably cut short")
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// numberToken moves past a number as RFC 8259 writes it and returns its
// text with the count of significant digits, the digits after the point and
// whether it has an exponent. On a malformed number pos stays at its start.
func (s *scanner) numberToken() (tok []byte, mant uint64, digits, frac int, exp bool, err error) {
	start := s.pos
	i := s.pos
	d := s.data
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			mant = mant*10 + uint64(d[i]-'0')
			digits++
			i++
		}
	default:
		return nil, 0, 0, 0, false, s.malformedNumber(start, i)
	}
	if i < len(d) && d[i] == '.' {
		i++
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			return nil, 0, 0, 0, false, s.malformedNumber(start, i)
		}
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			if mant != 0 || d[i] != '0' {
				mant = mant*10 + uint64(d[i]-'0')
				digits++
			}
			frac++
			i++
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		exp = true
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			return nil, 0, 0, 0, false, s.malformedNumber(start, i)
		}
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	}
	s.pos = i
	return d[start:i], mant, digits, frac, exp, nil
}

func (s *scanner) malformedNumber(start, at int) error {
	if at >= len(s.data) {
		return &scanError{offset: start, value: s.data[start:], reason: "the body ends inside a number; it was probably cut short"}
	}
	return &scanError{offset: start, value: s.data[start : at+1], reason: "is not a well-formed JSON number"}
}

// pow10 are the powers of ten a float64 holds exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// number reads a number, or fails naming what the value is instead. The
// result equals strconv.ParseFloat of the number's text; -0 is read as 0.
func (s *scanner) number() (float64, error) {
	c := s.peek()
	if c != '-' && (c < '0' || c > '9') {
		return 0, s.notA("a number")
	}
	start := s.pos
	tok, mant, digits, frac, exp, err := s.numberToken()
	if err != nil {
		return 0, err
	}
	var v float64
	// Clinger's fast path, as in strconv: at most 15 significant digits
	// are an exact integer, and dividing by an exact power of ten rounds
	// correctly.
	if !exp && digits <= 15 && frac < len(pow10) {
		v = float64(mant) / pow10[frac]
		if tok[0] == '-' {
			v = -v
		}
	} else {
		v, err = strconv.ParseFloat(string(tok), 64)
		if errors.Is(err, strconv.ErrRange) {
			return 0, &scanError{offset: start, value: tok, reason: "is out of the range of a 64-bit float"}
		}
		if err != nil {
			return 0, &scanError{offset: start, value: tok, reason: "is not a number"}
		}
	}
	if v == 0 {
		v = 0 // no negative zero
	}
	return v, nil
}

// skip moves past one value of any kind, checking that it is well formed.
func (s *scanner) skip(depth int) error {
	if depth >= maxDepth {
		return s.errorf("values are nested deeper than %d levels", maxDepth)
	}
	switch c := s.peek(); {
	case c == '{':
		s.pos++
		first := true
		for {
			_, more, err := s.member(&first)
			if err != nil || !more {
				return err
			}
			if err := s.skip(depth + 1); err != nil {
				return err
			}
		}
	case c == '[':
		s.pos++
		first := true
		for {
			more, err := s.element(&first)
			if err != nil || !more {
				return err
			}
			if err := s.skip(depth + 1); err != nil {
				return err
			}
		}
	case c == '"':
		_, err := s.str()
		return err
	case c == '-' || (c >= '0' && c <= '9'):
		_, _, _, _, _, err := s.numberToken()
		return err
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return s.unexpected("a value")
}
