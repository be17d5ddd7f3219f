package mappedcsv_test

import (
	"io"
	"testing"

	"github.com/ounce-data/ounce/pkg/feeds/feedtest"
	"github.com/ounce-data/ounce/pkg/feeds/mappedcsv"
)

// BenchmarkParse reads each whole recording. Reproduce with
//
//	go test ./feeds/mappedcsv -run '^$' -bench Parse -benchtime 200x
func BenchmarkParse(b *testing.B) {
	for _, f := range formats {
		b.Run(f.feed, func(b *testing.B) {
			layout, m, data := setup(b, f)
			feedtest.BenchParse(b, data, func(r io.Reader) (*mappedcsv.Reader, error) { return mappedcsv.NewReader(r, layout, m) })
		})
	}
}
