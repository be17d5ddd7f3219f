package carbonintensity

import (
	"errors"
	"fmt"

	"github.com/ounce-data/ounce/pkg/jsonscan"
)

// maxDepth is how deeply values the reader skips may nest.
const maxDepth = 256

// valueError is a problem at a byte offset of the body; value is the
// offending JSON text, when there is one.
type valueError struct {
	offset int
	value  []byte
	reason string
}

func (e *valueError) Error() string { return fmt.Sprintf("byte %d: %s", e.offset, e.reason) }

// here is the error with reason at the scanner's position.
func here(s *jsonscan.Scanner, format string, args ...any) *valueError {
	return &valueError{offset: s.Pos(), reason: fmt.Sprintf(format, args...)}
}

// asValueError places err in data: a *valueError as it is, a
// *jsonscan.SyntaxError where it goes wrong, except that a malformed
// number or literal is placed at its start (and a number quoted); nil for
// other errors.
func asValueError(data []byte, err error) *valueError {
	var ve *valueError
	if errors.As(err, &ve) {
		return ve
	}
	var se *jsonscan.SyntaxError
	if !errors.As(err, &se) {
		return nil
	}
	e := &valueError{offset: se.Offset, reason: se.Msg}
	if se.EOF {
		e.reason = "the body ends in the middle of a JSON value; it was probably cut short"
	}
	if se.Start == se.Offset || data[se.Start] == '"' {
		return e
	}
	e.offset = se.Start
	if c := data[se.Start]; c == '-' || (c >= '0' && c <= '9') {
		e.value = data[se.Start:min(se.Offset+1, len(data))]
		e.reason = "is not a well-formed JSON number"
		if se.EOF {
			e.reason = "the body ends inside a number; it was probably cut short"
		}
	}
	return e
}

// name is a member's key as a field name: text, as encoding/json decodes
// it.
func name(key []byte) string { return string(jsonscan.ValidUTF8(key)) }

// expect checks that the next value starts with c ('{' or '['), which
// Member or Element then reads, or fails naming what the value is instead.
func expect(s *jsonscan.Scanner, c byte, what string) error {
	if s.Peek() == c {
		return nil
	}
	return notA(s, what)
}

// element is s.Element, but a ',' before the closing ']' is the array's
// error, not that of an element that is not there.
func element(s *jsonscan.Scanner, first *bool) (bool, error) {
	after := !*first
	more, err := s.Element(first)
	if more && after && s.Peek() == ']' {
		return false, s.Errorf("want a value after ',', found ']'")
	}
	return more, err
}

// notA is the error for a value that is not what was wanted, carrying the
// value's text; the scanner moves past the value when it is well formed.
func notA(s *jsonscan.Scanner, what string) error {
	if s.AtEnd() {
		return here(s, "the body ends where %s was expected; it was probably cut short", what)
	}
	start := s.Pos()
	kind := "this"
	switch c := s.Data()[start]; {
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
	if err := s.Skip(); err != nil {
		return err
	}
	return &valueError{offset: start, value: s.Data()[start:s.Pos()], reason: fmt.Sprintf("is %s, not %s", kind, what)}
}

// number reads a number, or fails naming what the value is instead. The
// result equals strconv.ParseFloat of the number's text; -0 is read as 0.
func number(s *jsonscan.Scanner) (float64, error) {
	c := s.Peek()
	if c != '-' && (c < '0' || c > '9') {
		return 0, notA(s, "a number")
	}
	start := s.Pos()
	v, err := s.Float()
	if errors.Is(err, jsonscan.ErrRange) {
		return 0, &valueError{offset: start, value: s.Data()[start:s.Pos()], reason: "is out of the range of a 64-bit float"}
	}
	if err != nil {
		return 0, err
	}
	if v == 0 {
		v = 0 // no negative zero
	}
	return v, nil
}
