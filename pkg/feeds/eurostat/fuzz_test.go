package eurostat_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/feeds/eurostat"
	"github.com/ounce-data/ounce/pkg/feeds/feedtest"
)

// FuzzReader feeds arbitrary bodies to the reader with the feed's mapping,
// seeded from the recording. It must never panic, and whatever it yields
// must be a valid observation.
func FuzzReader(f *testing.F) {
	m, data := setup(f)
	lines := bytes.SplitAfter(data, []byte("\n"))
	seed := bytes.Join(lines[:12], nil)
	f.Add(seed)
	f.Add(lines[0])
	f.Add(seed[:len(seed)/2])
	f.Add(bytes.ReplaceAll(seed, []byte("\n"), []byte("\r\n")))
	f.Add(append([]byte("\uFEFF"), seed...))
	f.Add(bytes.Join(lines[len(lines)-8:], nil))
	f.Add([]byte("<html></html>"))
	f.Fuzz(func(t *testing.T, body []byte) {
		rd, err := eurostat.NewReader(bytes.NewReader(body), m)
		if err != nil {
			return
		}
		obs, _ := feedtest.Drain(t, rd.All())
		require.Equal(t, len(obs), rd.Stats().Observations)
	})
}

// BenchmarkParse reads the whole recording. Reproduce with
//
//	go test ./feeds/eurostat -run '^$' -bench Parse -benchtime 200x
func BenchmarkParse(b *testing.B) {
	m, data := setup(b)
	feedtest.BenchParse(b, data, func(r io.Reader) (*eurostat.Reader, error) { return eurostat.NewReader(r, m) })
}

func eurostatFields(s string) (eurostat.Fields, error) { return eurostat.ParseFields([]byte(s)) }
