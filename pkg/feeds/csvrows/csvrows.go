// Package csvrows reads CSV records as encoding/csv does, at about twice its
// speed on the plain files publishers ship: a line without a double quote,
// or whose fields are simply quoted ("a","b,c",d: no escaped quote, no line
// break inside a field), is split directly; from the first line holding any
// other quoting on, encoding/csv reads the rest of the body, so quoting keeps
// its full RFC 4180 meaning. A fuzz test holds it to encoding/csv's
// records, line numbers and errors.
package csvrows

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"strings"
)

// Reader reads CSV records from a buffered reader.
type Reader struct {
	br     *bufio.Reader
	raw    []byte   // a line longer than br's buffer
	fields []string // reused between records
	want   int      // fields per record; 0 until set
	line   int      // lines read so far by the fast path
	start  int      // line of the last record's start

	csv     *csv.Reader // set once a quote was seen
	csvBase int         // lines read before csv took over
}

// New reads records from br.
func New(br *bufio.Reader) *Reader { return &Reader{br: br} }

// Read returns the next record, reusing the slice of the previous one. A
// record with a field count other than want comes with a *csv.ParseError
// wrapping csv.ErrFieldCount, as from encoding/csv.
func (r *Reader) Read() ([]string, error) {
	if r.csv != nil {
		return r.readCSV()
	}
	for {
		line, err := r.readLine()
		if len(line) == 0 {
			if err != nil {
				return nil, err
			}
			continue // encoding/csv skips empty lines
		}
		if bytes.IndexByte(line, '"') >= 0 {
			if fields, ok := splitQuoted(string(line), r.fields[:0]); ok {
				r.start = r.line
				r.fields = fields
				if r.want > 0 && len(r.fields) != r.want {
					return r.fields, &csv.ParseError{StartLine: r.start, Line: r.start, Column: 1, Err: csv.ErrFieldCount}
				}
				return r.fields, nil
			}
			first := make([]byte, len(line)+1)
			copy(first, line)
			first[len(line)] = '\n'
			r.csv = csv.NewReader(io.MultiReader(bytes.NewReader(first), r.br))
			r.csv.ReuseRecord = true
			r.csv.FieldsPerRecord = r.want
			r.csvBase = r.line - 1
			return r.readCSV()
		}
		r.start = r.line
		s := string(line)
		r.fields = r.fields[:0]
		for {
			i := indexComma(s)
			if i < 0 {
				r.fields = append(r.fields, s)
				break
			}
			r.fields = append(r.fields, s[:i])
			s = s[i+1:]
		}
		if r.want > 0 && len(r.fields) != r.want {
			return r.fields, &csv.ParseError{StartLine: r.start, Line: r.start, Column: 1, Err: csv.ErrFieldCount}
		}
		return r.fields, nil
	}
}

// splitQuoted splits a line whose quoting is simple: every field either
// holds no '"' or is wholly quoted, with no '""' escape inside and its
// closing quote on this line, followed by ',' or the line's end (the shape
// of the World Bank's and many other publishers' fully quoted files). It
// reports false for any other line, which encoding/csv then reads.
func splitQuoted(s string, fields []string) ([]string, bool) {
	for {
		if len(s) > 0 && s[0] == '"' {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				return nil, false // the field goes on past this line
			}
			fields = append(fields, s[1:1+end])
			s = s[2+end:]
			if len(s) == 0 {
				return fields, true
			}
			if s[0] != ',' {
				return nil, false // an escaped quote, or text after the closing quote
			}
			s = s[1:]
			continue
		}
		i := indexComma(s)
		field := s
		if i >= 0 {
			field = s[:i]
		}
		if strings.IndexByte(field, '"') >= 0 {
			return nil, false // a bare quote
		}
		fields = append(fields, field)
		if i < 0 {
			return fields, true
		}
		s = s[i+1:]
	}
}

// indexComma is strings.IndexByte(s, ','); fields are short, so a plain loop
// beats the vectorised search's set-up cost.
func indexComma(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == ',' {
			return i
		}
	}
	return -1
}

// readLine returns the next line without its line break (\n or \r\n),
// counting it, or nil and io.EOF at the end.
func (r *Reader) readLine() ([]byte, error) {
	line, err := r.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		r.raw = append(r.raw[:0], line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			line, err = r.br.ReadSlice('\n')
			r.raw = append(r.raw, line...)
		}
		line = r.raw
	}
	if len(line) == 0 {
		if err == nil {
			err = io.EOF
		}
		return nil, err
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	r.line++
	switch n := len(line); {
	case n >= 2 && line[n-2] == '\r' && line[n-1] == '\n':
		line = line[:n-2]
	case line[n-1] == '\n':
		line = line[:n-1]
	case line[n-1] == '\r': // at EOF, as encoding/csv does
		line = line[:n-1]
	}
	return line, nil
}

func (r *Reader) readCSV() ([]string, error) {
	rec, err := r.csv.Read()
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		shifted := *pe
		shifted.StartLine += r.csvBase
		shifted.Line += r.csvBase
		err = &shifted
	}
	switch {
	case err == nil:
		line, _ := r.csv.FieldPos(0)
		r.start = r.csvBase + line
	case pe != nil:
		r.start = pe.StartLine + r.csvBase
	}
	return rec, err
}

// SetFieldCount makes every later record need n fields.
func (r *Reader) SetFieldCount(n int) {
	r.want = n
	if r.csv != nil {
		r.csv.FieldsPerRecord = n
	}
}

// StartLine is the line where the last record read began.
func (r *Reader) StartLine() int { return r.start }
