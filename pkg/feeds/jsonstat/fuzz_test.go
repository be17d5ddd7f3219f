package jsonstat_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/feeds/feedtest"
	"github.com/ounce-data/ounce/pkg/feeds/jsonstat"
)

// FuzzReader feeds arbitrary bodies to the reader with each feed's mapping,
// seeded from the recordings. It must never panic, and whatever it yields
// must be a valid observation.
func FuzzReader(f *testing.F) {
	var ms []jsonstat.Mapping
	for i, id := range feedIDs {
		m, data := setup(f, id)
		ms = append(ms, m)
		f.Add(uint8(i), data)
		f.Add(uint8(i), data[:len(data)/2])
		f.Add(uint8(i), bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n")))
	}
	f.Add(uint8(0), []byte(`{"version":"2.0","class":"dataset","id":["geo","time"],"size":[1,1],"dimension":{"geo":{"category":{"index":["DK"]}},"time":{"category":{"index":["2020"]}}},"value":[1]}`))
	f.Add(uint8(0), []byte("<html></html>"))
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		m := ms[int(which)%len(ms)]
		rd, err := jsonstat.NewReader(bytes.NewReader(body), m)
		if err != nil {
			return
		}
		obs, _ := feedtest.Drain(t, rd.All())
		require.Equal(t, len(obs), rd.Stats().Observations)
	})
}

// BenchmarkParse reads each whole recording. Reproduce with
//
//	go test ./feeds/jsonstat -run '^$' -bench Parse -benchtime 2000x
func BenchmarkParse(b *testing.B) {
	for _, id := range feedIDs {
		b.Run(id, func(b *testing.B) {
			m, data := setup(b, id)
			feedtest.BenchParse(b, data, func(r io.Reader) (*jsonstat.Reader, error) { return jsonstat.NewReader(r, m) })
		})
	}
}

func parseFields(s string) (jsonstat.Fields, error) { return jsonstat.ParseFields([]byte(s)) }
