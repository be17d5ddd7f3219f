// Package jsonscan reads JSON in place, strictly: it accepts what
// encoding/json's Valid accepts and nothing more (bar a leading byte-order
// mark the caller strips), allocates only for strings with escapes (and,
// read as Text, strings that are not UTF-8), and says where a malformed
// body goes wrong, by byte offset. It is the one
// JSON lexer of the observation decoder, the feed readers and the
// gateway's row reader: each walks the grammar it expects with Object,
// Array or Member and Element, and reads scalars with String (or Text),
// Number (or Float) and Null.
package jsonscan

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxDepth bounds the nesting of values, as encoding/json does.
const MaxDepth = 10000

// SyntaxError is malformed JSON at a byte offset of the body.
type SyntaxError struct {
	Offset int
	EOF    bool // the body ended where more was needed
	Msg    string
	// Start is where the string, number or literal the error is in begins
	// (its quote or first byte), to quote or point at the whole token; for
	// an error between values it is Offset.
	Start int
}

func (e *SyntaxError) Error() string {
	if e.EOF {
		return fmt.Sprintf("the body ends at byte %d in the middle of a JSON value; it was probably cut short", e.Offset)
	}
	return fmt.Sprintf("malformed JSON at byte %d: %s", e.Offset, e.Msg)
}

// Scanner reads one JSON body. The zero Scanner reads an empty body; Reset
// gives it another.
type Scanner struct {
	buf   []byte
	pos   int
	depth int // the nesting bound, 0 for MaxDepth
}

// New returns a Scanner at the start of data.
func New(data []byte) *Scanner { return &Scanner{buf: data} }

// Reset makes s read data from its start; the nesting bound is kept.
func (s *Scanner) Reset(data []byte) { s.buf, s.pos = data, 0 }

// SetMaxDepth bounds how deeply the values s reads may nest: at most n
// objects and arrays one inside the other (n ≤ 0 restores MaxDepth).
func (s *Scanner) SetMaxDepth(n int) { s.depth = max(n, 0) }

func (s *Scanner) maxDepth() int {
	if s.depth == 0 {
		return MaxDepth
	}
	return s.depth
}

// Data is the body being read.
func (s *Scanner) Data() []byte { return s.buf }

// Pos is the offset of the next byte to read.
func (s *Scanner) Pos() int { return s.pos }

// Seek moves to offset pos of the body.
func (s *Scanner) Seek(pos int) { s.pos = min(max(pos, 0), len(s.buf)) }

// WS skips white space. Pretty-printed bodies are mostly indentation, so
// runs of spaces are skipped eight bytes at a time; s.pos is stored only
// when it moves, so that a body without white space costs a load and a
// compare.
func (s *Scanner) WS() {
	i, b := s.pos, s.buf
	if i < len(b) && isSpace[b[i]] {
		for i < len(b) && isSpace[b[i]] {
			if len(b)-i >= 8 && binary.LittleEndian.Uint64(b[i:]) == eightSpaces {
				i += 8
			} else {
				i++
			}
		}
		s.pos = i
	}
}

// isSpace is JSON's white space.
var isSpace = [256]bool{' ': true, '\t': true, '\n': true, '\r': true}

const eightSpaces = 0x2020202020202020

// Peek skips white space and returns the next byte, 0 at the end.
func (s *Scanner) Peek() byte {
	s.WS()
	if s.pos >= len(s.buf) {
		return 0
	}
	return s.buf[s.pos]
}

// AtEnd skips white space and reports whether the body is over.
func (s *Scanner) AtEnd() bool {
	s.WS()
	return s.pos >= len(s.buf)
}

// Errorf is a syntax error at the current position; at the end of the body
// it says the body was cut short instead.
func (s *Scanner) Errorf(format string, args ...any) error {
	return s.tokenErrorf(-1, format, args...)
}

// tokenErrorf is Errorf inside the token that starts at start (-1 between
// values).
func (s *Scanner) tokenErrorf(start int, format string, args ...any) *SyntaxError {
	e := &SyntaxError{Offset: s.pos, Start: start}
	if s.pos >= len(s.buf) {
		e.Offset, e.EOF = len(s.buf), true
	} else {
		e.Msg = fmt.Sprintf(format, args...)
	}
	if start < 0 {
		e.Start = e.Offset
	}
	return e
}

// Found describes the byte at the current position for an error.
func (s *Scanner) Found() string {
	if s.pos >= len(s.buf) {
		return "the end of the body"
	}
	return strconv.QuoteRune(rune(s.buf[s.pos]))
}

// Consume skips white space and the byte c.
func (s *Scanner) Consume(c byte) error {
	if s.Peek() != c {
		return s.Errorf("want %q, found %s", c, s.Found())
	}
	s.pos++
	return nil
}

// String reads a string and returns its contents. Without escapes the
// result aliases the body; with escapes it is a new slice. Bytes that are
// not UTF-8 are returned as written (encoding/json would replace them with
// U+FFFD): a caller that keeps text checks it, or reads it with Text.
func (s *Scanner) String() ([]byte, error) {
	if s.Peek() != '"' {
		return nil, s.Errorf("want a string, found %s", s.Found())
	}
	quote := s.pos
	b := s.buf
	for i := quote + 1; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			s.pos = i + 1
			return b[quote+1 : i], nil
		case c == '\\':
			return s.unescape(quote)
		case c < 0x20:
			return nil, s.controlError(quote, i)
		}
	}
	s.pos = len(b)
	return nil, s.tokenErrorf(quote, "")
}

// Text reads a string as encoding/json decodes it: as String does, with
// each byte that is not part of a UTF-8 sequence replaced by U+FFFD. The
// result aliases the body when the string has no escapes and is UTF-8.
func (s *Scanner) Text() ([]byte, error) {
	if s.Peek() != '"' {
		return nil, s.Errorf("want a string, found %s", s.Found())
	}
	quote := s.pos
	b := s.buf
	var bits byte // every byte ORed: its top bit is set when one is not ASCII
	for i := quote + 1; i < len(b); i++ {
		c := b[i]
		bits |= c
		switch {
		case c == '"':
			s.pos = i + 1
			if bits >= utf8.RuneSelf {
				return ValidUTF8(b[quote+1 : i]), nil
			}
			return b[quote+1 : i], nil
		case c == '\\':
			out, err := s.unescape(quote)
			if err != nil {
				return nil, err
			}
			return ValidUTF8(out), nil
		case c < 0x20:
			return nil, s.controlError(quote, i)
		}
	}
	s.pos = len(b)
	return nil, s.tokenErrorf(quote, "")
}

// controlError is the error for the control character at i in the string
// whose quote is at quote.
func (s *Scanner) controlError(quote, i int) error {
	s.pos = i
	return s.tokenErrorf(quote, "control character %#02x in a string", s.buf[i])
}

// ValidUTF8 is b with each byte that is not part of a UTF-8 sequence
// replaced by U+FFFD, as encoding/json decodes strings: b itself when it
// is UTF-8, else a new slice.
func ValidUTF8(b []byte) []byte {
	if utf8.Valid(b) {
		return b
	}
	out := make([]byte, 0, len(b)+8)
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		out = utf8.AppendRune(out, r)
		i += n
	}
	return out
}

// unescape decodes the string whose opening quote is at quote.
func (s *Scanner) unescape(quote int) ([]byte, error) {
	b := s.buf
	out := make([]byte, 0, 32)
	i := quote + 1
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			s.pos = i + 1
			return out, nil
		case c < 0x20:
			return nil, s.controlError(quote, i)
		case c != '\\':
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(b) {
			s.pos = len(b)
			return nil, s.tokenErrorf(quote, "")
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
			r, err := s.hex4(quote, i)
			if err != nil {
				return nil, err
			}
			i += 6
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
			s.pos = i // errors in an escape are at its backslash
			if e < 0x20 || e >= 0x7f {
				return nil, s.tokenErrorf(quote, "invalid escape: byte %#02x after a backslash in a string", e)
			}
			return nil, s.tokenErrorf(quote, "invalid escape \\%c in a string", e)
		}
		i += 2
	}
	s.pos = len(b)
	return nil, s.tokenErrorf(quote, "")
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

// hex4 reads the four hex digits of the \u escape whose backslash is at
// esc, in the string whose quote is at quote.
func (s *Scanner) hex4(quote, esc int) (rune, error) {
	var r rune
	for i := esc + 2; i < esc+6; i++ {
		if i >= len(s.buf) {
			s.pos = len(s.buf)
			return 0, s.tokenErrorf(quote, "")
		}
		d := unhex(s.buf[i])
		if d == 0xff {
			s.pos = esc
			return 0, s.tokenErrorf(quote, "invalid \\u escape in a string")
		}
		r = r<<4 | rune(d)
	}
	return r, nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// Number reads a number and returns its text, checked against JSON's
// grammar.
func (s *Scanner) Number() ([]byte, error) {
	s.WS()
	start := s.pos
	n, ok := NumberLen(s.buf[start:])
	s.pos = start + n
	if !ok {
		return nil, s.tokenErrorf(start, "malformed number, found %s", s.Found())
	}
	return s.buf[start:s.pos], nil
}

// Float reads a number and converts it as ParseFloat does, in one pass: a
// malformed number is a *SyntaxError, one beyond a float64 ErrRange (the
// scanner is then past it).
func (s *Scanner) Float() (float64, error) {
	s.WS()
	start := s.pos
	n, v, exact, ok := lexFloat(s.buf[start:])
	s.pos = start + n
	switch {
	case !ok:
		return 0, s.tokenErrorf(start, "malformed number, found %s", s.Found())
	case exact:
		return v, nil
	}
	return parseFloat(s.buf[start:s.pos])
}

// NumberLen is the length of the JSON number at the start of b; when b
// does not start with one, false and the offset of the first wrong byte.
func NumberLen(b []byte) (int, bool) {
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

// lexFloat is NumberLen that converts the number on the way, so that
// Float reads a number in one pass (NumberLen, which most numbers go
// through unconverted, does not pay for the arithmetic). exact reports
// whether v is the number's value: [-]digits[.digits] with at most 15
// significant digits is an exact integer divided by an exact power of
// ten, which IEEE division rounds correctly (Clinger's fast path, as in
// strconv); any other number is left to strconv.
func lexFloat(b []byte) (n int, v float64, exact, ok bool) {
	var (
		mant         uint64
		digits, frac int
	)
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return i, 0, false, false
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		for ; i < len(b) && isDigit(b[i]); i++ {
			mant = mant*10 + uint64(b[i]-'0')
			digits++
		}
	default:
		return i, 0, false, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return i, 0, false, false
		}
		start := i
		for ; i < len(b) && isDigit(b[i]); i++ {
			if mant != 0 || b[i] != '0' {
				mant = mant*10 + uint64(b[i]-'0')
				digits++
			}
		}
		frac = i - start
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return i, 0, false, false
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
		return i, 0, false, true
	}
	if digits > 15 || frac >= len(pow10) {
		return i, 0, false, true
	}
	v = float64(mant) / pow10[frac]
	if b[0] == '-' {
		v = -v
	}
	return i, v, true, true
}

// Literal reads the word true, false or null.
func (s *Scanner) Literal(word string) error {
	s.WS()
	start := s.pos
	rest := s.buf[start:]
	if len(rest) < len(word) {
		if string(rest) == word[:len(rest)] {
			s.pos = len(s.buf)
		}
		return s.tokenErrorf(start, "want %s, found %s", word, s.Found())
	}
	if string(rest[:len(word)]) != word {
		return s.tokenErrorf(start, "want %s, found %s", word, s.Found())
	}
	s.pos += len(word)
	return nil
}

// Null reads null if the next value is null, and reports whether it was.
func (s *Scanner) Null() (bool, error) {
	if s.Peek() != 'n' {
		return false, nil
	}
	return true, s.Literal("null")
}

// Skip reads any value.
func (s *Scanner) Skip() error { return s.skip(0) }

// SkipIn is Skip for a value that stands inside depth objects and arrays
// the caller has opened: they count toward the nesting bound.
func (s *Scanner) SkipIn(depth int) error { return s.skip(depth) }

func (s *Scanner) skip(depth int) error {
	switch c := s.Peek(); c {
	case '{':
		return s.object(depth, func([]byte) error { return s.skip(depth + 1) })
	case '[':
		return s.array(depth, func(int) error { return s.skip(depth + 1) })
	case '"':
		_, err := s.String()
		return err
	case 't':
		return s.Literal("true")
	case 'f':
		return s.Literal("false")
	case 'n':
		return s.Literal("null")
	default:
		if c == '-' || isDigit(c) {
			_, err := s.Number()
			return err
		}
		return s.Errorf("want a JSON value, found %s", s.Found())
	}
}

// Raw reads any value and returns its text.
func (s *Scanner) Raw() ([]byte, error) { return s.RawIn(0) }

// RawIn is Raw for a value inside depth objects and arrays, as SkipIn.
func (s *Scanner) RawIn(depth int) ([]byte, error) {
	s.WS()
	start := s.pos
	if err := s.skip(depth); err != nil {
		return nil, err
	}
	return s.buf[start:s.pos], nil
}

// tooDeep is the error for an object or array beyond the nesting bound.
func (s *Scanner) tooDeep() error {
	return s.Errorf("values nested deeper than %d", s.maxDepth())
}

// Object reads an object, calling field with each key; field must read the
// key's value (Skip, when it is not wanted).
func (s *Scanner) Object(field func(key []byte) error) error { return s.object(0, field) }

func (s *Scanner) object(depth int, field func(key []byte) error) error {
	if depth >= s.maxDepth() {
		return s.tooDeep()
	}
	if err := s.Consume('{'); err != nil {
		return err
	}
	if s.Peek() == '}' {
		s.pos++
		return nil
	}
	for {
		key, err := s.String()
		if err != nil {
			return err
		}
		if err := s.Consume(':'); err != nil {
			return err
		}
		if err := field(key); err != nil {
			return err
		}
		switch s.Peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return nil
		default:
			return s.Errorf("want ',' or '}' after an object member, found %s", s.Found())
		}
	}
}

// Array reads an array, calling elem with the index of each element; elem
// must read the element.
func (s *Scanner) Array(elem func(i int) error) error { return s.array(0, elem) }

func (s *Scanner) array(depth int, elem func(i int) error) error {
	if depth >= s.maxDepth() {
		return s.tooDeep()
	}
	if err := s.Consume('['); err != nil {
		return err
	}
	if s.Peek() == ']' {
		s.pos++
		return nil
	}
	for i := 0; ; i++ {
		if err := elem(i); err != nil {
			return err
		}
		switch s.Peek() {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return nil
		default:
			return s.Errorf("want ',' or ']' after an array element, found %s", s.Found())
		}
	}
}

// Member steps through an object without a callback: call it with first
// set to true when the scanner is at the '{'; each call reads up to the
// next key and its ':' and returns the key, with more false (and the '}'
// read) after the last member. The caller reads each member's value.
func (s *Scanner) Member(first *bool) (key []byte, more bool, err error) {
	if *first {
		*first = false
		if err := s.Consume('{'); err != nil {
			return nil, false, err
		}
		if s.Peek() == '}' {
			s.pos++
			return nil, false, nil
		}
	} else {
		switch s.Peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return nil, false, nil
		default:
			return nil, false, s.Errorf("want ',' or '}' after an object member, found %s", s.Found())
		}
	}
	if key, err = s.String(); err != nil {
		return nil, false, err
	}
	if err := s.Consume(':'); err != nil {
		return nil, false, err
	}
	return key, true, nil
}

// Element steps through an array as Member steps through an object: more
// is false (and the ']' read) after the last element; the caller reads
// each element.
func (s *Scanner) Element(first *bool) (more bool, err error) {
	if *first {
		*first = false
		if err := s.Consume('['); err != nil {
			return false, err
		}
		if s.Peek() == ']' {
			s.pos++
			return false, nil
		}
		return true, nil
	}
	switch s.Peek() {
	case ',':
		s.pos++
		return true, nil
	case ']':
		s.pos++
		return false, nil
	default:
		return false, s.Errorf("want ',' or ']' after an array element, found %s", s.Found())
	}
}

// pow10 are the powers of ten a float64 holds exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// Errors of ParseFloat.
var (
	ErrNotNumber = errors.New("is not a number")
	ErrRange     = errors.New("is out of the range of a 64-bit float")
)

// ParseFloat converts JSON number text to a float64, equal to
// strconv.ParseFloat's result; text outside JSON's grammar is
// ErrNotNumber, a number beyond a float64 ErrRange.
func ParseFloat(b []byte) (float64, error) {
	n, v, exact, ok := lexFloat(b)
	switch {
	case !ok || n != len(b):
		return 0, ErrNotNumber
	case exact:
		return v, nil
	}
	return parseFloat(b)
}

// parseFloat converts number text that lexFloat could not to a float64.
func parseFloat(b []byte) (float64, error) {
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			return 0, ErrRange
		}
		return 0, ErrNotNumber
	}
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, ErrRange
	}
	return v, nil
}
