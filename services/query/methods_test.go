package query_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestIntegrationSavingsMethodsSideBySide: every method's answer in one
// response equals its own report, a method the document cannot use says
// why, and npv_range spans the NPVs of those that apply.
func TestIntegrationSavingsMethodsSideBySide(t *testing.T) {
	f, _, _ := newWorldBankFixture(t)
	const start = 2010
	doc := fmt.Sprintf(`{"id": "fra-methods", "name": "Methods", "indicator": "SH.STA.OWAD.ZS", "geo": "FRA",
	  "start_year": %d, "method": "its", "comparison_geos": ["DEU", "ITA"],
	  "population": {"value": 1000000}, "scale": 0.01,
	  "unit_costs": [{"agency": "CNAM", "amount": 1000, "currency": "EUR", "price_year": 2015}],
	  "costs": [{"year": %d, "amount": 5000000}],
	  "cba": {"lag": 0, "persistence": 1, "horizon": 6, "discount": 0.035}}`, start, start)
	rec := f.send(t, http.MethodPost, "/v1/initiatives", doc, "Authorization", "Bearer "+testAnalystToken)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())

	rec = f.get(t, "/v1/initiatives/fra-methods/savings/methods")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var resp struct {
		Own     string `json:"own"`
		Methods []struct {
			Method   string `json:"method"`
			Applies  bool   `json:"applies"`
			Skipped  *struct{ Code, Field, Message string }
			Totals   json.RawMessage `json:"totals"`
			Warnings json.RawMessage `json:"warnings"`
		} `json:"methods"`
		NPVRange []float64 `json:"npv_range"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &resp))
	require.Equal(t, "its", resp.Own)
	var npvs []float64
	for _, m := range resp.Methods {
		report := f.get(t, "/v1/initiatives/fra-methods/savings?method="+m.Method)
		if !m.Applies {
			require.NotNil(t, m.Skipped, m.Method)
			require.NotEqual(t, http.StatusOK, report.Code, "%s is skipped only when its report fails", m.Method)
			var e struct {
				Error struct{ Code, Field, Message string }
			}
			require.NoError(t, json.Unmarshal(report.Body.Bytes(), &e))
			require.Equal(t, e.Error.Code, m.Skipped.Code)
			require.Equal(t, e.Error.Message, m.Skipped.Message)
			continue
		}
		require.Equal(t, http.StatusOK, report.Code, report.Body.String())
		var r struct {
			Totals   json.RawMessage `json:"totals"`
			Warnings json.RawMessage `json:"warnings"`
		}
		require.NoError(t, json.Unmarshal(report.Body.Bytes(), &r))
		require.JSONEq(t, string(r.Totals), string(m.Totals), m.Method)
		var npv struct {
			NPV float64 `json:"npv"`
		}
		require.NoError(t, json.Unmarshal(m.Totals, &npv))
		npvs = append(npvs, npv.NPV)
	}
	byMethod := map[string]bool{}
	for _, m := range resp.Methods {
		byMethod[m.Method] = m.Applies
	}
	require.True(t, byMethod["its"])
	require.True(t, byMethod["did"])
	require.False(t, byMethod["modelled"], "the document has no cohort")
	require.Len(t, resp.NPVRange, 2)
	lo, hi := npvs[0], npvs[0]
	for _, v := range npvs {
		lo, hi = min(lo, v), max(hi, v)
	}
	require.Equal(t, []float64{lo, hi}, resp.NPVRange)
}
