package query_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/schemas"
)

// TestIntegrationMonteCarlo registers an initiative with uncertain inputs
// on the World Bank's adult overweight recording and asks for its Monte
// Carlo and sensitivity: the stored document keeps the ranges, the answer
// follows the OpenAPI document, the same seed gives the same figures, and
// the tornado holds the uncertain inputs and the counterfactual (whose bar
// is the report's npv_low and npv_high).
func TestIntegrationMonteCarlo(t *testing.T) {
	f, _, _ := newWorldBankFixture(t)
	doc := `{"id": "fra-mc", "indicator": "SH.STA.OWAD.ZS", "geo": "FRA", "start_year": 2012, "method": "its",
	  "population": {"value": 1000000}, "scale": 0.01,
	  "unit_costs": [{"agency": "CNAM", "amount": {"low": 600, "high": 1400}, "currency": "EUR", "price_year": 2015}],
	  "costs": [{"year": 2012, "amount": 50000000}],
	  "cba": {"attribution": {"low": 0.3, "mode": 0.6, "high": 0.9}, "horizon": 5, "discount": {"low": 0.015, "high": 0.05}}}`
	rec := f.send(t, http.MethodPost, "/v1/initiatives", doc, "Authorization", "Bearer "+testAnalystToken)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	stored := f.get(t, "/v1/initiatives/fra-mc")
	require.Equal(t, http.StatusOK, stored.Code)
	var got struct {
		UnitCosts []struct {
			Amount map[string]float64 `json:"amount"`
		} `json:"unit_costs"`
		CBA struct {
			Attribution map[string]float64 `json:"attribution"`
		} `json:"cba"`
	}
	require.NoError(t, json.Unmarshal(stored.Body.Bytes(), &got), stored.Body.String())
	require.Equal(t, map[string]float64{"low": 600, "high": 1400}, got.UnitCosts[0].Amount)
	require.Equal(t, map[string]float64{"low": 0.3, "mode": 0.6, "high": 0.9}, got.CBA.Attribution)

	openapi := loadOpenAPI(t, schemas.QueryOpenAPI)
	op := openapi.operation(t, http.MethodGet, "/v1/initiatives/fra-mc/savings")
	type report struct {
		Totals struct {
			NPV     float64  `json:"npv"`
			NPVLow  *float64 `json:"npv_low"`
			NPVHigh *float64 `json:"npv_high"`
		} `json:"totals"`
		Sensitivity struct {
			NPV     float64      `json:"npv"`
			Tornado []tornadoBar `json:"tornado"`
		} `json:"sensitivity"`
		Simulation *struct {
			Draws, Seed  int
			Inputs       []struct{ Input string }
			NPV          struct{ P5, P50, P95 float64 }
			PNPVPositive float64 `json:"p_npv_positive"`
		} `json:"simulation"`
	}
	read := func(path string) (report, string) {
		rec := f.get(t, path)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		openapi.checkResponse(t, op, rec)
		var rep report
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &rep))
		return rep, rec.Body.String()
	}
	plain, _ := read("/v1/initiatives/fra-mc/savings")
	require.Nil(t, plain.Simulation, "no Monte Carlo unless asked")
	require.InDelta(t, plain.Totals.NPV, plain.Sensitivity.NPV, 0.005)
	bars := map[string][2]float64{}
	for _, b := range plain.Sensitivity.Tornado {
		bars[b.Input] = [2]float64{b.NPVAtLow, b.NPVAtHigh}
	}
	require.Len(t, bars, 4, "three uncertain inputs and the counterfactual: %v", bars)
	require.NotNil(t, plain.Totals.NPVLow)
	require.Equal(t, [2]float64{*plain.Totals.NPVLow, *plain.Totals.NPVHigh}, bars["counterfactual"])
	require.Less(t, bars["cba.attribution"][0], bars["cba.attribution"][1], "more attribution, more NPV")
	require.Greater(t, bars["cba.discount"][0], bars["cba.discount"][1], "a higher rate, less NPV (benefits come later than the cost)")

	sim, body := read("/v1/initiatives/fra-mc/savings?simulate=3000&seed=9")
	require.NotNil(t, sim.Simulation)
	require.Equal(t, 3000, sim.Simulation.Draws)
	require.Equal(t, 9, sim.Simulation.Seed)
	require.Equal(t, []struct{ Input string }{{"unit_costs[0].amount"}, {"cba.attribution"}, {"cba.discount"}}, sim.Simulation.Inputs)
	require.Less(t, sim.Simulation.NPV.P5, sim.Simulation.NPV.P95)
	require.GreaterOrEqual(t, sim.Simulation.PNPVPositive, 0.0)
	require.LessOrEqual(t, sim.Simulation.PNPVPositive, 1.0)
	_, again := read("/v1/initiatives/fra-mc/savings?simulate=3000&seed=9")
	require.Equal(t, body, again, "the same seed gives the same report")
	other, _ := read("/v1/initiatives/fra-mc/savings?simulate=3000&seed=10")
	require.NotEqual(t, sim.Simulation.NPV, other.Simulation.NPV)
	byDefault, _ := read("/v1/initiatives/fra-mc/savings?simulate=")
	require.Equal(t, 10000, byDefault.Simulation.Draws)
	require.Equal(t, 1, byDefault.Simulation.Seed)

	// The what-if takes the Monte Carlo too.
	rec = f.send(t, http.MethodPost, "/v1/initiatives/fra-mc/savings?simulate=500", doc)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Contains(t, rec.Body.String(), `"simulation":{"draws":500`)

	for path, field := range map[string]string{
		"/v1/initiatives/fra-mc/savings?simulate=0":          "simulate",
		"/v1/initiatives/fra-mc/savings?simulate=1000001":    "simulate",
		"/v1/initiatives/fra-mc/savings?simulate=many":       "simulate",
		"/v1/initiatives/fra-mc/savings?simulate=10&seed=-1": "seed",
	} {
		rec := f.get(t, path)
		require.Equal(t, http.StatusBadRequest, rec.Code, "%s: %s", path, rec.Body.String())
		require.Contains(t, rec.Body.String(), `"field":"`+field+`"`, path)
	}
	rec = f.get(t, "/v1/initiatives/fra-mc/savings/methods?simulate=10")
	require.Equal(t, http.StatusBadRequest, rec.Code, "the methods answer has no Monte Carlo: %s", rec.Body.String())
}

// tornadoBar is what the tests read of a bar of the report's tornado.
type tornadoBar struct {
	Input     string  `json:"input"`
	NPVAtLow  float64 `json:"npv_at_low"`
	NPVAtHigh float64 `json:"npv_at_high"`
}
