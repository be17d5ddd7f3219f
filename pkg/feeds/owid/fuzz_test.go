package owid_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/feeds/feedtest"
	"github.com/ounce-data/ounce/pkg/feeds/owid"
)

// FuzzParse feeds arbitrary bodies to the reader, seeded from the head of the
// real file. It must never panic, and whatever it yields must be a valid
// observation.
func FuzzParse(f *testing.F) {
	seed := head(f, 40)
	f.Add(seed)
	f.Add(head(f, 1))
	f.Add(seed[:len(seed)/2])
	f.Add(bytes.ReplaceAll(seed, []byte("\n"), []byte("\r\n")))
	f.Add(bytes.ReplaceAll(seed, []byte(",AFG,"), []byte(",,")))
	f.Add(bytes.ReplaceAll(seed, []byte("AFG,"), []byte(",")))
	f.Add(append([]byte("\uFEFF"), seed...))
	f.Add([]byte("<html></html>"))
	m := mapping(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		rd, err := owid.NewReader(bytes.NewReader(body), m)
		if err != nil {
			return
		}
		n := 0
		for o, err := range rd.All() {
			if err != nil {
				break
			}
			require.NoError(t, o.Validate())
			n++
		}
		require.Equal(t, n, rd.Stats().Observations)
	})
}

// BenchmarkParse reads the whole real file. Reproduce with
//
//	go test ./feeds/owid -run '^$' -bench Parse -benchtime 20x
func BenchmarkParse(b *testing.B) {
	m := mapping(b)
	feedtest.BenchParse(b, realFile(b), func(r io.Reader) (*owid.Reader, error) { return owid.NewReader(r, m) })
}
