package carbonintensity_test

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	ci "github.com/ounce-data/ounce/pkg/feeds/carbonintensity"
	"github.com/ounce-data/ounce/pkg/feeds/feedtest"
)

// head is the real file's bytes up to the end of record n-1 of data[],
// closed with "]}" so that it is whole: the first records as recorded,
// white space and all. The end of the records is found with encoding/json.
func head(tb testing.TB, name string, n int) []byte {
	tb.Helper()
	body := realFile(tb, name)
	dec := json.NewDecoder(bytes.NewReader(body))
	for _, want := range []any{json.Delim('{'), "data", json.Delim('[')} {
		tok, err := dec.Token()
		require.NoError(tb, err)
		require.Equal(tb, want, tok)
	}
	for range n {
		var rec json.RawMessage
		require.NoError(tb, dec.Decode(&rec))
	}
	end := int(dec.InputOffset())
	return append(bytes.Clone(body[:end]), "\n  ]\n}\n"...)
}

// seeds adds the real heads, cut and edited variants of them, and the API's
// error recording.
func seeds(f *testing.F, name string) {
	h := head(f, name, 2)
	f.Add(h)
	f.Add(head(f, name, 1))
	f.Add(h[:len(h)/2])
	f.Add(h[:len(h)-3])
	f.Add(bytes.ReplaceAll(h, []byte("\n"), []byte("\r\n")))
	f.Add(bytes.Replace(h, []byte(":30Z"), []byte(":45Z"), 1))
	f.Add(bytes.Replace(h, []byte(`"forecast": `), []byte(`"forecast": "x`), 1))
	f.Add(bytes.ReplaceAll(h, []byte(`"actual": `), []byte(`"actual": null, "x": `)))
	f.Add(realFile(f, errorFile))
	f.Add([]byte(`{"data":[]}`))
	f.Add([]byte("<html></html>"))
}

// fuzzParse must never panic; whatever it yields must be a valid
// observation, the count must match the stats, and a body it reads without
// error must be JSON that encoding/json reads to the same counts.
func fuzzParse(t *testing.T, kind ci.Kind, m ci.Mapping, body []byte) {
	rd, err := ci.NewReader(bytes.NewReader(body), kind, m)
	if err != nil {
		return
	}
	n := 0
	for o, err := range rd.All() {
		if err != nil {
			n = -1
			break
		}
		require.NoError(t, o.Validate())
		n++
	}
	st := rd.Stats()
	if n < 0 {
		return
	}
	require.Equal(t, n, st.Observations)
	body = bytes.TrimPrefix(body, []byte("\uFEFF"))
	require.True(t, json.Valid(body), "a body read without error is valid JSON")
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // numbers skipped by the reader may be beyond float64
	require.NoError(t, dec.Decode(&doc))
	if kind == ci.National {
		c := countNational(t, doc)
		require.Equal(t, c.forecasts+c.actuals, n)
		require.Equal(t, c.nulls, st.Missing)
	} else {
		c := countRegional(t, doc)
		require.Equal(t, c.forecasts+c.actuals+c.shares, n)
		require.Equal(t, c.nulls, st.Missing)
	}
}

// FuzzParseNational feeds arbitrary bodies to the national reader, seeded
// from the head of the real national recording.
func FuzzParseNational(f *testing.F) {
	seeds(f, nationalFile)
	m := mapping(f)
	f.Fuzz(func(t *testing.T, body []byte) { fuzzParse(t, ci.National, m, body) })
}

// FuzzParseRegional feeds arbitrary bodies to the regional reader, seeded
// from the head of the real regional recording.
func FuzzParseRegional(f *testing.F) {
	seeds(f, regionalFile)
	m := mapping(f)
	f.Fuzz(func(t *testing.T, body []byte) { fuzzParse(t, ci.Regional, m, body) })
}

// BenchmarkParseRegional reads the whole regional recording (48 half hours ×
// 18 regions, pretty-printed). Reproduce with
//
//	go test ./feeds/carbonintensity -run '^$' -bench Parse -benchtime 200x
func BenchmarkParseRegional(b *testing.B) {
	benchmarkParse(b, ci.Regional, regionalFile)
}

// BenchmarkParseNational reads the whole national recording.
func BenchmarkParseNational(b *testing.B) {
	benchmarkParse(b, ci.National, nationalFile)
}

func benchmarkParse(b *testing.B, kind ci.Kind, name string) {
	m := mapping(b)
	feedtest.BenchParse(b, realFile(b, name), func(r io.Reader) (*ci.Reader, error) { return ci.NewReader(r, kind, m) })
}
