package feedtest

import (
	"bytes"
	"io"
	"iter"
	"testing"

	"github.com/ounce-data/ounce/pkg/observation"
)

// Reader is what a feed format's reader gives: its observations once.
type Reader interface {
	All() iter.Seq2[observation.Observation, error]
}

// BenchParse measures reading data whole with the reader open makes of
// it, every observation drawn; bytes are the body's. An error, or a body
// without observations, fails the benchmark.
func BenchParse[R Reader](b *testing.B, data []byte, open func(io.Reader) (R, error)) {
	b.Helper()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		rd, err := open(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for _, err := range rd.All() {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n == 0 {
			b.Fatal("no observations")
		}
	}
}
