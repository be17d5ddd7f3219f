package gho_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/feeds/feedtest"
	"github.com/ounce-data/ounce/pkg/feeds/gho"
	"github.com/ounce-data/ounce/pkg/observation"
)

// read runs a reader to its end, checking what every reader must do
// whatever the body: never panic, yield only valid observations, and count
// what it yields.
func read(t *testing.T, rd *gho.Reader) ([]observation.Observation, error) {
	var obs []observation.Observation
	for o, err := range rd.All() {
		if err != nil {
			require.Equal(t, len(obs), rd.Stats().Observations)
			return obs, err
		}
		require.NoError(t, o.Validate())
		obs = append(obs, o)
	}
	require.Equal(t, len(obs), rd.Stats().Observations)
	return obs, nil
}

// FuzzParseOData feeds arbitrary bodies to the OData reader, seeded from
// the heads of the real recordings. It must never panic; whatever it
// yields must be valid; and a body it reads without error must be JSON
// that encoding/json reads to the same observations.
func FuzzParseOData(f *testing.F) {
	for _, file := range []string{fileNCDMort, filePAA} {
		seed := headOData(f, file, 3)
		f.Add(seed)
		f.Add(seed[:len(seed)/2])
		f.Add(bytes.ReplaceAll(seed, []byte(`"COUNTRY"`), []byte(`"UNREGION"`)))
		f.Add(bytes.ReplaceAll(seed, []byte(`"NumericValue":`), []byte(`"NumericValue":"`)))
		f.Add(bytes.ReplaceAll(seed, []byte(`,"`), []byte(",\n \""))) // spaced out
		f.Add(append([]byte("\uFEFF"), seed...))
		f.Add(append(slices.Clone(seed), 0))
	}
	f.Add(sharedFile(f, fileGlucEmpty))
	f.Add([]byte(`{"error":{"code":"BadRequest","message":"x"}}`))
	f.Add([]byte(`{"value":[{"IndicatorCode":"NCD_PAA","SpatialDim":"A\u00e9","Dim1Type":"S\u0045X"}]}`))
	f.Add([]byte("<html></html>"))
	m := mapping(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		rd, err := gho.NewODataReader(bytes.NewReader(body), m)
		if err != nil {
			return
		}
		obs, err := read(t, rd)
		if err != nil {
			return
		}
		body = bytes.TrimPrefix(body, []byte("\uFEFF"))
		require.True(t, json.Valid(body), "accepted a body encoding/json refuses")
		doc := readRawOData(t, body)
		var want []observation.Observation
		for _, r := range odataRecords(doc) {
			if o, ok := expected(t, m, r); ok {
				want = append(want, o)
			}
		}
		require.Equal(t, want, obs)
	})
}

// FuzzParseCSV feeds arbitrary bodies to the CSV reader, seeded from the
// heads of the real downloads. It must never panic; whatever it yields
// must be valid; and a body it reads without error must be CSV that
// encoding/csv reads to the same observations.
func FuzzParseCSV(f *testing.F) {
	for _, file := range []string{fileCHEGDP, fileCHEPerCap} {
		seed := headCSV(f, file, 5)
		f.Add(seed)
		f.Add(seed[:len(seed)/2])
		f.Add(bytes.ReplaceAll(seed, []byte("\n"), []byte("\r\n")))
		f.Add(bytes.ReplaceAll(seed, []byte(",COUNTRY,"), []byte(",,")))
		f.Add(bytes.ReplaceAll(seed, []byte(",YEAR,"), []byte(`,"YEAR",`)))
		f.Add(append([]byte("\uFEFF"), seed...))
	}
	f.Add([]byte("<html></html>"))
	m := mapping(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		rd, err := gho.NewCSVReader(bytes.NewReader(body), m)
		if err != nil {
			return
		}
		obs, err := read(t, rd)
		if err != nil {
			return
		}
		body = bytes.TrimPrefix(body, []byte("\uFEFF"))
		recs, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
		require.NoError(t, err, "accepted a body encoding/csv refuses")
		raw := rawTable{header: recs[0], rows: recs[1:], col: map[string]int{}}
		for i, h := range raw.header {
			raw.col[h] = i
		}
		var want []observation.Observation
		for _, r := range csvRecords(raw) {
			if o, ok := expected(t, m, r); ok {
				want = append(want, o)
			}
		}
		require.Equal(t, want, obs)
	})
}

// BenchmarkParseOData reads the largest OData recording. Reproduce with
//
//	cd pkg && go test ./feeds/gho -run '^$' -bench Parse -benchtime 20x
func BenchmarkParseOData(b *testing.B) {
	benchmark(b, sharedFile(b, largestOData), gho.NewODataReader)
}

// BenchmarkParseCSV reads the largest CSV download.
func BenchmarkParseCSV(b *testing.B) {
	benchmark(b, sharedFile(b, largestCSVFile), gho.NewCSVReader)
}

func benchmark(b *testing.B, data []byte, open func(io.Reader, gho.Mapping) (*gho.Reader, error)) {
	m := mapping(b)
	feedtest.BenchParse(b, data, func(r io.Reader) (*gho.Reader, error) { return open(r, m) })
}
