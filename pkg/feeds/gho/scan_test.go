package gho

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

var scanSeeds = []string{
	`{}`, `[]`, `null`, `true`, `false`, `0`, `-0`, `-0.5e+10`, `1E5`, `01`, `1.`, `.5`, `-`, `+1`,
	`"a"`, `"\u00e9\n\"\\\/"`, `"\u12"`, `"\x"`, "\"a\x01\"", "\"\xff\"", `"é"`,
	`{"a":[1,2,{"b":null}],"c":"d"}`, `{"a" 1}`, `{"a":1,}`, `[1,]`, `[1 2]`, `{1:2}`,
	`  [ 1 , 2 ]  `, `nul`, `tru`, `[`, `{"a":`, `"abc`, "0\x00", "\x00",
}

// checkSkip: skip reads a value followed only by white space exactly when
// encoding/json calls the input valid.
func checkSkip(t *testing.T, in []byte) {
	s := scanner{buf: in}
	_, err := s.skip()
	ok := err == nil && s.atEnd()
	require.Equal(t, json.Valid(in), ok, "%q: skip error %v", in, err)
}

func TestSkipMatchesValid(t *testing.T) {
	for _, in := range scanSeeds {
		checkSkip(t, []byte(in))
	}
}

// FuzzSkip checks the scanner's grammar against encoding/json's.
func FuzzSkip(f *testing.F) {
	for _, in := range scanSeeds {
		f.Add([]byte(in))
	}
	f.Fuzz(checkSkip)
}

// FuzzString checks decoded strings against encoding/json's.
func FuzzString(f *testing.F) {
	for _, in := range scanSeeds {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		s := scanner{buf: in}
		got, err := s.str()
		var want string
		werr := json.Unmarshal(in[:s.pos], &want)
		if err != nil {
			return
		}
		require.NoError(t, werr, "%q", in)
		require.Equal(t, want, string(got))
	})
}

func TestParseNumber(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
		err  string
	}{
		{"0.25", 0.25, ""},
		{"-3", -3, ""},
		{"1e-05", 1e-05, ""},
		{"NaN", 0, "is not a number"},
		{"Inf", 0, "is not a number"},
		{"0x10", 0, "is not a number"},
		{"1,5", 0, "is not a number"},
		{"1e999", 0, "is out of the range of a 64-bit float"},
		{"1e", 0, "is not a number"},
		{"", 0, "is not a number"},
	} {
		got, err := parseNumber(tc.in)
		if tc.err != "" {
			require.EqualError(t, err, tc.err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
}

type linesResult struct {
	recs    [][]string
	lines   []int
	errLine int // StartLine of a *csv.ParseError that ended the read
	err     bool
}

func readWithCSV(body []byte) linesResult {
	var res linesResult
	cr := csv.NewReader(bytes.NewReader(body))
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return res
		}
		if err != nil {
			res.err = true
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				res.errLine = pe.StartLine
			}
			return res
		}
		line, _ := cr.FieldPos(0)
		res.recs = append(res.recs, rec)
		res.lines = append(res.lines, line)
	}
}

func readWithLines(body []byte, bufSize int) linesResult {
	var res linesResult
	l := &csvLines{br: bufio.NewReaderSize(bytes.NewReader(body), bufSize)}
	for {
		rec, err := l.Read()
		if errors.Is(err, io.EOF) {
			return res
		}
		if err != nil {
			res.err = true
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				res.errLine = pe.StartLine
			}
			return res
		}
		if len(res.recs) == 0 {
			l.setFieldCount(len(rec))
		}
		res.recs = append(res.recs, slices.Clone(rec))
		res.lines = append(res.lines, l.startLine())
	}
}

var linesSeeds = []string{
	"a,b,c\n1,2,3\n", "a,b,c\r\n1,2,3\r\n", "a,b,c\n1,2,3", "a,b,c\n1,2\n", "a,b,c\n\n\n1,2,3\n",
	"a,b,c\n1,\"x,y\",3\n4,5,6\n", "a,b,c\n1,\"x\ny\",3\n4,5\n", "a,b,c\n1,\"x\"\"y\",3\n",
	"a,b,c\n1,x\"y,3\n", "a,b,c\n1,\"x\"y,3\n", "a,b\r\r\n1\r2,3\r", "\"a\",b\n1,2\n3,4,5\n",
	"a\n\"\n", "", "\n", ",\n,\n", "a,b\n1,2\r", "a,b\n\r\n1,2\n",
}

func TestLinesMatchEncodingCSV(t *testing.T) {
	for _, s := range linesSeeds {
		for _, size := range []int{16, 4096} {
			require.Equal(t, readWithCSV([]byte(s)), readWithLines([]byte(s), size), "%q with buffer %d", s, size)
		}
	}
}

// FuzzLines checks that the fast CSV reader reads exactly what
// encoding/csv reads: records, line numbers and errors.
func FuzzLines(f *testing.F) {
	for _, s := range linesSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		want := readWithCSV(body)
		require.Equal(t, want, readWithLines(body, 16))
		require.Equal(t, want, readWithLines(body, 4096))
	})
}
