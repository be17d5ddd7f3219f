package query_test

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/httpapi"
	"github.com/ounce-data/ounce/pkg/testenv"
	"github.com/ounce-data/ounce/schemas"
	"github.com/ounce-data/ounce/services/query"
)

// synthDonors are European countries of the World Bank overweight
// recording (page 1 of 2 holds them). EST is named too, but loaded only
// from 2000 on, so it lacks pre-period years and is dropped from the pool.
var synthDonors = []string{"DEU", "ITA", "BEL", "AUT", "IRL", "DNK", "FIN", "GRC", "CZE", "HUN", "HRV", "ISL"}

// synthReport is the part of a synth report the test reads.
type synthReport struct {
	Method string `json:"method"`
	Years  []struct {
		Year           int      `json:"year"`
		CalendarYear   int      `json:"calendar_year"`
		Observed       *float64 `json:"observed"`
		Counterfactual *float64 `json:"counterfactual"`
		Low            *float64 `json:"counterfactual_low"`
		High           *float64 `json:"counterfactual_high"`
		Avoided        *float64 `json:"avoided"`
	} `json:"years"`
	Synth struct {
		Weights []struct {
			Geo    string  `json:"geo"`
			Weight float64 `json:"weight"`
		} `json:"weights"`
		Pinned    bool     `json:"pinned"`
		PreYears  []int    `json:"pre_years"`
		RMSPEPre  float64  `json:"rmspe_pre"`
		RMSPEPost *float64 `json:"rmspe_post"`
		Ratio     *float64 `json:"ratio"`
		Rank      *int     `json:"rank"`
		PValue    *float64 `json:"p_value"`
		Placebos  []struct {
			Geo          string   `json:"geo"`
			RMSPEPre     float64  `json:"rmspe_pre"`
			Ratio        *float64 `json:"ratio"`
			WithinFilter bool     `json:"within_filter"`
		} `json:"placebos"`
	} `json:"synth"`
	Inputs struct {
		ComparisonGeosWithoutData []string `json:"comparison_geos_without_data"`
	} `json:"inputs"`
	Warnings []struct {
		Code    string `json:"code"`
		Geo     string `json:"geo"`
		Message string `json:"message"`
	} `json:"warnings"`
	Provenance []struct {
		Role, Geo string
	} `json:"provenance"`
}

// TestIntegrationSynthOnWorldBankData values an initiative in France by
// method synth against 12 European donors, from the World Bank's adult
// overweight recording read from the raw file, and recomputes the report
// from the raw values and the returned weights: the weights are a
// minimiser of the pre-period fit (feasible, KKT conditions), the
// synthetic series, both RMSPEs, the counterfactual and avoided cases, and
// the placebo p-value follow from them.
func TestIntegrationSynthOnWorldBankData(t *testing.T) {
	dir := filepath.Join(testenv.SharedDataDir(t), "worldbank", "api_v2_full")
	raw := rawWorldBank(t, filepath.Join(dir, "SH.STA.OWAD.ZS_all_perpage10000_page1.json"), append([]string{"FRA", "EST"}, synthDonors...)...)
	require.Len(t, raw, 2+len(synthDonors))
	for y := range raw["EST"] {
		if y < 2000 {
			delete(raw["EST"], y)
		}
	}
	require.NotEmpty(t, raw["EST"])
	f := newFixture(t, query.Config{AnalystToken: testAnalystToken})
	loadWorldBank(t, f.ch, "SH.STA.OWAD.ZS", "% of adults", raw)
	auth := []string{"Authorization", "Bearer " + testAnalystToken}

	const start = 2012
	geos := append(append([]string{}, synthDonors...), "EST")
	quoted := make([]string, len(geos))
	for i, g := range geos {
		quoted[i] = `"` + g + `"`
	}
	doc := fmt.Sprintf(`{"id": "fra-synth", "indicator": "SH.STA.OWAD.ZS", "geo": "FRA", "start_year": %d, "method": "synth",
	  "comparison_geos": [%s], "population": {"value": 1000000}, "scale": 0.01,
	  "unit_costs": [{"agency": "CNAM", "amount": 1000, "currency": "EUR", "price_year": 2015}],
	  "costs": [{"year": %d, "amount": 5000000}], "cba": {"horizon": 5, "discount": 0.035}}`, start, strings.Join(quoted, ", "), start)
	rec := f.send(t, http.MethodPost, "/v1/initiatives", doc, auth...)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())

	rec = f.get(t, "/v1/initiatives/fra-synth/savings?pre_from=all")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	openapi := loadOpenAPI(t, schemas.QueryOpenAPI)
	openapi.checkResponse(t, openapi.operation(t, http.MethodGet, "/v1/initiatives/fra-synth/savings"), rec)
	var rep synthReport
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &rep))
	require.Equal(t, "synth", rep.Method)
	s := rep.Synth

	// The pre-period and the donors, from the raw file.
	var pre []int
	for y := range raw["FRA"] {
		if y < start {
			pre = append(pre, y)
		}
	}
	sort.Ints(pre)
	require.Equal(t, pre, s.PreYears)
	require.Equal(t, []string{"EST"}, rep.Inputs.ComparisonGeosWithoutData, "EST lacks the years before 2000")
	require.Equal(t, "donor_dropped", rep.Warnings[0].Code)
	require.Equal(t, "EST", rep.Warnings[0].Geo)
	require.Contains(t, rep.Warnings[0].Message, fmt.Sprintf("%d-1999", pre[0]))
	require.Len(t, s.Weights, len(synthDonors))
	w := map[string]float64{}
	var sum float64
	for _, dw := range s.Weights {
		require.GreaterOrEqual(t, dw.Weight, 0.0)
		w[dw.Geo] = dw.Weight
		sum += dw.Weight
	}
	require.InDelta(t, 1, sum, 1e-12)
	synthetic := func(y int) float64 {
		var v float64
		for _, g := range synthDonors {
			v += w[g] * raw[g][y]
		}
		return v
	}

	// The weights minimise the pre-period fit: every donor's gradient
	// 2 Σ_t (donor(t) − FRA(t))(synthetic(t) − FRA(t)) is at least λ, the
	// weighted mean of the gradients, with equality where the weight is
	// positive; no single donor and not the uniform mix fits better.
	grad := map[string]float64{}
	var lambda, scale float64
	for _, g := range synthDonors {
		for _, y := range pre {
			grad[g] += 2 * (raw[g][y] - raw["FRA"][y]) * (synthetic(y) - raw["FRA"][y])
			scale = math.Max(scale, math.Abs(raw[g][y]-raw["FRA"][y]))
		}
		lambda += w[g] * grad[g]
	}
	tol := 1e-8 * (1 + 2*float64(len(pre))*scale*scale)
	for _, g := range synthDonors {
		require.GreaterOrEqual(t, grad[g], lambda-tol, g)
		if w[g] > 1e-9 {
			require.InDelta(t, lambda, grad[g], tol, g)
		}
	}
	sse := func(weights map[string]float64) float64 {
		var ss float64
		for _, y := range pre {
			var v float64
			for g, wg := range weights {
				v += wg * raw[g][y]
			}
			ss += (raw["FRA"][y] - v) * (raw["FRA"][y] - v)
		}
		return ss
	}
	uniform := map[string]float64{}
	for _, g := range synthDonors {
		require.LessOrEqual(t, sse(w), sse(map[string]float64{g: 1})+tol, g)
		uniform[g] = 1 / float64(len(synthDonors))
	}
	require.LessOrEqual(t, sse(w), sse(uniform)+tol)

	// RMSPE_pre, RMSPE_post and the report's years, from the raw values.
	require.InDelta(t, math.Sqrt(sse(w)/float64(len(pre))), s.RMSPEPre, 1e-9)
	var ssPost float64
	var nPost int
	for _, y := range rep.Years {
		cy := y.CalendarYear
		require.NotNil(t, y.Counterfactual, "year %d", cy)
		require.InDelta(t, synthetic(cy), *y.Counterfactual, 1e-9, "counterfactual %d = Σ w_j donor_j", cy)
		obs, has := raw["FRA"][cy]
		if !has {
			continue
		}
		require.Equal(t, obs, *y.Observed)
		ssPost += (obs - synthetic(cy)) * (obs - synthetic(cy))
		nPost++
		if y.Year > 0 {
			// Lower is better: avoided = (counterfactual − observed) × scale × population.
			require.InDelta(t, (synthetic(cy)-obs)*0.01*1e6, *y.Avoided, 1e-6)
		}
		if y.Low != nil {
			require.Less(t, *y.Low, *y.High, "never zero width")
		}
	}
	require.Positive(t, nPost)
	require.InDelta(t, math.Sqrt(ssPost/float64(nPost)), *s.RMSPEPost, 1e-9)
	require.InDelta(t, *s.RMSPEPost/s.RMSPEPre, *s.Ratio, 1e-9)

	// The placebo p-value: one placebo per donor, the target ranked among them.
	require.Len(t, s.Placebos, len(synthDonors))
	rank := 1
	for _, p := range s.Placebos {
		require.NotNil(t, p.Ratio, p.Geo)
		if *p.Ratio >= *s.Ratio {
			rank++
		}
		require.Equal(t, p.RMSPEPre <= 5*s.RMSPEPre, p.WithinFilter, p.Geo)
	}
	require.Equal(t, rank, *s.Rank)
	require.InDelta(t, float64(rank)/float64(len(synthDonors)+1), *s.PValue, 1e-15)
	t.Logf("weights %v; RMSPE pre %.4g, post %.4g, ratio %.4g; rank %d of %d, p = %.4g", s.Weights, s.RMSPEPre, *s.RMSPEPost, *s.Ratio, rank, len(synthDonors)+1, *s.PValue)

	var roles []string
	for _, p := range rep.Provenance {
		roles = append(roles, p.Role+":"+p.Geo)
	}
	require.Equal(t, "target:FRA", roles[0])
	require.Len(t, roles, 1+len(synthDonors), "the target and every donor in the pool")

	t.Run("explain the counterfactual", func(t *testing.T) {
		rec := f.get(t, "/v1/initiatives/fra-synth/savings/explain?figure=counterfactual&year=2")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		openapi.checkResponse(t, openapi.operation(t, http.MethodGet, "/v1/initiatives/fra-synth/savings/explain"), rec)
		ex := decode[query.SavingsExplanation](t, rec)
		require.Contains(t, ex.Formula, "Σ_j w_j × value_j(2014)")
		require.Contains(t, strings.Join(ex.Steps, "\n"), "synth.weights: w ≥ 0 with Σ w = 1")
		geos := map[string]bool{}
		for _, o := range ex.Observations {
			geos[o.Geo] = true
		}
		require.Len(t, geos, 1+len(synthDonors), "the target's and every donor's pre-period values")

		rec = f.get(t, "/v1/initiatives/fra-synth/savings/explain?figure=counterfactual_low&year=2")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		ex = decode[query.SavingsExplanation](t, rec)
		require.True(t, strings.Contains(ex.Formula, "P2.5 of the k =") || strings.Contains(ex.Formula, ": null, as"), ex.Formula)
	})

	t.Run("default donor pool", func(t *testing.T) {
		// No comparison place named: the donors are the countries holding
		// the series in every pre-period year, here those loaded but EST,
		// so the fit is the named pool's.
		body := strings.Replace(strings.Replace(doc, `"id": "fra-synth"`, `"id": "fra-pool"`, 1),
			`"comparison_geos": [`+strings.Join(quoted, ", ")+`],`, "", 1)
		require.NotContains(t, body, "comparison_geos")
		rec := f.send(t, http.MethodPost, "/v1/initiatives", body, auth...)
		require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
		rec = f.get(t, "/v1/initiatives/fra-pool/savings?pre_from=all")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		openapi.checkResponse(t, openapi.operation(t, http.MethodGet, "/v1/initiatives/fra-pool/savings"), rec)
		var p struct {
			synthReport
			Inputs struct {
				ComparisonGeos []string `json:"comparison_geos"`
				DonorPool      struct {
					Rule                         string
					Level, Kind                  string
					Candidates, Qualified, Limit int
				} `json:"donor_pool"`
			} `json:"inputs"`
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
		want := slices.Sorted(slices.Values(synthDonors))
		require.Equal(t, want, p.Inputs.ComparisonGeos)
		dp := p.Inputs.DonorPool
		require.Equal(t, "default", dp.Rule)
		require.Equal(t, "country", dp.Level)
		require.Len(t, synthDonors, dp.Qualified)
		require.Greater(t, dp.Candidates, 150, "every other country of the catalogue")
		require.Equal(t, 50, dp.Limit)
		for _, wn := range p.Warnings {
			require.NotEqual(t, "donor_dropped", wn.Code, "the pool holds only places with every pre-period year: %s", wn.Message)
		}
		got := map[string]float64{}
		for _, dw := range p.Synth.Weights {
			got[dw.Geo] = dw.Weight
		}
		for g, wg := range w {
			require.InDelta(t, wg, got[g], 1e-9, g)
		}
		require.InDelta(t, s.RMSPEPre, p.Synth.RMSPEPre, 1e-12)
		require.Len(t, p.Synth.Placebos, len(synthDonors))
	})

	t.Run("a target without peers", func(t *testing.T) {
		// The world has no place of its level to draw donors from.
		body := strings.Replace(strings.Replace(strings.Replace(doc, `"id": "fra-synth"`, `"id": "no-peers"`, 1),
			`"comparison_geos": [`+strings.Join(quoted, ", ")+`],`, "", 1), `"geo": "FRA"`, `"geo": "WLD"`, 1)
		rec := f.send(t, http.MethodPost, "/v1/initiatives", body, auth...)
		require.Equal(t, http.StatusUnprocessableEntity, rec.Code, rec.Body.String())
		env := decode[httpapi.Envelope](t, rec)
		var msgs []string
		for _, pr := range env.Error.Errors {
			if pr.Field == "comparison_geos" {
				msgs = append(msgs, pr.Message)
			}
		}
		require.Len(t, msgs, 1, rec.Body.String())
		require.Contains(t, msgs[0], "WLD is a place of level world, which has no peers to draw donors from")
	})

	t.Run("pinned weights", func(t *testing.T) {
		pinned := strings.Replace(doc, `"id": "fra-synth"`, `"id": "fra-pinned", "donor_weights": {"DEU": 0.5, "ITA": 0.5}`, 1)
		rec := f.send(t, http.MethodPost, "/v1/initiatives", pinned, auth...)
		require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
		rec = f.get(t, "/v1/initiatives/fra-pinned/savings")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		var p synthReport
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
		require.True(t, p.Synth.Pinned)
		y := p.Years[1]
		require.InDelta(t, 0.5*raw["DEU"][y.CalendarYear]+0.5*raw["ITA"][y.CalendarYear], *y.Counterfactual, 1e-9)
	})

	for name, tc := range map[string]struct {
		body   string
		status int
		code   httpapi.Code
		field  string
	}{
		"weights not summing to 1": {strings.Replace(doc, `"id": "fra-synth"`, `"id": "bad-weights", "donor_weights": {"DEU": 0.5, "ITA": 0.4}`, 1),
			422, httpapi.CodeInvalidInitiative, "donor_weights"},
		"weight of a place not compared": {strings.Replace(doc, `"id": "fra-synth"`, `"id": "bad-place", "donor_weights": {"GBR": 1}`, 1),
			422, httpapi.CodeInvalidInitiative, "donor_weights.GBR"},
	} {
		t.Run(name, func(t *testing.T) {
			rec := f.send(t, http.MethodPost, "/v1/initiatives", tc.body, auth...)
			require.Equal(t, tc.status, rec.Code, rec.Body.String())
			env := decode[httpapi.Envelope](t, rec)
			require.Equal(t, tc.code, env.Error.Code)
			require.Equal(t, tc.field, env.Error.Field, env.Error.Message)
		})
	}
}
