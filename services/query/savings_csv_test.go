package query_test

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestIntegrationSavingsCSV: the savings report and the methods side by
// side as CSV (format=csv or Accept: text/csv): a row a year and method
// whose numbers are the JSON report's, the totals as labelled rows, the
// provenance on every row.
func TestIntegrationSavingsCSV(t *testing.T) {
	f, _, _ := newWorldBankFixture(t)
	doc := `{"id": "fra-csv", "name": "CSV", "indicator": "SH.STA.OWAD.ZS", "geo": "FRA",
	  "start_year": 2010, "method": "its", "comparison_geos": ["DEU", "ITA"], "population": {"value": 1000000}, "scale": 0.01,
	  "unit_costs": [{"agency": "CNAM", "amount": 1000, "currency": "EUR", "price_year": 2015}],
	  "costs": [{"year": 2010, "amount": 5000000}], "cba": {"lag": 0, "persistence": 1, "horizon": 6, "discount": 0.035}}`
	rec := f.send(t, http.MethodPost, "/v1/initiatives", doc, "Authorization", "Bearer "+testAnalystToken)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())

	var rep struct {
		Years []struct {
			CalendarYear int      `json:"calendar_year"`
			Observed     *float64 `json:"observed"`
			Avoided      *float64 `json:"avoided"`
		} `json:"years"`
		Totals map[string]json.RawMessage `json:"totals"`
	}
	rec = f.get(t, "/v1/initiatives/fra-csv/savings?method=its")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &rep))

	for _, target := range []struct{ url, accept string }{
		{"/v1/initiatives/fra-csv/savings?method=its&format=csv", ""},
		{"/v1/initiatives/fra-csv/savings?method=its", "text/csv"},
	} {
		rec := f.get(t, target.url)
		if target.accept != "" {
			rec = f.get(t, target.url, "Accept", target.accept)
		}
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		require.True(t, strings.HasPrefix(rec.Header().Get("Content-Type"), "text/csv"), rec.Header().Get("Content-Type"))
		rows, err := csv.NewReader(strings.NewReader(rec.Body.String())).ReadAll()
		require.NoError(t, err)
		col := map[string]int{}
		for i, h := range rows[0] {
			col[h] = i
		}
		years, totals := 0, map[string][]string{}
		for _, r := range rows[1:] {
			require.Equal(t, "its", r[col["method"]])
			require.Contains(t, r[col["sources"]], "target:SH.STA.OWAD.ZS:FRA=", "provenance on every row")
			switch r[col["row"]] {
			case "year":
				y := rep.Years[years]
				require.Equal(t, strconv.Itoa(y.CalendarYear), r[col["calendar_year"]])
				require.Equal(t, fmtOpt(y.Observed), r[col["observed"]])
				require.Equal(t, fmtOpt(y.Avoided), r[col["avoided"]])
				years++
			case "total":
				totals[r[col["figure"]]] = r
			}
		}
		require.Equal(t, len(rep.Years), years)
		for _, fig := range []string{"pv_benefits", "pv_costs", "npv", "roi", "payback_years"} {
			r, ok := totals[fig]
			require.True(t, ok, fig)
			want := string(rep.Totals[fig])
			if want == "null" {
				want = ""
			}
			require.Equal(t, want, r[col["value"]], fig)
		}
		require.Equal(t, string(rep.Totals["npv_low"]), totals["npv"][col["low"]])
	}

	// With a simulation: its percentiles, and the sensitivity, as labelled rows.
	var sim struct {
		Simulation struct {
			NPV          struct{ P5, P50, P95 float64 } `json:"npv"`
			PNPVPositive float64                        `json:"p_npv_positive"`
		} `json:"simulation"`
		Sensitivity struct {
			Tornado []tornadoBar `json:"tornado"`
		} `json:"sensitivity"`
	}
	rec = f.get(t, "/v1/initiatives/fra-csv/savings?method=its&simulate=500&seed=3")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &sim))
	rec = f.get(t, "/v1/initiatives/fra-csv/savings?method=its&simulate=500&seed=3&format=csv")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	rows, err := csv.NewReader(strings.NewReader(rec.Body.String())).ReadAll()
	require.NoError(t, err)
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	labelled := map[string][]string{}
	for _, r := range rows[1:] {
		if k := r[col["row"]]; k == "simulation" || k == "sensitivity" {
			labelled[r[col["figure"]]] = r
		}
	}
	num := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	npv := labelled["npv_p50"]
	require.NotNil(t, npv, "%v", labelled)
	require.Equal(t, []string{num(sim.Simulation.NPV.P50), num(sim.Simulation.NPV.P5), num(sim.Simulation.NPV.P95)},
		[]string{npv[col["value"]], npv[col["low"]], npv[col["high"]]})
	require.Contains(t, npv[col["interval"]], "500 draws, seed 3")
	require.Equal(t, num(sim.Simulation.PNPVPositive), labelled["p_npv_positive"][col["value"]])
	require.NotEmpty(t, sim.Sensitivity.Tornado)
	for _, b := range sim.Sensitivity.Tornado {
		r := labelled["npv_swing:"+b.Input]
		require.NotNil(t, r, b.Input)
		require.Equal(t, num(b.NPVAtLow), r[col["low"]])
		require.Equal(t, num(b.NPVAtHigh), r[col["high"]])
	}

	// Every method side by side: rows of each method that applies.
	rec = f.get(t, "/v1/initiatives/fra-csv/savings/methods?format=csv")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	rows, err = csv.NewReader(strings.NewReader(rec.Body.String())).ReadAll()
	require.NoError(t, err)
	methods := map[string]bool{}
	for _, r := range rows[1:] {
		methods[r[1]] = true
	}
	require.True(t, methods["its"] && methods["did"], "%v", methods)
}

func fmtOpt(v *float64) string {
	if v == nil {
		return ""
	}
	return strconv.FormatFloat(*v, 'g', -1, 64)
}
