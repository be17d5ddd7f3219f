package mappedcsv_test

import (
	"bytes"
	"testing"

	"github.com/ounce-data/ounce/pkg/feeds/mappedcsv"
)

// BenchmarkParse reads each whole recording. Reproduce with
//
//	go test ./feeds/mappedcsv -run '^$' -bench Parse -benchtime 200x
func BenchmarkParse(b *testing.B) {
	for _, f := range formats {
		b.Run(f.feed, func(b *testing.B) {
			layout, m, data := setup(b, f)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				rd, err := mappedcsv.NewReader(bytes.NewReader(data), layout, m)
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
		})
	}
}
