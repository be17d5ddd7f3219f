package worldbank

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth bounds the nesting of skipped values, as encoding/json does.
const maxDepth = 10000

// syntaxError is malformed JSON at a byte offset of the body.
type syntaxError struct {
	Offset int
	EOF    bool // the body ended where more was needed
	Msg    string
}

func (e *syntaxError) Error() string {
	if e.EOF {
		return fmt.Sprintf("the body ends at byte %d in the middle of a JSON value; it was probably cut short", e.Offset)
	}
	return fmt.Sprintf("malformed JSON at byte %d: %s", e.Offset, e.Msg)
}

// scanner reads JSON from a byte slice in place. It is strict (it accepts
// what encoding/json's Valid accepts and nothing more, bar a leading
// byte-order mark the caller strips) and allocates only for strings with
// escapes.
type scanner struct {
	buf []byte
	pos int
}

func (s *scanner) ws() {
	for s.pos < len(s.buf) {
		switch s.buf[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// peek skips white space and returns the next byte, 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.pos >= len(s.buf) {
		return 0
	}
	return s.buf[s.pos]
}

func (s *scanner) eof() bool { return s.pos >= len(s.buf) }

// errorf is a syntax error at the current position; at the end of the body
// it says the body was cut short instead.
func (s *scanner) errorf(format string, args ...any) error {
	if s.pos >= len(s.buf) {
		return &syntaxError{Offset: len(s.buf), EOF: true}
	}
	return &syntaxError{Offset: s.pos, Msg: fmt.Sprintf(format, args...)}
}

// found describes the byte at the current position for an error.
func (s *scanner) found() string {
	if s.pos >= len(s.buf) {
		return "the end of the body"
	}
	return strconv.QuoteRune(rune(s.buf[s.pos]))
}

// consume skips white space and the byte c.
func (s *scanner) consume(c byte) error {
	if s.peek() != c {
		return s.errorf("want %q, found %s", c, s.found())
	}
	s.pos++
	return nil
}

// str reads a string and returns its contents. Without escapes the result
// aliases the body; with escapes it is a new slice.
func (s *scanner) str() ([]byte, error) {
	if s.peek() != '"' {
		return nil, s.errorf("want a string, found %s", s.found())
	}
	s.pos++
	start := s.pos
	b := s.buf
	for i := start; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			s.pos = i + 1
			return b[start:i], nil
		case c == '\\':
			return s.strEscaped(start)
		case c < 0x20:
			s.pos = i
			return nil, s.errorf("control character %#02x in a string", c)
		}
	}
	s.pos = len(b)
	return nil, s.errorf("")
}

func (s *scanner) strEscaped(start int) ([]byte, error) {
	b := s.buf
	out := make([]byte, 0, 32)
	i := start
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			s.pos = i + 1
			return out, nil
		case c < 0x20:
			s.pos = i
			return nil, s.errorf("control character %#02x in a string", c)
		case c != '\\':
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(b) {
			s.pos = len(b)
			return nil, s.errorf("")
		}
		switch e := b[i+1]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, n, err := s.hex4(i + 2)
			if err != nil {
				return nil, err
			}
			i += 2 + n
			if utf16.IsSurrogate(r) {
				hi := r
				r = utf8.RuneError
				// A high surrogate followed by a low one is one rune;
				// anything else is U+FFFD, as encoding/json decodes it.
				if i+5 < len(b) && b[i] == '\\' && b[i+1] == 'u' {
					if lo, ok := hex4At(b[i+2 : i+6]); ok {
						if dec := utf16.DecodeRune(hi, lo); dec != utf8.RuneError {
							r = dec
							i += 6
						}
					}
				}
			}
			out = utf8.AppendRune(out, r)
			continue
		default:
			s.pos = i + 1
			return nil, s.errorf("invalid escape \\%c in a string", e)
		}
		i += 2
	}
	s.pos = len(b)
	return nil, s.errorf("")
}

// hex4At reads four hex digits without moving the scanner.
func hex4At(h []byte) (rune, bool) {
	var r rune
	for _, c := range h {
		d := unhex(c)
		if d == 0xff {
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10
	}
	return 0xff
}

// hex4 reads the four hex digits of a \u escape at i.
func (s *scanner) hex4(i int) (rune, int, error) {
	var r rune
	for k := range 4 {
		if i+k >= len(s.buf) {
			s.pos = len(s.buf)
			return 0, 0, s.errorf("")
		}
		d := unhex(s.buf[i+k])
		if d == 0xff {
			s.pos = i + k
			return 0, 0, s.errorf("invalid \\u escape in a string")
		}
		r = r<<4 | rune(d)
	}
	return r, 4, nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// number reads a number and returns its text, checked against JSON's grammar.
func (s *scanner) number() ([]byte, error) {
	s.ws()
	b := s.buf
	start := s.pos
	n, ok := numberLen(b[start:])
	if !ok {
		s.pos = start + n
		return nil, s.errorf("malformed number, found %s", s.found())
	}
	s.pos = start + n
	return b[start : start+n], nil
}

// numberLen is the length of the JSON number at the start of b; when b does
// not start with one, false and the offset of the first wrong byte.
func numberLen(b []byte) (int, bool) {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return i, false
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return i, false
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return i, false
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	return i, true
}

// literal reads true, false or null.
func (s *scanner) literal(word string) error {
	rest := s.buf[s.pos:]
	if len(rest) < len(word) {
		if string(rest) == word[:len(rest)] {
			s.pos = len(s.buf)
		}
		return s.errorf("want %s, found %s", word, s.found())
	}
	if string(rest[:len(word)]) != word {
		return s.errorf("want %s, found %s", word, s.found())
	}
	s.pos += len(word)
	return nil
}

// skip reads any value.
func (s *scanner) skip(depth int) error {
	if depth > maxDepth {
		return s.errorf("values nested deeper than %d", maxDepth)
	}
	switch c := s.peek(); c {
	case '{':
		return s.object(depth, func([]byte) error { return s.skip(depth + 1) })
	case '[':
		return s.array(depth, func(int) error { return s.skip(depth + 1) })
	case '"':
		_, err := s.str()
		return err
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	default:
		if c == '-' || isDigit(c) {
			_, err := s.number()
			return err
		}
		return s.errorf("want a JSON value, found %s", s.found())
	}
}

// raw reads any value and returns its text.
func (s *scanner) raw(depth int) ([]byte, error) {
	s.ws()
	start := s.pos
	if err := s.skip(depth); err != nil {
		return nil, err
	}
	return s.buf[start:s.pos], nil
}

// object reads an object, calling field with each key; field must read the
// key's value.
func (s *scanner) object(depth int, field func(key []byte) error) error {
	if depth > maxDepth {
		return s.errorf("values nested deeper than %d", maxDepth)
	}
	if err := s.consume('{'); err != nil {
		return err
	}
	if s.peek() == '}' {
		s.pos++
		return nil
	}
	for {
		key, err := s.str()
		if err != nil {
			return err
		}
		if err := s.consume(':'); err != nil {
			return err
		}
		if err := field(key); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return nil
		default:
			return s.errorf("want ',' or '}' after an object member, found %s", s.found())
		}
	}
}

// array reads an array, calling elem with the index of each element; elem
// must read the element.
func (s *scanner) array(depth int, elem func(i int) error) error {
	if depth > maxDepth {
		return s.errorf("values nested deeper than %d", maxDepth)
	}
	if err := s.consume('['); err != nil {
		return err
	}
	if s.peek() == ']' {
		s.pos++
		return nil
	}
	for i := 0; ; i++ {
		if err := elem(i); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return nil
		default:
			return s.errorf("want ',' or ']' after an array element, found %s", s.found())
		}
	}
}

// pow10 are the powers of ten a float64 holds exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

var (
	errNotNumber = errors.New("is not a number")
	errRange     = errors.New("is out of the range of a 64-bit float")
)

// parseNumber converts JSON number text (its grammar already checked, or
// checked here) to a float64, equal to strconv.ParseFloat's result.
func parseNumber(b []byte) (float64, error) {
	if n, ok := numberLen(b); !ok || n != len(b) {
		return 0, errNotNumber
	}
	// Fast path: [-]digits[.digits] with at most 15 significant digits is an
	// exact integer divided by an exact power of ten, which IEEE division
	// rounds correctly (Clinger's fast path, as in strconv).
	i, neg := 0, false
	if b[0] == '-' {
		neg, i = true, 1
	}
	var (
		mant         uint64
		digits, frac int
		sawDot       bool
		simple       = true
	)
	for ; i < len(b); i++ {
		c := b[i]
		switch {
		case isDigit(c):
			if sawDot {
				frac++
			}
			if mant == 0 && c == '0' {
				continue
			}
			mant = mant*10 + uint64(c-'0')
			digits++
		case c == '.':
			sawDot = true
		default:
			simple = false
		}
		if !simple || digits > 15 {
			simple = false
			break
		}
	}
	if simple && frac < len(pow10) {
		v := float64(mant) / pow10[frac]
		if neg {
			v = -v
		}
		return v, nil
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			return 0, errRange
		}
		return 0, errNotNumber
	}
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, errRange
	}
	return v, nil
}
