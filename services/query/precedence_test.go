package query_test

import (
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

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
		base + "&source=Bad%20Source":                                  "source",
		base + "&source=" + api + "&sources=all":                       "sources",
		"/v1/aggregate?indicator=" + code + "&geo=m49:150&sources=all": "sources",
	} {
		rec := f.get(t, target)
		require.Equal(t, http.StatusBadRequest, rec.Code, target)
		require.Contains(t, rec.Body.String(), `"field":"`+field+`"`, target)
	}
}

// TestIntegrationGreatBritainRollsUpAlongOneHierarchy: Great Britain's
// default roll-up is its 14 DNO regions; hierarchy=gb-nations rolls it up
// from England, Scotland and Wales instead; never from the 17 together.
func TestIntegrationGreatBritainRollsUpAlongOneHierarchy(t *testing.T) {
	f := newFixture(t, query.Config{})
	const code = "ci.generation_share"
	half := observation.Period{Grain: observation.GrainHalfHour, Start: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)}
	var os []observation.Observation
	for id := 1; id <= 17; id++ {
		o := obs(code, "ci:"+strconv.Itoa(id), half, float64(id), 1, observation.Dims{"fuel": "wind"})
		o.Source, o.Unit = "carbonintensity-regional", "%"
		os = append(os, o)
	}
	insert(t, f.ch, os...)
	members := func(target string) ([]string, string) {
		t.Helper()
		rec := f.get(t, target)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		agg := decode[query.AggregateResponse](t, rec)
		require.Len(t, agg.Groups, 1)
		return agg.Groups[0].Members, agg.Hierarchy
	}
	var dno, nations []string
	for id := 1; id <= 14; id++ {
		dno = append(dno, "ci:"+strconv.Itoa(id))
	}
	nations = []string{"ci:15", "ci:16", "ci:17"}
	slices.Sort(dno)
	got, h := members("/v1/aggregate?indicator=" + code + "&geo=GB")
	require.Equal(t, dno, got, "the DNO regions by default")
	require.Empty(t, h)
	got, h = members("/v1/aggregate?indicator=" + code + "&geo=GB&hierarchy=gb-nations")
	require.Equal(t, nations, got, "the nations when asked")
	require.Equal(t, "gb-nations", h)

	rec := f.get(t, "/v1/aggregate?indicator="+code+"&geo=GB&hierarchy=counties")
	require.Equal(t, http.StatusBadRequest, rec.Code)
	require.Contains(t, rec.Body.String(), `the named ones are gb-nations`)
}
