package savings_test

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/services/query/savings"
)

// breakEven is a modelled initiative whose NPV is linear in attribution:
// 1000 × 0.5 × 0.2 = 100 cases × attribution in year 1, at 1000 GBP each,
// against 60 000 GBP in year 0, undiscounted: NPV = 100 000 · attribution −
// 60 000, zero at attribution 0.6.
func breakEven(t *testing.T, attribution, unitCost string) savings.Initiative {
	t.Helper()
	in, err := savings.Decode(strings.NewReader(`{"id": "break-even", "start_year": 2020, "method": "modelled",
		"unit_costs": [{"agency": "NHS", "amount": ` + unitCost + `, "currency": "GBP", "price_year": 2020}],
		"costs": [{"year": 2020, "amount": 60000}],
		"cohort": {"size": 1000, "engagement": 0.5, "success": 0.2},
		"cba": {"attribution": ` + attribution + `, "horizon": 3, "discount": 0}}`))
	require.NoError(t, err)
	require.NoError(t, in.Validate())
	return in
}

func switching(t *testing.T, s *savings.Sensitivity, input string) savings.SwitchingValue {
	t.Helper()
	for _, sv := range s.SwitchingValues {
		if sv.Input == input {
			return sv
		}
	}
	t.Fatalf("no switching value of %s in %+v", input, s.SwitchingValues)
	return savings.SwitchingValue{}
}

// TestSimulateBreakEven checks the Monte Carlo and the sensitivity against
// figures worked by hand: with attribution uniform on [0.5, 1], P(NPV > 0)
// = P(attribution > 0.6) = 0.8 and the median NPV is 100 000 × 0.75 −
// 60 000 = 15 000; triangular (0.5, 0.9, 1) gives 1 − 0.1² / (0.5 × 0.4) =
// 0.95. The switching value of attribution is 0.6, that of the unit cost
// 60 000 / 75 = 800.
func TestSimulateBreakEven(t *testing.T) {
	const draws = 20_000
	tolerance := func(p float64) float64 { return 4 * math.Sqrt(p*(1-p)/draws) }

	rep, err := savings.Compute(breakEven(t, `{"low": 0.5, "high": 1}`, "1000"), "", savings.Data{})
	require.NoError(t, err)
	require.Equal(t, "15000", rep.Totals.NPV.String(), "the point report takes the range's midpoint")
	require.NoError(t, rep.Simulate(draws, 7))
	sim := rep.Simulation
	require.Equal(t, draws, sim.Draws)
	require.Equal(t, "modelled", rep.Method)
	require.Len(t, sim.Inputs, 1)
	require.Equal(t, "cba.attribution", sim.Inputs[0].Input)
	require.Equal(t, "uniform", sim.Inputs[0].Distribution)
	require.InDelta(t, 0.8, sim.PNPVPositive, tolerance(0.8))
	require.InDelta(t, 15000, sim.NPV.P50, 100000*0.5*tolerance(0.5)*2)
	require.InDelta(t, 100000*0.525-60000, sim.NPV.P5, 100000*0.5*tolerance(0.05)*2)
	require.Equal(t, 60000.0, sim.PVCosts.P5, "costs are certain")
	require.Equal(t, 60000.0, sim.PVCosts.P95)
	require.NotNil(t, sim.ROI)
	require.Less(t, sim.ROI.P5, sim.ROI.P95)
	total := 0
	for _, b := range sim.Histogram.Bins {
		require.LessOrEqual(t, b.Low, b.High)
		total += b.Count
	}
	require.Len(t, sim.Histogram.Bins, savings.HistogramBins)
	require.Equal(t, draws, total, "every draw is in a bin")
	require.InDelta(t, -10000, sim.Histogram.Min, 100, "the smallest draw is near attribution 0.5")
	require.InDelta(t, 40000, sim.Histogram.Max, 100)

	s := rep.Sensitivity
	require.Equal(t, 15000.0, s.NPV)
	sv := switching(t, s, "cba.attribution")
	require.NotNil(t, sv.Value)
	require.InEpsilon(t, 0.6, *sv.Value, 1e-9)
	require.Equal(t, [2]float64{0, 1}, sv.Searched)
	sv = switching(t, s, "unit_costs[0].amount")
	require.NotNil(t, sv.Value)
	require.InEpsilon(t, 800, *sv.Value, 1e-9)
	require.Equal(t, [2]float64{0, 10000}, sv.Searched)
	sv = switching(t, s, "cba.ob_costs")
	require.Nil(t, sv.Value, "no optimism bias is searched: [0, 10 × 0]")
	require.Equal(t, savings.NoneInRange, sv.Note)
	for _, sv := range s.SwitchingValues {
		require.NotEqual(t, "costs[0].amount", sv.Input, "a certain cost has no switching value")
	}
	require.Len(t, s.Tornado, 1)
	bar := s.Tornado[0]
	require.Equal(t, "cba.attribution", bar.Input)
	require.Equal(t, -10000.0, bar.NPVAtLow)
	require.Equal(t, 40000.0, bar.NPVAtHigh)
	require.Equal(t, 50000.0, bar.Swing)

	tri, err := savings.Compute(breakEven(t, `{"low": 0.5, "mode": 0.9, "high": 1}`, "1000"), "", savings.Data{})
	require.NoError(t, err)
	require.Equal(t, "30000", tri.Totals.NPV.String(), "the point report takes the mode")
	require.NoError(t, tri.Simulate(draws, 7))
	require.Equal(t, "triangular", tri.Simulation.Inputs[0].Distribution)
	require.InDelta(t, 0.95, tri.Simulation.PNPVPositive, tolerance(0.95))
}

// TestSimulateReproducible: the same report, draws and seed give the same
// figures bit for bit; another seed other figures; the number of draws is
// bounded.
func TestSimulateReproducible(t *testing.T) {
	in := breakEven(t, `{"low": 0.5, "mode": 0.7, "high": 1}`, `{"low": 800, "high": 1200}`)
	run := func(seed uint64) *savings.Simulation {
		rep, err := savings.Compute(in, "", savings.Data{})
		require.NoError(t, err)
		require.NoError(t, rep.Simulate(5000, seed))
		return rep.Simulation
	}
	a, b := run(42), run(42)
	require.Equal(t, a, b)
	require.Equal(t, []string{"unit_costs[0].amount", "cba.attribution"}, []string{a.Inputs[0].Input, a.Inputs[1].Input},
		"inputs are drawn in the order of the document's fields")
	c := run(43)
	require.NotEqual(t, a.NPV, c.NPV)

	rep, err := savings.Compute(in, "", savings.Data{})
	require.NoError(t, err)
	for _, n := range []int{0, -1, savings.MaxDraws + 1} {
		requireInputError(t, rep.Simulate(n, 1), savings.CodeInvalidInitiative, "simulate", "draws")
	}
}

// TestSimulateCertain: with no uncertain input and no counterfactual, every
// draw is the point report.
func TestSimulateCertain(t *testing.T) {
	rep, err := savings.Compute(breakEven(t, "0.8", "1000"), "", savings.Data{})
	require.NoError(t, err)
	require.NoError(t, rep.Simulate(100, 1))
	sim := rep.Simulation
	require.Empty(t, sim.Inputs)
	require.Equal(t, savings.Percentiles{P5: 20000, P50: 20000, P95: 20000}, sim.NPV)
	require.Equal(t, 1.0, sim.PNPVPositive)
	require.Equal(t, []savings.Bin{{Low: 20000, High: 20000, Count: 100}}, sim.Histogram.Bins)
	require.Contains(t, sim.Counterfactual, "none")
	require.Empty(t, rep.Sensitivity.Tornado)
}

// TestModelMatchesReport holds the float64 model the Monte Carlo and the
// sensitivity run on to the exact report: at the central values its NPV is
// the report's to the cent, and the counterfactual's tornado bar is the
// report's npv_low and npv_high — for every method, on noisy data, with
// uncertain inputs and a flat discount rate.
func TestModelMatchesReport(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	in, data := itsCase(t)
	for y := range data.Target.Values {
		data.Target.Values[y] += 0.3 * r.NormFloat64()
	}
	attr, _ := savings.ParseNum("0.5")
	hi, _ := savings.ParseNum("0.9")
	uncertain, err := savings.NewRange(attr, hi, nil)
	require.NoError(t, err)
	in.CBA.Attribution = &uncertain
	rate, _ := savings.ParseNum("0.035")
	in.CBA.Discount = &savings.Discount{Rate: rate}

	panel := noisyPanel(r, 9)
	target := map[int]float64{}
	for y := 2000; y <= 2021; y++ {
		target[y] = 0.4*panel["D01"][y] + 0.6*panel["D04"][y] + 0.8*r.NormFloat64()
		if y >= 2016 {
			target[y] -= 3
		}
	}
	synthIn, synthData := synthCase(t, target, panel)
	synthIn.CBA.Attribution = &uncertain

	didIn, didData := synthIn, synthData
	didIn.Method = "did"

	modelled := decodeExample(t) // green book, deadweight, drop-off, optimism bias

	for name, c := range map[string]struct {
		in     savings.Initiative
		method string
		data   savings.Data
	}{
		"its": {in, "its", data}, "did": {didIn, "did", didData}, "synth": {synthIn, "synth", synthData},
		"modelled": {modelled, "modelled", savings.Data{}},
	} {
		t.Run(name, func(t *testing.T) {
			rep, err := savings.Compute(c.in, c.method, c.data)
			require.NoError(t, err)
			npv := rep.Totals.NPV.Float64()
			require.InDelta(t, npv, rep.Sensitivity.NPV, 0.005+1e-12*math.Abs(npv))
			for _, bar := range rep.Sensitivity.Tornado {
				if bar.Input == savings.CounterfactualInput {
					require.InDelta(t, rep.Totals.NPVLow.Float64(), bar.NPVAtLow, 0.005)
					require.InDelta(t, rep.Totals.NPVHigh.Float64(), bar.NPVAtHigh, 0.005)
				}
			}
			require.NoError(t, rep.Simulate(2000, 3))
			sim := rep.Simulation
			require.LessOrEqual(t, sim.NPV.P5, sim.NPV.P50)
			require.LessOrEqual(t, sim.NPV.P50, sim.NPV.P95)
			if c.method != "modelled" {
				require.NotContains(t, sim.Counterfactual, "held", "the counterfactual is drawn")
				require.Less(t, sim.NPV.P5, sim.NPV.P95)
			}
		})
	}
}
