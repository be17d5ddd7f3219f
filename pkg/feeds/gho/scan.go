package gho

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// maxDepth bounds the nesting of skipped values, as encoding/json does.
const maxDepth = 10000

// syntaxError is malformed JSON at a byte offset of the body.
type syntaxError struct {
	offset int
	eof    bool // the body ended where more was needed
	msg    string
}

func (e *syntaxError) Error() string {
	if e.eof {
		return fmt.Sprintf("the body ends at byte %d in the middle of a JSON value; it was probably cut short", e.offset)
	}
	return fmt.Sprintf("malformed JSON at byte %d: %s", e.offset, e.msg)
}

// scanner reads JSON from a byte slice in place. It accepts exactly what
// encoding/json accepts (strings are decoded by encoding/json itself
// whenever they hold an escape or a non-ASCII byte) and allocates only for
// such strings.
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

// peek skips white space and returns the next byte, 0 at the end (a NUL
// byte in the body is no JSON either; atEnd tells the two apart).
func (s *scanner) peek() byte {
	s.ws()
	if s.pos >= len(s.buf) {
		return 0
	}
	return s.buf[s.pos]
}

// atEnd skips white space and reports whether the body ends there.
func (s *scanner) atEnd() bool {
	s.ws()
	return s.pos >= len(s.buf)
}

// errorf is a syntax error at the current position; at the end of the
// body it says the body was cut short instead.
func (s *scanner) errorf(format string, args ...any) error {
	if s.pos >= len(s.buf) {
		return &syntaxError{offset: len(s.buf), eof: true}
	}
	return &syntaxError{offset: s.pos, msg: fmt.Sprintf(format, args...)}
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

// rawString reads a string token and returns it with its quotes, and
// whether it needs decoding (an escape or a non-ASCII byte).
func (s *scanner) rawString() (raw []byte, slow bool, err error) {
	if s.peek() != '"' {
		return nil, false, s.errorf("want a string, found %s", s.found())
	}
	b := s.buf
	start := s.pos
	i := start + 1
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			s.pos = i + 1
			return b[start:s.pos], slow, nil
		case c < 0x20:
			s.pos = i
			return nil, false, s.errorf("control character %#02x in a string", c)
		case c >= 0x80:
			slow = true
			i++
		case c == '\\':
			slow = true
			if i+1 >= len(b) {
				s.pos = len(b)
				return nil, false, s.errorf("")
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				for k := i + 2; k < i+6; k++ {
					if k >= len(b) {
						s.pos = len(b)
						return nil, false, s.errorf("")
					}
					if !isHex(b[k]) {
						s.pos = k
						return nil, false, s.errorf("invalid character %s in a \\u escape", s.found())
					}
				}
				i += 6
			default:
				s.pos = i + 1
				return nil, false, s.errorf("invalid escape %s in a string", s.found())
			}
		default:
			i++
		}
	}
	s.pos = len(b)
	return nil, false, s.errorf("")
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// content is the text of a raw string token: its bytes between the quotes,
// or, when it needs decoding, what encoding/json decodes it to (escapes
// resolved, invalid UTF-8 replaced by U+FFFD).
func content(raw []byte, slow bool) []byte {
	if !slow {
		return raw[1 : len(raw)-1]
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		// rawString checked the token; encoding/json agrees on strings.
		return raw[1 : len(raw)-1]
	}
	return []byte(v)
}

// str reads a string and returns its decoded text; without escapes or
// non-ASCII bytes the result aliases the body.
func (s *scanner) str() ([]byte, error) {
	raw, slow, err := s.rawString()
	if err != nil {
		return nil, err
	}
	return content(raw, slow), nil
}

// number reads a number token as JSON's grammar has it and returns its text.
func (s *scanner) number() ([]byte, error) {
	s.ws()
	b := s.buf
	start := s.pos
	i := start
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		s.pos = i
		return nil, s.errorf("")
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		s.pos = i
		return nil, s.errorf("want a digit, found %s", s.found())
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			s.pos = i
			return nil, s.errorf("want a digit after the decimal point, found %s", s.found())
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			s.pos = i
			return nil, s.errorf("want a digit in the exponent, found %s", s.found())
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	s.pos = i
	return b[start:i], nil
}

// literal reads the word true, false or null.
func (s *scanner) literal(word string) error {
	s.ws()
	for i := 0; i < len(word); i++ {
		if s.pos >= len(s.buf) {
			return s.errorf("")
		}
		if s.buf[s.pos] != word[i] {
			return s.errorf("invalid character %s in the literal %s", s.found(), word)
		}
		s.pos++
	}
	return nil
}

// null reads null when it comes next and says whether it did.
func (s *scanner) null() (bool, error) {
	if s.peek() != 'n' {
		return false, nil
	}
	return true, s.literal("null")
}

// skip reads any value and returns its text.
func (s *scanner) skip() ([]byte, error) {
	start := s.peekPos()
	if err := s.skipDepth(0); err != nil {
		return nil, err
	}
	return s.buf[start:s.pos], nil
}

func (s *scanner) peekPos() int {
	s.ws()
	return s.pos
}

func (s *scanner) skipDepth(depth int) error {
	switch c := s.peek(); c {
	case '"':
		_, _, err := s.rawString()
		return err
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	case '{', '[':
		if depth >= maxDepth {
			return s.errorf("values nest deeper than %d", maxDepth)
		}
		s.pos++
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		if s.peek() == end {
			s.pos++
			return nil
		}
		for {
			if c == '{' {
				if _, _, err := s.rawString(); err != nil {
					return err
				}
				if err := s.consume(':'); err != nil {
					return err
				}
			}
			if err := s.skipDepth(depth + 1); err != nil {
				return err
			}
			switch s.peek() {
			case ',':
				s.pos++
			case end:
				s.pos++
				return nil
			default:
				return s.errorf("want ',' or %q, found %s", end, s.found())
			}
		}
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			_, err := s.number()
			return err
		}
		return s.errorf("want a JSON value, found %s", s.found())
	}
}

// object reads an object, calling field for each key with the scanner
// before the key's value; field must read the value.
func (s *scanner) object(field func(key []byte) error) error {
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
			return s.errorf("want ',' or '}', found %s", s.found())
		}
	}
}
