package savings

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/observation"
)

// Series is one indicator's yearly values in one place, as the handlers read
// them from ClickHouse, with where the values came from.
type Series struct {
	Indicator string
	Geo       string
	Dims      observation.Dims // the breakdown read; nil for the total
	Unit      string
	Values    map[int]float64 // calendar year → value; non-finite values are left out
	Sources   []Source
	// Plausible is the indicator's plausible range (catalogue); a value
	// outside it stops the report with implausible_value. The zero Bounds
	// checks nothing.
	Plausible indicators.Bounds
}

// Source is the provenance of a series: the feed (or partner) that
// delivered it, under which licence, fetched when.
type Source struct {
	Source      string    `json:"source"`
	URL         string    `json:"url,omitempty"`
	Licence     string    `json:"licence"`
	RetrievedAt time.Time `json:"retrieved_at"`
}

// Data is what Compute needs beyond the initiative, read by the handlers.
// The modelled method needs none of it.
//
// Target holds the target indicator in the initiative's place: its values
// before start_year are the pre-period the counterfactual learns from (all
// of them are used: read the pre-period you want), its later values are the
// observed outcomes. Comparison holds the same indicator in each comparison
// place (did, synth). Population holds the population indicator in the
// initiative's place when the document names one.
type Data struct {
	Target     Series
	Polarity   indicators.Polarity // of the target indicator
	Comparison []Series
	Population Series
}

// Report is the answer of GET /v1/initiatives/{id}/savings (docs/savings.md).
type Report struct {
	Initiative string            `json:"initiative"`
	Method     string            `json:"method"`
	Currency   string            `json:"currency"`
	Years      []Year            `json:"years"`
	Totals     Totals            `json:"totals"`
	Inputs     Inputs            `json:"inputs"`
	Provenance []ProvenanceEntry `json:"provenance"`
	// AsOf is the time the data it was computed from stood at: the
	// request's as_of, or the latest load among the values read (absent
	// when it read none). The same request with this as_of reproduces it.
	AsOf *time.Time `json:"as_of,omitempty"`
	// Warnings lists what an analyst should know before defending the
	// figures: values of the pre- or post-period that their publisher
	// flagged (provisional, estimated…) or the data-quality rules did.
	Warnings []Warning `json:"warnings,omitempty"`
	// Diagnostics says how far to trust the counterfactual: the ITS fit
	// and its segmented alternative, DiD's parallel-trends check; absent
	// for the modelled method.
	Diagnostics *Diagnostics `json:"diagnostics,omitempty"`
	// Synth is method synth's synthetic control: the donors' weights, the
	// fit, and the placebos it is judged against; absent for the others.
	Synth *SynthResult `json:"synth,omitempty"`
	// Sensitivity is the tornado and the switching values of the inputs
	// (sensitivity.go); Simulation the Monte Carlo, when asked for
	// (Simulate).
	Sensitivity *Sensitivity `json:"sensitivity,omitempty"`
	Simulation  *Simulation  `json:"simulation,omitempty"`

	model *model // the arithmetic in float64, for Simulate and the sensitivity
}

// Diagnostics of a report's counterfactual, by method.
type Diagnostics struct {
	ITS *ITSDiagnostics `json:"its,omitempty"`
	DiD *DiDDiagnostics `json:"did,omitempty"`
}

// Warning is one thing to know about a report: a flagged value it uses
// (code flagged_value, with the value's place, year and marks), or a doubt
// about its method (year0_outside_interval, trends_not_parallel…, with a
// message only).
type Warning struct {
	Code      string   `json:"code"`
	Indicator string   `json:"indicator,omitempty"`
	Geo       string   `json:"geo,omitempty"`
	Year      int      `json:"year,omitempty"`   // calendar year
	Period    string   `json:"period,omitempty"` // pre or post: which part of the report the value is in
	Source    string   `json:"source,omitempty"`
	Flag      string   `json:"flag,omitempty"`
	Quality   []string `json:"quality,omitempty"`
	Message   string   `json:"message"`
}

// WarningFlaggedValue: a value the report uses carries a publisher's flag
// or a data-quality code.
const WarningFlaggedValue = "flagged_value"

// Year is one year of a report. Pointers are null where a value does not
// apply: observed and counterfactual values for the modelled method, the
// intervals where there is none, avoided cases in years without any.
// Observed and counterfactual values are in the indicator's unit; avoided
// values are cases credited to the initiative, after attribution,
// displacement, optimism bias and (modelled) deadweight, so that
// benefit = avoided × Σ unit costs.
type Year struct {
	Year               int      `json:"year"`
	CalendarYear       int      `json:"calendar_year"`
	Observed           *float64 `json:"observed"`
	Counterfactual     *float64 `json:"counterfactual"`
	CounterfactualLow  *float64 `json:"counterfactual_low"`
	CounterfactualHigh *float64 `json:"counterfactual_high"`
	Avoided            *float64 `json:"avoided"`
	AvoidedLow         *float64 `json:"avoided_low"`
	AvoidedHigh        *float64 `json:"avoided_high"`
	Benefit            Money    `json:"benefit"`
	Cost               Money    `json:"cost"` // with optimism bias
	DiscountFactor     float64  `json:"discount_factor"`
	PVBenefit          Money    `json:"pv_benefit"`
	PVCost             Money    `json:"pv_cost"`
	CumulativeNetPV    Money    `json:"cumulative_net_pv"`
}

// Totals sums a report. ROI is the benefit-cost ratio PV benefits / PV
// costs and NetROI is ROI − 1, both null when PV costs are 0. SROIRatio is
// PV benefits / PV inputs, the inputs valued at their cost without optimism
// bias, null when that is 0. PaybackYears is null when the benefits never
// reach the costs within the horizon (see Payback). The benefit interval
// (its and did) carries the avoided cases' intervals through.
type Totals struct {
	PVBenefits         Money            `json:"pv_benefits"`
	PVBenefitsLow      *Money           `json:"pv_benefits_low"`
	PVBenefitsHigh     *Money           `json:"pv_benefits_high"`
	PVBenefitsByAgency map[string]Money `json:"pv_benefits_by_agency"`
	PVCosts            Money            `json:"pv_costs"`
	NPV                Money            `json:"npv"`
	ROI                *float64         `json:"roi"`
	NetROI             *float64         `json:"net_roi"`
	PaybackYears       *float64         `json:"payback_years"`
	SROIRatio          *float64         `json:"sroi_ratio"`
	// NPVLow … PaybackYearsHigh bound the totals as PVBenefitsLow and
	// PVBenefitsHigh do (Interval says how); null when some year with
	// avoided cases has no interval. A payback bound is null when, at that
	// end, benefits never cover the costs.
	NPVLow           *Money   `json:"npv_low"`
	NPVHigh          *Money   `json:"npv_high"`
	ROILow           *float64 `json:"roi_low"`
	ROIHigh          *float64 `json:"roi_high"`
	PaybackYearsLow  *float64 `json:"payback_years_low"`
	PaybackYearsHigh *float64 `json:"payback_years_high"`
	// Interval names what the bounds are (IntervalPointwise); empty when
	// there are none.
	Interval string `json:"interval,omitempty"`
}

// IntervalPointwise: the money bounds come from the counterfactual's 95 %
// interval in every year taken at once at its low (then high) end, costs
// unchanged: a bound from pointwise intervals, not a joint probability.
const IntervalPointwise = "pointwise_95"

// Inputs are the initiative as used: after defaults, with the method asked
// for (and deadweight 0 for its and did), and what the method took from the
// data.
type Inputs struct {
	Initiative
	Unit     string              `json:"unit,omitempty"`
	Polarity indicators.Polarity `json:"polarity,omitempty"`
	Sign     int                 `json:"sign,omitempty"`
	// ScaleFrom says where scale came from: "initiative", or "unit" when it
	// was left out and taken from the indicator's unit (ScaleForUnit).
	ScaleFrom string `json:"scale_from,omitempty"`
	// PreFrom is the first year the counterfactual learnt from; absent,
	// every earlier year. PreFromRule says where it came from: "request"
	// (pre_from=YYYY), "all" (pre_from=all) or "default" (the default
	// window before the start year).
	PreFrom     *int   `json:"pre_from,omitempty"`
	PreFromRule string `json:"pre_from_rule,omitempty"`
	// DonorPool says how synth's donors (comparison_geos as used) were
	// chosen when the document named none.
	DonorPool *DonorPool `json:"donor_pool,omitempty"`
	// ITSFit is the pre-period line of method its.
	ITSFit *Line `json:"its_fit,omitempty"`
	// DiDPlaces are the comparison places of method did as used, and
	// ComparisonGeosWithoutData those that had no usable pre-period.
	DiDPlaces                 []DiDPlace `json:"did_places,omitempty"`
	ComparisonGeosWithoutData []string   `json:"comparison_geos_without_data,omitempty"`
	// PopulationFilled lists the years whose population was missing and
	// taken from the nearest year (the latest earlier one if any).
	PopulationFilled []FilledYear `json:"population_filled,omitempty"`
	// Uprating says how unit costs of different price years are treated.
	Uprating string `json:"uprating"`
}

// DonorPoolDefault is the rule of the default donor pool.
const DonorPoolDefault = "default"

// DonorPool says how the donors of method synth were chosen for a document
// naming no comparison place (docs/savings.md, "The default donor pool"):
// of the Candidates places of the target's level and kind, the Qualified
// holding its series in every pre-period year in which the target has
// one, at most Limit of them, the closest to the target.
type DonorPool struct {
	Rule       string `json:"rule"`
	Level      string `json:"level"`
	Kind       string `json:"kind"`
	Candidates int    `json:"candidates"`
	Qualified  int    `json:"qualified"`
	Limit      int    `json:"limit"`
}

// FilledYear is a year whose value was taken from another year.
type FilledYear struct {
	Year     int `json:"year"`
	FromYear int `json:"from_year"`
}

// ProvenanceEntry says where one series of a report came from.
type ProvenanceEntry struct {
	Role      string           `json:"role"` // target, comparison, population or cost
	Indicator string           `json:"indicator"`
	Geo       string           `json:"geo"`
	Dims      observation.Dims `json:"dims,omitempty"` // the breakdown read; absent for the total
	Source
}

// noUprating is Inputs.Uprating: Ounce holds no deflator series, so unit
// costs are used at the prices of their price year as given.
const noUprating = "none: unit costs are used at their own price_year's prices"

// Compute values an initiative by a method (modelled, its, did or synth;
// "" is the document's own method) with the data the handlers read. Client mistakes
// are *InputError: invalid_initiative for the document (and an indicator
// without a polarity), unknown_method, and insufficient_data when the data
// cannot support the method. It never panics.
func Compute(in Initiative, method string, data Data) (Report, error) {
	if method == "" {
		method = in.Method
	}
	if method == "" {
		method = DefaultMethod
	}
	if err := in.ValidateFor(method); err != nil {
		return Report{}, err
	}
	d := in.WithDefaults()
	d.Method = method
	c := d.CBA
	horizon := *c.Horizon
	currency := d.UnitCosts[0].Currency
	exp, _ := MinorUnits(currency)
	money := func(r *big.Rat) Money { return NewMoney(r, exp) }

	rep := Report{
		Initiative: d.ID, Method: method, Currency: currency,
		Years:      make([]Year, horizon+1),
		Inputs:     Inputs{Initiative: d, Uprating: noUprating},
		Provenance: []ProvenanceEntry{},
	}
	dfs := DiscountFactors(*c.Discount, horizon)
	for t := range rep.Years {
		rep.Years[t].Year = t
		rep.Years[t].CalendarYear = d.StartYear + t
		rep.Years[t].DiscountFactor, _ = dfs[t].Float64()
	}

	rep.model = newModel(method, d, exp, rep.Years)
	var cases, low, high []*big.Rat // avoided cases per year; nil where none
	switch method {
	case MethodModelled:
		outcomes := ModelledOutcomes(d.Cohort.Size.rat(), d.Cohort.Engagement.rat(), d.Cohort.Success.rat(),
			c.Deadweight.rat(), c.OBBenefits.rat(), c.Displacement.rat(), c.Attribution.rat())
		cases = BenefitProfile(outcomes, *c.Lag, *c.Persistence, c.DropOff.rat(), horizon)
		for t, v := range cases {
			if v != nil {
				rep.Years[t].Avoided = ratFloat(v)
			}
		}
	default:
		var err error
		cases, low, high, err = counterfactualCases(&rep, d, data)
		if err != nil {
			return Report{}, err
		}
	}

	totalsOf(&rep, d, dfs, cases, low, high, money)
	rep.Sensitivity = rep.model.sensitivity(rep.Totals)
	if dg := rep.Diagnostics; dg != nil {
		rep.Warnings = append(rep.Warnings, methodWarnings(&rep, d, dg.ITS, dg.DiD)...)
	}
	if err := checkShowable(&rep); err != nil {
		return Report{}, err
	}
	return rep, nil
}

// MaxFigure bounds every amount of money a report shows: 10^15 (a thousand
// trillion) is beyond any public budget, and beyond it a float64 — what
// JSON clients in Go and JavaScript decode a number into — no longer holds
// an amount to the cent.
const MaxFigure = 1e15

// checkShowable refuses a report with a figure beyond MaxFigure, naming the
// figure and the inputs it is the product of, instead of answering a number
// nobody can read.
func checkShowable(rep *Report) error {
	limit := new(big.Rat).SetFloat64(MaxFigure)
	tooBig := func(m Money) bool { return m.r != nil && new(big.Rat).Abs(m.r).Cmp(limit) > 0 }
	fail := func(figure string, m Money) error {
		field, inputs := "unit_costs", "unit_costs amounts × avoided cases (population or scale × the change in the indicator)"
		if rep.Method == MethodModelled {
			inputs = "unit_costs amounts × cohort.size × engagement × success"
		}
		f, _ := m.Rat().Float64()
		return inputError(CodeImplausibleValue, field,
			"%s would be %.3g %s, beyond the %g this service shows; it is the product of %s: check their units and scale", figure, f, rep.Currency, MaxFigure, inputs)
	}
	t := rep.Totals
	for _, c := range []struct {
		name string
		m    *Money
	}{{"pv_benefits", &t.PVBenefits}, {"pv_benefits_low", t.PVBenefitsLow}, {"pv_benefits_high", t.PVBenefitsHigh}, {"pv_costs", &t.PVCosts}, {"npv", &t.NPV}} {
		if c.m != nil && tooBig(*c.m) {
			return fail("totals."+c.name, *c.m)
		}
	}
	for _, y := range rep.Years {
		for _, c := range []struct {
			name string
			m    Money
		}{{"benefit", y.Benefit}, {"cost", y.Cost}, {"pv_benefit", y.PVBenefit}, {"pv_cost", y.PVCost}, {"cumulative_net_pv", y.CumulativeNetPV}} {
			if tooBig(c.m) {
				return fail(fmt.Sprintf("years[%d].%s", y.Year, c.name), c.m)
			}
		}
	}
	return nil
}

// counterfactualCases fills the observed and counterfactual values of its
// and did and returns the avoided cases per year with their interval.
func counterfactualCases(rep *Report, d Initiative, data Data) (cases, low, high []*big.Rat, err error) {
	in := &rep.Inputs
	zero := mustNum("0")
	in.CBA.Deadweight = &zero // docs/savings.md: the counterfactual already is the deadweight
	in.Unit, in.Polarity = data.Target.Unit, data.Polarity
	sign, ok := Sign(data.Polarity)
	if !ok {
		return nil, nil, nil, inputError(CodeInvalidInitiative, "indicator",
			"indicator %s has polarity %q: savings need an indicator for which lower or higher values are better", d.Indicator, data.Polarity)
	}
	in.Sign = sign
	scale := d.Scale
	in.ScaleFrom = "initiative"
	if scale == nil {
		s := ScaleForUnit(data.Target.Unit)
		scale, in.ScaleFrom = &s, "unit"
		in.Scale = scale
	}
	checks := []struct {
		s     Series
		field string
	}{{data.Target, "indicator"}, {data.Population, "population.indicator"}}
	for _, c := range data.Comparison {
		checks = append(checks, struct {
			s     Series
			field string
		}{c, "comparison_geos"})
	}
	for _, c := range checks {
		if err := checkPlausible(c.s, c.field); err != nil {
			return nil, nil, nil, err
		}
	}
	pop, err := populationOf(d, data, &in.PopulationFilled)
	if err != nil {
		return nil, nil, nil, err
	}
	addProvenance(rep, "target", data.Target)

	var counterfactual func(year int) (Estimate, bool)
	switch d.Method {
	case MethodITS:
		line, err := InterruptedTimeSeries(data.Target.Values, d.StartYear)
		if err != nil {
			return nil, nil, nil, notEnough(err, "indicator", "method its", data.Target)
		}
		if !finite(line.XMean, line.YMean, line.Slope, line.ResidualSD, line.T) {
			return nil, nil, nil, tooLarge(data.Target)
		}
		in.ITSFit = &line
		rep.model.line = &line
		diag := DiagnoseITS(line, data.Target.Values, d.StartYear, d.StartYear+len(rep.Years)-1)
		rep.Diagnostics = &Diagnostics{ITS: &diag}
		counterfactual = func(y int) (Estimate, bool) { return ITSEstimate(line, y), true }
	case MethodDiD:
		byGeo := map[string]map[int]float64{}
		for _, s := range data.Comparison {
			byGeo[s.Geo] = s.Values
		}
		did, err := DifferenceInDifferences(data.Target.Values, d.ComparisonGeos, byGeo, d.StartYear)
		if err != nil {
			return nil, nil, nil, notEnough(err, "comparison_geos", "method did", data.Target)
		}
		for _, p := range did.Places {
			if !finite(p.TargetMean, p.PlaceMean) {
				return nil, nil, nil, tooLarge(data.Target)
			}
		}
		in.DiDPlaces = did.Places
		rep.model.didSE = did.preMeanSE()
		diag := DiagnoseDiD(did, data.Target.Values, d.ComparisonGeos, d.StartYear)
		rep.Diagnostics = &Diagnostics{DiD: &diag}
		used := map[string]bool{}
		for _, p := range did.Places {
			used[p.Geo] = true
		}
		for _, g := range d.ComparisonGeos {
			if !used[g] {
				in.ComparisonGeosWithoutData = append(in.ComparisonGeosWithoutData, g)
			}
		}
		for _, s := range data.Comparison {
			if used[s.Geo] {
				addProvenance(rep, "comparison", s)
			}
		}
		counterfactual = did.At
	case MethodSynth:
		var err error
		if counterfactual, err = synthCounterfactual(rep, d, data); err != nil {
			return nil, nil, nil, err
		}
	}
	if d.Population.Indicator != "" {
		addProvenance(rep, "population", data.Population)
	}

	one := big.NewRat(1, 1)
	adj := new(big.Rat).Set(scale.rat())
	adj.Mul(adj, new(big.Rat).Sub(one, d.CBA.OBBenefits.rat()))
	adj.Mul(adj, new(big.Rat).Sub(one, d.CBA.Displacement.rat()))
	adj.Mul(adj, d.CBA.Attribution.rat())
	n := len(rep.Years)
	cases, low, high = make([]*big.Rat, n), make([]*big.Rat, n), make([]*big.Rat, n)
	rep.model.years = make([]modelYear, n)
	rep.model.placebo = placeboGaps(rep.Synth, rep.Years)
	scaleF := scale.Float64()
	found := 0
	firstBenefit := 1 + *d.CBA.Lag
	for t := range rep.Years {
		y := &rep.Years[t]
		e, ok := counterfactual(y.CalendarYear)
		if !ok || !finite(e.Value, e.Low, e.High) {
			continue
		}
		y.Counterfactual = &e.Value
		if e.HasInterval {
			y.CounterfactualLow, y.CounterfactualHigh = &e.Low, &e.High
		}
		obs, has := data.Target.Values[y.CalendarYear]
		if !has || !finite(obs) {
			continue
		}
		y.Observed = &obs
		if t < firstBenefit {
			continue // docs/savings.md: benefits start in year 1 + lag
		}
		av, lo, hi := Avoided(e, obs, sign)
		if !finite(av, lo, hi) {
			continue
		}
		people, err := pop(y.CalendarYear)
		if err != nil {
			return nil, nil, nil, err
		}
		factor := new(big.Rat).Mul(adj, people)
		cases[t] = new(big.Rat).Mul(new(big.Rat).SetFloat64(av), factor)
		if e.HasInterval {
			// A year without an interval has no bounds: money's interval
			// is then absent, never of zero width in that year.
			low[t] = new(big.Rat).Mul(new(big.Rat).SetFloat64(lo), factor)
			high[t] = new(big.Rat).Mul(new(big.Rat).SetFloat64(hi), factor)
		}
		pf, _ := people.Float64()
		rep.model.years[t] = modelYear{counts: true, cf: e.Value, observed: obs, weight: float64(sign) * pf * scaleF}
		y.Avoided = ratFloat(cases[t])
		if e.HasInterval {
			y.AvoidedLow, y.AvoidedHigh = ratFloat(low[t]), ratFloat(high[t])
		}
		found++
	}
	if found == 0 {
		return nil, nil, nil, inputError(CodeInsufficientData, "indicator",
			"no observed value of %s for %s in %d-%d to compare with the counterfactual: method %s needs outcomes from year 1 + lag (%d) to the horizon",
			d.Indicator, d.Geo, d.StartYear+firstBenefit, d.StartYear+len(rep.Years)-1, d.Method, d.StartYear+firstBenefit)
	}
	return cases, low, high, nil
}

// notEnough turns a NotEnoughDataError into an insufficient_data InputError
// naming the series.
func notEnough(err error, field, method string, s Series) error {
	var ne *NotEnoughDataError
	if errors.As(err, &ne) {
		ie := inputError(CodeInsufficientData, field, "%s on %s for %s %s", method, s.Indicator, s.Geo, ne.Error())
		ie.cause = ne
		return ie
	}
	return err
}

func tooLarge(s Series) error {
	return inputError(CodeInsufficientData, "indicator", "the values of %s for %s are too large to fit a counterfactual", s.Indicator, s.Geo)
}

// MaxPopulationFill is how many years away a missing population year may
// be filled from (docs/savings.md): a population moves little in five
// years, and a report built on one decades away would be fiction.
const MaxPopulationFill = 5

// checkPlausible stops a report on a stored value outside the indicator's
// plausible range: a unit slip or a bad push, which would otherwise turn
// into an absurd (or unrepresentable) amount of money.
func checkPlausible(s Series, field string) error {
	if s.Plausible == (indicators.Bounds{}) {
		return nil
	}
	years, values := points(s.Values)
	for i, y := range years {
		if !s.Plausible.Contains(values[i]) {
			var from []string
			for _, src := range s.Sources {
				from = append(from, src.Source)
			}
			return inputError(CodeImplausibleValue, field,
				"the stored value of %s for %s in %d is %g, outside its plausible range %s (%s); it comes from %s: correct it there, or read the pre-period from another year with pre_from",
				s.Indicator, s.Geo, y, values[i], s.Plausible, s.Unit, strings.Join(from, ", "))
		}
	}
	return nil
}

// populationOf returns the population of each calendar year: the
// document's value, or the population series' value of that year, else of
// the nearest year within MaxPopulationFill (the earlier one on a tie),
// recorded in filled. A year with no population that near is
// insufficient_data.
func populationOf(d Initiative, data Data, filled *[]FilledYear) (func(year int) (*big.Rat, error), error) {
	if d.Population.Value != nil {
		v := d.Population.Value.rat()
		return func(int) (*big.Rat, error) { return v, nil }, nil
	}
	years, values := points(data.Population.Values)
	if len(years) == 0 {
		return nil, inputError(CodeInsufficientData, "population.indicator",
			"no value of %s for %s: give another population indicator, or a population value", d.Population.Indicator, d.Geo)
	}
	rats := make(map[int]*big.Rat, len(years))
	for i, y := range years {
		if values[i] > 0 && values[i] < math.MaxFloat64 {
			rats[y] = new(big.Rat).SetFloat64(values[i])
		} else {
			rats[y] = new(big.Rat)
		}
	}
	return func(year int) (*big.Rat, error) {
		if r, ok := rats[year]; ok {
			return r, nil
		}
		for dist := 1; dist <= MaxPopulationFill; dist++ {
			for _, from := range []int{year - dist, year + dist} {
				if r, ok := rats[from]; ok {
					*filled = append(*filled, FilledYear{Year: year, FromYear: from})
					return r, nil
				}
			}
		}
		return nil, inputError(CodeInsufficientData, "population.indicator",
			"no value of %s for %s in %d or within %d years of it (held: %d-%d); give a population value, or another population indicator",
			d.Population.Indicator, d.Geo, year, MaxPopulationFill, years[0], years[len(years)-1])
	}, nil
}

func addProvenance(rep *Report, role string, s Series) {
	for _, src := range s.Sources {
		rep.Provenance = append(rep.Provenance, ProvenanceEntry{Role: role, Indicator: s.Indicator, Geo: s.Geo, Dims: s.Dims, Source: src})
	}
}

// totalsOf values the avoided cases, costs them, discounts both and sums.
func totalsOf(rep *Report, d Initiative, dfs, cases, low, high []*big.Rat, money func(*big.Rat) Money) {
	one := big.NewRat(1, 1)
	costFactor := new(big.Rat).Add(one, d.CBA.OBCosts.rat())
	unitSum := new(big.Rat)
	var agencies []string
	perAgency := map[string]*big.Rat{}
	for _, u := range d.UnitCosts {
		unitSum.Add(unitSum, u.Amount.rat())
		if perAgency[u.Agency] == nil {
			agencies = append(agencies, u.Agency)
			perAgency[u.Agency] = new(big.Rat)
		}
		perAgency[u.Agency].Add(perAgency[u.Agency], u.Amount.rat())
	}
	rawCost := make([]*big.Rat, len(dfs))
	for t := range rawCost {
		rawCost[t] = new(big.Rat)
	}
	for _, c := range d.Costs {
		if t := c.Year - d.StartYear; t >= 0 && t < len(rawCost) {
			rawCost[t].Add(rawCost[t], c.Amount.rat())
		}
	}

	// The interval's discounted cases are valued once at the end:
	// Σ cases·DF × unit cost is Σ (cases × unit cost)·DF, exactly.
	pvLow, pvHigh := new(big.Rat), new(big.Rat)
	pvb, pvc, pvInputs, cum := new(big.Rat), new(big.Rat), new(big.Rat), new(big.Rat)
	yearPVB := make([]*big.Rat, len(dfs))
	yearPVC := make([]*big.Rat, len(dfs))
	// The interval in money: the totals again with every year's cases at
	// the low, then the high, end of their interval, costs unchanged; only
	// when every year with cases has an interval (bounded).
	yearPVBLow := make([]*big.Rat, len(dfs))
	yearPVBHigh := make([]*big.Rat, len(dfs))
	bounded := low != nil
	for t, df := range dfs {
		y := &rep.Years[t]
		benefit := new(big.Rat)
		if cases[t] != nil {
			benefit.Mul(cases[t], unitSum)
		}
		if low != nil && low[t] != nil {
			pvLow.Add(pvLow, new(big.Rat).Mul(low[t], df))
			pvHigh.Add(pvHigh, new(big.Rat).Mul(high[t], df))
			yearPVBLow[t] = new(big.Rat).Mul(new(big.Rat).Mul(low[t], unitSum), df)
			yearPVBHigh[t] = new(big.Rat).Mul(new(big.Rat).Mul(high[t], unitSum), df)
		} else if cases[t] != nil {
			bounded = false
		}
		cost := new(big.Rat).Mul(rawCost[t], costFactor)
		yearPVB[t] = new(big.Rat).Mul(benefit, df)
		yearPVC[t] = new(big.Rat).Mul(cost, df)
		pvb.Add(pvb, yearPVB[t])
		pvc.Add(pvc, yearPVC[t])
		if rawCost[t].Sign() != 0 {
			pvInputs.Add(pvInputs, new(big.Rat).Mul(rawCost[t], df))
		}
		cum.Add(cum, yearPVB[t])
		cum.Sub(cum, yearPVC[t])
		y.Benefit, y.Cost = money(benefit), money(cost)
		y.PVBenefit, y.PVCost = money(yearPVB[t]), money(yearPVC[t])
		y.CumulativeNetPV = money(new(big.Rat).Set(cum))
	}
	// Each agency's share of PV benefits is its share of the unit costs.
	byAgency := map[string]*big.Rat{}
	for _, a := range agencies {
		byAgency[a] = new(big.Rat)
		if unitSum.Sign() != 0 {
			byAgency[a].Mul(pvb, new(big.Rat).Quo(perAgency[a], unitSum))
		}
	}
	pvLow.Mul(pvLow, unitSum)
	pvHigh.Mul(pvHigh, unitSum)

	tot := &rep.Totals
	tot.PVBenefits, tot.PVCosts = money(pvb), money(pvc)
	tot.NPV = money(new(big.Rat).Sub(pvb, pvc))
	tot.PVBenefitsByAgency = make(map[string]Money, len(agencies))
	for _, a := range agencies {
		tot.PVBenefitsByAgency[a] = money(byAgency[a])
	}
	if bounded {
		for t := range yearPVBLow {
			if yearPVBLow[t] == nil {
				yearPVBLow[t], yearPVBHigh[t] = new(big.Rat), new(big.Rat)
			}
		}
		l, h := money(pvLow), money(pvHigh)
		tot.PVBenefitsLow, tot.PVBenefitsHigh = &l, &h
		nl, nh := money(new(big.Rat).Sub(pvLow, pvc)), money(new(big.Rat).Sub(pvHigh, pvc))
		tot.NPVLow, tot.NPVHigh = &nl, &nh
		if pvc.Sign() > 0 {
			tot.ROILow, tot.ROIHigh = ratFloat(new(big.Rat).Quo(pvLow, pvc)), ratFloat(new(big.Rat).Quo(pvHigh, pvc))
		}
		// Payback is shorter with more benefits: its low end comes from
		// the high benefits, its high end from the low ones (nil: never).
		tot.PaybackYearsLow = ratFloatOrNil(Payback(yearPVBHigh, yearPVC))
		tot.PaybackYearsHigh = ratFloatOrNil(Payback(yearPVBLow, yearPVC))
		tot.Interval = IntervalPointwise
	}
	if pvc.Sign() > 0 {
		roi := new(big.Rat).Quo(pvb, pvc)
		tot.ROI = ratFloat(roi)
		tot.NetROI = ratFloat(roi.Sub(roi, one))
	}
	if pvInputs.Sign() > 0 {
		tot.SROIRatio = ratFloat(new(big.Rat).Quo(pvb, pvInputs))
	}
	if p := Payback(yearPVB, yearPVC); p != nil {
		tot.PaybackYears = ratFloat(p)
	}
}

// Payback is the discounted payback period in years (docs/savings.md): the first
// year t in which cumulative PV benefits reach cumulative PV costs,
// interpolated within that year as (t − 1) + shortfall at the end of year
// t − 1 / PV benefit of year t. Years before the first cost are not
// counted: there is nothing to pay back yet. When the costs are covered in
// the year they first arise (t = 0, or benefits already ahead when costs
// start) the shortfall is 0 and the payback is t. It is nil when the
// cumulative benefits never reach the costs, or there are no costs.
func Payback(pvBenefit, pvCost []*big.Rat) *big.Rat {
	cumB, cumC := new(big.Rat), new(big.Rat)
	for t := range pvBenefit {
		prevNet := new(big.Rat).Sub(cumB, cumC)
		cumB.Add(cumB, pvBenefit[t])
		cumC.Add(cumC, pvCost[t])
		if cumC.Sign() <= 0 || cumB.Cmp(cumC) < 0 {
			continue
		}
		if t == 0 || prevNet.Sign() >= 0 || cumC.Cmp(pvCost[t]) == 0 {
			return big.NewRat(int64(t), 1)
		}
		shortfall := prevNet.Neg(prevNet)
		p := new(big.Rat).Quo(shortfall, pvBenefit[t])
		return p.Add(p, big.NewRat(int64(t-1), 1))
	}
	return nil
}

var perRE = regexp.MustCompile(`(?i)\bper\s+([0-9][0-9,  ]*[0-9]|[0-9]|million)\b`)

// ScaleForUnit is the scale docs/savings.md applies to an indicator when the
// document gives none: a percentage × 0.01, a rate "per N" × 1/N (per
// 100,000 × 1e-5, per million × 1e-6), anything else × 1 (a value per
// person, or a count with population 1).
func ScaleForUnit(unit string) Num {
	u := strings.TrimSpace(unit)
	if strings.HasPrefix(u, "%") {
		return mustNum("0.01")
	}
	if m := perRE.FindStringSubmatch(u); m != nil {
		if strings.EqualFold(m[1], "million") {
			return mustNum("0.000001")
		}
		digits := strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, m[1])
		if n, err := strconv.ParseInt(digits, 10, 64); err == nil && n > 0 {
			return NumOfRat(big.NewRat(1, n))
		}
	}
	return mustNum("1")
}

// ratFloatOrNil is ratFloat of r, nil for a nil r.
func ratFloatOrNil(r *big.Rat) *float64 {
	if r == nil {
		return nil
	}
	return ratFloat(r)
}

func finite(xs ...float64) bool {
	for _, x := range xs {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}

// ratFloat is r as a float64, nil when it is outside float64's range.
func ratFloat(r *big.Rat) *float64 {
	f, _ := r.Float64()
	if !finite(f) {
		return nil
	}
	return &f
}
