package jsonscan

import "unicode/utf8"

// RawString reads a string without decoding it, and allocates nothing
// for a well-formed one: raw is the text between its quotes as written,
// aliasing the body, and verbatim reports whether that text is the
// string's contents as Text returns them (no escapes, all UTF-8), so that
// a reader can take it as it is and leave any other string to String or
// Text. It fails where String fails, with String's error.
func (s *Scanner) RawString() (raw []byte, verbatim bool, err error) {
	if !s.here('"') && s.Peek() != '"' {
		return s.stringError(s.pos)
	}
	quote := s.pos
	b := s.buf
	escaped := false
	var bits byte // every byte ORed: its top bit is set when one is not ASCII
	for i := quote + 1; i < len(b); i++ {
		c := b[i]
		bits |= c
		switch {
		case c == '"':
			s.pos = i + 1
			raw = b[quote+1 : i]
			return raw, !escaped && (bits < utf8.RuneSelf || utf8.Valid(raw)), nil
		case c < 0x20:
			return s.stringError(quote)
		case c == '\\':
			escaped = true
			if i+1 >= len(b) {
				return s.stringError(quote)
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if i+6 > len(b) {
					return s.stringError(quote)
				}
				if _, ok := hex4At(b[i+2 : i+6]); !ok {
					return s.stringError(quote)
				}
				i += 5
			default:
				return s.stringError(quote)
			}
		}
	}
	return s.stringError(quote)
}

// stringError fails as String fails on the string that is not well-formed
// at quote (or on what stands there instead of a string).
func (s *Scanner) stringError(quote int) ([]byte, bool, error) {
	s.pos = quote
	_, err := s.String()
	return nil, false, err
}

// MemberRaw steps through an object as Member does, but reads each key as
// RawString reads a string: as written, verbatim saying whether that is
// its contents. It allocates nothing for a well-formed object: a reader
// that takes only plain keys, and leaves any other to a slower path, steps
// with it.
func (s *Scanner) MemberRaw(first *bool) (key []byte, verbatim, more bool, err error) {
	if more, err = s.memberStart(first); !more || err != nil {
		return nil, false, false, err
	}
	if key, verbatim, err = s.RawString(); err != nil {
		return nil, false, false, err
	}
	if s.here(':') {
		s.pos++
	} else if err := s.Consume(':'); err != nil {
		return nil, false, false, err
	}
	return key, verbatim, true, nil
}

// memberStart reads what stands before a member's key: the '{' on the
// first call, a ',' after; more is false (and the '}' read) when the object
// ends instead.
func (s *Scanner) memberStart(first *bool) (more bool, err error) {
	if !*first {
		if s.here(',') || s.Peek() == ',' {
			s.pos++
			return true, nil
		}
		if s.Peek() == '}' {
			s.pos++
			return false, nil
		}
		_, _, err := s.Member(first) // fails as Member does
		return false, err
	}
	*first = false
	if err := s.Consume('{'); err != nil {
		return false, err
	}
	if more = s.Peek() != '}'; !more {
		s.pos++ // an empty object
	}
	return more, nil
}

// here reports whether c stands right at the position, where the next
// token mostly stands: a reader in a hurry looks there before it calls
// Peek.
func (s *Scanner) here(c byte) bool { return s.pos < len(s.buf) && s.buf[s.pos] == c }
