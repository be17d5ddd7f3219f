package query_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/http"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestIntegrationSavingsDiagnostics: the ITS and DiD diagnostics of
// reports on the World Bank overweight series equal an independent
// computation from the raw file: R², Durbin–Watson and the segmented
// model's level and slope change (with every year's interaction, OLS
// of y = a + b·t + c·D + d·(t − t0)·D is a line through each side), and the
// DiD pre-period gap and its slope.
func TestIntegrationSavingsDiagnostics(t *testing.T) {
	f, overweight, _ := newWorldBankFixture(t)
	const start = 2008
	doc := fmt.Sprintf(`{"id": "fra-diag", "name": "Diagnostics", "indicator": "SH.STA.OWAD.ZS", "geo": "FRA",
	  "start_year": %d, "method": "its", "comparison_geos": ["DEU", "ITA"],
	  "population": {"value": 1000000}, "scale": 0.01,
	  "unit_costs": [{"agency": "CNAM", "amount": 1000, "currency": "EUR", "price_year": 2015}],
	  "costs": [{"year": %d, "amount": 5000000}],
	  "cba": {"lag": 0, "persistence": 1, "horizon": 8, "discount": 0.035}}`, start, start)
	rec := f.send(t, http.MethodPost, "/v1/initiatives", doc, "Authorization", "Bearer "+testAnalystToken)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())

	type interval struct{ Estimate, Low, High float64 }
	var rep struct {
		Years []struct {
			CalendarYear int `json:"calendar_year"`
		} `json:"years"`
		Diagnostics struct {
			ITS *struct {
				Pre          []struct{ Year int }
				RSquared     float64  `json:"r_squared"`
				DurbinWatson *float64 `json:"durbin_watson"`
				Slope        interval
				Segmented    *struct {
					LevelChange interval `json:"level_change"`
					SlopeChange interval `json:"slope_change"`
				}
			} `json:"its"`
			DiD *struct {
				PreGap []struct {
					Year  int
					Value float64
				} `json:"pre_gap"`
				GapSlope *interval `json:"gap_slope"`
				Places   []struct {
					Geo  string
					Used bool
				}
			} `json:"did"`
		} `json:"diagnostics"`
	}
	get := func(method string) {
		rec := f.get(t, "/v1/initiatives/fra-diag/savings?method="+method)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &rep))
	}

	fra := overweight["FRA"]
	pre, post := map[int]float64{}, map[int]float64{}
	last := start + 8
	for y, v := range fra {
		switch {
		case y < start:
			pre[y] = v
		case y <= last:
			post[y] = v
		}
	}
	require.GreaterOrEqual(t, len(pre), 5)
	require.GreaterOrEqual(t, len(post), 2)

	get("its")
	its := rep.Diagnostics.ITS
	require.NotNil(t, its)
	require.Len(t, its.Pre, len(pre))
	a, b := ols(pre)
	var mean float64
	for _, v := range pre {
		mean += v
	}
	mean /= float64(len(pre))
	years := slices.Sorted(maps.Keys(pre))
	var ssTot, ssRes, dwNum float64
	prev := math.NaN()
	for _, y := range years {
		e := pre[y] - (a + b*float64(y))
		ssRes += e * e
		ssTot += (pre[y] - mean) * (pre[y] - mean)
		if !math.IsNaN(prev) {
			dwNum += (e - prev) * (e - prev)
		}
		prev = e
	}
	require.InDelta(t, 1-ssRes/ssTot, its.RSquared, 1e-9)
	require.NotNil(t, its.DurbinWatson)
	require.InDelta(t, dwNum/ssRes, *its.DurbinWatson, 1e-9)
	require.InDelta(t, b, its.Slope.Estimate, 1e-9)
	require.Less(t, its.Slope.Low, b)
	require.Greater(t, its.Slope.High, b)

	// The segmented model is a line through each side: c is the jump of the
	// two lines at the start, d the change of slope.
	require.NotNil(t, its.Segmented)
	pa, pb := ols(pre)
	qa, qb := ols(post)
	require.InDelta(t, (qa+qb*start)-(pa+pb*start), its.Segmented.LevelChange.Estimate, 1e-6)
	require.InDelta(t, qb-pb, its.Segmented.SlopeChange.Estimate, 1e-9)

	get("did")
	did := rep.Diagnostics.DiD
	require.NotNil(t, did)
	require.Equal(t, 2, len(did.Places))
	for _, p := range did.Places {
		require.True(t, p.Used, p.Geo)
	}
	gap := map[int]float64{}
	for _, y := range years {
		var sum float64
		k := 0
		for _, g := range []string{"DEU", "ITA"} {
			if v, ok := overweight[g][y]; ok {
				sum += v
				k++
			}
		}
		if k > 0 {
			gap[y] = pre[y] - sum/float64(k)
		}
	}
	require.Len(t, did.PreGap, len(gap))
	for _, g := range did.PreGap {
		require.InDelta(t, gap[g.Year], g.Value, 1e-9, "%d", g.Year)
	}
	_, gb := ols(gap)
	require.NotNil(t, did.GapSlope)
	require.InDelta(t, gb, did.GapSlope.Estimate, 1e-9)
}
