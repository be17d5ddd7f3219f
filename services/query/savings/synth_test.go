package savings_test

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/services/query/savings"
)

// synthCase is itsCase as method synth (start 2016, horizon 5, lower is
// better, population 1000, scale 0.01, unit costs 10 GBP, no discount)
// against the donor places of panel.
func synthCase(t testing.TB, target map[int]float64, panel map[string]map[int]float64) (savings.Initiative, savings.Data) {
	in, data := itsCase(t)
	in.Method = "synth"
	in.Costs = nil
	geos := make([]string, 0, len(panel))
	for g := range panel {
		geos = append(geos, g)
	}
	sort.Strings(geos)
	in.ComparisonGeos = geos
	data.Target.Values = target
	for _, g := range geos {
		data.Comparison = append(data.Comparison, savings.Series{Indicator: "ind", Geo: g, Unit: "%", Values: panel[g],
			Sources: []savings.Source{{Source: "feed-" + g, Licence: "CC BY 4.0", RetrievedAt: retrieved}}})
	}
	return in, data
}

// noisyPanel is n donors over 2000-2021: a common trend, a level each and
// noise.
func noisyPanel(r *rand.Rand, n int) map[string]map[int]float64 {
	panel := map[string]map[int]float64{}
	for j := range n {
		level, slope := 20+40*r.Float64(), -0.5+r.Float64()
		s := map[int]float64{}
		for y := 2000; y <= 2021; y++ {
			s[y] = level + slope*float64(y-2000) + 0.8*r.NormFloat64()
		}
		panel[fmt.Sprintf("D%02d", j)] = s
	}
	return panel
}

// TestComputeSynthExactCombination: before 2016 the target is exactly
// 0.3·A + 0.7·B; from 2016 it is 5 below. The fit recovers the weights,
// the counterfactual is 0.3·A + 0.7·B, and 5 × 0.01 × 1000 = 50 cases are
// avoided a year. The fit is perfect (RMSPE_pre 0), so no placebo fits
// within 5 × 0: no interval, and a warning says so.
func TestComputeSynthExactCombination(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	panel := noisyPanel(r, 6)
	a, b := panel["D01"], panel["D04"]
	mix := func(y int) float64 { return 0.3*a[y] + 0.7*b[y] }
	target := map[int]float64{}
	for y := 2006; y <= 2021; y++ {
		target[y] = mix(y)
		if y >= 2016 {
			target[y] -= 5
		}
	}
	in, data := synthCase(t, target, panel)
	rep, err := savings.Compute(in, "", data)
	require.NoError(t, err)
	require.Equal(t, "synth", rep.Method)
	s := rep.Synth
	require.NotNil(t, s)
	require.False(t, s.Pinned)
	require.Equal(t, []int{2006, 2007, 2008, 2009, 2010, 2011, 2012, 2013, 2014, 2015}, s.PreYears)
	weights := map[string]float64{}
	for _, w := range s.Weights {
		weights[w.Geo] = w.Weight
	}
	require.Len(t, weights, 6, "every donor is listed")
	require.InDelta(t, 0.7, s.Weights[0].Weight, 1e-9, "largest first")
	require.Equal(t, "D04", s.Weights[0].Geo)
	require.InDelta(t, 0.3, weights["D01"], 1e-9)
	for _, g := range []string{"D00", "D02", "D03", "D05"} {
		require.InDelta(t, 0, weights[g], 1e-9, g)
	}
	require.InDelta(t, 0, s.RMSPEPre, 1e-9)
	require.NotNil(t, s.RMSPEPost)
	require.InDelta(t, 5, *s.RMSPEPost, 1e-9)

	for _, y := range rep.Years {
		require.NotNil(t, y.Counterfactual, "year %d", y.CalendarYear)
		require.InDelta(t, mix(y.CalendarYear), *y.Counterfactual, 1e-9)
		require.Equal(t, target[y.CalendarYear], *y.Observed)
		require.Nil(t, y.CounterfactualLow, "no interval without placebos that fit as well")
		require.Nil(t, y.CounterfactualHigh)
		if y.Year == 0 {
			require.Nil(t, y.Avoided, "benefits start in year 1 + lag")
			continue
		}
		require.InDelta(t, 50, *y.Avoided, 1e-6)
		require.Nil(t, y.AvoidedLow)
	}
	require.Equal(t, "2500", rep.Totals.PVBenefits.String(), "50 cases × 10 GBP × 5 years, undiscounted")

	var codes []string
	for _, w := range rep.Warnings {
		codes = append(codes, w.Code)
	}
	require.Equal(t, []string{"no_interval"}, codes)
	require.Contains(t, rep.Warnings[0].Message, "0 of the 6 placebos")
	require.Contains(t, rep.Warnings[0].Message, "2016-2021")
	require.Equal(t, 0, s.IntervalPlacebos)
	require.Len(t, s.Placebos, 6)

	// Every synth year shows observed − synthetic.
	require.Len(t, s.Years, 10+6)
	for _, sy := range s.Years {
		require.InDelta(t, mix(sy.Year), *sy.Synthetic, 1e-9)
		require.InDelta(t, *sy.Observed-*sy.Synthetic, *sy.Gap, 1e-12)
		require.Equal(t, map[bool]string{true: "pre", false: "post"}[sy.Year < 2016], sy.Period)
	}
	roles := []string{}
	for _, p := range rep.Provenance {
		roles = append(roles, p.Role+":"+p.Geo)
	}
	require.Equal(t, []string{"target:GBR", "comparison:D00", "comparison:D01", "comparison:D02", "comparison:D03", "comparison:D04", "comparison:D05"}, roles)
}

// TestComputeSynthPlaceboPValue: the target follows a mix of donors with
// noise until 2016 and then falls by 15, far more than any donor moves
// against its own synthetic control: its RMSPE ratio is the largest, so
// its rank is 1 and p = 1 / (J + 1). The placebos never use the real
// target: the target's pre-period is D03's exactly, and D03's placebo
// still fits only on the other donors.
func TestComputeSynthPlaceboPValue(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	panel := noisyPanel(r, 9)
	target := map[int]float64{}
	for y := 2000; y <= 2021; y++ {
		target[y] = panel["D03"][y]
		if y >= 2016 {
			target[y] = 0.5*panel["D02"][y] + 0.5*panel["D06"][y] - 15
		}
	}
	in, data := synthCase(t, target, panel)
	rep, err := savings.Compute(in, "synth", data)
	require.NoError(t, err)
	s := rep.Synth
	require.InDelta(t, 0, s.RMSPEPre, 1e-9, "D03 itself fits the target's pre-period")
	for _, p := range s.Placebos {
		if p.Geo == "D03" {
			require.Greater(t, p.RMSPEPre, 0.1, "D03's placebo is fitted without the real target")
		}
	}
	require.Nil(t, s.Ratio, "RMSPE_pre 0: an infinite ratio, shown as null")
	require.NotNil(t, s.Rank)
	require.Equal(t, 1, *s.Rank)
	require.InDelta(t, 1.0/10, *s.PValue, 1e-15, "J = 9 placebos")

	// A noisy pre-period: still first, with a finite ratio.
	for y := 2000; y < 2016; y++ {
		target[y] = 0.5*panel["D02"][y] + 0.5*panel["D06"][y] + 0.3*r.NormFloat64()
	}
	rep, err = savings.Compute(in, "synth", data)
	require.NoError(t, err)
	s = rep.Synth
	require.NotNil(t, s.Ratio)
	require.InDelta(t, *s.RMSPEPost/s.RMSPEPre, *s.Ratio, 1e-12)
	for _, p := range s.Placebos {
		require.NotNil(t, p.Ratio)
		require.Less(t, *p.Ratio, *s.Ratio, p.Geo)
	}
	require.Equal(t, 1, *s.Rank)
	require.InDelta(t, 0.1, *s.PValue, 1e-15)

	// The interval: the counterfactual plus the 2.5th and 97.5th
	// percentiles (linear interpolation) of the gaps of the placebos within
	// 5 × the target's RMSPE_pre, recomputed here from the block.
	within := 0
	for _, p := range s.Placebos {
		require.Equal(t, p.RMSPEPre <= 5*s.RMSPEPre, p.WithinFilter)
		if p.WithinFilter {
			within++
		}
	}
	require.Equal(t, within, s.IntervalPlacebos)
	require.GreaterOrEqual(t, within, 4, "the panel is built for an interval")
	for _, y := range rep.Years {
		var gaps []float64
		for _, p := range s.Placebos {
			for _, g := range p.Gaps {
				if g.Year == y.CalendarYear && p.WithinFilter {
					gaps = append(gaps, g.Gap)
				}
			}
		}
		sort.Float64s(gaps)
		pct := func(p float64) float64 {
			h := float64(len(gaps)-1) * p
			i := int(h)
			if i+1 >= len(gaps) {
				return gaps[len(gaps)-1]
			}
			return gaps[i] + (h-float64(i))*(gaps[i+1]-gaps[i])
		}
		require.NotNil(t, y.CounterfactualLow, "year %d", y.CalendarYear)
		require.InDelta(t, *y.Counterfactual+pct(0.025), *y.CounterfactualLow, 1e-9)
		require.InDelta(t, *y.Counterfactual+pct(0.975), *y.CounterfactualHigh, 1e-9)
		require.Less(t, *y.CounterfactualLow, *y.CounterfactualHigh, "never zero width")
	}
	require.NotNil(t, rep.Totals.PVBenefitsLow)
	require.Empty(t, rep.Warnings)
}

// TestComputeSynthDonorRule: a donor lacking a pre-period year in which
// the target has a value is left out and named; one lacking only a year
// the target lacks too is kept.
func TestComputeSynthDonorRule(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	panel := noisyPanel(r, 6)
	target := map[int]float64{}
	for y := 2004; y <= 2020; y++ {
		if y != 2007 {
			target[y] = 0.5*panel["D00"][y] + 0.5*panel["D01"][y] + 0.1*r.NormFloat64()
		}
	}
	delete(panel["D02"], 2010) // the target has 2010: D02 is dropped
	delete(panel["D02"], 2011)
	delete(panel["D03"], 2007) // the target lacks 2007 too: D03 stays
	delete(panel["D04"], 2002) // before the target's first year: D04 stays
	delete(panel["D00"], 2021) // a post-period year of a donor of weight: no counterfactual then
	in, data := synthCase(t, target, panel)
	rep, err := savings.Compute(in, "synth", data)
	require.NoError(t, err)
	var geos []string
	for _, w := range rep.Synth.Weights {
		geos = append(geos, w.Geo)
	}
	sort.Strings(geos)
	require.Equal(t, []string{"D00", "D01", "D03", "D04", "D05"}, geos)
	require.Equal(t, []string{"D02"}, rep.Inputs.ComparisonGeosWithoutData)
	require.Equal(t, "donor_dropped", rep.Warnings[0].Code)
	require.Equal(t, "D02", rep.Warnings[0].Geo)
	require.Contains(t, rep.Warnings[0].Message, "2010-2011")
	require.Len(t, rep.Synth.Placebos, 5, "a dropped donor is no placebo either")
	require.Greater(t, rep.Synth.Weights[0].Weight, 0.3)
	require.Nil(t, rep.Years[5].Counterfactual, "2021: a donor of positive weight has no value")
	require.NotNil(t, rep.Years[4].Counterfactual)

	// Every donor dropped: 422 naming what each lacks.
	for _, g := range []string{"D00", "D01", "D03", "D04", "D05"} {
		delete(panel[g], 2012)
	}
	_, err = savings.Compute(in, "synth", data)
	ie := requireInputError(t, err, savings.CodeInsufficientData, "comparison_geos", "needs at least one comparison place with a value in every pre-period year")
	require.Contains(t, ie.Message, "D02 lacks 2010-2011")
	require.Contains(t, ie.Message, "D05 lacks 2012")

	// Too few pre-period years.
	in.StartYear = 2006
	_, err = savings.Compute(in, "synth", data)
	requireInputError(t, err, savings.CodeInsufficientData, "indicator", "needs at least 3 pre-period years")
}

func TestComputeSynthNeedsComparisonPlaces(t *testing.T) {
	in, data := synthCase(t, map[int]float64{2010: 1, 2011: 2, 2012: 3, 2016: 4}, nil)
	in.ComparisonGeos = nil
	_, err := savings.Compute(in, "synth", data)
	requireInputError(t, err, savings.CodeInsufficientData, "comparison_geos", "has no donor: name the donor places in comparison_geos")
	require.NoError(t, in.ValidateFor("synth"), "a document may leave the donors to the query service's default pool")
}

// TestComputeSynthPinnedWeights: donor_weights are used as given, without
// a fit, and checked.
func TestComputeSynthPinnedWeights(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	panel := noisyPanel(r, 5)
	target := map[int]float64{}
	for y := 2005; y <= 2021; y++ {
		target[y] = panel["D00"][y] + 3 // D00 alone would fit best
	}
	in, data := synthCase(t, target, panel)
	in.DonorWeights = map[string]savings.Num{"D01": *num(t, "0.25"), "D03": *num(t, "0.75"), "D04": *num(t, "0")}
	rep, err := savings.Compute(in, "synth", data)
	require.NoError(t, err)
	s := rep.Synth
	require.True(t, s.Pinned)
	require.Equal(t, []savings.SynthWeight{{Geo: "D03", Weight: 0.75}, {Geo: "D01", Weight: 0.25}, {Geo: "D00", Weight: 0}, {Geo: "D02", Weight: 0}, {Geo: "D04", Weight: 0}}, s.Weights)
	var ss float64
	for y := 2005; y < 2016; y++ {
		g := target[y] - (0.25*panel["D01"][y] + 0.75*panel["D03"][y])
		ss += g * g
	}
	require.InDelta(t, math.Sqrt(ss/11), s.RMSPEPre, 1e-9)
	require.InDelta(t, 0.25*panel["D01"][2017]+0.75*panel["D03"][2017], *rep.Years[1].Counterfactual, 1e-9)
	require.Equal(t, "0.25", rep.Inputs.DonorWeights["D01"].String(), "inputs echo the pinned weights")

	// Within 1e-9 of 1 is 1.
	in.DonorWeights = map[string]savings.Num{"D01": *num(t, "0.5"), "D03": *num(t, "0.4999999999")}
	_, err = savings.Compute(in, "synth", data)
	require.NoError(t, err)

	for name, tc := range map[string]struct {
		weights  map[string]string
		field    string
		contains string
	}{
		"sum":      {map[string]string{"D01": "0.3", "D03": "0.6"}, "donor_weights", "the weights sum to 0.9; they must sum to 1"},
		"negative": {map[string]string{"D01": "1.5", "D03": "-0.5"}, "donor_weights.D03", "must be between 0 and 1"},
		"not a comparison place": {map[string]string{"D01": "0.5", "FRA": "0.5"}, "donor_weights.FRA",
			`"FRA" is not one of comparison_geos`},
	} {
		t.Run(name, func(t *testing.T) {
			in.DonorWeights = map[string]savings.Num{}
			for g, w := range tc.weights {
				in.DonorWeights[g] = *num(t, w)
			}
			_, err := savings.Compute(in, "synth", data)
			requireInputError(t, err, savings.CodeInvalidInitiative, tc.field, tc.contains)
		})
	}

	// A pinned donor without the pre-period cannot carry weight.
	delete(panel["D03"], 2008)
	in.DonorWeights = map[string]savings.Num{"D01": *num(t, "0.25"), "D03": *num(t, "0.75")}
	_, err = savings.Compute(in, "synth", data)
	requireInputError(t, err, savings.CodeInsufficientData, "donor_weights.D03", "has no value of ind in 2008")
}

func TestDecodeDonorWeights(t *testing.T) {
	in, err := savings.Decode(strings.NewReader(string(edit(t, func(m map[string]any) {
		m["donor_weights"] = map[string]any{"FRA": 0.25, "DEU": 0.75}
	}))))
	require.NoError(t, err)
	require.Equal(t, "0.75", in.DonorWeights["DEU"].String())
	require.NoError(t, in.ValidateFor("synth"))
	b, err := json.Marshal(in)
	require.NoError(t, err)
	require.Contains(t, string(b), `"donor_weights":{"DEU":0.75,"FRA":0.25}`)

	for doc, field := range map[string]string{
		`{"id": "x", "donor_weights": [0.5]}`:                      "donor_weights",
		`{"id": "x", "donor_weights": {"FRA": "half"}}`:            "donor_weights.FRA",
		`{"id": "x", "donor_weights": {"FRA": 0.5, "FRA": 0.5}}`:   "donor_weights.FRA",
		`{"id": "x", "donor_weights": {"FRA": 1}, "x_weights": 1}`: "x_weights",
	} {
		_, err := savings.Decode(strings.NewReader(doc))
		requireInputError(t, err, savings.CodeInvalidInitiative, field, "")
	}
}

// TestComputeSynthZeroWidthInterval: when the placebos within the filter
// all fit exactly, their gaps are 0 and the percentiles coincide: no
// interval is shown, and the warning says why.
func TestComputeSynthZeroWidthInterval(t *testing.T) {
	base := map[int]float64{}
	for y := 2000; y <= 2021; y++ {
		base[y] = 50 + math.Sin(float64(y))*4 - 0.3*float64(y-2000)
	}
	// D_k = base + k: every inner donor is the mean of its neighbours.
	panel := map[string]map[int]float64{}
	for k := range 7 {
		s := map[int]float64{}
		for y, v := range base {
			s[y] = v + float64(k)
		}
		panel[fmt.Sprintf("D%02d", k)] = s
	}
	target := map[int]float64{}
	for y, v := range base {
		target[y] = v + 2.5 + 0.05*math.Cos(float64(7*y)) // near D02-D03
	}
	in, data := synthCase(t, target, panel)
	rep, err := savings.Compute(in, "synth", data)
	require.NoError(t, err)
	require.Equal(t, 5, rep.Synth.IntervalPlacebos, "D01-D05 fit exactly; D00 and D06 cannot")
	for _, y := range rep.Years {
		require.Nil(t, y.CounterfactualLow)
	}
	require.Equal(t, "no_interval", rep.Warnings[0].Code)
	require.Contains(t, rep.Warnings[0].Message, "coincide")
}

func TestPercentile(t *testing.T) {
	x := []float64{1, 2, 3, 4}
	require.InDelta(t, 1.075, savings.Percentile(x, 2.5), 1e-12)
	require.InDelta(t, 3.925, savings.Percentile(x, 97.5), 1e-12)
	require.Equal(t, 2.5, savings.Percentile(x, 50))
	require.Equal(t, 1.0, savings.Percentile(x, 0))
	require.Equal(t, 4.0, savings.Percentile(x, 100))
	require.Equal(t, 7.0, savings.Percentile([]float64{7}, 2.5))
	require.True(t, math.IsNaN(savings.Percentile(nil, 50)))
}

func TestSyntheticControlHigherIsBetter(t *testing.T) {
	r := rand.New(rand.NewPCG(51, 52))
	panel := noisyPanel(r, 5)
	target := map[int]float64{}
	for y := 2005; y <= 2021; y++ {
		target[y] = 0.6*panel["D00"][y] + 0.4*panel["D02"][y]
		if y >= 2016 {
			target[y] += 2 // higher is better: 2 above the synthetic control
		}
	}
	in, data := synthCase(t, target, panel)
	data.Polarity = indicators.HigherIsBetter
	rep, err := savings.Compute(in, "synth", data)
	require.NoError(t, err)
	require.InDelta(t, 20, *rep.Years[1].Avoided, 1e-6, "(cf − observed) × −1 = 2, × 0.01 × 1000")
}
