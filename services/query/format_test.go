package query_test

import (
	"encoding/csv"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/services/query"
)

// TestIntegrationSeriesCSV checks that the CSV form of a series carries the
// same points as its JSON form, chosen by parameter or by Accept.
func TestIntegrationSeriesCSV(t *testing.T) {
	f := newFixture(t, query.Config{})
	seedSeries(t, f.ch)
	const target = "/v1/series?indicator=owid.co2_per_capita&geo=GBR,FRA&from=2016&to=2018"

	js := decode[query.SeriesResponse](t, f.get(t, target))
	for _, tc := range []struct {
		name   string
		target string
		header []string
	}{
		{"parameter", target + "&format=csv", nil},
		{"accept", target, []string{"Accept", "text/csv, application/json;q=0.5"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := f.get(t, tc.target, tc.header...)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			require.Equal(t, "text/csv; charset=utf-8", rec.Header().Get("Content-Type"))
			tag := rec.Header().Get("ETag")
			require.NotEmpty(t, tag)

			records, err := csv.NewReader(strings.NewReader(rec.Body.String())).ReadAll()
			require.NoError(t, err)
			require.Equal(t, []string{"indicator", "geo", "dims", "period", "start", "value", "unit", "source",
				"version", "source_url", "licence", "retrieved_at", "flag", "quality"}, records[0])
			require.Len(t, records, 1+js.Count)
			i := 1
			for _, se := range js.Series {
				for _, pt := range se.Points {
					r := records[i]
					require.Equal(t, "owid.co2_per_capita", r[0])
					require.Equal(t, se.Geo, r[1])
					require.Equal(t, pt.Period, r[3])
					v, err := strconv.ParseFloat(r[5], 64)
					require.NoError(t, err)
					require.Equal(t, *pt.Value, v)
					require.Equal(t, pt.Provenance.Licence, r[10])
					require.Equal(t, pt.Flag, r[12])
					require.Equal(t, strings.Join(pt.Quality, ","), r[13])
					i++
				}
			}

			again := f.get(t, tc.target, append([]string{"If-None-Match", tag}, tc.header...)...)
			require.Equal(t, http.StatusNotModified, again.Code)
		})
	}

	rec := f.get(t, target+"&format=xml")
	require.Equal(t, http.StatusBadRequest, rec.Code)
	require.Contains(t, rec.Body.String(), `"field":"format"`)
}
