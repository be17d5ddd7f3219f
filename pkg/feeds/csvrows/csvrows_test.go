package csvrows

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

type readResult struct {
	recs    [][]string
	lines   []int
	errLine int // StartLine of a *csv.ParseError that ended the read; 0 for EOF
	err     bool
}

func readWithCSV(body []byte) readResult {
	var res readResult
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

func readWithRecords(body []byte, bufSize int) readResult {
	var res readResult
	rr := New(bufio.NewReaderSize(bytes.NewReader(body), bufSize))
	for {
		rec, err := rr.Read()
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
			rr.SetFieldCount(len(rec))
		}
		res.recs = append(res.recs, slices.Clone(rec))
		res.lines = append(res.lines, rr.StartLine())
	}
}

var recordSeeds = []string{
	"a,b,c\n1,2,3\n",
	"a,b,c\r\n1,2,3\r\n",
	"a,b,c\n1,2,3",
	"a,b,c\n1,2\n",
	"a,b,c\n\n\n1,2,3\n",
	"a,b,c\n1,\"x,y\",3\n4,5,6\n",
	"a,b,c\n1,\"x\ny\",3\n4,5\n",
	"a,b,c\n1,\"x\"\"y\",3\n",
	"a,b,c\n1,x\"y,3\n",
	"a,b,c\n1,\"x\"y,3\n",
	"a,b\r\r\n1\r2,3\r",
	"\"a\",b\n1,2\n3,4,5\n",
	"a\n\"\n",
	"",
	"\n",
	",\n,\n",
	"\"a\",\"b\",\n\"1\",\"2\",\n\"3\",\"4\"\n",
	"\"a\",\"b\"\r\n\"1,5\",\"\"\r\n\"x\"\"y\",2\r\n",
	"\"a\",b\n\"1\"x,2\n",
	"\"a\",b\n1,\"2\n3\"\n",
	"a,b\n\"\",\"\"\n\",\n",
}

func TestRecordsMatchEncodingCSV(t *testing.T) {
	for _, s := range recordSeeds {
		for _, size := range []int{16, 4096} {
			require.Equal(t, readWithCSV([]byte(s)), readWithRecords([]byte(s), size), "%q with buffer %d", s, size)
		}
	}
}

// FuzzRecords checks that the fast record reader reads exactly what
// encoding/csv reads, records, line numbers and errors alike.
func FuzzRecords(f *testing.F) {
	for _, s := range recordSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		want := readWithCSV(body)
		require.Equal(t, want, readWithRecords(body, 16))
		require.Equal(t, want, readWithRecords(body, 4096))
	})
}
