package query_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/feeds/eurostat"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/pkg/places"
	"github.com/ounce-data/ounce/pkg/testenv"
	"github.com/ounce-data/ounce/services/query"
)

// TestIntegrationSavingsWarnsOfFlaggedValues: a report on a series whose
// publisher flagged some values (Eurostat's landfill series, its letters
// read from the raw file with encoding/csv) warns of exactly the flagged
// values of its pre- and post-period, each with the flag's meaning.
func TestIntegrationSavingsWarnsOfFlaggedValues(t *testing.T) {
	const indicator, label = "eurostat.waste.landfill", "Disposal - landfill (D1, D5, D12)"
	data, err := os.ReadFile(filepath.Join(testenv.SharedDataDir(t), "eurostat", "env_wasgt", "env_wasgt_total-waste_treatment_haz-total_2004-2016.csv"))
	require.NoError(t, err)
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	require.NoError(t, err)
	pl, err := places.Load()
	require.NoError(t, err)
	ep, err := eurostat.NewPlaces(pl, eurostat.EurostatPrefix)
	require.NoError(t, err)

	type point struct {
		value float64
		flag  string
	}
	byGeo := map[string]map[int]point{}
	for _, r := range recs[1:] {
		if r[5] != label || r[6] == ":" {
			continue
		}
		code, ok := eurostat.LabelCode(r[1])
		require.True(t, ok, r[1])
		p, ok := ep.Resolve(code)
		if !ok || p.Aggregate {
			continue
		}
		y, err := strconv.Atoi(r[0])
		require.NoError(t, err)
		v, err := eurostat.Number(r[6])
		require.NoError(t, err)
		if byGeo[p.Geo] == nil {
			byGeo[p.Geo] = map[int]point{}
		}
		byGeo[p.Geo][y] = point{v, r[7]}
	}
	// The country with the most flagged values (the first by code of
	// those), its initiative starting in the middle year of its series and
	// running to its last, so that flags may fall on either side.
	var geo string
	most := 0
	for _, g := range slices.Sorted(maps.Keys(byGeo)) {
		n := 0
		for _, p := range byGeo[g] {
			if p.flag != "" {
				n++
			}
		}
		if n > most && len(byGeo[g]) >= 6 {
			geo, most = g, n
		}
	}
	require.NotEmpty(t, geo, "the recording holds flagged landfill values")
	years := slices.Sorted(maps.Keys(byGeo[geo]))
	start, horizon := years[len(years)/2], years[len(years)-1]-years[len(years)/2]

	f := newFixture(t, query.Config{AnalystToken: testAnalystToken})
	var os []observation.Observation
	for y, p := range byGeo[geo] {
		o := obs(indicator, geo, observation.Year(y), p.value, 1, observation.Dims{"hazard": "Hazardous and non-hazardous - Total", "waste": "Total waste"})
		o.Unit, o.Source, o.Flag = "t", "eurostat-waste-treatment", p.flag
		os = append(os, o)
	}
	insert(t, f.ch, os...)
	doc := fmt.Sprintf(`{"id": "landfill", "name": "Landfill diversion", "indicator": %q, "geo": %q,
	  "start_year": %d, "method": "its", "population": {"value": 1}, "scale": 1,
	  "unit_costs": [{"agency": "council", "amount": 90, "currency": "EUR", "price_year": 2015}],
	  "costs": [{"year": %d, "amount": 1000000}],
	  "cba": {"lag": 0, "persistence": 1, "horizon": %d, "discount": 0.035}}`, indicator, geo, start, start, horizon)
	rec := f.send(t, http.MethodPost, "/v1/initiatives", doc, "Authorization", "Bearer "+testAnalystToken)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())

	rec = f.get(t, "/v1/initiatives/landfill/savings")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var rep struct {
		Years []struct {
			CalendarYear int `json:"calendar_year"`
		} `json:"years"`
		Warnings []struct {
			Code, Geo, Period, Flag, Source, Message string
			Year                                     int
		} `json:"warnings"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &rep))
	last := rep.Years[len(rep.Years)-1].CalendarYear
	type warned struct {
		year         int
		period, flag string
	}
	var want []warned
	for _, y := range slices.Sorted(maps.Keys(byGeo[geo])) {
		p := byGeo[geo][y]
		switch {
		case p.flag == "" || y > last:
		case y < start:
			want = append(want, warned{y, "pre", p.flag})
		default:
			want = append(want, warned{y, "post", p.flag})
		}
	}
	require.True(t, slices.ContainsFunc(want, func(w warned) bool { return w.period == "pre" }) &&
		slices.ContainsFunc(want, func(w warned) bool { return w.period == "post" }),
		"flags on both sides of the start: %v", want)
	var got []warned
	for _, w := range rep.Warnings {
		if w.Code != "flagged_value" {
			continue // a doubt about the method (few pre-period years…), not a value
		}
		require.Equal(t, geo, w.Geo)
		require.Equal(t, "eurostat-waste-treatment", w.Source)
		require.Contains(t, w.Message, fmt.Sprintf("in %d", w.Year))
		got = append(got, warned{w.Year, w.Period, w.Flag})
	}
	require.Equal(t, want, got)
	meanings := map[string]string{"c": "confidential", "e": "estimated", "p": "provisional", "s": "Eurostat estimate"}
	for _, w := range rep.Warnings {
		if m, ok := meanings[w.Flag]; ok && w.Code == "flagged_value" {
			require.Contains(t, w.Message, m, "the message says what the letter means")
		}
	}
}
