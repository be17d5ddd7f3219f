package savings

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// Limits of a Monte Carlo request.
const (
	DefaultDraws  = 10_000
	MaxDraws      = 100_000
	HistogramBins = 20
)

// Simulation is the Monte Carlo of a report (docs/savings.md, "Monte
// Carlo"): its draws of the counterfactual and of the uncertain inputs,
// summarised.
type Simulation struct {
	Draws     int    `json:"draws"`
	Seed      uint64 `json:"seed"`
	Generator string `json:"generator"`
	// Counterfactual says how the counterfactual was drawn, or why it
	// was held at its point estimate.
	Counterfactual string `json:"counterfactual"`
	// Inputs are the uncertain inputs drawn, in draw order.
	Inputs     []SimulatedInput `json:"inputs"`
	PVBenefits Percentiles      `json:"pv_benefits"`
	PVCosts    Percentiles      `json:"pv_costs"`
	NPV        Percentiles      `json:"npv"`
	// ROI is nil when some draw has no costs (ROI undefined).
	ROI *Percentiles `json:"roi"`
	// PNPVPositive is the share of draws with NPV > 0.
	PNPVPositive float64   `json:"p_npv_positive"`
	Histogram    Histogram `json:"npv_histogram"`
}

// SimulatedInput is one uncertain input and its distribution.
type SimulatedInput struct {
	Input        string   `json:"input"`
	Distribution string   `json:"distribution"` // triangular or uniform
	Low          float64  `json:"low"`
	Mode         *float64 `json:"mode,omitempty"`
	High         float64  `json:"high"`
}

// Percentiles are nearest-rank percentiles of the draws.
type Percentiles struct {
	P5  float64 `json:"p5"`
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
}

// Histogram counts the draws of NPV in HistogramBins bins of equal width
// from the smallest draw to the largest (the last bin includes the
// largest); one bin when every draw is equal.
type Histogram struct {
	Min  float64 `json:"min"`
	Max  float64 `json:"max"`
	Bins []Bin   `json:"bins"`
}

// Bin is one bin of a Histogram: draws with low ≤ NPV < high.
type Bin struct {
	Low   float64 `json:"low"`
	High  float64 `json:"high"`
	Count int     `json:"count"`
}

// Generator names the random number generator, seeded (seed, 0).
const Generator = "math/rand/v2 PCG seeded (seed, 0)"

// Simulate runs draws draws of the report's Monte Carlo with seed and sets
// rep.Simulation. The same report, draws and seed give the same figures bit
// for bit. Each draw takes the counterfactual first, then the uncertain
// inputs in the order of the document's fields.
func (rep *Report) Simulate(draws int, seed uint64) error {
	if rep.model == nil {
		return fmt.Errorf("the report has no model to simulate") // a Report not made by Compute
	}
	if draws < 1 || draws > MaxDraws {
		return inputError(CodeInvalidInitiative, "simulate", "simulate=%d must be between 1 and %d draws", draws, MaxDraws)
	}
	m := rep.model
	rng := rand.New(rand.NewPCG(seed, 0))
	sim := &Simulation{Draws: draws, Seed: seed, Generator: Generator, Inputs: []SimulatedInput{}}
	var uncertain []modelInput
	for _, in := range m.inputs {
		if r := in.num.Range(); r != nil {
			uncertain = append(uncertain, in)
			si := SimulatedInput{Input: in.path, Distribution: "uniform", Low: r.Low.Float64(), High: r.High.Float64()}
			if r.Mode != nil {
				mode := r.Mode.Float64()
				si.Distribution, si.Mode = "triangular", &mode
			}
			sim.Inputs = append(sim.Inputs, si)
		}
	}
	drawCF, how := m.counterfactualDraw()
	sim.Counterfactual = how

	pvb, pvc, npv, roi := make([]float64, draws), make([]float64, draws), make([]float64, draws), make([]float64, draws)
	p := m.central.clone()
	cf := make([]float64, len(m.years))
	positive, roiDefined := 0, true
	for i := range draws {
		var path []float64
		if drawCF != nil {
			drawCF(rng, cf)
			path = cf
		}
		for _, in := range uncertain {
			*in.at(&p) = drawInput(rng, in.num.Range())
		}
		o := m.eval(p, path)
		pvb[i], pvc[i], npv[i], roi[i] = o.pvBenefits, o.pvCosts, o.npv, o.roi
		if o.npv > 0 {
			positive++
		}
		if math.IsNaN(o.roi) {
			roiDefined = false
		}
	}
	sim.PNPVPositive = float64(positive) / float64(draws)
	sim.Histogram = histogram(npv, m.round)
	sim.PVBenefits = percentiles(pvb, m.round)
	sim.PVCosts = percentiles(pvc, m.round)
	sim.NPV = percentiles(npv, m.round)
	if roiDefined {
		r := percentiles(roi, func(x float64) float64 { return x })
		sim.ROI = &r
	}
	if !sim.finite() {
		return inputError(CodeImplausibleValue, "simulate",
			"some draws give figures beyond what a number can hold (an input's range reaches too far): narrow the ranges of the amounts")
	}
	rep.Simulation = sim
	return nil
}

func (s *Simulation) finite() bool {
	ok := finite(s.Histogram.Min, s.Histogram.Max)
	for _, p := range []Percentiles{s.PVBenefits, s.PVCosts, s.NPV} {
		ok = ok && finite(p.P5, p.P50, p.P95)
	}
	if s.ROI != nil {
		ok = ok && finite(s.ROI.P5, s.ROI.P50, s.ROI.P95)
	}
	return ok
}

// drawInput draws one value of r: triangular by the inverse of its
// distribution function when it has a mode, uniform otherwise.
func drawInput(rng *rand.Rand, r *Range) float64 {
	a, b := r.Low.Float64(), r.High.Float64()
	u := rng.Float64()
	if r.Mode == nil {
		return a + u*(b-a)
	}
	c := r.Mode.Float64()
	if f := (c - a) / (b - a); u < f {
		return a + math.Sqrt(u*(b-a)*(c-a))
	}
	return b - math.Sqrt((1-u)*(b-a)*(b-c))
}

// counterfactualDraw returns how one draw's counterfactual path is made,
// and says so in words; nil when it is held at its point estimate.
func (m *model) counterfactualDraw() (func(*rand.Rand, []float64), string) {
	switch m.method {
	case MethodModelled:
		return nil, "none: method modelled has no counterfactual series"
	case MethodITS:
		l := m.line
		if l == nil || l.N < minFitPoints || l.Sxx <= 0 {
			return nil, "held at its point estimate: the line has no standard errors"
		}
		seMean, seSlope := l.ResidualSD/math.Sqrt(float64(l.N)), l.ResidualSD/math.Sqrt(l.Sxx)
		return func(rng *rand.Rand, cf []float64) {
			// The line's level at the mean year and its slope are
			// independent normals: together, the joint normal of the OLS
			// intercept and slope.
			level := l.YMean + seMean*rng.NormFloat64()
			slope := l.Slope + seSlope*rng.NormFloat64()
			for t := range m.years {
				cf[t] = level + slope*(float64(m.startYear+t)-l.XMean)
			}
		}, "its: the line's intercept and slope from the joint normal of their OLS estimates (residual standard error s: level at the mean year ± s/√n, slope ± s/√Sxx, independent)"
	case MethodDiD:
		if m.didSE <= 0 {
			return nil, "held at its point estimate: the comparison's pre-period mean has no standard error (fewer than 2 pre-period years)"
		}
		return func(rng *rand.Rand, cf []float64) {
			// A higher comparison pre-period mean lowers every year's
			// counterfactual by as much.
			shift := m.didSE * rng.NormFloat64()
			for t, y := range m.years {
				cf[t] = y.cf - shift
			}
		}, "did: the comparison places' pre-period mean from a normal with its standard error"
	case MethodSynth:
		if len(m.placebo) == 0 {
			return nil, "held at its point estimate: too few placebos for an interval"
		}
		return func(rng *rand.Rand, cf []float64) {
			gaps := m.placebo[rng.IntN(len(m.placebo))]
			for t, y := range m.years {
				cf[t] = y.cf
				if !math.IsNaN(gaps[t]) {
					cf[t] += gaps[t]
				}
			}
		}, "synth: the gap path of one placebo among those of the interval, drawn uniformly, added to the synthetic control"
	}
	return nil, "held at its point estimate"
}

// percentiles are the nearest-rank P5, P50 and P95 of xs (sorted in place),
// each passed through round.
func percentiles(xs []float64, round func(float64) float64) Percentiles {
	sort.Float64s(xs)
	at := func(p float64) float64 {
		k := int(math.Ceil(p / 100 * float64(len(xs))))
		return round(xs[max(k, 1)-1])
	}
	return Percentiles{P5: at(5), P50: at(50), P95: at(95)}
}

// histogram counts xs in HistogramBins equal bins from min to max.
func histogram(xs []float64, round func(float64) float64) Histogram {
	lo, hi := xs[0], xs[0]
	for _, x := range xs {
		lo, hi = min(lo, x), max(hi, x)
	}
	h := Histogram{Min: round(lo), Max: round(hi)}
	if hi == lo {
		h.Bins = []Bin{{Low: h.Min, High: h.Max, Count: len(xs)}}
		return h
	}
	width := (hi - lo) / HistogramBins
	h.Bins = make([]Bin, HistogramBins)
	for i := range h.Bins {
		h.Bins[i].Low, h.Bins[i].High = round(lo+float64(i)*width), round(lo+float64(i+1)*width)
	}
	h.Bins[HistogramBins-1].High = h.Max
	for _, x := range xs {
		i := min(int((x-lo)/width), HistogramBins-1)
		h.Bins[i].Count++
	}
	return h
}
