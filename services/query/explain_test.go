package query_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/services/query"
)

// TestIntegrationExplainAggregate: one cell of an aggregate explains
// itself — its formula and every observation that went in, with source,
// version, URL, licence and batch — and recomputing the cell by hand from
// those observations gives its value.
func TestIntegrationExplainAggregate(t *testing.T) {
	f := newFixture(t, query.Config{})
	seedAggregate(t, f.ch)

	rec := f.get(t, "/v1/aggregate/explain?indicator=owid.co2_per_capita&geo=ECS&period=2018")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	ex := decode[query.AggregateExplanation](t, rec)
	require.Equal(t, query.MethodRatioOfSums, ex.Method)
	require.Len(t, ex.Observations, 6, "CO2 and population of three countries")
	var co2, pop float64
	for _, o := range ex.Observations {
		require.Equal(t, "2018", o.Period)
		require.Equal(t, "owid-co2", o.Source)
		require.Equal(t, "test-batch", o.Batch)
		require.NotEmpty(t, o.Provenance.URL)
		switch o.Indicator {
		case "owid.co2":
			co2 += *o.Value
		case "owid.population":
			pop += *o.Value
		default:
			t.Fatalf("observation of %s", o.Indicator)
		}
	}
	require.InDelta(t, co2/pop*1e6, *ex.Cell.Value, 1e-9, "the cell recomputed from its observations")
	require.Equal(t, (330.0+760+370)/(66e6+83e6+67e6)*1e6, co2/pop*1e6)
	require.True(t, strings.HasPrefix(ex.Formula, "Σ owid.co2 / Σ owid.population × 1e+06 = "), ex.Formula)

	rec = f.get(t, "/v1/aggregate/explain?indicator=owid.co2&geo=ECS&period=2017&agg=max")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	ex = decode[query.AggregateExplanation](t, rec)
	require.Equal(t, 800.0, *ex.Cell.Value)
	require.Len(t, ex.Observations, 3, "the publisher aggregate EUU is not a member")
	require.Equal(t, "max of 3 values (800, 350, 380) = 800 Mt CO2", ex.Formula)

	for target, status := range map[string]int{
		"/v1/aggregate/explain?indicator=owid.co2&geo=ECS&by=period":             http.StatusBadRequest, // two cells
		"/v1/aggregate/explain?indicator=owid.co2&geo=ECS&period=1900":           http.StatusNotFound,   // none
		"/v1/aggregate/explain?indicator=owid.co2&geo=ECS&period=2018&from=2017": http.StatusBadRequest,
	} {
		rec := f.get(t, target)
		require.Equal(t, status, rec.Code, "%s: %s", target, rec.Body.String())
	}
}
