package worldbank_test

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/feeds/feedtest"
	"github.com/ounce-data/ounce/pkg/feeds/worldbank"
	"github.com/ounce-data/ounce/pkg/testenv"
)

// headOf is a real page cut to its first n records and closed again, bytes
// as they are.
func headOf(tb testing.TB, data []byte, n int) []byte {
	tb.Helper()
	sep := []byte(`},{"indicator"`)
	end := 0
	for range n {
		i := bytes.Index(data[end:], sep)
		if i < 0 {
			return data
		}
		end += i + len(sep)
	}
	out := append([]byte(nil), data[:end-len(sep)+1]...)
	out = append(out, "]]"...)
	require.True(tb, json.Valid(out), "head of %d records", n)
	return out
}

// FuzzParse feeds arbitrary bodies to the reader, seeded from heads of the
// real recordings. It must never panic; whatever it yields must be a valid
// observation; and a body it reads to the end without error must be valid
// JSON holding exactly as many values of mapped indicators as it yielded.
func FuzzParse(f *testing.F) {
	for _, name := range recordings(f) {
		data := readData(f, name)
		if len(data) > 4<<10 {
			data = headOf(f, data, 6)
		}
		f.Add(data)
		f.Add(data[:len(data)/2])
	}
	full := readData(f, fullHealth)
	h := headOf(f, full, 10)
	f.Add(h)
	f.Add(bytes.ReplaceAll(h, []byte(`"value":null`), []byte(`"value":"1.5"`)))
	f.Add(bytes.ReplaceAll(h, []byte(`"date":"20`), []byte(`"date":"2018Q`)))
	f.Add(bytes.ReplaceAll(h, []byte(`"countryiso3code":"AFE"`), []byte(`"countryiso3code":""`)))
	f.Add(bytes.ReplaceAll(h, []byte(`"per_page":10000`), []byte(`"per_page":"10000"`)))
	f.Add([]byte(`[{"page":1,"pages":1},null]`))
	f.Add([]byte(`[{"message":[{"id":"120","key":"Invalid value","value":"x"}]}]`))
	f.Add([]byte("<html></html>"))
	m := mapping(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		rd, err := worldbank.NewReader(bytes.NewReader(body), m)
		if err != nil {
			return
		}
		n := 0
		for o, err := range rd.All() {
			if err != nil {
				require.Equal(t, n, rd.Stats().Observations)
				return
			}
			require.NoError(t, o.Validate())
			n++
		}
		require.Equal(t, n, rd.Stats().Observations)
		body = bytes.TrimPrefix(body, []byte("\uFEFF"))
		require.True(t, json.Valid(body), "a body read without error is valid JSON")
		var elems []any
		require.NoError(t, json.Unmarshal(body, &elems))
		want := 0
		if recs, ok := elems[1].([]any); ok {
			for _, r := range recs {
				r := r.(map[string]any)
				if _, mapped := m.Indicators[rawID(r, "indicator")]; !mapped {
					continue
				}
				switch v := r["value"].(type) {
				case float64:
					want++
				case string:
					if v != "" {
						want++
					}
				}
			}
		}
		require.Equal(t, want, n)
	})
}

// largest is the largest recording of the API.
func largest(tb testing.TB) []byte {
	tb.Helper()
	dir := testenv.SharedDataDir(tb)
	var best string
	var size int64
	for _, name := range recordings(tb) {
		st, err := os.Stat(filepath.Join(dir, filepath.FromSlash(name)))
		require.NoError(tb, err)
		if st.Size() > size {
			best, size = name, st.Size()
		}
	}
	return readData(tb, best)
}

// BenchmarkParse reads the largest recording (10,000 records, 2.3 MB).
// Reproduce with
//
//	go test ./feeds/worldbank -run '^$' -bench Parse -benchtime 50x
func BenchmarkParse(b *testing.B) {
	m := mapping(b)
	feedtest.BenchParse(b, largest(b), func(r io.Reader) (*worldbank.Reader, error) { return worldbank.NewReader(r, m) })
}
