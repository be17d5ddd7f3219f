package feeds

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
)

// pow10 are the powers of ten a float64 holds exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// ParseNumber reads a plain decimal number as publishers write it ("0.015",
// "7663783.0", "1e-05", "-3.2", "1.03042E+11"). Hex, NaN, Inf, thousands
// separators and anything else are errors. It equals strconv.ParseFloat on
// what it accepts, faster on the short plain decimals of most files.
func ParseNumber(s string) (float64, error) {
	// Fast path: [-]digits[.digits] with at most 15 significant digits is
	// an exact integer divided by an exact power of ten, which IEEE
	// division rounds correctly (Clinger's fast path, as in strconv).
	i, neg := 0, false
	if len(s) > 0 && s[0] == '-' {
		neg, i = true, 1
	}
	var (
		mant             uint64
		digits, frac     int
		sawDot, sawDigit bool
		simple           = len(s) > i
	)
	for ; i < len(s) && simple; i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			sawDigit = true
			if mant == 0 && c == '0' {
				if sawDot {
					frac++
				}
				continue
			}
			mant = mant*10 + uint64(c-'0')
			digits++
			if sawDot {
				frac++
			}
		case c == '.' && !sawDot:
			sawDot = true
		default:
			simple = false
		}
	}
	if simple && sawDigit && digits <= 15 && frac < len(pow10) {
		v := float64(mant) / pow10[frac]
		if neg {
			v = -v
		}
		return v, nil
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9', c == '.', c == '-', c == '+', c == 'e', c == 'E':
		default:
			return 0, errors.New("is not a number")
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			return 0, errors.New("is out of the range of a 64-bit float")
		}
		return 0, errors.New("is not a number")
	}
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, errors.New("is not a finite number")
	}
	return v, nil
}

// TailReader remembers the last byte read, so a body cut short of its final
// line break can be told from a whole one.
type TailReader struct {
	R    io.Reader
	Last byte  // the last byte read
	Err  error // the last error of R
}

// Read reads from R, noting the last byte and the error.
func (t *TailReader) Read(p []byte) (int, error) {
	n, err := t.R.Read(p)
	if n > 0 {
		t.Last = p[n-1]
	}
	if err != nil {
		t.Err = err
	}
	return n, err
}

// OpenCSV buffers the CSV body r (size bytes at a time), skips a
// byte-order mark, and refuses an empty body, an HTML or XML page (a portal's
// error page answered with 200) and a JSON document, with errors that start
// with prefix (e.g. "gho csv") and quote how the body starts. The
// TailReader under the buffer tells a body cut short of its last line break.
func OpenCSV(r io.Reader, prefix string, size int) (*bufio.Reader, *TailReader, error) {
	tail := &TailReader{R: r}
	br := bufio.NewReaderSize(tail, size)
	head, _ := br.Peek(512)
	if bytes.HasPrefix(head, []byte("\uFEFF")) {
		_, _ = br.Discard(3)
		head = head[3:]
	}
	head = bytes.TrimLeft(head, " \t\r\n")
	switch {
	case len(head) == 0:
		if tail.Err != nil && !errors.Is(tail.Err, io.EOF) {
			return nil, nil, fmt.Errorf("%s: read header: %w", prefix, tail.Err)
		}
		return nil, nil, fmt.Errorf("%s: body is empty", prefix)
	case head[0] == '<':
		return nil, nil, fmt.Errorf("%s: body is HTML or XML, not CSV: starts %q", prefix, quoteStart(head, 60))
	case head[0] == '{' || head[0] == '[':
		return nil, nil, fmt.Errorf("%s: body is JSON, not CSV: starts %q", prefix, quoteStart(head, 60))
	}
	return br, tail, nil
}

// quoteStart is the first n bytes of b, with an ellipsis when cut.
func quoteStart(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "…"
}

// ReadBody reads r whole, in one allocation when r knows its length (a
// bytes.Reader or bytes.Buffer, as the ingester passes).
func ReadBody(r io.Reader) ([]byte, error) {
	if l, ok := r.(interface{ Len() int }); ok {
		var b bytes.Buffer
		b.Grow(l.Len() + 1)
		_, err := b.ReadFrom(r)
		return b.Bytes(), err
	}
	return io.ReadAll(r)
}
