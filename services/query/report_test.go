package query_test

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/httpapi"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/pkg/testenv"
	"github.com/ounce-data/ounce/services/query"
)

// rawWorldBank reads a World Bank API v2 recording independently of the
// adapter: code → year → value for the places asked.
func rawWorldBank(t testing.TB, file string, geos ...string) map[string]map[int]float64 {
	t.Helper()
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	var page []json.RawMessage
	require.NoError(t, json.Unmarshal(data, &page))
	require.Len(t, page, 2)
	var records []struct {
		ISO3  string   `json:"countryiso3code"`
		Date  string   `json:"date"`
		Value *float64 `json:"value"`
	}
	require.NoError(t, json.Unmarshal(page[1], &records))
	want := map[string]bool{}
	for _, g := range geos {
		want[g] = true
	}
	out := map[string]map[int]float64{}
	for _, r := range records {
		if !want[r.ISO3] || r.Value == nil {
			continue
		}
		y, err := strconv.Atoi(r.Date)
		require.NoError(t, err)
		if out[r.ISO3] == nil {
			out[r.ISO3] = map[int]float64{}
		}
		out[r.ISO3][y] = *r.Value
	}
	return out
}

// loadWorldBank stores the raw values as the World Bank feed would.
func loadWorldBank(t testing.TB, ch *testenv.ClickHouse, indicator, unit string, values map[string]map[int]float64) {
	t.Helper()
	var os []observation.Observation
	for geo, years := range values {
		for y, v := range years {
			o := obs(indicator, geo, observation.Year(y), v, 1, nil)
			o.Unit, o.Source = unit, "worldbank-test"
			o.Provenance.URL = "https://api.worldbank.org/v2/country/all/indicator/" + indicator
			os = append(os, o)
		}
	}
	insert(t, ch, os...)
}

// ols is the least-squares line through the points, computed in closed
// form here independently of the savings package.
func ols(points map[int]float64) (a, b float64) {
	var n, sx, sy, sxx, sxy float64
	for x, y := range points {
		fx := float64(x)
		n++
		sx += fx
		sy += y
		sxx += fx * fx
		sxy += fx * y
	}
	b = (n*sxy - sx*sy) / (n*sxx - sx*sx)
	a = (sy - b*sx) / n
	return a, b
}

// newWorldBankFixture stores the overweight share of FRA, DEU and ITA and
// FRA's health spending from the World Bank recordings, and returns them as
// read from the raw files, independently of the adapter.
func newWorldBankFixture(t testing.TB) (f *fixture, overweight, health map[string]map[int]float64) {
	t.Helper()
	dir := filepath.Join(testenv.SharedDataDir(t), "worldbank", "api_v2_full")
	overweight = rawWorldBank(t, filepath.Join(dir, "SH.STA.OWAD.ZS_all_perpage10000_page1.json"), "FRA", "DEU", "ITA")
	health = rawWorldBank(t, filepath.Join(dir, "SH.XPD.CHEX.GD.ZS_all_perpage10000_page1.json"), "FRA")
	require.Len(t, overweight, 3)
	require.NotEmpty(t, health["FRA"])

	f = newFixture(t, query.Config{AnalystToken: testAnalystToken})
	loadWorldBank(t, f.ch, "SH.STA.OWAD.ZS", "% of adults", overweight)
	loadWorldBank(t, f.ch, "SH.XPD.CHEX.GD.ZS", "% of GDP", health)
	return f, overweight, health
}

func TestIntegrationSavingsReportOnWorldBankData(t *testing.T) {
	f, overweight, health := newWorldBankFixture(t)

	const start = 2012
	doc := fmt.Sprintf(`{"id": "fra-obesity", "name": "Obesity prevention", "indicator": "SH.STA.OWAD.ZS", "geo": "FRA",
	  "start_year": %d, "method": "its", "comparison_geos": ["DEU", "ITA"],
	  "population": {"value": 1000000}, "scale": 0.01,
	  "unit_costs": [{"agency": "CNAM", "amount": 1000, "currency": "EUR", "price_year": 2015}],
	  "costs": [{"year": %d, "amount": 5000000}],
	  "cba": {"lag": 0, "persistence": 1, "horizon": 5, "discount": 0.035}}`, start, start)
	rec := f.send(t, http.MethodPost, "/v1/initiatives", doc, "Authorization", "Bearer "+testAnalystToken)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())

	// Left out, pre_from is the default window: 3 × (horizon + 1) = 18 years
	// before the start (within 10..30), which the raw file fills.
	const defaultFrom = start - 18
	pre := map[int]float64{}
	for y, v := range overweight["FRA"] {
		if y >= defaultFrom && y < start {
			pre[y] = v
		}
	}
	require.GreaterOrEqual(t, len(pre), 5)
	a, b := ols(pre)

	t.Run("every year held", func(t *testing.T) {
		rec := f.get(t, "/v1/initiatives/fra-obesity/savings?method=its&pre_from=all")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		var rep struct {
			Inputs struct {
				PreFrom     *int   `json:"pre_from"`
				PreFromRule string `json:"pre_from_rule"`
				ITSFit      struct {
					N         int `json:"n"`
					FirstYear int `json:"first_year"`
				} `json:"its_fit"`
			} `json:"inputs"`
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &rep))
		require.Nil(t, rep.Inputs.PreFrom)
		require.Equal(t, "all", rep.Inputs.PreFromRule)
		first, n := start, 0
		for y := range overweight["FRA"] {
			if y < start {
				first, n = min(first, y), n+1
			}
		}
		require.Less(t, first, defaultFrom, "the raw file reaches before the default window")
		require.Equal(t, first, rep.Inputs.ITSFit.FirstYear)
		require.Equal(t, n, rep.Inputs.ITSFit.N)
	})

	t.Run("its", func(t *testing.T) {
		rec := f.get(t, "/v1/initiatives/fra-obesity/savings?method=its")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		var rep struct {
			Method string `json:"method"`
			Years  []struct {
				Year           int      `json:"year"`
				CalendarYear   int      `json:"calendar_year"`
				Observed       *float64 `json:"observed"`
				Counterfactual *float64 `json:"counterfactual"`
				Low            *float64 `json:"counterfactual_low"`
				High           *float64 `json:"counterfactual_high"`
				Avoided        *float64 `json:"avoided"`
				DiscountFactor float64  `json:"discount_factor"`
			} `json:"years"`
			Totals     map[string]any `json:"totals"`
			Provenance []struct {
				Role, Indicator, Geo, Licence string
			} `json:"provenance"`
			Inputs struct {
				PreFrom     *int   `json:"pre_from"`
				PreFromRule string `json:"pre_from_rule"`
			} `json:"inputs"`
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &rep))
		require.Equal(t, "its", rep.Method)
		require.NotNil(t, rep.Inputs.PreFrom)
		require.Equal(t, defaultFrom, *rep.Inputs.PreFrom)
		require.Equal(t, "default", rep.Inputs.PreFromRule)
		require.NotEmpty(t, rep.Years)
		checked := 0
		for _, y := range rep.Years {
			require.Equal(t, start+y.Year, y.CalendarYear)
			require.InDelta(t, 1/math.Pow(1.035, float64(y.Year)), y.DiscountFactor, 1e-12)
			obs, has := overweight["FRA"][y.CalendarYear]
			if y.Year == 0 || !has {
				continue
			}
			require.NotNil(t, y.Observed, "year %d", y.CalendarYear)
			require.Equal(t, obs, *y.Observed, "observed %d is the raw value", y.CalendarYear)
			want := a + b*float64(y.CalendarYear)
			require.NotNil(t, y.Counterfactual)
			require.InDelta(t, want, *y.Counterfactual, 1e-9, "counterfactual %d extrapolates the pre-period line", y.CalendarYear)
			require.Less(t, *y.Low, *y.Counterfactual)
			require.Greater(t, *y.High, *y.Counterfactual)
			require.NotNil(t, y.Avoided)
			// Lower is better: avoided = (counterfactual − observed) × scale × population.
			require.InDelta(t, (want-obs)*0.01*1e6, *y.Avoided, 1e-6)
			checked++
		}
		require.Positive(t, checked, "some post-period years have observations")
		require.NotEmpty(t, rep.Provenance)
		require.Equal(t, "target", rep.Provenance[0].Role)
		require.Equal(t, "CC BY 4.0", rep.Provenance[0].Licence)
		require.Contains(t, rep.Totals, "npv")
	})

	t.Run("its from a limited pre-period", func(t *testing.T) {
		rec := f.get(t, "/v1/initiatives/fra-obesity/savings?method=its&pre_from=2000")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		var rep struct {
			Years []struct {
				CalendarYear   int      `json:"calendar_year"`
				Counterfactual *float64 `json:"counterfactual"`
			} `json:"years"`
			Inputs struct {
				PreFrom *int `json:"pre_from"`
			} `json:"inputs"`
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &rep))
		require.NotNil(t, rep.Inputs.PreFrom)
		require.Equal(t, 2000, *rep.Inputs.PreFrom)
		recent := map[int]float64{}
		for y, v := range overweight["FRA"] {
			if y >= 2000 && y < start {
				recent[y] = v
			}
		}
		ra, rb := ols(recent)
		for _, y := range rep.Years {
			require.NotNil(t, y.Counterfactual)
			require.InDelta(t, ra+rb*float64(y.CalendarYear), *y.Counterfactual, 1e-9, "year %d", y.CalendarYear)
		}
		for target, field := range map[string]string{
			"/v1/initiatives/fra-obesity/savings?pre_from=2012": "pre_from",
			"/v1/initiatives/fra-obesity/savings?pre_from=soon": "pre_from",
		} {
			rec := f.get(t, target)
			require.Contains(t, []int{400, 422}, rec.Code, rec.Body.String())
			require.Equal(t, field, decode[httpapi.Envelope](t, rec).Error.Field)
		}
	})

	t.Run("did", func(t *testing.T) {
		rec := f.get(t, "/v1/initiatives/fra-obesity/savings?method=did")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		var rep struct {
			Years []struct {
				Year           int      `json:"year"`
				CalendarYear   int      `json:"calendar_year"`
				Counterfactual *float64 `json:"counterfactual"`
			} `json:"years"`
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &rep))
		preMean := func(geo string) float64 {
			var sum float64
			var n int
			for y, v := range overweight[geo] {
				if y >= defaultFrom && y < start {
					sum += v
					n++
				}
			}
			return sum / float64(n)
		}
		for _, y := range rep.Years {
			if y.Year == 0 || y.Counterfactual == nil {
				continue
			}
			cy := y.CalendarYear
			dDEU := overweight["DEU"][cy] - preMean("DEU")
			dITA := overweight["ITA"][cy] - preMean("ITA")
			require.InDelta(t, preMean("FRA")+(dDEU+dITA)/2, *y.Counterfactual, 1e-9, "year %d", cy)
		}
	})

	t.Run("modelled needs no data", func(t *testing.T) {
		rec := f.get(t, "/v1/initiatives/fra-obesity/savings?method=modelled")
		require.Equal(t, http.StatusUnprocessableEntity, rec.Code, "the document has no cohort: %s", rec.Body.String())
		env := decode[httpapi.Envelope](t, rec)
		require.Equal(t, httpapi.CodeInvalidInitiative, env.Error.Code)
		require.Contains(t, env.Error.Field, "cohort")
	})

	t.Run("compare with health spending", func(t *testing.T) {
		rec := f.get(t, "/v1/compare?initiatives=fra-obesity&cost_indicator=SH.XPD.CHEX.GD.ZS")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		var got struct {
			Count       int `json:"count"`
			Comparisons []struct {
				CostIndicator struct{ Geo string } `json:"cost_indicator"`
				Series        []struct {
					Year  int     `json:"year"`
					Value float64 `json:"value"`
				} `json:"series"`
				Fit struct {
					From, To int
					Rule     string
				} `json:"fit"`
				Conversion struct {
					Kind, Reason string
				} `json:"conversion"`
				Years []struct {
					CalendarYear      int      `json:"calendar_year"`
					ProjectedRiseUnit float64  `json:"projected_rise_unit"`
					ProjectedRise     *float64 `json:"projected_rise"`
					ShareOffset       *float64 `json:"share_offset"`
				} `json:"years"`
			} `json:"comparisons"`
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
		require.Equal(t, 1, got.Count)
		c := got.Comparisons[0]
		require.Equal(t, "FRA", c.CostIndicator.Geo)
		years := make([]int, 0, len(health["FRA"]))
		for y := range health["FRA"] {
			years = append(years, y)
		}
		sort.Ints(years)
		require.Len(t, c.Series, len(years))
		for i, p := range c.Series {
			require.Equal(t, years[i], p.Year)
			require.Equal(t, health["FRA"][p.Year], p.Value)
		}
		require.Len(t, c.Years, 6, "year 0 to the horizon")
		require.Equal(t, start, c.Years[0].CalendarYear)
		require.Zero(t, c.Years[0].ProjectedRiseUnit, "the rise is counted from the start year")
		before := map[int]float64{}
		for y, v := range health["FRA"] {
			if y < start {
				before[y] = v
			}
		}
		_, slope := ols(before)
		require.Equal(t, "default", c.Fit.Rule)
		require.Equal(t, start-1, c.Fit.To, "fitted on the years before the start")
		require.InDelta(t, 5*slope, c.Years[5].ProjectedRiseUnit, 1e-9, "five years of the pre-start trend's slope")
		// No GDP in euros is loaded: no figure in money, and the reason says which series is missing.
		require.Equal(t, "none", c.Conversion.Kind)
		require.Contains(t, c.Conversion.Reason, "no GDP series of FRA in EUR")
		require.Nil(t, c.Years[5].ProjectedRise)
		require.Nil(t, c.Years[5].ShareOffset)
	})

	for name, tc := range map[string]struct {
		target string
		status int
		code   httpapi.Code
		field  string
	}{
		"unknown method":      {"/v1/initiatives/fra-obesity/savings?method=guess", 400, httpapi.CodeBadRequest, "method"},
		"unknown initiative":  {"/v1/initiatives/nope/savings", 404, httpapi.CodeNotFound, "id"},
		"unknown parameter":   {"/v1/initiatives/fra-obesity/savings?horizon=3", 400, httpapi.CodeBadRequest, "horizon"},
		"compare no ids":      {"/v1/compare?cost_indicator=SH.XPD.CHEX.GD.ZS", 400, httpapi.CodeBadRequest, "initiatives"},
		"compare unknown id":  {"/v1/compare?initiatives=nope&cost_indicator=SH.XPD.CHEX.GD.ZS", 404, httpapi.CodeNotFound, "initiatives"},
		"compare unknown ind": {"/v1/compare?initiatives=fra-obesity&cost_indicator=NOPE", 404, httpapi.CodeUnknownIndicator, "cost_indicator"},
		"compare no cost":     {"/v1/compare?initiatives=fra-obesity&cost_indicator=SH.XPD.CHEX.GD.ZS&geo=ATA&allow_other_geo=true", 422, httpapi.CodeInsufficientData, ""},
		"compare other place": {"/v1/compare?initiatives=fra-obesity&cost_indicator=SH.XPD.CHEX.GD.ZS&geo=DEU", 422, httpapi.CodeNotComparable, "geo"},
		"compare not a cost":  {"/v1/compare?initiatives=fra-obesity&cost_indicator=SH.STA.OWAD.ZS", 422, httpapi.CodeNotComparable, "cost_indicator"},
		"compare bad flag":    {"/v1/compare?initiatives=fra-obesity&cost_indicator=SH.XPD.CHEX.GD.ZS&allow_other_geo=yes", 400, httpapi.CodeBadRequest, "allow_other_geo"},
		"compare fit order":   {"/v1/compare?initiatives=fra-obesity&cost_indicator=SH.XPD.CHEX.GD.ZS&fit_from=2010&fit_to=2000", 400, httpapi.CodeBadRequest, "fit_from"},
	} {
		t.Run(name, func(t *testing.T) {
			rec := f.get(t, tc.target)
			require.Equal(t, tc.status, rec.Code, rec.Body.String())
			env := decode[httpapi.Envelope](t, rec)
			require.Equal(t, tc.code, env.Error.Code, rec.Body.String())
			if tc.field != "" {
				require.Equal(t, tc.field, env.Error.Field)
			}
		})
	}

	// Too few pre-period points for a trend: a 422 that says how many.
	early := `{"id": "early", "indicator": "SH.STA.OWAD.ZS", "geo": "FRA", "start_year": 1976, "method": "its",
	  "population": {"value": 1000}, "unit_costs": [{"agency": "CNAM", "amount": 1, "currency": "EUR", "price_year": 2015}]}`
	rec = f.send(t, http.MethodPost, "/v1/initiatives", early, "Authorization", "Bearer "+testAnalystToken)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	rec = f.get(t, "/v1/initiatives/early/savings")
	require.Equal(t, http.StatusUnprocessableEntity, rec.Code, rec.Body.String())
	env := decode[httpapi.Envelope](t, rec)
	require.Equal(t, httpapi.CodeInsufficientData, env.Error.Code)
	require.Contains(t, env.Error.Message, "3")

	// A population stored at 1e308 (a bad push from before the gateway
	// bounded values) stops the report with a 422 naming it, instead of a
	// 347-digit amount of money.
	popDoc := `{"id": "pop-series", "indicator": "SH.STA.OWAD.ZS", "geo": "FRA", "start_year": 2012, "method": "its",
	  "population": {"indicator": "SP.POP.TOTL"}, "scale": 0.01,
	  "unit_costs": [{"agency": "CNAM", "amount": 1, "currency": "EUR", "price_year": 2015}]}`
	rec = f.send(t, http.MethodPost, "/v1/initiatives", popDoc, "Authorization", "Bearer "+testAnalystToken)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	bad := obs("SP.POP.TOTL", "FRA", observation.Year(2014), 1e308, 1, nil)
	bad.Unit, bad.Source = "people", "partner:clinic-a"
	insert(t, f.ch, bad)
	rec = f.get(t, "/v1/initiatives/pop-series/savings")
	require.Equal(t, http.StatusUnprocessableEntity, rec.Code, rec.Body.String())
	env = decode[httpapi.Envelope](t, rec)
	require.Equal(t, httpapi.CodeImplausibleValue, env.Error.Code)
	require.Equal(t, "population.indicator", env.Error.Field)
	require.Contains(t, env.Error.Message, "SP.POP.TOTL for FRA in 2014 is 1e+308")
	require.Contains(t, env.Error.Message, "partner:clinic-a")
}

// TestCompareOnePlace checks that compare, which reads one place's cost
// series, refuses several places instead of silently using the first.
func TestCompareOnePlace(t *testing.T) {
	_, h := newOfflineService(t)
	for _, target := range []string{
		"/v1/compare?initiatives=a&cost_indicator=SH.XPD.CHEX.GD.ZS&geo=GBR&geo=FRA",
		"/v1/compare?initiatives=a&cost_indicator=SH.XPD.CHEX.GD.ZS&geo=GBR,FRA",
	} {
		rec := do(h, http.MethodGet, target)
		require.Equal(t, http.StatusBadRequest, rec.Code, rec.Body.String())
		env := decode[httpapi.Envelope](t, rec)
		require.Equal(t, "geo", env.Error.Field)
		require.Contains(t, env.Error.Message, "give geo once")
	}
	// One place passes the check and reaches ClickHouse, which is away.
	rec := do(h, http.MethodGet, "/v1/compare?initiatives=a&cost_indicator=SH.XPD.CHEX.GD.ZS&geo=GBR")
	require.Equal(t, http.StatusServiceUnavailable, rec.Code, rec.Body.String())
}
