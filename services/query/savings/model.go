package savings

import (
	"fmt"
	"math"
)

// model is a report's cost-benefit arithmetic in float64, for what needs
// it thousands of times — the Monte Carlo (simulate.go) and the sensitivity
// (sensitivity.go): the point report itself is computed exactly (totalsOf),
// and TestModelMatchesReport holds the two to the same figures at the
// central values.
//
// Avoided cases in year t are, for the counterfactual methods,
// (counterfactual(t) − observed(t)) · weight(t) · adjustment, with weight =
// sign · population · scale and adjustment = (1 − ob_benefits) · (1 −
// displacement) · attribution; for modelled, cohort.size · engagement ·
// success · (1 − deadweight) · adjustment · (1 − drop_off)^j in the j-th
// year of benefits. Benefits are cases × the sum of the unit costs, costs
// the document's × (1 + ob_costs), both discounted.
type model struct {
	method    string
	startYear int
	horizon   int
	exp       int // the currency's minor units

	// The counterfactual methods: per report year, whether it counts
	// (an observed value, from year 1 + lag), and its point
	// counterfactual, observed value and weight.
	years []modelYear
	// What the counterfactual is drawn from (simulate.go).
	line    *Line       // its
	didSE   float64     // did: standard error of the comparison's pre-period mean; 0 for none
	placebo [][]float64 // synth: the gap per report year of each placebo in the interval (NaN where none)

	// modelled
	size             float64
	lag, persistence int
	greenBook        bool
	dfs              []float64 // the discount factors, when green_book (fixed)
	central          params
	inputs           []modelInput
}

type modelYear struct {
	counts               bool
	cf, observed, weight float64
}

// params are the values of the model's inputs in one evaluation.
type params struct {
	deadweight, attribution, displacement, obBenefits, obCosts, dropOff float64
	engagement, success                                                 float64
	rate                                                                float64 // flat discount rate; unused with green_book
	unitCosts                                                           []float64
	costs                                                               []float64 // per costs entry
	costYear                                                            []int     // report year of each costs entry
}

func (p params) clone() params {
	p.unitCosts = append([]float64(nil), p.unitCosts...)
	p.costs = append([]float64(nil), p.costs...)
	return p
}

// inputKind says how far a switching value is searched (docs/savings.md):
// shares within [0, 1], amounts within [0, 10 × central].
type inputKind int

const (
	kindShare inputKind = iota
	kindAmount
)

// modelInput is one input of the model: its path in the document, its
// value, its range when uncertain, and where it sits in params.
type modelInput struct {
	path    string
	kind    inputKind
	num     Num
	central float64
	at      func(*params) *float64
}

func (in modelInput) uncertain() bool { return in.num.Range() != nil }

// newModel collects the inputs of d (after defaults, as the report used
// it) in the order of the document's fields: unit costs, costs, cohort,
// then the cba fields as the document lists them.
func newModel(method string, d Initiative, exp int, years []Year) *model {
	m := &model{method: method, startYear: d.StartYear, horizon: len(years) - 1, exp: exp}
	c := d.CBA
	m.central = params{
		deadweight: c.Deadweight.Float64(), attribution: c.Attribution.Float64(), displacement: c.Displacement.Float64(),
		obBenefits: c.OBBenefits.Float64(), obCosts: c.OBCosts.Float64(), dropOff: c.DropOff.Float64(),
	}
	add := func(path string, kind inputKind, n Num, at func(*params) *float64) {
		*at(&m.central) = n.Float64()
		m.inputs = append(m.inputs, modelInput{path: path, kind: kind, num: n, central: n.Float64(), at: at})
	}
	for i, u := range d.UnitCosts {
		m.central.unitCosts = append(m.central.unitCosts, 0)
		add(fmt.Sprintf("unit_costs[%d].amount", i), kindAmount, u.Amount, func(p *params) *float64 { return &p.unitCosts[i] })
	}
	for i, k := range d.Costs {
		m.central.costs = append(m.central.costs, 0)
		m.central.costYear = append(m.central.costYear, k.Year-d.StartYear)
		add(fmt.Sprintf("costs[%d].amount", i), kindAmount, k.Amount, func(p *params) *float64 { return &p.costs[i] })
	}
	if method == MethodModelled && d.Cohort != nil {
		m.size = d.Cohort.Size.Float64()
		add("cohort.engagement", kindShare, d.Cohort.Engagement, func(p *params) *float64 { return &p.engagement })
		add("cohort.success", kindShare, d.Cohort.Success, func(p *params) *float64 { return &p.success })
		add("cba.deadweight", kindShare, *c.Deadweight, func(p *params) *float64 { return &p.deadweight })
	}
	add("cba.attribution", kindShare, *c.Attribution, func(p *params) *float64 { return &p.attribution })
	add("cba.displacement", kindShare, *c.Displacement, func(p *params) *float64 { return &p.displacement })
	add("cba.ob_benefits", kindShare, *c.OBBenefits, func(p *params) *float64 { return &p.obBenefits })
	add("cba.ob_costs", kindAmount, *c.OBCosts, func(p *params) *float64 { return &p.obCosts })
	if method == MethodModelled {
		add("cba.drop_off", kindShare, *c.DropOff, func(p *params) *float64 { return &p.dropOff })
	}
	m.lag, m.persistence = *c.Lag, *c.Persistence
	if c.Discount.GreenBook {
		m.greenBook = true
		for _, y := range years {
			m.dfs = append(m.dfs, y.DiscountFactor)
		}
	} else {
		add("cba.discount", kindShare, c.Discount.Rate, func(p *params) *float64 { return &p.rate })
	}
	return m
}

// outcome is one evaluation of the model.
type outcome struct {
	pvBenefits, pvCosts, npv float64
	roi                      float64 // NaN when there are no costs
}

// eval computes the totals with the inputs p and the counterfactual cf
// (per report year; nil for the point counterfactual).
func (m *model) eval(p params, cf []float64) outcome {
	adj := (1 - p.obBenefits) * (1 - p.displacement) * p.attribution
	unitSum := 0.0
	for _, u := range p.unitCosts {
		unitSum += u
	}
	df := func(t int) float64 {
		if m.greenBook {
			return m.dfs[t]
		}
		return math.Pow(1+p.rate, -float64(t))
	}
	var o outcome
	switch m.method {
	case MethodModelled:
		b := m.size * p.engagement * p.success * (1 - p.deadweight) * adj
		for j := range m.persistence {
			t := 1 + m.lag + j
			if t > m.horizon {
				break
			}
			o.pvBenefits += b * unitSum * df(t)
			b *= 1 - p.dropOff
		}
	default:
		for t, y := range m.years {
			if !y.counts {
				continue
			}
			c := y.cf
			if cf != nil {
				c = cf[t]
			}
			o.pvBenefits += (c - y.observed) * y.weight * adj * unitSum * df(t)
		}
	}
	for i, c := range p.costs {
		if t := p.costYear[i]; t >= 0 && t <= m.horizon {
			o.pvCosts += c * (1 + p.obCosts) * df(t)
		}
	}
	o.npv = o.pvBenefits - o.pvCosts
	o.roi = math.NaN()
	if o.pvCosts > 0 {
		o.roi = o.pvBenefits / o.pvCosts
	}
	return o
}

// round is x to the currency's minor units.
func (m *model) round(x float64) float64 {
	s := math.Pow(10, float64(m.exp))
	return math.Round(x*s) / s
}
