package savings_test

import (
	"encoding/json"
	"errors"
	"flag"
	"math"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/services/query/savings"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// flatExample is the hand-checkable case: a flat 3.5 %, a cost of 100 in
// year 0 and benefits of 50 in years 1-3 (a cohort of 50 that all succeed,
// each saving 1).
func flatExample(t testing.TB) savings.Initiative {
	in, err := savings.Decode(strings.NewReader(`{"id": "flat", "start_year": 2020, "method": "modelled",
		"unit_costs": [{"agency": "council", "amount": 1, "currency": "GBP", "price_year": 2020}],
		"costs": [{"year": 2020, "amount": 100}],
		"cohort": {"size": 50, "engagement": 1, "success": 1},
		"cba": {"persistence": 3, "horizon": 3, "discount": 0.035}}`))
	require.NoError(t, err)
	return in
}

// TestComputeFlatWorkedExample checks the flat example by hand:
// DF(t) = 1.035^-t: 1, 0.966184, 0.933511, 0.901943.
// PV benefits = 50 (DF1 + DF2 + DF3) = 140.0818; PV costs = 100;
// NPV = 40.0818 → 40.08; ROI = 1.400818; net ROI = 0.400818.
// Cumulative net PV: −100, −51.6908, −5.0153, 40.0818, so payback falls in
// year 3: 2 + 5.0153 / 45.0971 = 2.1112.
func TestComputeFlatWorkedExample(t *testing.T) {
	r, err := savings.Compute(flatExample(t), "", savings.Data{})
	require.NoError(t, err)
	require.Equal(t, "modelled", r.Method)
	require.Equal(t, "GBP", r.Currency)
	require.Len(t, r.Years, 4)

	df := func(t int) float64 { return math.Pow(1.035, -float64(t)) }
	pvb := 50 * (df(1) + df(2) + df(3))
	npv := pvb - 100
	require.InDelta(t, 140.0818491, pvb, 1e-6, "the hand value")
	shortfall := 100 - 50*(df(1)+df(2))
	payback := 2 + shortfall/(50*df(3))

	for i, y := range r.Years {
		require.Equal(t, i, y.Year)
		require.Equal(t, 2020+i, y.CalendarYear)
		require.InDelta(t, df(i), y.DiscountFactor, 1e-15)
		require.Nil(t, y.Observed)
		require.Nil(t, y.Counterfactual)
	}
	require.Nil(t, r.Years[0].Avoided, "no benefit modelled in year 0")
	require.Equal(t, 50.0, *r.Years[1].Avoided)
	require.Equal(t, "100", r.Years[0].Cost.String())
	require.Equal(t, "0", r.Years[0].Benefit.String())
	require.Equal(t, "50", r.Years[3].Benefit.String())
	require.InDelta(t, 50*df(2), r.Years[2].PVBenefit.Float64(), 1e-9)
	require.InDelta(t, -100+50*(df(1)+df(2)), r.Years[2].CumulativeNetPV.Float64(), 1e-9)

	tot := r.Totals
	require.InDelta(t, pvb, tot.PVBenefits.Float64(), 1e-9)
	require.Equal(t, "140.08", tot.PVBenefits.String())
	require.Equal(t, "100", tot.PVCosts.String())
	require.Equal(t, "40.08", tot.NPV.String())
	require.InDelta(t, npv, tot.NPV.Float64(), 1e-9)
	require.InDelta(t, pvb/100, *tot.ROI, 1e-12)
	require.InDelta(t, pvb/100-1, *tot.NetROI, 1e-12)
	require.InDelta(t, payback, *tot.PaybackYears, 1e-12)
	require.InDelta(t, 2.1112, *tot.PaybackYears, 1e-4)
	require.InDelta(t, pvb/100, *tot.SROIRatio, 1e-12, "no optimism bias: PV inputs = PV costs")
	require.Equal(t, map[string]string{"council": "140.08"}, moneyMap(tot.PVBenefitsByAgency))
	require.Nil(t, tot.PVBenefitsLow)
}

func moneyMap(m map[string]savings.Money) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v.String()
	}
	return out
}

// TestComputeSAVINGSExample: docs/savings.md's document, modelled. Year 0 costs
// 150000 × 1.05 = 157500 undiscounted; 100 × 0.8 × 0.25 × 0.8 × 0.9 = 14.4
// cases in year 1 (lag 0), then 14.4 × 0.75 = 10.8 in year 2 (persistence
// 2); benefits × 566: 8150.4 and 6112.8; Green Book DF 1/1.035 and 1/1.035².
func TestComputeSAVINGSExample(t *testing.T) {
	r, err := savings.Compute(decodeExample(t), "modelled", savings.Data{})
	require.NoError(t, err)
	y := r.Years
	require.Len(t, y, 11)
	require.Equal(t, "157500", y[0].Cost.String())
	require.Equal(t, "157500", y[0].PVCost.String())
	require.Equal(t, "-157500", y[0].CumulativeNetPV.String())
	require.Equal(t, 1.0, y[0].DiscountFactor)
	require.InDelta(t, 14.4, *y[1].Avoided, 1e-12)
	require.InDelta(t, 10.8, *y[2].Avoided, 1e-12)
	require.Nil(t, y[3].Avoided)
	require.Equal(t, "8150.4", y[1].Benefit.String())
	require.Equal(t, "6112.8", y[2].Benefit.String())
	pvb := 8150.4/1.035 + 6112.8/(1.035*1.035)
	require.InDelta(t, pvb, r.Totals.PVBenefits.Float64(), 1e-9)
	require.Equal(t, "157500", r.Totals.PVCosts.String())
	require.InDelta(t, pvb/157500, *r.Totals.ROI, 1e-12)
	require.InDelta(t, pvb/150000, *r.Totals.SROIRatio, 1e-12, "PV inputs are the costs without optimism bias")
	require.Nil(t, r.Totals.PaybackYears, "never pays back")
	require.Equal(t, "modelled", r.Inputs.Method, "inputs hold the method used")
	require.Equal(t, []savings.ProvenanceEntry{}, r.Provenance)
}

// TestReportJSONShape holds the report's JSON to docs/savings.md's keys, and to
// a golden file (go test -run TestReportJSONShape -update rewrites it).
func TestReportJSONShape(t *testing.T) {
	r, err := savings.Compute(decodeExample(t), "modelled", savings.Data{})
	require.NoError(t, err)
	b, err := json.MarshalIndent(r, "", "  ")
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(b, &doc))
	require.ElementsMatch(t, []string{"initiative", "method", "currency", "years", "totals", "inputs", "provenance", "sensitivity"}, keys(doc))
	year := doc["years"].([]any)[0].(map[string]any)
	for _, k := range []string{"year", "calendar_year", "observed", "counterfactual", "counterfactual_low", "counterfactual_high",
		"avoided", "avoided_low", "avoided_high", "benefit", "cost", "discount_factor", "pv_benefit", "pv_cost", "cumulative_net_pv"} {
		require.Containsf(t, year, k, "years[0].%s", k)
	}
	require.Nil(t, year["observed"], "null where a value does not apply")
	totals := doc["totals"].(map[string]any)
	for _, k := range []string{"pv_benefits", "pv_benefits_by_agency", "pv_costs", "npv", "roi", "payback_years"} {
		require.Containsf(t, totals, k, "totals.%s", k)
	}
	require.Nil(t, totals["payback_years"])

	golden := "testdata/report.modelled.golden.json"
	if *update {
		require.NoError(t, os.WriteFile(golden, append(b, '\n'), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	require.JSONEq(t, string(want), string(b))
}

func keys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

var retrieved = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// itsCase: the target falls on the line 50 − (year − 2010) before 2016
// (lower is better); from 2016 it is observed 2 below the line. Population
// 1000, scale 0.01, unit cost 10 GBP: 2 × 0.01 × 1000 = 20 cases, 200 GBP a
// year.
func itsCase(t testing.TB) (savings.Initiative, savings.Data) {
	in, err := savings.Decode(strings.NewReader(`{"id": "its-case", "indicator": "ind", "geo": "GBR", "start_year": 2016,
		"method": "its", "population": {"value": 1000}, "scale": 0.01,
		"unit_costs": [{"agency": "NHS", "amount": 6, "currency": "GBP", "price_year": 2016},
		               {"agency": "DWP", "amount": 4, "currency": "GBP", "price_year": 2016}],
		"costs": [{"year": 2016, "amount": 300}],
		"cba": {"horizon": 5, "discount": 0}}`))
	require.NoError(t, err)
	target := map[int]float64{}
	for y := 2010; y <= 2020; y++ {
		target[y] = 50 - float64(y-2010)
		if y >= 2016 {
			target[y] -= 2
		}
	}
	return in, savings.Data{
		Target:   savings.Series{Indicator: "ind", Geo: "GBR", Unit: "%", Values: target, Sources: []savings.Source{{Source: "feed-a", Licence: "CC BY 4.0", RetrievedAt: retrieved}}},
		Polarity: indicators.LowerIsBetter,
	}
}

func TestComputeITS(t *testing.T) {
	in, data := itsCase(t)
	r, err := savings.Compute(in, "", data)
	require.NoError(t, err)
	require.Equal(t, "its", r.Method)
	require.Len(t, r.Years, 6)
	for i, y := range r.Years {
		line := 50 - float64(y.CalendarYear-2010)
		require.Equal(t, line, *y.Counterfactual, "year %d", i)
		require.Equal(t, line, *y.CounterfactualLow, "zero residuals: zero width")
		require.Equal(t, line, *y.CounterfactualHigh)
		if y.CalendarYear > 2020 {
			require.Nil(t, y.Observed, "no observation after 2020")
			require.Nil(t, y.Avoided)
			require.Equal(t, "0", y.Benefit.String())
			continue
		}
		require.Equal(t, line-2, *y.Observed)
		if y.Year == 0 {
			require.Nil(t, y.Avoided, "benefits start in year 1 + lag")
			require.Equal(t, "0", y.Benefit.String())
			continue
		}
		require.InDelta(t, 20, *y.Avoided, 1e-12)
		require.InDelta(t, 20, *y.AvoidedLow, 1e-12)
		require.InDelta(t, 20, *y.AvoidedHigh, 1e-12)
		require.Equal(t, "200", y.Benefit.String())
	}
	// Years 1-4 benefit 200 each, undiscounted (flat rate 0): 800 against 300.
	require.Equal(t, "800", r.Totals.PVBenefits.String())
	require.Equal(t, "800", r.Totals.PVBenefitsLow.String())
	require.Equal(t, "480", r.Totals.PVBenefitsByAgency["NHS"].String())
	require.Equal(t, "320", r.Totals.PVBenefitsByAgency["DWP"].String())
	require.Equal(t, "500", r.Totals.NPV.String())
	// Cumulative: −300 after year 0, −100 after year 1, +100 after year 2:
	// (2 − 1) + 100 / 200.
	require.Equal(t, 1.5, *r.Totals.PaybackYears)
	require.Equal(t, "initiative", r.Inputs.ScaleFrom)
	require.Equal(t, "0", r.Inputs.CBA.Deadweight.String(), "deadweight is 0 for its")
	require.Equal(t, 1, r.Inputs.Sign)
	require.Equal(t, 6, r.Inputs.ITSFit.N)
	require.Equal(t, []savings.ProvenanceEntry{{Role: "target", Indicator: "ind", Geo: "GBR",
		Source: savings.Source{Source: "feed-a", Licence: "CC BY 4.0", RetrievedAt: retrieved}}}, r.Provenance)
}

func TestComputeITSHigherIsBetterAndAdjustments(t *testing.T) {
	in, data := itsCase(t)
	data.Polarity = indicators.HigherIsBetter
	in.Scale = nil // from the unit "%": 0.01
	in.CBA.Attribution = num(t, "0.5")
	in.CBA.Displacement = num(t, "0.2")
	in.CBA.OBBenefits = num(t, "0.1")
	in.CBA.Deadweight = num(t, "0.9") // not used by its
	r, err := savings.Compute(in, "its", data)
	require.NoError(t, err)
	// Higher is better and the target fell 2 below its trend: −20 cases,
	// × 0.5 × 0.8 × 0.9 = −7.2.
	require.InDelta(t, -7.2, *r.Years[1].Avoided, 1e-12)
	require.Equal(t, "-72", r.Years[1].Benefit.String())
	require.Equal(t, "unit", r.Inputs.ScaleFrom)
	require.Equal(t, "0.01", r.Inputs.Scale.String())
	require.Equal(t, -1, r.Inputs.Sign)
	require.Nil(t, r.Totals.PaybackYears, "never pays back")
}

// TestComputeITSInterval: with noise the avoided interval is the
// counterfactual's, moved by the observation and scaled to cases.
func TestComputeITSInterval(t *testing.T) {
	in, data := itsCase(t)
	data.Target.Values = map[int]float64{2010: 1, 2011: 3, 2012: 2, 2013: 5, 2014: 4, 2016: 5}
	in.StartYear, in.Costs = 2015, nil
	r, err := savings.Compute(in, "its", data)
	require.NoError(t, err)
	y := r.Years[1] // 2016: ŷ = 6.2 ± 3.182446305284263 · √3.36 (TestITSWithNoise)
	half := 3.182446305284263 * math.Sqrt(3.36)
	require.InDelta(t, 6.2, *y.Counterfactual, 1e-9)
	require.InDelta(t, (6.2-5)*10, *y.Avoided, 1e-9)
	require.InDelta(t, (6.2-half-5)*10, *y.AvoidedLow, 1e-9)
	require.InDelta(t, (6.2+half-5)*10, *y.AvoidedHigh, 1e-9)
	require.InDelta(t, (6.2-half-5)*10*10, r.Totals.PVBenefitsLow.Float64(), 0.005)
	require.InDelta(t, (6.2+half-5)*10*10, r.Totals.PVBenefitsHigh.Float64(), 0.005)
	require.Nil(t, r.Years[0].Observed, "no observation in 2015")
	require.Nil(t, r.Totals.ROI, "no costs: no ratio")
	require.Nil(t, r.Totals.PaybackYears)
}

// The counterfactual's interval runs to money: NPV, ROI and payback are
// the totals again with every year's cases at the low (then high) end,
// costs unchanged; payback's low end comes from the high benefits.
func TestComputeIntervalsToMoney(t *testing.T) {
	in, data := itsCase(t)
	data.Target.Values = map[int]float64{2010: 1, 2011: 3, 2012: 2, 2013: 5, 2014: 4, 2016: 5, 2017: 5.5, 2018: 5}
	in.StartYear = 2015
	r, err := savings.Compute(in, "its", data)
	require.NoError(t, err)
	tot := r.Totals
	require.Equal(t, savings.IntervalPointwise, tot.Interval)
	require.NotNil(t, tot.NPVLow)
	pvc := tot.PVCosts.Rat()
	require.Equal(t, savings.NewMoney(new(big.Rat).Sub(tot.PVBenefitsLow.Rat(), pvc), 2).String(), tot.NPVLow.String())
	require.Equal(t, savings.NewMoney(new(big.Rat).Sub(tot.PVBenefitsHigh.Rat(), pvc), 2).String(), tot.NPVHigh.String())
	require.LessOrEqual(t, tot.NPVLow.Float64(), tot.NPV.Float64())
	require.GreaterOrEqual(t, tot.NPVHigh.Float64(), tot.NPV.Float64())
	require.NotNil(t, tot.ROI)
	require.InDelta(t, tot.PVBenefitsLow.Float64()/tot.PVCosts.Float64(), *tot.ROILow, 1e-6)
	require.InDelta(t, tot.PVBenefitsHigh.Float64()/tot.PVCosts.Float64(), *tot.ROIHigh, 1e-6)
	if tot.PaybackYears != nil && tot.PaybackYearsLow != nil {
		require.LessOrEqual(t, *tot.PaybackYearsLow, *tot.PaybackYears)
	}
	if tot.PaybackYears != nil && tot.PaybackYearsHigh != nil {
		require.GreaterOrEqual(t, *tot.PaybackYearsHigh, *tot.PaybackYears)
	}

	// A year with cases but no interval (DiD with one comparison place
	// that year): no bounds in money at all, rather than bounds too narrow.
	in.ComparisonGeos = []string{"AAA"}
	data.Target.Values = map[int]float64{2014: 10, 2015: 12, 2016: 12.5}
	data.Comparison = []savings.Series{{Indicator: "ind", Geo: "AAA", Values: map[int]float64{2014: 20, 2015: 22, 2016: 24}}}
	r, err = savings.Compute(in, "did", data)
	require.NoError(t, err)
	require.NotNil(t, r.Years[1].Avoided)
	require.Nil(t, r.Years[1].AvoidedLow)
	require.Nil(t, r.Totals.PVBenefitsLow)
	require.Nil(t, r.Totals.NPVLow)
	require.Empty(t, r.Totals.Interval)
}

func TestComputeDiD(t *testing.T) {
	in, data := itsCase(t)
	in.ComparisonGeos = []string{"AAA", "BBB", "ZZZ"}
	in.StartYear, in.Costs = 2015, nil
	// Pre-period 2014: target 10, AAA 20, BBB 5. In 2016 (year 1) AAA has
	// risen 4 and BBB 3: the counterfactual is 10 + 3.5.
	data.Target.Values = map[int]float64{2014: 10, 2015: 12, 2016: 12.5}
	data.Comparison = []savings.Series{
		{Indicator: "ind", Geo: "AAA", Values: map[int]float64{2014: 20, 2015: 22, 2016: 24}, Sources: []savings.Source{{Source: "feed-b", Licence: "L"}}},
		{Indicator: "ind", Geo: "BBB", Values: map[int]float64{2014: 5, 2015: 7, 2016: 8}},
	}
	r, err := savings.Compute(in, "did", data)
	require.NoError(t, err)
	require.Nil(t, r.Years[0].Avoided, "benefits start in year 1")
	y := r.Years[1] // counterfactual 13.5, observed 12.5: 1 × 0.01 × 1000 = 10 cases
	require.InDelta(t, 13.5, *y.Counterfactual, 1e-12)
	require.InDelta(t, 10, *y.Avoided, 1e-9)
	half := math.Tan(math.Pi*0.475) * 0.5
	require.InDelta(t, (13.5-half-12.5)*10, *y.AvoidedLow, 1e-9)
	require.Nil(t, r.Years[2].Counterfactual, "no comparison value in 2017")
	require.Equal(t, "100", r.Totals.PVBenefits.String())
	require.Equal(t, []string{"ZZZ"}, r.Inputs.ComparisonGeosWithoutData)
	require.Len(t, r.Inputs.DiDPlaces, 2)
	roles := []string{}
	for _, p := range r.Provenance {
		roles = append(roles, p.Role+":"+p.Geo)
	}
	require.Equal(t, []string{"target:GBR", "comparison:AAA"}, roles)
}

func TestComputePopulationSeries(t *testing.T) {
	in, data := itsCase(t)
	in.Population = &savings.Population{Indicator: "pop"}
	data.Population = savings.Series{Indicator: "pop", Geo: "GBR", Values: map[int]float64{2016: 1000, 2017: 2000},
		Sources: []savings.Source{{Source: "wb", Licence: "CC BY 4.0", RetrievedAt: retrieved}}}
	r, err := savings.Compute(in, "its", data)
	require.NoError(t, err)
	require.Nil(t, r.Years[0].Avoided)
	require.InDelta(t, 40, *r.Years[1].Avoided, 1e-12)
	require.InDelta(t, 40, *r.Years[2].Avoided, 1e-12, "2018 takes 2017's population")
	require.Equal(t, []savings.FilledYear{{Year: 2018, FromYear: 2017}, {Year: 2019, FromYear: 2017}, {Year: 2020, FromYear: 2017}}, r.Inputs.PopulationFilled)
	require.Equal(t, "population", r.Provenance[1].Role)

	data.Population.Values = nil
	_, err = savings.Compute(in, "its", data)
	requireInputError(t, err, savings.CodeInsufficientData, "population.indicator", "no value of pop for GBR")

	// A year is filled from the nearest within MaxPopulationFill, an
	// earlier one first on a tie, a later one when no earlier is near.
	data.Population.Values = map[int]float64{2019: 500, 2023: 700}
	r, err = savings.Compute(in, "its", data)
	require.NoError(t, err)
	require.Equal(t, []savings.FilledYear{{Year: 2017, FromYear: 2019}, {Year: 2018, FromYear: 2019}, {Year: 2020, FromYear: 2019}}, r.Inputs.PopulationFilled)
	require.InDelta(t, 10, *r.Years[1].Avoided, 1e-12, "2017 takes 2019's population, two years later")

	// None within reach: insufficient_data naming the year, not a value from decades away.
	data.Population.Values = map[int]float64{1990: 1000}
	_, err = savings.Compute(in, "its", data)
	requireInputError(t, err, savings.CodeInsufficientData, "population.indicator", "no value of pop for GBR in 2017 or within 5 years of it (held: 1990-1990)")
}

// A stored value outside its indicator's plausible range stops the report
// with implausible_value naming the input, the year and the source; a
// report whose money would exceed MaxFigure is refused the same way.
func TestComputeRefusesImplausibleInputsAndFigures(t *testing.T) {
	in, data := itsCase(t)
	in.Population = &savings.Population{Indicator: "pop"}
	data.Target.Plausible = indicators.Bounds{Min: 0, Max: 100}
	data.Population = savings.Series{Indicator: "pop", Geo: "GBR", Unit: "people", Values: map[int]float64{2016: 1000, 2017: 1e308},
		Plausible: indicators.Bounds{Min: 0, Max: indicators.MaxPeople}, Sources: []savings.Source{{Source: "partner:bad", Licence: "CC BY 4.0", RetrievedAt: retrieved}}}
	_, err := savings.Compute(in, "its", data)
	requireInputError(t, err, savings.CodeImplausibleValue, "population.indicator", "the stored value of pop for GBR in 2017 is 1e+308, outside its plausible range 0 to 1e+10 (people); it comes from partner:bad")

	data.Population.Values[2017] = 2000
	data.Target.Values[2012] = 140
	_, err = savings.Compute(in, "its", data)
	requireInputError(t, err, savings.CodeImplausibleValue, "indicator", "ind for GBR in 2012 is 140, outside its plausible range 0 to 100")

	// Every input within its own bound, the product beyond what can be shown.
	big, err := savings.Decode(strings.NewReader(`{"id": "big", "start_year": 2020, "method": "modelled",
		"unit_costs": [{"agency": "council", "amount": 1e15, "currency": "GBP", "price_year": 2020}],
		"costs": [{"year": 2020, "amount": 100}],
		"cohort": {"size": 1e15, "engagement": 1, "success": 1},
		"cba": {"persistence": 3, "horizon": 3, "discount": 0.035}}`))
	require.NoError(t, err, "each input is within its own bound")
	_, err = savings.Compute(big, "", savings.Data{})
	ie := requireInputError(t, err, savings.CodeImplausibleValue, "unit_costs", "beyond the 1e+15 this service shows")
	require.Contains(t, ie.Message, "cohort.size")
}

func TestComputeErrors(t *testing.T) {
	in, data := itsCase(t)
	_, err := savings.Compute(in, "rct", data)
	requireInputError(t, err, savings.CodeUnknownMethod, "method", `unknown method "rct"`)

	neutral := data
	neutral.Polarity = indicators.Neutral
	_, err = savings.Compute(in, "its", neutral)
	requireInputError(t, err, savings.CodeInvalidInitiative, "indicator", `polarity "neutral"`)

	short := data
	short.Target.Values = map[int]float64{2014: 1, 2015: 2, 2016: 3}
	_, err = savings.Compute(in, "its", short)
	ie := requireInputError(t, err, savings.CodeInsufficientData, "indicator", "needs at least 3 pre-period years")
	require.Contains(t, ie.Message, "there are 2 (2014, 2015)")
	var ne *savings.NotEnoughDataError
	require.True(t, errors.As(err, &ne), "the typed error is kept")
	require.Equal(t, 3, ne.Need)
	require.Equal(t, 2, ne.Have)
	require.Contains(t, ie.Message, "ind for GBR")

	noPost := data
	noPost.Target.Values = map[int]float64{2012: 1, 2013: 2, 2014: 3}
	_, err = savings.Compute(in, "its", noPost)
	requireInputError(t, err, savings.CodeInsufficientData, "indicator", "no observed value of ind for GBR in 2017-2021")

	_, err = savings.Compute(in, "did", data)
	requireInputError(t, err, savings.CodeInvalidInitiative, "comparison_geos", "required for method did")

	in.ComparisonGeos = []string{"FRA"}
	_, err = savings.Compute(in, "did", data)
	requireInputError(t, err, savings.CodeInsufficientData, "comparison_geos", "needs at least 1 comparison place")

	mixed := flatExample(t)
	mixed.Costs[0].Currency = "EUR"
	_, err = savings.Compute(mixed, "", savings.Data{})
	requireInputError(t, err, savings.CodeInvalidInitiative, "costs[0].currency", "EUR differs from GBP")

	huge := data
	huge.Target.Values = map[int]float64{2012: 1e308, 2013: 1e308, 2014: 1e308, 2016: 1}
	_, err = savings.Compute(in, "its", huge)
	requireInputError(t, err, savings.CodeInsufficientData, "indicator", "too large")
}

// TestComputeMoneyIsExact: ten costs of 0.1 are exactly 1, and a third of a
// case worth 3 yen is exactly 1 yen.
func TestComputeMoneyIsExact(t *testing.T) {
	in := flatExample(t)
	in.Costs = nil
	for range 10 {
		in.Costs = append(in.Costs, savings.Cost{Year: 2020, Amount: *num(t, "0.1")})
	}
	r, err := savings.Compute(in, "", savings.Data{})
	require.NoError(t, err)
	require.Zero(t, big.NewRat(1, 1).Cmp(r.Totals.PVCosts.Rat()))

	jpy := flatExample(t)
	jpy.UnitCosts = []savings.UnitCost{{Agency: "city", Amount: *num(t, "1234.5"), Currency: "JPY", PriceYear: 2020}}
	jpy.Cohort.Size = *num(t, "1")
	jpy.Costs = nil
	r, err = savings.Compute(jpy, "", savings.Data{})
	require.NoError(t, err)
	require.Equal(t, "JPY", r.Currency)
	require.Equal(t, "1234", r.Years[1].Benefit.String(), "half-even to whole yen")
	b, err := json.Marshal(r.Years[1])
	require.NoError(t, err)
	require.Contains(t, string(b), `"benefit":1234,`)
}

func TestPayback(t *testing.T) {
	rs := func(vs ...string) []*big.Rat {
		out := make([]*big.Rat, len(vs))
		for i, v := range vs {
			out[i] = rat(t, v)
		}
		return out
	}
	tests := []struct {
		name string
		b, c []*big.Rat
		want string // "" for never
	}{
		// −100, −40, +20: 1 + 40/60.
		{"interpolated", rs("0", "60", "60"), rs("100", "0", "0"), "5/3"},
		// −100, −50, 0: reached exactly at the end of year 2.
		{"exactly", rs("0", "50", "50"), rs("100", "0", "0"), "2"},
		{"never", rs("0", "10", "10"), rs("100", "0", "0"), ""},
		{"no costs", rs("0", "10"), rs("0", "0"), ""},
		{"covered in year 0", rs("100", "0"), rs("50", "0"), "0"},
		{"costs later, benefits ahead", rs("0", "10", "0"), rs("0", "0", "5"), "2"},
		// Costs in years 0 and 1: −100, −120, −70, +30: 2 + 70/100.
		{"costs over two years", rs("0", "30", "50", "100"), rs("100", "50", "0", "0"), "27/10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := savings.Payback(tt.b, tt.c)
			if tt.want == "" {
				require.Nil(t, got)
				return
			}
			require.NotNil(t, got)
			require.Zerof(t, rat(t, tt.want).Cmp(got), "got %s", got.RatString())
		})
	}
}

func TestScaleForUnit(t *testing.T) {
	for unit, want := range map[string]string{
		"%": "0.01", "% of adults": "0.01", "% of GDP": "0.01",
		"deaths per 100,000": "0.00001", "per 100 000 population": "0.00001", "cases per 1000": "0.001",
		"per million": "0.000001", "t CO2/person": "1", "people": "1", "": "1",
	} {
		require.Equalf(t, want, savings.ScaleForUnit(unit).String(), "unit %q", unit)
	}
}
