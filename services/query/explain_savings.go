package query

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ounce-data/ounce/pkg/httpapi"
	"github.com/ounce-data/ounce/services/query/savings"
)

// explainSavingsParamNames are the savings report's parameters, figure and
// year.
var explainSavingsParamNames = func() map[string]bool {
	m := map[string]bool{"figure": true, "year": true}
	for k := range savingsParamNames {
		if k != "format" { // an explanation is JSON only
			m[k] = true
		}
	}
	return m
}()

// The figures GET /v1/initiatives/{id}/savings/explain explains, by the
// savings report's own field names: those of each row of years (with
// year=) and those of totals. pv_benefits_by_agency is pv_benefits split by
// the agencies' shares of the unit costs, and is not explained apart.
var (
	yearFigures = []string{"observed", "counterfactual", "counterfactual_low", "counterfactual_high",
		"avoided", "avoided_low", "avoided_high", "benefit", "cost", "discount_factor", "pv_benefit", "pv_cost", "cumulative_net_pv"}
	totalFigures = []string{"pv_benefits", "pv_benefits_low", "pv_benefits_high", "pv_costs", "npv", "npv_low", "npv_high", "roi", "roi_low", "roi_high", "net_roi", "payback_years", "sroi_ratio"}
)

// Where an input of a savings explanation comes from (SavingsInput.From).
const (
	FromInitiative = "initiative" // the initiative document gives it
	FromDefault    = "default"    // the document leaves it out: its default (docs/savings.md)
	FromCatalogue  = "catalogue"  // the indicator's catalogue entry (sign from its polarity, scale from its unit)
	FromRequest    = "request"    // the request's parameters (pre_from)
	FromData       = "data"       // a stored value, or computed from the observations listed
	FromReport     = "report"     // another figure of the same report, at the path its name gives
)

// SavingsExplanation is the body of GET /v1/initiatives/{id}/savings/explain:
// one figure of a savings report, exactly as the report gives it, with the
// formula that made it, the steps below it down to the stored data, every
// number those substitute, and every stored observation it depends on, so
// that it can be recomputed by hand.
type SavingsExplanation struct {
	Initiative string     `json:"initiative"`
	Method     string     `json:"method"`
	Currency   string     `json:"currency"`
	AsOf       *time.Time `json:"as_of,omitempty"`
	Figure     string     `json:"figure"`
	// Path is where the figure is in the report: years[3].benefit, totals.npv.
	Path string `json:"path"`
	// Year is the report's year index (0 is start_year) and CalendarYear
	// its calendar year; both absent for a total.
	Year         *int            `json:"year,omitempty"`
	CalendarYear *int            `json:"calendar_year,omitempty"`
	Value        json.RawMessage `json:"value"` // the report's own JSON for the figure
	Unit         string          `json:"unit"`  // currency, the indicator's unit, cases, years, or "" for a ratio
	// Formula is the figure's formula with its inputs substituted; Steps
	// are the formulas of the figures it is computed from, in the order
	// they are computed, down to the fit of the stored data.
	Formula      string                 `json:"formula"`
	Steps        []string               `json:"steps"`
	Inputs       []SavingsInput         `json:"inputs"`
	Observations []ExplainedObservation `json:"observations"`
}

// SavingsInput is one number the formula or a step of an explanation
// substitutes.
type SavingsInput struct {
	// Name is a path of the report where the number is (inputs.cba.attribution,
	// years[3].avoided, inputs.its_fit.slope) or, for a number the report
	// does not show, a name the formulas use (population(2015), DEU(2015)).
	Name  string          `json:"name"`
	Value json.RawMessage `json:"value"`
	From  string          `json:"from"` // one of the From* constants
}

// explainSavings answers GET /v1/initiatives/{id}/savings/explain: the
// parameters of the savings report, figure, and year for a figure of each
// year.
func (s *Service) explainSavings(w http.ResponseWriter, r *http.Request) {
	q, perr := parseQuery(r.URL.RawQuery)
	if perr == nil {
		perr = checkParamNames(q, explainSavingsParamNames, "figure and year, and those of GET /v1/initiatives/{id}/savings: method, pre_from and as_of")
	}
	var (
		fig  string
		year *int
		p    savingsParams
	)
	if perr == nil {
		fig, year, perr = figureParams(q)
	}
	if perr == nil {
		p, perr = parseSavingsParams(q)
	}
	if perr != nil {
		httpapi.WriteError(w, perr)
		return
	}
	in, rep, rows, ok := s.initiativeReport(w, r, p, func(in savings.Initiative) *httpapi.Error {
		return checkFigureYear(in, fig, year)
	})
	if !ok {
		return
	}
	t := -1
	if year != nil {
		t = *year
	}
	ex, err := explainFigure(in, rep, rows, fig, t)
	if err != nil {
		s.log.Error().Err(err).Str("initiative", rep.Initiative).Str("figure", fig).Msg("explain savings figure")
		httpapi.WriteError(w, httpapi.Errorf(httpapi.CodeInternal, "", "the figure could not be explained; the log has details"))
		return
	}
	s.writeCached(w, r, ex)
}

// figureParams reads figure and year. Which figures need a year, and which
// years there are, checkFigureYear decides once the initiative is read.
func figureParams(q url.Values) (string, *int, *httpapi.Error) {
	valid := fmt.Sprintf("of each year (with year=): %s; totals: %s", strings.Join(yearFigures, ", "), strings.Join(totalFigures, ", "))
	fig := strings.TrimSpace(q.Get("figure"))
	switch {
	case fig == "":
		return "", nil, httpapi.BadRequest("figure", "name the figure of the savings report to explain, e.g. figure=npv; figures %s", valid)
	case !slices.Contains(yearFigures, fig) && !slices.Contains(totalFigures, fig):
		return "", nil, httpapi.BadRequest("figure", "figure %q is not a figure of the savings report; figures %s", fig, valid)
	}
	v, given := q["year"]
	if !given {
		return fig, nil, nil
	}
	y, err := strconv.Atoi(strings.TrimSpace(v[0]))
	if err != nil || y < 0 || y > savings.MaxHorizon {
		return "", nil, httpapi.BadRequest("year", "year %q must be the report's year index: a whole number from 0 (start_year) to cba.horizon", v[0])
	}
	return fig, &y, nil
}

// checkFigureYear checks year against fig and the years the report of in
// has: 0 to cba.horizon.
func checkFigureYear(in savings.Initiative, fig string, year *int) *httpapi.Error {
	horizon := *in.WithDefaults().CBA.Horizon
	span := fmt.Sprintf("0 (%d) to %d (%d)", in.StartYear, horizon, in.StartYear+horizon)
	perYear := slices.Contains(yearFigures, fig)
	switch {
	case perYear && year == nil:
		return httpapi.BadRequest("year", "%s is a figure of each year: give year=, the report's year index, %s", fig, span)
	case perYear && *year > horizon:
		return httpapi.Errorf(httpapi.CodeNotFound, "year", "the report has no year %d: its years run %s (year is the index of years[], 0 being start_year)", *year, span)
	case !perYear && year != nil:
		return httpapi.BadRequest("year", "%s is a total over every year of the report; leave year out", fig)
	}
	return nil
}

// explainFigure explains figure fig of rep (of year t, or -1 for a total),
// computed from in (as stored) and rows.
func explainFigure(in savings.Initiative, rep savings.Report, rows reportRows, fig string, t int) (SavingsExplanation, error) {
	e := newSavingsExplainer(in, rep, rows)
	ex := SavingsExplanation{Initiative: rep.Initiative, Method: rep.Method, Currency: rep.Currency, AsOf: rep.AsOf,
		Figure: fig, Path: figurePath(fig, t), Unit: e.unitOf(fig)}
	if t >= 0 {
		y, cy := t, rep.Years[t].CalendarYear
		ex.Year, ex.CalendarYear = &y, &cy
	}
	v, err := json.Marshal(e.value(fig, t))
	if err != nil {
		return ex, fmt.Errorf("encode %s: %w", ex.Path, err)
	}
	ex.Value = v
	e.done[ex.Path] = true
	ex.Formula = e.formula(fig, t)
	ex.Steps = e.steps
	if ex.Steps == nil {
		ex.Steps = []string{}
	}
	ex.Inputs = e.sortedInputs()
	ex.Observations = e.observations()
	return ex, nil
}

// savingsExplainer writes the formulas of one report's figures, collecting
// as it goes the steps, inputs and observations they depend on.
type savingsExplainer struct {
	rep     savings.Report
	in      savings.Initiative // as stored: what it leaves out takes a default
	d       savings.Initiative // as used: rep.Inputs.Initiative
	exp     int                // the currency's minor unit
	dfs     []*big.Rat         // exact discount factors
	runs    []rateRun          // the discount rates of years 1 to cba.horizon
	preFrom int

	target     []observationRow // finite values, in year order
	targetAt   map[int]observationRow
	comparison map[string]map[int]observationRow
	popAt      map[int]observationRow
	popCode    string

	steps  []string
	done   map[string]bool
	inputs []SavingsInput
	named  map[string]bool
	used   map[[2]string]observationRow // (geo or role, period) → row
}

func newSavingsExplainer(in savings.Initiative, rep savings.Report, rows reportRows) *savingsExplainer {
	d := rep.Inputs.Initiative
	e := &savingsExplainer{rep: rep, in: in, d: d, dfs: savings.DiscountFactors(*d.CBA.Discount, *d.CBA.Horizon),
		targetAt: map[int]observationRow{}, comparison: map[string]map[int]observationRow{}, popAt: map[int]observationRow{},
		done: map[string]bool{}, named: map[string]bool{}, used: map[[2]string]observationRow{}}
	e.exp, _ = savings.MinorUnits(rep.Currency)
	// The runs reach the horizon; the last one on to the end of its rate,
	// so that a Green Book rate is named by the years it applies to.
	for k := 1; k <= savings.MaxHorizon; k++ {
		r := d.CBA.Discount.RateOf(k)
		if n := len(e.runs); n > 0 && e.runs[n-1].rate.Cmp(r) == 0 {
			e.runs[n-1].last = k
			if !d.CBA.Discount.GreenBook && k >= *d.CBA.Horizon {
				break // a flat rate: one run, named cba.discount
			}
			continue
		}
		if k > *d.CBA.Horizon {
			break
		}
		e.runs = append(e.runs, rateRun{first: k, last: k, rate: r})
	}
	if rep.Inputs.PreFrom != nil {
		e.preFrom = *rep.Inputs.PreFrom
	}
	finite := func(rows []observationRow, indicator string, keep func(y int) bool) map[int]observationRow {
		out := make(map[int]observationRow, len(rows))
		for _, r := range rows {
			y := calendarYear(r)
			if math.IsNaN(r.Value) || math.IsInf(r.Value, 0) || !keep(y) {
				continue
			}
			r.Indicator, r.Grain = indicator, "year"
			out[y] = r
		}
		return out
	}
	fromPre := func(y int) bool { return y >= e.preFrom }
	e.targetAt = finite(rows.target, d.Indicator, fromPre)
	for _, r := range rows.target {
		if r, ok := e.targetAt[calendarYear(r)]; ok {
			e.target = append(e.target, r)
		}
	}
	for geo, rs := range rows.comparison {
		e.comparison[geo] = finite(rs, d.Indicator, fromPre)
	}
	if d.Population != nil {
		e.popCode = d.Population.Indicator
	}
	e.popAt = finite(rows.population, e.popCode, func(int) bool { return true })
	return e
}

func calendarYear(r observationRow) int { return time.Unix(r.PeriodStart, 0).UTC().Year() }

// figurePath is where figure fig of year t (-1: a total) is in the report.
func figurePath(fig string, t int) string {
	if t < 0 {
		return "totals." + fig
	}
	return fmt.Sprintf("years[%d].%s", t, fig)
}

// label names figure fig of year t in a formula: benefit[3] (2015).
func (e *savingsExplainer) label(fig string, t int) string {
	return fmt.Sprintf("%s[%d] (%d)", fig, t, e.rep.Years[t].CalendarYear)
}

func (e *savingsExplainer) unitOf(fig string) string {
	switch fig {
	case "observed", "counterfactual", "counterfactual_low", "counterfactual_high":
		return e.rep.Inputs.Unit
	case "avoided", "avoided_low", "avoided_high":
		return "cases"
	case "discount_factor", "roi", "roi_low", "roi_high", "net_roi", "sroi_ratio":
		return ""
	case "payback_years":
		return "years"
	}
	return e.rep.Currency
}

// value is figure fig of year t as the report holds it, for encoding/json.
func (e *savingsExplainer) value(fig string, t int) any {
	if t < 0 {
		tot := e.rep.Totals
		switch fig {
		case "pv_benefits":
			return tot.PVBenefits
		case "pv_benefits_low":
			return tot.PVBenefitsLow
		case "pv_benefits_high":
			return tot.PVBenefitsHigh
		case "pv_costs":
			return tot.PVCosts
		case "npv":
			return tot.NPV
		case "npv_low":
			return tot.NPVLow
		case "npv_high":
			return tot.NPVHigh
		case "roi":
			return tot.ROI
		case "roi_low":
			return tot.ROILow
		case "roi_high":
			return tot.ROIHigh
		case "net_roi":
			return tot.NetROI
		case "payback_years":
			return tot.PaybackYears
		case "sroi_ratio":
			return tot.SROIRatio
		}
		return nil
	}
	y := e.rep.Years[t]
	switch fig {
	case "observed":
		return y.Observed
	case "counterfactual":
		return y.Counterfactual
	case "counterfactual_low":
		return y.CounterfactualLow
	case "counterfactual_high":
		return y.CounterfactualHigh
	case "avoided":
		return y.Avoided
	case "avoided_low":
		return y.AvoidedLow
	case "avoided_high":
		return y.AvoidedHigh
	case "benefit":
		return y.Benefit
	case "cost":
		return y.Cost
	case "discount_factor":
		return y.DiscountFactor
	case "pv_benefit":
		return y.PVBenefit
	case "pv_cost":
		return y.PVCost
	case "cumulative_net_pv":
		return y.CumulativeNetPV
	}
	return nil
}

// shown is figure fig of year t as the report writes it.
func (e *savingsExplainer) shown(fig string, t int) string {
	b, err := json.Marshal(e.value(fig, t))
	if err != nil {
		return "?"
	}
	return string(b)
}

// need writes the step of figure fig of year t, after the steps it needs,
// unless it is written already, and names the figure as an input.
func (e *savingsExplainer) need(fig string, t int) string {
	path := figurePath(fig, t)
	shown := e.shown(fig, t)
	e.input(path, json.RawMessage(shown), FromReport)
	e.step(path, func() string { return e.formula(fig, t) })
	return shown
}

// step appends the step key writes, once, after the steps write needs.
func (e *savingsExplainer) step(key string, write func() string) {
	if e.done[key] {
		return
	}
	e.done[key] = true
	e.steps = append(e.steps, write())
}

// input names a number the formulas substitute, once.
func (e *savingsExplainer) input(name string, v json.RawMessage, from string) {
	if e.named[name] {
		return
	}
	e.named[name] = true
	e.inputs = append(e.inputs, SavingsInput{Name: name, Value: v, From: from})
}

// sortedInputs are the inputs, the document's and the data's first, then
// the report's figures, each kind in the order the formulas use them.
func (e *savingsExplainer) sortedInputs() []SavingsInput {
	rank := map[string]int{FromInitiative: 0, FromDefault: 0, FromCatalogue: 1, FromRequest: 1, FromData: 2, FromReport: 3}
	out := slices.Clone(e.inputs)
	slices.SortStableFunc(out, func(a, b SavingsInput) int { return cmp.Compare(rank[a.From], rank[b.From]) })
	if out == nil {
		out = []SavingsInput{}
	}
	return out
}

// param names a number of the document as used, given or defaulted.
func (e *savingsExplainer) param(name string, n savings.Num, given bool) string {
	from := FromDefault
	if given {
		from = FromInitiative
	}
	e.input(name, rawNum(n), from)
	return n.String()
}

// cba names a cost-benefit parameter (cba.<name>) as used.
func (e *savingsExplainer) cba(name string) string {
	var used, given *savings.Num
	c, g := e.d.CBA, e.in.CBA
	switch name {
	case "deadweight":
		used, given = c.Deadweight, g.Deadweight
	case "attribution":
		used, given = c.Attribution, g.Attribution
	case "displacement":
		used, given = c.Displacement, g.Displacement
	case "ob_benefits":
		used, given = c.OBBenefits, g.OBBenefits
	case "ob_costs":
		used, given = c.OBCosts, g.OBCosts
	case "drop_off":
		used, given = c.DropOff, g.DropOff
	}
	return e.param("inputs.cba."+name, *used, given != nil)
}

// cbaInt names an integer cost-benefit parameter (lag, persistence).
func (e *savingsExplainer) cbaInt(name string) int {
	var used, given *int
	switch name {
	case "lag":
		used, given = e.d.CBA.Lag, e.in.CBA.Lag
	case "persistence":
		used, given = e.d.CBA.Persistence, e.in.CBA.Persistence
	}
	from := FromDefault
	if given != nil {
		from = FromInitiative
	}
	e.input("inputs.cba."+name, rawInt(*used), from)
	return *used
}

// observe lists row among the observations, under key (a place, or
// "population").
func (e *savingsExplainer) observe(key string, row observationRow) {
	e.used[[2]string{key, strconv.FormatInt(row.PeriodStart, 10)}] = row
}

// observations are the rows used: the target's, then each comparison
// place's in the document's order, then the population's, each by period.
func (e *savingsExplainer) observations() []ExplainedObservation {
	order := map[string]int{e.d.Geo: 0}
	for i, g := range e.d.ComparisonGeos {
		order[g] = i + 1
	}
	order["population"] = len(e.d.ComparisonGeos) + 1
	keys := make([][2]string, 0, len(e.used))
	for k := range e.used {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]string) int {
		if c := cmp.Compare(order[a[0]], order[b[0]]); c != 0 {
			return c
		}
		return cmp.Compare(e.used[a].PeriodStart, e.used[b].PeriodStart)
	})
	out := make([]ExplainedObservation, 0, len(keys))
	for _, k := range keys {
		out = append(out, explainedObservation(e.used[k]))
	}
	return out
}

// formula is the formula of figure fig of year t (-1: a total), with its
// inputs substituted, writing the steps it needs first.
func (e *savingsExplainer) formula(fig string, t int) string {
	switch fig {
	case "observed":
		return e.observed(t)
	case "counterfactual":
		return e.counterfactual(t)
	case "counterfactual_low", "counterfactual_high":
		return e.counterfactualBound(fig, t)
	case "avoided":
		return e.avoided(t)
	case "avoided_low", "avoided_high":
		return e.avoidedBound(fig, t)
	case "benefit":
		return e.benefit(t)
	case "cost":
		return e.cost(t)
	case "discount_factor":
		return e.discountFactor(t)
	case "pv_benefit", "pv_cost":
		of := strings.TrimPrefix(fig, "pv_")
		return fmt.Sprintf("%s = %s[%d] × discount_factor[%d] = %s × %s = %s %s", e.label(fig, t), of, t, t,
			paren(e.need(of, t)), e.need("discount_factor", t), e.shown(fig, t), e.rep.Currency)
	case "cumulative_net_pv":
		b, c := e.need("pv_benefit", t), e.need("pv_cost", t)
		if t == 0 {
			return fmt.Sprintf("%s = pv_benefit[0] − pv_cost[0] = %s − %s = %s %s", e.label(fig, t), b, paren(c), e.shown(fig, t), e.rep.Currency)
		}
		prev := e.need(fig, t-1)
		return fmt.Sprintf("%s = cumulative_net_pv[%d] + pv_benefit[%d] − pv_cost[%d] = %s + %s − %s = %s %s (Σ of pv_benefit − pv_cost over years 0 to %d)",
			e.label(fig, t), t-1, t, t, prev, paren(b), paren(c), e.shown(fig, t), e.rep.Currency, t)
	case "pv_benefits", "pv_costs":
		of := strings.TrimSuffix(fig, "s")
		terms := make([]string, len(e.rep.Years))
		for k := range e.rep.Years {
			terms[k] = paren(e.need(of, k))
		}
		return fmt.Sprintf("%s = Σ %s[t], t = 0 … %d = %s = %s %s", fig, of, len(terms)-1, sumOf(terms), e.shown(fig, -1), e.rep.Currency)
	case "pv_benefits_low", "pv_benefits_high":
		return e.pvBenefitsBound(fig)
	case "npv":
		return fmt.Sprintf("npv = pv_benefits − pv_costs = %s − %s = %s %s", e.need("pv_benefits", -1), paren(e.need("pv_costs", -1)),
			e.shown(fig, -1), e.rep.Currency)
	case "npv_low", "npv_high":
		end := strings.TrimPrefix(fig, "npv_")
		if e.rep.Totals.NPVLow == nil {
			return fig + ": null, as some year with avoided cases has no interval (see warnings)"
		}
		return fmt.Sprintf("%s = pv_benefits_%s − pv_costs = %s − %s = %s %s (costs unchanged)", fig, end, e.need("pv_benefits_"+end, -1),
			paren(e.need("pv_costs", -1)), e.shown(fig, -1), e.rep.Currency)
	case "roi_low", "roi_high":
		end := strings.TrimPrefix(fig, "roi_")
		if e.rep.Totals.ROILow == nil {
			return fig + ": null, as PV costs are 0 or some year with avoided cases has no interval"
		}
		return fmt.Sprintf("%s = pv_benefits_%s / pv_costs = %s / %s = %s", fig, end, e.need("pv_benefits_"+end, -1),
			paren(e.need("pv_costs", -1)), e.shown(fig, -1))
	case "roi":
		b, c := e.need("pv_benefits", -1), e.need("pv_costs", -1)
		if e.rep.Totals.ROI == nil {
			return fmt.Sprintf("roi = pv_benefits / pv_costs = %s / %s: null, as PV costs are 0", b, c)
		}
		return fmt.Sprintf("roi = pv_benefits / pv_costs = %s / %s = %s", b, paren(c), e.shown(fig, -1))
	case "net_roi":
		roi := e.need("roi", -1)
		if e.rep.Totals.NetROI == nil {
			return "net_roi = roi − 1: null, as roi is null (PV costs are 0)"
		}
		return fmt.Sprintf("net_roi = roi − 1 = %s − 1 = %s", roi, e.shown(fig, -1))
	case "sroi_ratio":
		return e.sroiRatio()
	case "payback_years":
		return e.payback()
	}
	return fig + ": not explained"
}

// preRows are the target's rows before start_year (from pre_from), those
// the its line is fitted through.
func (e *savingsExplainer) preRows() []observationRow {
	var out []observationRow
	for _, r := range e.target {
		if calendarYear(r) < e.d.StartYear {
			out = append(out, r)
		}
	}
	return out
}

func (e *savingsExplainer) startAndPreFrom() {
	e.input("inputs.start_year", rawInt(e.d.StartYear), FromInitiative)
	if e.rep.Inputs.PreFrom != nil {
		e.input("inputs.pre_from", rawInt(*e.rep.Inputs.PreFrom), FromRequest)
	}
}

// itsFit is the step of the its line through the pre-period.
func (e *savingsExplainer) itsFit() string {
	l := e.rep.Inputs.ITSFit
	e.startAndPreFrom()
	pre := e.preRows()
	values := make([]string, len(pre))
	for i, r := range pre {
		e.observe(e.d.Geo, r)
		values[i] = fnum(r.Value)
	}
	e.input("inputs.its_fit.n", rawInt(l.N), FromData)
	e.input("inputs.its_fit.x_mean", rawFloat(l.XMean), FromData)
	e.input("inputs.its_fit.y_mean", rawFloat(l.YMean), FromData)
	e.input("inputs.its_fit.slope", rawFloat(l.Slope), FromData)
	return fmt.Sprintf("its_fit: the least-squares line through the n = %d values of %s in %s from %d to %d, before start_year %d (the target's observations): "+
		"x_mean = Σ year / n = %s; y_mean = Σ value / n = (%s) / %d = %s; slope = Σ (year − x_mean)(value − y_mean) / Σ (year − x_mean)² = %s",
		l.N, e.d.Indicator, e.d.Geo, l.FirstYear, l.LastYear, e.d.StartYear, fnum(l.XMean), sumOf(values), l.N, fnum(l.YMean), fnum(l.Slope))
}

// didPlace is the step of comparison place i of method did.
func (e *savingsExplainer) didPlace(i int) string {
	p := e.rep.Inputs.DiDPlaces[i]
	e.startAndPreFrom()
	var tv, pv []string
	for _, y := range p.PreYears {
		if r, ok := e.targetAt[y]; ok {
			e.observe(e.d.Geo, r)
			tv = append(tv, fnum(r.Value))
		}
		if r, ok := e.comparison[p.Geo][y]; ok {
			e.observe(p.Geo, r)
			pv = append(pv, fnum(r.Value))
		}
	}
	at := fmt.Sprintf("inputs.did_places[%d]", i)
	e.input(at+".target_mean", rawFloat(p.TargetMean), FromData)
	e.input(at+".place_mean", rawFloat(p.PlaceMean), FromData)
	return fmt.Sprintf("did_places[%d]: %s paired with %s over the %d years before start_year %d in which both have a value (%s): "+
		"target_mean = (%s) / %d = %s %s; place_mean = (%s) / %d = %s %s",
		i, p.Geo, e.d.Geo, len(p.PreYears), e.d.StartYear, yearSpan(p.PreYears),
		sumOf(tv), len(tv), fnum(p.TargetMean), e.rep.Inputs.Unit, sumOf(pv), len(pv), fnum(p.PlaceMean), e.rep.Inputs.Unit)
}

func (e *savingsExplainer) observed(t int) string {
	lb, cy := e.label("observed", t), e.rep.Years[t].CalendarYear
	switch {
	case e.rep.Method == savings.MethodModelled:
		return lb + ": null, as method modelled reads no data"
	case e.rep.Years[t].Observed != nil:
		r := e.targetAt[cy]
		e.observe(e.d.Geo, r)
		return fmt.Sprintf("%s = the stored value of %s in %s for %d = %s %s", lb, e.d.Indicator, e.d.Geo, cy, e.shown("observed", t), e.rep.Inputs.Unit)
	case e.rep.Years[t].Counterfactual == nil:
		return fmt.Sprintf("%s: null, as the report shows an observed value only beside a counterfactual, and %d has none", lb, cy)
	}
	return fmt.Sprintf("%s: null, as no value of %s in %s for %d is stored", lb, e.d.Indicator, e.d.Geo, cy)
}

// didAt is, for method did in year y, each comparison place with a value
// (index into DiDPlaces) and the counterfactual it implies.
func (e *savingsExplainer) didAt(y int) (places []int, cfs []float64) {
	for i, p := range e.rep.Inputs.DiDPlaces {
		if r, ok := e.comparison[p.Geo][y]; ok {
			places = append(places, i)
			cfs = append(cfs, p.TargetMean+(r.Value-p.PlaceMean))
		}
	}
	return places, cfs
}

func (e *savingsExplainer) counterfactual(t int) string {
	lb, cy := e.label("counterfactual", t), e.rep.Years[t].CalendarYear
	unit := e.rep.Inputs.Unit
	switch e.rep.Method {
	case savings.MethodModelled:
		return lb + ": null, as method modelled has no counterfactual"
	case savings.MethodITS:
		e.step("inputs.its_fit", e.itsFit)
		l := e.rep.Inputs.ITSFit
		if e.rep.Years[t].Counterfactual == nil {
			return lb + ": null, as the line's value is not a finite number"
		}
		return fmt.Sprintf("%s = y_mean + slope × (%d − x_mean) = %s + %s × (%d − %s) = %s %s", lb, cy,
			fnum(l.YMean), paren(fnum(l.Slope)), cy, fnum(l.XMean), e.shown("counterfactual", t), unit)
	case savings.MethodSynth:
		return e.synthCounterfactual(t)
	}
	places, cfs := e.didAt(cy)
	if len(places) == 0 {
		return fmt.Sprintf("%s: null, as no comparison place has a value of %s for %d", lb, e.d.Indicator, cy)
	}
	terms := make([]string, len(places))
	for j, i := range places {
		e.step(fmt.Sprintf("inputs.did_places[%d]", i), func() string { return e.didPlace(i) })
		p := e.rep.Inputs.DiDPlaces[i]
		r := e.comparison[p.Geo][cy]
		e.observe(p.Geo, r)
		name := fmt.Sprintf("%s(%d)", p.Geo, cy)
		e.input(name, rawFloat(r.Value), FromData)
		terms[j] = fmt.Sprintf("(%s + (%s − %s))", fnum(p.TargetMean), paren(fnum(r.Value)), paren(fnum(p.PlaceMean)))
		e.input(fmt.Sprintf("cf_%s(%d)", p.Geo, cy), rawFloat(cfs[j]), FromData)
	}
	return fmt.Sprintf("%s = mean over the k = %d comparison places with a value for %d of cf_c = target_mean_c + (value_c(%d) − place_mean_c) = (%s) / %d = %s %s",
		lb, len(places), cy, cy, strings.Join(terms, " + "), len(places), e.shown("counterfactual", t), unit)
}

func (e *savingsExplainer) counterfactualBound(fig string, t int) string {
	lb, cy := e.label(fig, t), e.rep.Years[t].CalendarYear
	op := "−"
	if fig == "counterfactual_high" {
		op = "+"
	}
	if e.rep.Method == savings.MethodModelled {
		return lb + ": null, as method modelled has no counterfactual"
	}
	cf := e.need("counterfactual", t)
	if e.rep.Method == savings.MethodSynth {
		return e.synthBound(fig, t, cf)
	}
	if e.value(fig, t) == (*float64)(nil) {
		if e.rep.Method == savings.MethodDiD {
			return fmt.Sprintf("%s: null, as fewer than 2 comparison places have a value for %d: there is no spread to estimate an interval from", lb, cy)
		}
		return lb + ": null, as the line has no prediction interval (fewer than 3 points, or all in one year)"
	}
	unit := e.rep.Inputs.Unit
	if e.rep.Method == savings.MethodITS {
		l := e.rep.Inputs.ITSFit
		e.input("inputs.its_fit.residual_sd", rawFloat(l.ResidualSD), FromData)
		e.input("inputs.its_fit.t_quantile", rawFloat(l.T), FromData)
		e.input("its_fit.sxx", rawFloat(l.Sxx), FromData)
		return fmt.Sprintf("%s = counterfactual %s t_quantile × residual_sd × √(1 + 1/n + (%d − x_mean)² / sxx) = %s %s %s × %s × √(1 + 1/%d + (%d − %s)² / %s) = %s %s; "+
			"t_quantile is Student's t 0.975-quantile with n − 2 degrees of freedom, residual_sd = √(Σ (value − line)² / (n − 2)) and sxx = Σ (year − x_mean)² over the pre-period",
			lb, op, cy, cf, op, fnum(l.T), fnum(l.ResidualSD), l.N, cy, fnum(l.XMean), fnum(l.Sxx), e.shown(fig, t), unit)
	}
	_, cfs := e.didAt(cy)
	k := len(cfs)
	var mean float64
	for _, c := range cfs {
		mean += c
	}
	mean /= float64(k)
	var ss float64
	for _, c := range cfs {
		ss += (c - mean) * (c - mean)
	}
	sd := math.Sqrt(ss / float64(k-1))
	tq := savings.StudentTQuantile(0.975, k-1)
	e.input(fmt.Sprintf("did_sd(%d)", cy), rawFloat(sd), FromData)
	e.input(fmt.Sprintf("did_t_quantile(%d)", cy), rawFloat(tq), FromData)
	return fmt.Sprintf("%s = counterfactual %s t × sd / √k = %s %s %s × %s / √%d = %s %s; sd = √(Σ (cf_c − counterfactual)² / (k − 1)) over the k = %d places' cf_c, "+
		"t is Student's t 0.975-quantile with k − 1 = %d degrees of freedom",
		lb, op, cf, op, fnum(tq), fnum(sd), k, e.shown(fig, t), unit, k, k-1)
}

// population names the population of calendar year y as the report used
// it, listing its observation.
func (e *savingsExplainer) population(y int) string {
	p := e.d.Population
	if p != nil && p.Value != nil {
		return e.param("inputs.population.value", *p.Value, true)
	}
	from := y
	for _, f := range e.rep.Inputs.PopulationFilled {
		if f.Year == y {
			from = f.FromYear
		}
	}
	r, ok := e.popAt[from]
	if !ok {
		return "?"
	}
	e.observe("population", r)
	v := r.Value
	if !(v > 0 && v < math.MaxFloat64) {
		v = 0 // as the report counts it
	}
	e.input(fmt.Sprintf("population(%d)", y), rawFloat(v), FromData)
	return fnum(v)
}

// populationNote says where population(y) came from.
func (e *savingsExplainer) populationNote(y int) string {
	p := e.d.Population
	if p != nil && p.Value != nil {
		return "population = population.value"
	}
	for _, f := range e.rep.Inputs.PopulationFilled {
		if f.Year == y {
			return fmt.Sprintf("population(%d) = %s of %s in %d, the nearest year held (inputs.population_filled)", y, e.popCode, e.d.Geo, f.FromYear)
		}
	}
	return fmt.Sprintf("population(%d) = the stored value of %s in %s for %d", y, e.popCode, e.d.Geo, y)
}

// scaleAndSign names the factors that turn the indicator into cases.
func (e *savingsExplainer) scaleAndSign() (scale, sign string) {
	in := e.rep.Inputs
	from := FromInitiative
	if in.ScaleFrom != "initiative" {
		from = FromCatalogue
	}
	e.input("inputs.scale", rawNum(*in.Scale), from)
	e.input("inputs.sign", rawInt(in.Sign), FromCatalogue)
	return in.Scale.String(), paren(strconv.Itoa(in.Sign))
}

// avoidedNull says why avoided cases of year t are null (its, did), or ""
// when they are not.
func (e *savingsExplainer) avoidedNull(t int) string {
	y := e.rep.Years[t]
	if first := 1 + e.cbaInt("lag"); t < first {
		return fmt.Sprintf("null, as cases are credited from year 1 + lag = %d on", first)
	}
	if y.Counterfactual == nil {
		e.need("counterfactual", t)
		return fmt.Sprintf("null, as there is no counterfactual for %d", y.CalendarYear)
	}
	if y.Observed == nil {
		e.need("observed", t)
		return fmt.Sprintf("null, as there is no observed value for %d", y.CalendarYear)
	}
	if y.Avoided == nil {
		return "null, as the product is not a finite number"
	}
	return ""
}

func (e *savingsExplainer) avoided(t int) string {
	lb := e.label("avoided", t)
	if e.rep.Method == savings.MethodModelled {
		return e.modelledAvoided(t)
	}
	if why := e.avoidedNull(t); why != "" {
		return lb + ": " + why
	}
	cy := e.rep.Years[t].CalendarYear
	cf, obs := e.need("counterfactual", t), e.need("observed", t)
	scale, sign := e.scaleAndSign()
	pop := e.population(cy)
	ob, disp, attr := e.cba("ob_benefits"), e.cba("displacement"), e.cba("attribution")
	return fmt.Sprintf("%s = (counterfactual − observed) × sign × scale × population × (1 − ob_benefits) × (1 − displacement) × attribution = "+
		"(%s − %s) × %s × %s × %s × (1 − %s) × (1 − %s) × %s = %s cases; %s",
		lb, cf, paren(obs), sign, scale, pop, ob, disp, attr, e.shown("avoided", t), e.populationNote(cy))
}

func (e *savingsExplainer) modelledAvoided(t int) string {
	lb := e.label("avoided", t)
	lag, persistence := e.cbaInt("lag"), e.cbaInt("persistence")
	first := 1 + lag
	if t < first || t >= first+persistence {
		return fmt.Sprintf("%s: null, as modelled benefits run from year 1 + lag = %d for persistence = %d years", lb, first, persistence)
	}
	c, g := e.d.Cohort, e.in.Cohort
	size := e.param("inputs.cohort.size", c.Size, g != nil)
	eng := e.param("inputs.cohort.engagement", c.Engagement, g != nil)
	succ := e.param("inputs.cohort.success", c.Success, g != nil)
	dw, ob, disp, attr, drop := e.cba("deadweight"), e.cba("ob_benefits"), e.cba("displacement"), e.cba("attribution"), e.cba("drop_off")
	j := t - first
	return fmt.Sprintf("%s = cohort.size × cohort.engagement × cohort.success × (1 − deadweight) × (1 − ob_benefits) × (1 − displacement) × attribution × (1 − drop_off)^j = "+
		"%s × %s × %s × (1 − %s) × (1 − %s) × (1 − %s) × %s × (1 − %s)^%d = %s cases; j = year − (1 + lag) = %d",
		lb, size, eng, succ, dw, ob, disp, attr, drop, j, e.shown("avoided", t), j)
}

func (e *savingsExplainer) avoidedBound(fig string, t int) string {
	lb, cy := e.label(fig, t), e.rep.Years[t].CalendarYear
	if e.rep.Method == savings.MethodModelled {
		return lb + ": null, as method modelled has no interval"
	}
	if why := e.avoidedNull(t); why != "" {
		return lb + ": " + why
	}
	if e.value(fig, t) == (*float64)(nil) {
		bound := "counterfactual_low"
		if fig == "avoided_high" {
			bound = "counterfactual_high"
		}
		e.need(bound, t)
		return fmt.Sprintf("%s: null, as the counterfactual for %d has no interval; the totals count avoided[%d] at both ends", lb, cy, t)
	}
	// Lower values better (sign +1): the low end comes from the low
	// counterfactual; higher better (sign −1): from the high one.
	end := "counterfactual_low"
	if (fig == "avoided_low") != (e.rep.Inputs.Sign > 0) {
		end = "counterfactual_high"
	}
	cf, obs := e.need(end, t), e.need("observed", t)
	scale, sign := e.scaleAndSign()
	pop := e.population(cy)
	ob, disp, attr := e.cba("ob_benefits"), e.cba("displacement"), e.cba("attribution")
	return fmt.Sprintf("%s = (%s − observed) × sign × scale × population × (1 − ob_benefits) × (1 − displacement) × attribution = "+
		"(%s − %s) × %s × %s × %s × (1 − %s) × (1 − %s) × %s = %s cases; with sign %s the %s end of the cases comes from %s; %s",
		lb, end, cf, paren(obs), sign, scale, pop, ob, disp, attr, e.shown(fig, t), strings.Trim(sign, "()"), strings.TrimPrefix(fig, "avoided_"), end, e.populationNote(cy))
}

// unitCosts names the unit costs and returns them as a sum to write.
func (e *savingsExplainer) unitCosts() string {
	terms := make([]string, len(e.d.UnitCosts))
	for i, u := range e.d.UnitCosts {
		terms[i] = e.param(fmt.Sprintf("inputs.unit_costs[%d].amount", i), u.Amount, true)
	}
	return "(" + strings.Join(terms, " + ") + ")"
}

func (e *savingsExplainer) benefit(t int) string {
	lb := e.label("benefit", t)
	av := e.need("avoided", t)
	if e.rep.Years[t].Avoided == nil {
		return fmt.Sprintf("%s = 0 %s, as avoided[%d] is null", lb, e.rep.Currency, t)
	}
	return fmt.Sprintf("%s = avoided × Σ unit_costs.amount = %s × %s = %s %s", lb, av, e.unitCosts(), e.shown("benefit", t), e.rep.Currency)
}

// costsOf names the document's costs of calendar year y.
func (e *savingsExplainer) costsOf(y int) []string {
	var terms []string
	for i, c := range e.d.Costs {
		if c.Year == y {
			e.input(fmt.Sprintf("inputs.costs[%d].year", i), rawInt(c.Year), FromInitiative)
			terms = append(terms, e.param(fmt.Sprintf("inputs.costs[%d].amount", i), c.Amount, true))
		}
	}
	return terms
}

func (e *savingsExplainer) cost(t int) string {
	lb, cy := e.label("cost", t), e.rep.Years[t].CalendarYear
	terms := e.costsOf(cy)
	if len(terms) == 0 {
		return fmt.Sprintf("%s = 0 %s, as the document has no cost in %d", lb, e.rep.Currency, cy)
	}
	return fmt.Sprintf("%s = Σ costs of %d × (1 + ob_costs) = (%s) × (1 + %s) = %s %s", lb, cy,
		strings.Join(terms, " + "), e.cba("ob_costs"), e.shown("cost", t), e.rep.Currency)
}

func (e *savingsExplainer) discountFactor(t int) string {
	lb := e.label("discount_factor", t)
	disc := *e.d.CBA.Discount
	given := e.in.CBA.Discount != nil
	from := FromDefault
	if given {
		from = FromInitiative
	}
	if t == 0 {
		return lb + " = 1: year 0 is not discounted"
	}
	// Runs of years with one rate: (1 + r)^n each.
	var parts []string
	for _, run := range e.runs {
		if run.first > t {
			break
		}
		rate := savings.NumOfRat(run.rate)
		name := "inputs.cba.discount"
		if disc.GreenBook {
			name = fmt.Sprintf("green_book_rate(%d-%d)", run.first, run.last)
		}
		e.input(name, rawNum(rate), from)
		parts = append(parts, fmt.Sprintf("(1 + %s)^%d", rate, min(run.last, t)-run.first+1))
	}
	how := "the flat rate cba.discount"
	if disc.GreenBook {
		how = "the Green Book's declining rates (cba.discount green_book)"
	}
	return fmt.Sprintf("%s = 1 / (%s) = %s; DF(t) = DF(t − 1) / (1 + r(t)) with %s", lb, strings.Join(parts, " × "), e.shown("discount_factor", t), how)
}

// rateRun is a run of years with one discount rate.
type rateRun struct {
	first, last int
	rate        *big.Rat
}

func (e *savingsExplainer) pvBenefitsBound(fig string) string {
	if e.value(fig, -1) == (*savings.Money)(nil) {
		return fig + ": null, as method modelled has no interval"
	}
	end := strings.TrimPrefix(fig, "pv_benefits_")
	terms := []string{}
	for t, y := range e.rep.Years {
		var cases string
		switch {
		case y.Avoided == nil:
			continue
		case e.value("avoided_"+end, t) != (*float64)(nil):
			cases = e.need("avoided_"+end, t)
		default:
			cases = e.need("avoided", t) // no interval that year: the point value at both ends
		}
		terms = append(terms, fmt.Sprintf("%s × %s", paren(cases), e.need("discount_factor", t)))
	}
	return fmt.Sprintf("%s = Σ avoided_%s[t] × discount_factor[t] × Σ unit_costs.amount = (%s) × %s = %s %s; "+
		"a year whose counterfactual has no interval counts avoided[t] at both ends, a year without avoided cases not at all",
		fig, end, sumOf(terms), e.unitCosts(), e.shown(fig, -1), e.rep.Currency)
}

func (e *savingsExplainer) sroiRatio() string {
	pvb := e.need("pv_benefits", -1)
	pvInputs := new(big.Rat)
	var terms []string
	for t, y := range e.rep.Years {
		costs := e.costsOf(y.CalendarYear)
		if len(costs) == 0 {
			continue
		}
		raw := new(big.Rat)
		for _, c := range e.d.Costs {
			if c.Year == y.CalendarYear {
				raw.Add(raw, c.Amount.Rat())
			}
		}
		pvInputs.Add(pvInputs, raw.Mul(raw, e.dfs[t]))
		terms = append(terms, fmt.Sprintf("(%s) × %s", strings.Join(costs, " + "), e.need("discount_factor", t)))
	}
	inputs := savings.NewMoney(pvInputs, e.exp)
	e.input("pv_inputs", json.RawMessage(inputs.String()), FromData)
	if e.rep.Totals.SROIRatio == nil {
		return fmt.Sprintf("sroi_ratio = pv_benefits / pv_inputs: null, as pv_inputs (the costs at cost, discounted) = %s is 0", sumOf(terms))
	}
	return fmt.Sprintf("sroi_ratio = pv_benefits / pv_inputs = %s / %s = %s; pv_inputs = Σ costs of year t × discount_factor[t], without optimism bias = %s = %s %s",
		pvb, inputs, e.shown("sroi_ratio", -1), sumOf(terms), inputs, e.rep.Currency)
}

// payback walks the cumulative PV as savings.Payback does and says where
// it first covers the costs.
func (e *savingsExplainer) payback() string {
	cumB, cumC := new(big.Rat), new(big.Rat)
	firstCost := -1
	for t, y := range e.rep.Years {
		prevNet := new(big.Rat).Sub(cumB, cumC)
		pvb, pvc := y.PVBenefit.Rat(), y.PVCost.Rat()
		cumB.Add(cumB, pvb)
		cumC.Add(cumC, pvc)
		e.need("cumulative_net_pv", t)
		if firstCost < 0 && cumC.Sign() > 0 {
			firstCost = t
		}
		if cumC.Sign() <= 0 || cumB.Cmp(cumC) < 0 {
			continue
		}
		if t == 0 || prevNet.Sign() >= 0 || cumC.Cmp(pvc) == 0 {
			return fmt.Sprintf("payback_years = %s: year %d is the first in which the cumulative PV benefits reach the cumulative PV costs (cumulative_net_pv[%d] = %s ≥ 0), "+
				"and no shortfall is carried into it, as the costs start in year %d: nothing to interpolate",
				e.shown("payback_years", -1), t, t, e.shown("cumulative_net_pv", t), firstCost)
		}
		shortfall := savings.NewMoney(new(big.Rat).Neg(prevNet), e.exp)
		return fmt.Sprintf("payback_years = (t − 1) + shortfall / pv_benefit[t] = (%d − 1) + %s / %s = %s years; t = %d is the first year in which the cumulative PV benefits reach the cumulative PV costs "+
			"(cumulative_net_pv[%d] = %s ≥ 0), and shortfall = −cumulative_net_pv[%d] = %s; the years before the first cost (year %d) are not counted",
			t, shortfall, e.need("pv_benefit", t), e.shown("payback_years", -1), t, t, e.shown("cumulative_net_pv", t), t-1, shortfall, firstCost)
	}
	if cumC.Sign() <= 0 {
		return "payback_years: null, as there are no costs to pay back"
	}
	last := len(e.rep.Years) - 1
	return fmt.Sprintf("payback_years: null, as the cumulative PV benefits never reach the cumulative PV costs within the horizon (cumulative_net_pv[%d] = %s)",
		last, e.shown("cumulative_net_pv", last))
}

// sumOf writes terms as a sum: up to 24 of them written out, beyond that
// a reference to the inputs.
func sumOf(terms []string) string {
	switch {
	case len(terms) == 0:
		return "0"
	case len(terms) > 24:
		return fmt.Sprintf("Σ of the %d terms whose values are listed in inputs", len(terms))
	}
	return strings.Join(terms, " + ")
}

// yearSpan writes sorted years as "1990-2011" or "1990-2011, 14 years".
func yearSpan(years []int) string {
	if len(years) == 0 {
		return "none"
	}
	first, last := years[0], years[len(years)-1]
	if len(years) == last-first+1 {
		return fmt.Sprintf("%d-%d", first, last)
	}
	return fmt.Sprintf("%d years from %d to %d", len(years), first, last)
}

// paren puts a negative number in parentheses, to follow an operator.
func paren(n string) string {
	if strings.HasPrefix(n, "-") {
		return "(" + n + ")"
	}
	return n
}

// fnum writes a float in full precision, as the report's JSON does.
func fnum(f float64) string {
	b, err := json.Marshal(f)
	if err != nil {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return string(b)
}

func rawFloat(f float64) json.RawMessage { return json.RawMessage(fnum(f)) }

func rawInt(n int) json.RawMessage { return json.RawMessage(strconv.Itoa(n)) }

func rawNum(n savings.Num) json.RawMessage { return json.RawMessage(n.String()) }
