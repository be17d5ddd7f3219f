package query_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestIntegrationWhatIfSavings: a modified document's report is computed
// and answered without storing anything and without the analyst token; it
// equals the report the same document gives once stored; a bad document
// gets the registration's errors.
func TestIntegrationWhatIfSavings(t *testing.T) {
	f, _, _ := newWorldBankFixture(t)
	doc := func(id string, attribution float64) string {
		return fmt.Sprintf(`{"id": %q, "name": "What if", "indicator": "SH.STA.OWAD.ZS", "geo": "FRA",
		  "start_year": 2010, "method": "its", "population": {"value": 1000000}, "scale": 0.01,
		  "unit_costs": [{"agency": "CNAM", "amount": 1000, "currency": "EUR", "price_year": 2015}],
		  "costs": [{"year": 2010, "amount": 5000000}],
		  "cba": {"lag": 0, "persistence": 1, "horizon": 6, "discount": 0.035, "attribution": %g}}`, id, attribution)
	}
	rec := f.send(t, http.MethodPost, "/v1/initiatives", doc("fra-whatif", 1), "Authorization", "Bearer "+testAnalystToken)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	stored := f.get(t, "/v1/initiatives/fra-whatif")
	require.Equal(t, http.StatusOK, stored.Code)

	// Half the attribution, without a token, on the initiative's path.
	rec = f.send(t, http.MethodPost, "/v1/initiatives/fra-whatif/savings?method=its", doc("fra-whatif", 0.5))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	var half, full struct {
		Totals struct {
			PVBenefits float64 `json:"pv_benefits"`
		} `json:"totals"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &half))
	rec = f.get(t, "/v1/initiatives/fra-whatif/savings?method=its")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &full))
	require.InDelta(t, full.Totals.PVBenefits/2, half.Totals.PVBenefits, 0.01, "attribution scales the benefits")
	after := f.get(t, "/v1/initiatives/fra-whatif")
	require.Equal(t, stored.Body.String(), after.Body.String(), "nothing stored")

	// A document of its own, never registered: its report, and still nothing stored.
	rec = f.send(t, http.MethodPost, "/v1/savings", doc("never-stored", 0.8))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, http.StatusNotFound, f.get(t, "/v1/initiatives/never-stored").Code)

	// The registration's checks: every problem at once.
	bad := strings.Replace(doc("bad", 0.5), `"geo": "FRA"`, `"geo": "France"`, 1)
	bad = strings.Replace(bad, `"attribution": 0.5`, `"attribution": 1.5`, 1)
	rec = f.send(t, http.MethodPost, "/v1/savings", bad)
	require.Equal(t, http.StatusUnprocessableEntity, rec.Code, rec.Body.String())
	require.Contains(t, rec.Body.String(), "attribution")
	require.Contains(t, rec.Body.String(), "France")
	// The id of the body and the path must agree.
	rec = f.send(t, http.MethodPost, "/v1/initiatives/fra-whatif/savings", doc("other", 0.5))
	require.Equal(t, http.StatusUnprocessableEntity, rec.Code, rec.Body.String())
	require.Contains(t, rec.Body.String(), "differs from the path")
}
