package query_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/services/query"
)

// TestIntegrationOneValuePerFact: where several sources hold one fact, the
// series and the aggregate serve the value of the source the catalogue
// prefers (schemas/catalogue/worldbank.yaml: the API before the bulk CSV),
// then any feed before any partner, whatever the versions; the aggregate
// counts each place once and names only the sources it used.
func TestIntegrationOneValuePerFact(t *testing.T) {
	f := newFixture(t, query.Config{})
	const code, api, bulk, partner = "SH.XPD.CHEX.GD.ZS", "worldbank-health-expenditure", "worldbank-bulk-health-expenditure", "partner:nhs"
	at := func(source, geo string, value float64, version uint64) observation.Observation {
		o := obs(code, geo, observation.Year(2018), value, version, nil)
		o.Source, o.Unit = source, "% of GDP"
		o.Provenance.URL = "https://example.org/" + source
		return o
	}
	insert(t, f.ch,
		at(bulk, "FRA", 11.2, 5), at(api, "FRA", 11.3, 1), at(partner, "FRA", 99, 9), // the API, though older
		at(bulk, "DEU", 11.5, 1), at(partner, "DEU", 50, 9), // a feed before a partner
		at(partner, "GBR", 10, 1), // the only source
	)
	type point struct {
		geo, source string
		value       float64
	}
	points := func(target string) []point {
		t.Helper()
		rec := f.get(t, target)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		var out []point
		for _, se := range decode[query.SeriesResponse](t, rec).Series {
			for _, p := range se.Points {
				out = append(out, point{se.Geo, p.Source, *p.Value})
			}
		}
		return out
	}
	base := "/v1/series?indicator=" + code + "&geo=DEU,FRA,GBR"
	require.Equal(t, []point{{"DEU", bulk, 11.5}, {"FRA", api, 11.3}, {"GBR", partner, 10}}, points(base))
	require.Equal(t, []point{{"DEU", bulk, 11.5}, {"FRA", bulk, 11.2}}, points(base+"&source="+bulk))
	all := points(base + "&sources=all")
	require.Len(t, all, 6, "every source's value, each labelled")
	require.Contains(t, all, point{"FRA", partner, 99})

	rec := f.get(t, "/v1/aggregate?indicator="+code+"&geo=m49:150")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	agg := decode[query.AggregateResponse](t, rec)
	require.Len(t, agg.Groups, 1)
	g := agg.Groups[0]
	require.Equal(t, 3, g.Values, "each place once")
	require.InDelta(t, (11.5+11.3+10)/3, *g.Value, 1e-9)
	var used []string
	for _, p := range agg.Provenance {
		used = append(used, p.Source)
	}
	slices.Sort(used)
	require.Equal(t, []string{partner, bulk, api}, used, "only the sources whose values went in")

	rec = f.get(t, "/v1/aggregate?indicator="+code+"&geo=m49:150&source="+bulk)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	agg = decode[query.AggregateResponse](t, rec)
	require.Equal(t, 2, agg.Groups[0].Values)
	require.Len(t, agg.Provenance, 1)

	for target, field := range map[string]string{
		base + "&sources=some":                                         "sources",
		base + "&source=Bad%20Source":                                    "source",
		base + "&source=" + api + "&sources=all":                       "sources",
		"/v1/aggregate?indicator=" + code + "&geo=m49:150&sources=all": "sources",
	} {
		rec := f.get(t, target)
		require.Equal(t, http.StatusBadRequest, rec.Code, target)
		require.Contains(t, rec.Body.String(), `"field":"`+field+`"`, target)
	}
}
