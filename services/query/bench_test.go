package query_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/services/query"
)

// BenchmarkSeries measures GET /v1/series end to end against the real
// ClickHouse: 5 places x 120 years requested out of 20 places x 270 years.
//
//	OUNCE_TEST_CLICKHOUSE_DSN=clickhouse://127.0.0.1:19000/default OUNCE_INTEGRATION=1 \
//	  go test -run '^$' -bench BenchmarkSeries -benchtime 200x .
func BenchmarkSeries(b *testing.B) {
	f := newFixture(b, query.Config{})
	const ind = "owid.co2_per_capita"
	var all []observation.Observation
	for g := range 20 {
		for y := 1750; y < 2020; y++ {
			all = append(all, obs(ind, fmt.Sprintf("G%02d", g), observation.Year(y), float64(y)/100, 1, nil))
		}
	}
	insert(b, f.ch, all...)
	target := "/v1/series?indicator=" + ind + "&geo=G01,G03,G05,G07,G09&from=1900&to=2019"

	rec := f.get(b, target)
	if rec.Code != http.StatusOK {
		b.Fatalf("status %d: %s", rec.Code, rec.Body.String())
	}
	b.SetBytes(int64(rec.Body.Len()))
	b.ReportAllocs()
	for b.Loop() {
		rec := f.get(b, target)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
}
