package query_test

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/httpapi"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/pkg/testenv"
	"github.com/ounce-data/ounce/services/query"
	"github.com/ounce-data/ounce/services/query/savings"
)

// TestSavingsExplainFigures: every figure of a report's years and totals
// can be explained, by its own name — all but the year's index and
// calendar year, and the split of PV benefits by agency.
func TestSavingsExplainFigures(t *testing.T) {
	names := func(typ reflect.Type, skip ...string) []string {
		var out []string
		for _, f := range jsonFields(typ) {
			if !slices.Contains(skip, f.name) {
				out = append(out, f.name)
			}
		}
		return out
	}
	require.ElementsMatch(t, names(reflect.TypeFor[savings.Year](), "year", "calendar_year"), query.SavingsYearFigures())
	// Not explained: the agency split (pv_benefits by share of unit costs),
	// the payback bounds (payback_years with the bounds' yearly benefits)
	// and the name of the interval.
	require.ElementsMatch(t, names(reflect.TypeFor[savings.Totals](), "pv_benefits_by_agency", "payback_years_low", "payback_years_high", "interval"),
		query.SavingsTotalFigures())
}

// rawOWID reads one column of the OWID CO2 recording for one country
// independently of the adapter: year → value, empty cells left out.
func rawOWID(t testing.TB, column, iso string) map[int]float64 {
	t.Helper()
	fh, err := os.Open(filepath.Join(testenv.SharedDataDir(t), "owid", "co2", "owid-co2-data.csv"))
	require.NoError(t, err)
	defer func() { require.NoError(t, fh.Close()) }()
	r := csv.NewReader(fh)
	header, err := r.Read()
	require.NoError(t, err)
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	require.Contains(t, col, column)
	out := map[int]float64{}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		if rec[col["iso_code"]] != iso || rec[col[column]] == "" {
			continue
		}
		y, err := strconv.Atoi(rec[col["year"]])
		require.NoError(t, err)
		v, err := strconv.ParseFloat(rec[col[column]], 64)
		require.NoError(t, err)
		out[y] = v
	}
	return out
}

// explainStart is the start year of the initiative the explain tests
// value: 22 pre-period years of France's overweight share in the World
// Bank recording (1990-2011), observed outcomes to 2022, and OWID's
// population to 2018, so that 2019 and 2020 take 2018's.
const explainStart = 2012

// explainDoc is an its initiative over the recordings with every
// cost-benefit adjustment set, a cohort (for ?method=modelled) and
// comparison places (for ?method=did).
var explainDoc = fmt.Sprintf(`{"id": "fra-overweight", "name": "Adult overweight prevention", "indicator": "SH.STA.OWAD.ZS", "geo": "FRA",
  "start_year": %d, "method": "its", "comparison_geos": ["DEU", "ITA"],
  "population": {"indicator": "owid.population"}, "scale": 0.01,
  "unit_costs": [{"agency": "CNAM", "amount": 1500, "currency": "EUR", "price_year": 2015}, {"agency": "CAF", "amount": 250.5, "currency": "EUR", "price_year": 2015}],
  "costs": [{"year": %d, "amount": 40000000}, {"year": %d, "amount": 25000000.5}],
  "cohort": {"size": 200000, "engagement": 0.6, "success": 0.3},
  "cba": {"attribution": 0.05, "displacement": 0.1, "ob_benefits": 0.1, "ob_costs": 0.05, "deadweight": 0.2,
          "persistence": 3, "drop_off": 0.25, "horizon": 8, "discount": "green_book"}}`, explainStart, explainStart, explainStart+1)

// newExplainFixture is the World Bank fixture with OWID's population of
// France stored and explainDoc registered.
func newExplainFixture(t testing.TB) (f *fixture, overweight map[string]map[int]float64, population map[int]float64) {
	t.Helper()
	f, overweight, _ = newWorldBankFixture(t)
	population = rawOWID(t, "population", "FRA")
	require.NotEmpty(t, population)
	var os []observation.Observation
	for y, v := range population {
		o := obs("owid.population", "FRA", observation.Year(y), v, 1, nil)
		o.Unit = "people"
		os = append(os, o)
	}
	insert(t, f.ch, os...)
	rec := f.send(t, http.MethodPost, "/v1/initiatives", explainDoc, "Authorization", "Bearer "+testAnalystToken)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	return f, overweight, population
}

// rawReport is a savings report with every figure as the JSON it writes.
type rawReport struct {
	AsOf   string                       `json:"as_of"`
	Years  []map[string]json.RawMessage `json:"years"`
	Totals map[string]json.RawMessage   `json:"totals"`
}

func num(t testing.TB, raw json.RawMessage) float64 {
	t.Helper()
	var v float64
	require.NoError(t, json.Unmarshal(raw, &v), string(raw))
	return v
}

// inputsOf are an explanation's inputs by name, checking each is named once.
func inputsOf(t testing.TB, ex query.SavingsExplanation) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, in := range ex.Inputs {
		require.NotContains(t, out, in.Name, "input named twice")
		if string(in.Value) == "null" {
			continue
		}
		out[in.Name] = num(t, in.Value)
	}
	return out
}

// observationsOf are an explanation's observations, by indicator and geo,
// year → value, checking each one's provenance and against the recordings.
func observationsOf(t testing.TB, ex query.SavingsExplanation, recorded map[string]map[string]map[int]float64) map[string]map[int]float64 {
	t.Helper()
	out := map[string]map[int]float64{}
	for _, o := range ex.Observations {
		require.NotNil(t, o.Value)
		require.Equal(t, "test-batch", o.Batch)
		require.NotEmpty(t, o.Source)
		require.NotEmpty(t, o.Provenance.URL)
		require.Equal(t, "CC BY 4.0", o.Provenance.Licence)
		y, err := strconv.Atoi(o.Period)
		require.NoError(t, err, "a yearly period: %s", o.Period)
		raw, ok := recorded[o.Indicator][o.Geo][y]
		require.True(t, ok, "%s %s %d is in the recordings", o.Indicator, o.Geo, y)
		require.Equal(t, raw, *o.Value, "%s %s %d is the recorded value", o.Indicator, o.Geo, y)
		key := o.Indicator + " " + o.Geo
		if out[key] == nil {
			out[key] = map[int]float64{}
		}
		require.NotContains(t, out[key], y, "observation listed twice")
		out[key][y] = *o.Value
	}
	return out
}

// before is the part of a series before a year.
func before(series map[int]float64, year int) map[int]float64 {
	out := map[int]float64{}
	for y, v := range series {
		if y < year {
			out[y] = v
		}
	}
	return out
}

// TestIntegrationSavingsExplain: a figure of a savings report explains
// itself down to the stored observations, and an auditor recomputing it
// by hand from the answer alone — the observations and the inputs —
// gets the report's own value: an its counterfactual, a benefit and the
// NPV, a did counterfactual and a modelled avoided count.
func TestIntegrationSavingsExplain(t *testing.T) {
	f, overweight, population := newExplainFixture(t)
	recorded := map[string]map[string]map[int]float64{
		"SH.STA.OWAD.ZS":  overweight,
		"owid.population": {"FRA": population},
	}
	const base = "/v1/initiatives/fra-overweight/savings"
	report := func(t *testing.T, q string) rawReport {
		t.Helper()
		rec := f.get(t, base+"?"+q)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		return decode[rawReport](t, rec)
	}
	explain := func(t *testing.T, q string) query.SavingsExplanation {
		t.Helper()
		rec := f.get(t, base+"/explain?"+q)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		return decode[query.SavingsExplanation](t, rec)
	}
	rep := report(t, "method=its")
	require.Len(t, rep.Years, 9)
	pre := before(overweight["FRA"], explainStart)
	require.Len(t, pre, 22, "1990-2011 in the recording")

	t.Run("its counterfactual", func(t *testing.T) {
		ex := explain(t, "figure=counterfactual&year=3")
		require.Equal(t, "years[3].counterfactual", ex.Path)
		require.Equal(t, 3, *ex.Year)
		require.Equal(t, explainStart+3, *ex.CalendarYear)
		require.Equal(t, "its", ex.Method)
		require.Equal(t, "% of adults", ex.Unit)
		require.Equal(t, string(rep.Years[3]["counterfactual"]), string(ex.Value), "the value exactly as the report gives it")
		asOf, err := time.Parse(time.RFC3339, rep.AsOf)
		require.NoError(t, err)
		require.True(t, asOf.Equal(*ex.AsOf), "the report's as_of")

		// The observations are exactly the pre-period points; the line
		// through them, fitted here in closed form, gives the value.
		got := observationsOf(t, ex, recorded)
		require.Equal(t, map[string]map[int]float64{"SH.STA.OWAD.ZS FRA": pre}, got)
		a, b := ols(got["SH.STA.OWAD.ZS FRA"])
		require.InDelta(t, a+b*float64(explainStart+3), num(t, ex.Value), 1e-9)

		in := inputsOf(t, ex)
		require.Equal(t, float64(explainStart), in["inputs.start_year"])
		require.Equal(t, 22.0, in["inputs.its_fit.n"])
		require.InDelta(t, b, in["inputs.its_fit.slope"], 1e-12)
		require.InDelta(t, in["inputs.its_fit.y_mean"]+in["inputs.its_fit.slope"]*(float64(explainStart+3)-in["inputs.its_fit.x_mean"]),
			num(t, ex.Value), 1e-12, "the formula's own inputs give the value")
		require.True(t, strings.HasPrefix(ex.Formula, "counterfactual[3] (2015) = y_mean + slope × (2015 − x_mean) = "), ex.Formula)
		require.True(t, strings.HasSuffix(ex.Formula, string(ex.Value)+" % of adults"), ex.Formula)
		require.Len(t, ex.Steps, 1, "the fit")
		require.Contains(t, ex.Steps[0], "n = 22 values of SH.STA.OWAD.ZS in FRA from 1990 to 2011")
	})

	// recompute values year t of the report from an explanation's inputs and
	// observations alone: the benefit and the cost, both undiscounted.
	recompute := func(t *testing.T, ex query.SavingsExplanation, year int) (benefit, cost float64, credited bool) {
		t.Helper()
		in := inputsOf(t, ex)
		got := observationsOf(t, ex, recorded)
		target, pop := got["SH.STA.OWAD.ZS FRA"], got["owid.population FRA"]
		cy := explainStart + year
		for i := 0; ; i++ {
			amount, ok := in[fmt.Sprintf("inputs.costs[%d].amount", i)]
			if !ok {
				break
			}
			if int(in[fmt.Sprintf("inputs.costs[%d].year", i)]) == cy {
				cost += amount * (1 + in["inputs.cba.ob_costs"])
			}
		}
		observed, has := target[cy]
		if !has || year < 1+int(in["inputs.cba.lag"]) {
			return 0, cost, false
		}
		a, b := ols(before(target, explainStart))
		cf := a + b*float64(cy)
		people, ok := pop[cy]
		for d := 1; !ok && d <= 5; d++ { // the nearest year held, the earlier first
			if people, ok = pop[cy-d]; !ok {
				people, ok = pop[cy+d]
			}
		}
		require.True(t, ok, "a population near %d", cy)
		require.Equal(t, people, in[fmt.Sprintf("population(%d)", cy)])
		units := 0.0
		for i := 0; ; i++ {
			u, ok := in[fmt.Sprintf("inputs.unit_costs[%d].amount", i)]
			if !ok {
				break
			}
			units += u
		}
		cases := (cf - observed) * in["inputs.sign"] * in["inputs.scale"] * people *
			(1 - in["inputs.cba.ob_benefits"]) * (1 - in["inputs.cba.displacement"]) * in["inputs.cba.attribution"]
		return cases * units, cost, true
	}

	t.Run("its benefit", func(t *testing.T) {
		ex := explain(t, "figure=benefit&year=3")
		require.Equal(t, "EUR", ex.Unit)
		require.Equal(t, string(rep.Years[3]["benefit"]), string(ex.Value))
		in := inputsOf(t, ex)
		// The inputs are the document's, as posted.
		for name, want := range map[string]float64{"inputs.scale": 0.01, "inputs.sign": 1, "inputs.cba.attribution": 0.05,
			"inputs.cba.displacement": 0.1, "inputs.cba.ob_benefits": 0.1, "inputs.unit_costs[0].amount": 1500, "inputs.unit_costs[1].amount": 250.5} {
			require.Equal(t, want, in[name], name)
		}
		require.Equal(t, population[2015], in["population(2015)"])
		for _, name := range []string{"years[3].avoided", "years[3].counterfactual", "years[3].observed"} {
			require.Equal(t, num(t, rep.Years[3][name[len("years[3]."):]]), in[name], name)
		}
		got := observationsOf(t, ex, recorded)
		require.Len(t, got["SH.STA.OWAD.ZS FRA"], 23, "the pre-period and 2015")
		require.Equal(t, map[int]float64{2015: population[2015]}, got["owid.population FRA"])

		benefit, _, credited := recompute(t, ex, 3)
		require.True(t, credited)
		require.InDelta(t, num(t, rep.Years[3]["benefit"]), benefit, 0.01+1e-9*math.Abs(benefit), "benefit recomputed by hand")
		require.True(t, strings.HasPrefix(ex.Formula, "benefit[3] (2015) = avoided × Σ unit_costs.amount = "), ex.Formula)
		require.Len(t, ex.Steps, 4, "fit, counterfactual, observed, avoided: %q", ex.Steps)
	})

	t.Run("npv", func(t *testing.T) {
		ex := explain(t, "figure=npv")
		require.Equal(t, "totals.npv", ex.Path)
		require.Nil(t, ex.Year)
		require.Equal(t, string(rep.Totals["npv"]), string(ex.Value))

		// From the observations and inputs alone, every year: the benefit
		// and the cost, discounted at the rates the inputs give.
		in := inputsOf(t, ex)
		rate := in["green_book_rate(1-30)"]
		require.Equal(t, 0.035, rate)
		var npv float64
		credited := 0
		for year := range rep.Years {
			benefit, cost, ok := recompute(t, ex, year)
			if ok {
				credited++
			}
			npv += (benefit - cost) / math.Pow(1+rate, float64(year))
		}
		require.Equal(t, 8, credited, "years 1 to 8 are credited")
		require.InDelta(t, num(t, rep.Totals["npv"]), npv, 0.01+1e-9*math.Abs(npv), "NPV recomputed by hand")

		got := observationsOf(t, ex, recorded)
		require.Len(t, got["SH.STA.OWAD.ZS FRA"], 22+8, "the pre-period and years 1 to 8")
		require.Len(t, got["owid.population FRA"], 6, "2013-2018; 2019 and 2020 take 2018's")
		require.Contains(t, ex.Formula, "npv = pv_benefits − pv_costs = ")
		require.Contains(t, strings.Join(ex.Steps, "\n"), "population(2019) = owid.population of FRA in 2018, the nearest year held")
	})

	t.Run("did counterfactual", func(t *testing.T) {
		did := report(t, "method=did")
		ex := explain(t, "figure=counterfactual&year=2&method=did")
		require.Equal(t, "did", ex.Method)
		require.Equal(t, string(did.Years[2]["counterfactual"]), string(ex.Value))
		got := observationsOf(t, ex, recorded)
		fra := got["SH.STA.OWAD.ZS FRA"]
		require.Equal(t, before(overweight["FRA"], explainStart), fra, "the target's pre-period")
		var sum float64
		for _, geo := range []string{"DEU", "ITA"} {
			place := got["SH.STA.OWAD.ZS "+geo]
			var tm, pm float64
			n := 0
			for y, v := range before(place, explainStart) {
				tm += fra[y]
				pm += v
				n++
			}
			require.Positive(t, n)
			sum += tm/float64(n) + (place[explainStart+2] - pm/float64(n))
		}
		require.InDelta(t, sum/2, num(t, ex.Value), 1e-9)
	})

	t.Run("modelled avoided", func(t *testing.T) {
		modelled := report(t, "method=modelled")
		ex := explain(t, "figure=avoided&year=2&method=modelled")
		require.Equal(t, string(modelled.Years[2]["avoided"]), string(ex.Value))
		require.Empty(t, ex.Observations, "modelled reads no data")
		in := inputsOf(t, ex)
		want := in["inputs.cohort.size"] * in["inputs.cohort.engagement"] * in["inputs.cohort.success"] *
			(1 - in["inputs.cba.deadweight"]) * (1 - in["inputs.cba.ob_benefits"]) * (1 - in["inputs.cba.displacement"]) *
			in["inputs.cba.attribution"] * (1 - in["inputs.cba.drop_off"])
		require.InDelta(t, want, num(t, ex.Value), 1e-9)
		require.InDelta(t, 200000*0.6*0.3*0.8*0.9*0.9*0.05*0.75, want, 1e-9, "the document's numbers")
	})

	t.Run("discount over two Green Book rates", func(t *testing.T) {
		long := strings.Replace(strings.Replace(explainDoc, `"horizon": 8`, `"horizon": 40`, 1), `"fra-overweight"`, `"fra-long"`, 1)
		rec := f.send(t, http.MethodPost, "/v1/initiatives", long, "Authorization", "Bearer "+testAnalystToken)
		require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
		rec = f.get(t, "/v1/initiatives/fra-long/savings/explain?figure=discount_factor&year=35&method=modelled")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		ex := decode[query.SavingsExplanation](t, rec)
		require.Contains(t, ex.Formula, "= 1 / ((1 + 0.035)^30 × (1 + 0.03)^5) = ")
		in := inputsOf(t, ex)
		require.Equal(t, 0.035, in["green_book_rate(1-30)"])
		require.Equal(t, 0.03, in["green_book_rate(31-75)"])
		require.InDelta(t, 1/(math.Pow(1.035, 30)*math.Pow(1.03, 5)), num(t, ex.Value), 1e-15)
	})

	t.Run("every figure", func(t *testing.T) {
		for _, method := range []string{"its", "did", "modelled"} {
			rep := report(t, "method="+method)
			check := func(fig string, want json.RawMessage, target string) {
				ex := explain(t, target)
				require.Equal(t, string(want), string(ex.Value), target)
				all := ex.Formula + "\n" + strings.Join(ex.Steps, "\n")
				require.NotContains(t, all, "?", "%s: %s", target, all)
				require.NotContains(t, all, "not explained", target)
				if string(ex.Value) != "null" {
					require.Contains(t, ex.Formula, string(ex.Value), "%s: the formula ends on the value", target)
				} else {
					require.Contains(t, ex.Formula, "null", target)
				}
				for _, in := range ex.Inputs {
					require.Contains(t, []string{query.FromInitiative, query.FromDefault, query.FromCatalogue, query.FromRequest,
						query.FromData, query.FromReport}, in.From, in.Name)
				}
			}
			for _, fig := range query.SavingsYearFigures() {
				for year := range rep.Years {
					check(fig, rep.Years[year][fig], fmt.Sprintf("figure=%s&year=%d&method=%s", fig, year, method))
				}
			}
			for _, fig := range query.SavingsTotalFigures() {
				check(fig, rep.Totals[fig], fmt.Sprintf("figure=%s&method=%s", fig, method))
			}
		}
	})

	t.Run("pre_from and as_of", func(t *testing.T) {
		rep := report(t, "method=its&pre_from=2000")
		ex := explain(t, "figure=counterfactual&year=1&pre_from=2000&as_of="+rep.AsOf)
		require.Equal(t, string(rep.Years[1]["counterfactual"]), string(ex.Value))
		got := observationsOf(t, ex, recorded)["SH.STA.OWAD.ZS FRA"]
		require.Len(t, got, 12, "2000-2011")
		a, b := ols(got)
		require.InDelta(t, a+b*float64(explainStart+1), num(t, ex.Value), 1e-9)
		require.Equal(t, 2000.0, inputsOf(t, ex)["inputs.pre_from"])
	})

	const explainPath = base + "/explain?"
	for name, tc := range map[string]struct {
		target    string
		status    int
		field     string
		inMessage string
	}{
		"no figure":          {explainPath, 400, "figure", "npv"},
		"unknown figure":     {explainPath + "figure=savings", 400, "figure", "counterfactual, counterfactual_low"},
		"no year":            {explainPath + "figure=benefit", 400, "year", "0 (2012) to 8 (2020)"},
		"year out of range":  {explainPath + "figure=benefit&year=9", 404, "year", "0 (2012) to 8 (2020)"},
		"calendar year":      {explainPath + "figure=benefit&year=2015", 400, "year", "year index"},
		"year not a number":  {explainPath + "figure=benefit&year=last", 400, "year", "year index"},
		"year of a total":    {explainPath + "figure=npv&year=1", 400, "year", "leave year out"},
		"unknown method":     {explainPath + "figure=npv&method=guess", 400, "method", "modelled, its, did"},
		"unknown parameter":  {explainPath + "figure=npv&horizon=3", 400, "horizon", "figure and year"},
		"pre_from too late":  {explainPath + "figure=npv&pre_from=2012", 422, "pre_from", "start_year"},
		"repeated figure":    {explainPath + "figure=npv&figure=roi", 400, "figure", "once"},
		"unknown initiative": {"/v1/initiatives/nope/savings/explain?figure=npv", 404, "id", "no initiative"},
	} {
		t.Run(name, func(t *testing.T) {
			rec := f.get(t, tc.target)
			require.Equal(t, tc.status, rec.Code, rec.Body.String())
			env := decode[httpapi.Envelope](t, rec)
			require.Equal(t, tc.field, env.Error.Field, env.Error.Message)
			require.Contains(t, env.Error.Message, tc.inMessage)
		})
	}
}

// BenchmarkSavingsExplainTotal measures GET /v1/initiatives/{id}/savings/explain
// of a total (npv: every year's chain down to the observations) end to
// end against the real ClickHouse, on the World Bank and OWID recordings:
// the initiative read, the two series reads, the report and its
// explanation, on every request.
//
//	OUNCE_INTEGRATION=1 go test -run '^$' -bench SavingsExplainTotal -benchtime 200x .
func BenchmarkSavingsExplainTotal(b *testing.B) {
	f, _, _ := newExplainFixture(b)
	const target = "/v1/initiatives/fra-overweight/savings/explain?figure=npv"
	rec := f.get(b, target)
	if rec.Code != http.StatusOK {
		b.Fatalf("status %d: %s", rec.Code, rec.Body.String())
	}
	b.SetBytes(int64(rec.Body.Len()))
	b.ReportAllocs()
	for b.Loop() {
		rec := f.get(b, target)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
}
