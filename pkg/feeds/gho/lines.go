package gho

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"io"
)

// csvLines reads CSV records as encoding/csv does, faster: a line without
// a double quote (every line of the GHO downloads) is split on commas
// directly; from the first line holding a quote on, encoding/csv reads the
// rest of the body, so quoting keeps its full RFC 4180 meaning.
type csvLines struct {
	br     *bufio.Reader
	long   []byte   // a line longer than br's buffer
	fields []string // reused between records
	want   int      // fields per record; 0 until set
	lines  int      // lines read by the fast path
	start  int      // line where the last record started

	cr     *csv.Reader // set once a quote was seen
	crBase int         // lines read before cr took over
}

// Read returns the next record, reusing the slice of the previous one. A
// record with a field count other than want comes with a *csv.ParseError
// wrapping csv.ErrFieldCount, as from encoding/csv.
func (l *csvLines) Read() ([]string, error) {
	if l.cr != nil {
		return l.readCSV()
	}
	for {
		line, err := l.readLine()
		if err != nil {
			return nil, err
		}
		if len(line) == 0 {
			continue // encoding/csv skips empty lines
		}
		if bytes.IndexByte(line, '"') >= 0 {
			first := make([]byte, len(line)+1)
			copy(first, line)
			first[len(line)] = '\n'
			l.cr = csv.NewReader(io.MultiReader(bytes.NewReader(first), l.br))
			l.cr.ReuseRecord = true
			l.cr.FieldsPerRecord = l.want
			l.crBase = l.lines - 1
			return l.readCSV()
		}
		l.start = l.lines
		s := string(line)
		l.fields = l.fields[:0]
		for {
			i := indexComma(s)
			if i < 0 {
				l.fields = append(l.fields, s)
				break
			}
			l.fields = append(l.fields, s[:i])
			s = s[i+1:]
		}
		if l.want > 0 && len(l.fields) != l.want {
			return l.fields, &csv.ParseError{StartLine: l.start, Line: l.start, Column: 1, Err: csv.ErrFieldCount}
		}
		return l.fields, nil
	}
}

// indexComma is strings.IndexByte(s, ','); fields are short, so a plain
// loop beats the vectorised search's set-up cost.
func indexComma(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == ',' {
			return i
		}
	}
	return -1
}

// readLine returns the next line without its line break (\n or \r\n, or a
// final \r at the end of the body, as encoding/csv drops it), counting it;
// io.EOF at the end.
func (l *csvLines) readLine() ([]byte, error) {
	line, err := l.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		l.long = append(l.long[:0], line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			line, err = l.br.ReadSlice('\n')
			l.long = append(l.long, line...)
		}
		line = l.long
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
	l.lines++
	switch n := len(line); {
	case n >= 2 && line[n-2] == '\r' && line[n-1] == '\n':
		line = line[:n-2]
	case line[n-1] == '\n':
		line = line[:n-1]
	case line[n-1] == '\r':
		line = line[:n-1]
	}
	return line, nil
}

func (l *csvLines) readCSV() ([]string, error) {
	rec, err := l.cr.Read()
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		shifted := *pe
		shifted.StartLine += l.crBase
		shifted.Line += l.crBase
		err = &shifted
		l.start = shifted.StartLine
	} else if err == nil {
		line, _ := l.cr.FieldPos(0)
		l.start = l.crBase + line
	}
	return rec, err
}

// setFieldCount makes every later record need n fields.
func (l *csvLines) setFieldCount(n int) {
	l.want = n
	if l.cr != nil {
		l.cr.FieldsPerRecord = n
	}
}

// startLine is the line where the last record read began.
func (l *csvLines) startLine() int { return l.start }
