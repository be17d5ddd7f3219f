package socrata_test

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"

	"github.com/ounce-data/ounce/pkg/feeds/feedtest"
	"github.com/ounce-data/ounce/pkg/feeds/socrata"
	"github.com/ounce-data/ounce/pkg/feeds/socrata/socratatest"
)

// head is the first n rows of a SODA recording, re-encoded as an array.
func head(tb testing.TB, data []byte, n int) []byte {
	tb.Helper()
	var rows []json.RawMessage
	if err := json.Unmarshal(data, &rows); err != nil {
		tb.Fatal(err)
	}
	out, err := json.Marshal(rows[:min(n, len(rows))])
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// FuzzSODA feeds arbitrary bodies to the SODA reader of every Socrata
// feed, seeded from the heads of the real recordings. It must never panic,
// and whatever it yields must be valid (readAll checks).
func FuzzSODA(f *testing.F) {
	ids := []string{"cdc-vsrr-quarterly-mortality", "cdc-death-rates-1900-2018", "cdc-leading-causes", "cdc-500-cities", "cdc-dhds-disability"}
	var maps []socrata.Mapping
	for i, id := range ids {
		_, m, data := recorded(f, id)
		maps = append(maps, m)
		seed := head(f, data, 4)
		f.Add(uint8(i), seed)
		f.Add(uint8(i), seed[:len(seed)/2])
		f.Add(uint8(i), bytes.ReplaceAll(seed, []byte(`":"`), []byte(`":`)))
		f.Add(uint8(i), append(append(bytes.Clone(seed), '\n'), seed...))
	}
	f.Add(uint8(0), []byte(`{"error":true,"message":"x"}`))
	f.Add(uint8(0), []byte("<html></html>"))
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		m := maps[int(which)%len(maps)]
		rd, err := socrata.NewReader(bytes.NewReader(body), m)
		if err != nil {
			return
		}
		_, _ = readAll(t, rd)
	})
}

// FuzzRowsJSON does the same for the rows.json reader.
func FuzzRowsJSON(f *testing.F) {
	_, m, data := recorded(f, "cdc-leading-causes-rows")
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		f.Fatal(err)
	}
	var rows []json.RawMessage
	if err := json.Unmarshal(doc["data"], &rows); err != nil {
		f.Fatal(err)
	}
	small, err := json.Marshal(map[string]any{"meta": doc["meta"], "data": rows[:5]})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(small)
	f.Add(small[:len(small)-40])
	f.Add(bytes.ReplaceAll(small, []byte(`"aadr"`), []byte(`"rate"`)))
	f.Fuzz(func(t *testing.T, body []byte) {
		rd, err := socrata.NewRowsReader(bytes.NewReader(body), m)
		if err != nil {
			return
		}
		_, _ = readAll(t, rd)
	})
}

// BenchmarkParse reads each recording whole: bytes are the body's.
func BenchmarkParse(b *testing.B) {
	for _, id := range feedIDs {
		b.Run(id, func(b *testing.B) {
			feed, m, data := recorded(b, id)
			open := socrata.NewReader
			if feed.Format == socratatest.RowsFormat {
				open = socrata.NewRowsReader
			}
			feedtest.BenchParse(b, data, func(r io.Reader) (*socrata.Reader, error) { return open(r, m) })
		})
	}
}
