package mappedcsv_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/feeds/mappedcsv"
)

// fuzzFormat feeds arbitrary bodies to the reader with f's layout, seeded
// from the head of the real recording. It must never panic, and whatever it
// yields must be a valid observation.
func fuzzFormat(f *testing.F, ft format) {
	layout, m, data := setup(f, ft)
	seed := head(data, 30+layout.SkipLines)
	f.Add(seed)
	f.Add(head(data, 1+layout.SkipLines))
	f.Add(seed[:len(seed)/2])
	f.Add(bytes.ReplaceAll(seed, []byte("\r\n"), []byte("\n")))
	f.Add(bytes.ReplaceAll(seed, []byte("\n"), []byte("\r\n")))
	f.Add(append([]byte("\uFEFF"), seed...))
	f.Add([]byte("<html></html>"))
	f.Fuzz(func(t *testing.T, body []byte) {
		rd, err := mappedcsv.NewReader(bytes.NewReader(body), layout, m)
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

func FuzzWorldBankBulk(f *testing.F) { fuzzFormat(f, wbBulk) }
func FuzzOWIDGrapher(f *testing.F)   { fuzzFormat(f, grapher) }
func FuzzWHOPortal(f *testing.F)     { fuzzFormat(f, portal) }
func FuzzWhatAWaste(f *testing.F)    { fuzzFormat(f, waste) }
