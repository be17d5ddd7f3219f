package savings

import (
	"errors"
	"fmt"
	"math"
)

// Projection is the least-squares line through the years of a cost-trend
// series it was fitted on, and its value in each year of a report.
type Projection struct {
	Line   Line             `json:"line"`
	Points []ProjectedPoint `json:"points"` // one per report year, recorded years included
}

// ProjectedPoint is the line's value in a year with its 95 % prediction
// interval.
type ProjectedPoint struct {
	Year  int     `json:"year"`
	Value float64 `json:"value"`
	Low   float64 `json:"low"`
	High  float64 `json:"high"`
}

// Project fits a least-squares line through every finite value of series
// and gives its value in each of years, with a 95 % prediction interval
// (as the its counterfactual). It needs at least 3 values
// (*NotEnoughDataError otherwise).
func Project(series map[int]float64, years []int) (Projection, error) {
	ys, values := points(series)
	if len(ys) < minFitPoints {
		return Projection{}, &NotEnoughDataError{What: "years of the cost series to project a trend", Need: minFitPoints, Have: len(ys), Years: ys}
	}
	p := Projection{Line: FitLine(ys, values), Points: make([]ProjectedPoint, len(years))}
	for i, y := range years {
		p.Points[i] = projectedPoint(p.Line, y)
	}
	return p, nil
}

func projectedPoint(l Line, year int) ProjectedPoint {
	v, lo, hi := l.At(year)
	return ProjectedPoint{Year: year, Value: v, Low: lo, High: hi}
}

// Comparison is the answer of GET /v1/compare (docs/savings.md, "Beside
// the cost trend"): a cost indicator's series for a place, its linear
// trend fitted on the years before the initiative (Fit) and projected over
// the report's years, and the initiative's yearly savings beside the
// projected rise in that cost, in money where Conversion allows.
type Comparison struct {
	Initiative    string            `json:"initiative"`
	Method        string            `json:"method"`
	Currency      string            `json:"currency"`
	CostIndicator CostIndicator     `json:"cost_indicator"`
	Series        []SeriesPoint     `json:"series"`
	Fit           Fit               `json:"fit"`
	Projection    Projection        `json:"projection"`
	Conversion    Conversion        `json:"conversion"`
	Years         []ComparisonYear  `json:"years"`
	Provenance    []ProvenanceEntry `json:"provenance"`
}

// Fit says which years of the cost series the trend was fitted on: From to
// To, as the request asked (Rule "request") or by default every year held
// before the start year ("default").
type Fit struct {
	From int    `json:"from"`
	To   int    `json:"to"`
	Rule string `json:"rule"`
}

// CostIndicator names the cost indicator compared with.
type CostIndicator struct {
	Indicator string `json:"indicator"`
	Geo       string `json:"geo"`
	Unit      string `json:"unit"`
}

// SeriesPoint is one observed value.
type SeriesPoint struct {
	Year  int     `json:"year"`
	Value float64 `json:"value"`
}

// Conversion kinds: how a cost indicator's unit becomes money.
const (
	ConvertShareOfGDP = "share_of_gdp" // value / 100 × GDP
	ConvertPerCapita  = "per_capita"   // value × population
	ConvertMoney      = "money"        // value × Scale
	ConvertNone       = "none"         // no series allows it: Reason says which is missing
)

// Nominal is what every converted amount is: no deflator is applied.
const Nominal = "nominal: amounts of each year at that year's prices, no deflator"

// Conversion says how the cost indicator becomes money in the report's
// currency: money(t) = value(t) × Scale × via(t), via the GDP series (a
// share of GDP, Scale 1/100 × the GDP unit's multiplier) or the population
// series (per capita), or value(t) × Scale (an amount of money). Kind none
// gives Reason instead, naming the series that is missing.
type Conversion struct {
	Kind    string  `json:"kind"`
	Formula string  `json:"formula,omitempty"`
	Scale   float64 `json:"scale,omitempty"`
	Via     *Series `json:"-"`
	// ViaIndicator names the series the conversion reads, when it reads one.
	ViaIndicator string `json:"via_indicator,omitempty"`
	Prices       string `json:"prices,omitempty"`
	Reason       string `json:"reason,omitempty"`
}

// factor is money per unit of the cost indicator in year y, false when the
// series the conversion reads has no value then.
func (c Conversion) factor(y int) (float64, bool) {
	switch c.Kind {
	case ConvertMoney:
		return c.Scale, true
	case ConvertShareOfGDP, ConvertPerCapita:
		if c.Via == nil {
			return 0, false
		}
		v, ok := c.Via.Values[y]
		return v * c.Scale, ok && finite(v)
	}
	return 0, false
}

// ComparisonYear lays one year of a report beside the cost trend. Savings
// are the year's benefit and PVSavings its present value, in the report's
// currency; the Cost… values and ProjectedRiseUnit are in the cost
// indicator's unit, ProjectedRiseUnit being the trend's value in the year
// minus its value in the start year. Where the conversion allows, the
// …Money values are the projection in money, ProjectedRise its rise since
// the start year in money, SavingsInCostUnit the savings in the cost's
// unit (percentage points of GDP for a share of GDP) and ShareOffset the
// savings over the projected rise; each is null otherwise, with Note
// saying why in this year (the conversion's reason when there is none).
type ComparisonYear struct {
	Year              int      `json:"year"`
	CalendarYear      int      `json:"calendar_year"`
	Savings           Money    `json:"savings"`
	PVSavings         Money    `json:"pv_savings"`
	CostObserved      *float64 `json:"cost_observed"`
	CostProjected     float64  `json:"cost_projected"`
	CostProjectedLow  float64  `json:"cost_projected_low"`
	CostProjectedHigh float64  `json:"cost_projected_high"`
	ProjectedRiseUnit float64  `json:"projected_rise_unit"`

	CostObservedMoney      *float64 `json:"cost_observed_money"`
	CostProjectedMoney     *float64 `json:"cost_projected_money"`
	CostProjectedMoneyLow  *float64 `json:"cost_projected_money_low"`
	CostProjectedMoneyHigh *float64 `json:"cost_projected_money_high"`
	ProjectedRise          *float64 `json:"projected_rise"`
	SavingsInCostUnit      *float64 `json:"savings_in_cost_unit"`
	ShareOffset            *float64 `json:"share_offset"`
	Note                   string   `json:"note,omitempty"`
}

// CompareOptions are a comparison's choices: the fit window (FitFrom,
// FitTo; 0 for the default, every year before the start year) and the
// conversion to money.
type CompareOptions struct {
	FitFrom, FitTo int
	Conversion     Conversion
}

// Compare lays a report's yearly savings beside the trend of a cost
// indicator in a place: the line through the values of cost in the fit
// window, projected over every year of the report. The handler reads the
// series, chooses the conversion and marshals the result.
func Compare(r Report, cost Series, opt CompareOptions) (Comparison, error) {
	if len(r.Years) == 0 {
		return Comparison{}, fmt.Errorf("compare %s: the report has no years", r.Initiative)
	}
	first := r.Years[0].CalendarYear
	fit := Fit{From: opt.FitFrom, To: opt.FitTo, Rule: "request"}
	if opt.FitFrom == 0 && opt.FitTo == 0 {
		fit.Rule = "default"
	}
	if fit.To == 0 {
		fit.To = first - 1
	}
	if fit.From > fit.To {
		return Comparison{}, inputError(CodeInvalidInitiative, "fit_from", "fit_from %d is after fit_to %d", fit.From, fit.To)
	}
	window := map[int]float64{}
	for y, v := range cost.Values {
		if (fit.From == 0 || y >= fit.From) && y <= fit.To {
			window[y] = v
		}
	}
	years, values := points(cost.Values)
	reportYears := make([]int, len(r.Years))
	for i, ry := range r.Years {
		reportYears[i] = ry.CalendarYear
	}
	proj, err := Project(window, reportYears)
	if err != nil {
		var ne *NotEnoughDataError
		if !errors.As(err, &ne) {
			return Comparison{}, err
		}
		ie := inputError(CodeInsufficientData, "indicator", "compare on %s for %s %s: the trend is fitted on %s, %s",
			cost.Indicator, cost.Geo, ne.Error(), fitSpan(fit), fitWhy(fit))
		ie.cause = ne
		return Comparison{}, ie
	}
	fit.From, fit.To = proj.Line.FirstYear, proj.Line.LastYear
	conv := opt.Conversion
	if conv.Kind == "" {
		conv.Kind = ConvertNone
	}
	if conv.Via != nil {
		conv.ViaIndicator = conv.Via.Indicator
	}
	if conv.Kind != ConvertNone {
		conv.Prices = Nominal
	}
	c := Comparison{
		Initiative: r.Initiative, Method: r.Method, Currency: r.Currency,
		CostIndicator: CostIndicator{Indicator: cost.Indicator, Geo: cost.Geo, Unit: cost.Unit},
		Series:        make([]SeriesPoint, len(years)),
		Fit:           fit,
		Projection:    proj,
		Conversion:    conv,
		Years:         make([]ComparisonYear, len(r.Years)),
		Provenance:    append(append([]ProvenanceEntry{}, r.Provenance...), costProvenance(cost, conv)...),
	}
	for i, y := range years {
		c.Series[i] = SeriesPoint{Year: y, Value: values[i]}
	}
	base := proj.Points[0].Value
	baseFactor, baseOK := conv.factor(first)
	for i, ry := range r.Years {
		p := proj.Points[i]
		cy := ComparisonYear{
			Year: ry.Year, CalendarYear: ry.CalendarYear,
			Savings: ry.Benefit, PVSavings: ry.PVBenefit,
			CostProjected: p.Value, CostProjectedLow: p.Low, CostProjectedHigh: p.High,
			ProjectedRiseUnit: p.Value - base,
		}
		if v, ok := cost.Values[ry.CalendarYear]; ok && finite(v) {
			cy.CostObserved = &v
		}
		c.convertYear(&cy, base*baseFactor, baseOK)
		c.Years[i] = cy
	}
	if !c.finite() {
		return Comparison{}, inputError(CodeInsufficientData, "indicator", "the values of %s for %s are too large to fit a trend", cost.Indicator, cost.Geo)
	}
	return c, nil
}

// convertYear fills the money figures of one year, baseMoney being the
// projected cost in the start year in money (baseOK false when unknown).
func (c *Comparison) convertYear(cy *ComparisonYear, baseMoney float64, baseOK bool) {
	conv := c.Conversion
	if conv.Kind == ConvertNone {
		return
	}
	f, ok := conv.factor(cy.CalendarYear)
	if !ok {
		cy.Note = fmt.Sprintf("%s has no value for %s in %d: no figure in money this year", conv.ViaIndicator, c.CostIndicator.Geo, cy.CalendarYear)
		return
	}
	money := func(v float64) *float64 { m := roundCents(v * f); return &m }
	cy.CostProjectedMoney = money(cy.CostProjected)
	cy.CostProjectedMoneyLow = money(cy.CostProjectedLow)
	cy.CostProjectedMoneyHigh = money(cy.CostProjectedHigh)
	if cy.CostObserved != nil {
		cy.CostObservedMoney = money(*cy.CostObserved)
	}
	savings := cy.Savings.Float64()
	if f != 0 {
		v := savings / f
		cy.SavingsInCostUnit = &v
	}
	if !baseOK {
		cy.Note = fmt.Sprintf("%s has no value for %s in the start year %d: the rise since then is unknown", conv.ViaIndicator, c.CostIndicator.Geo, c.Years[0].CalendarYear)
		return
	}
	rise := roundCents(cy.CostProjected*f - baseMoney)
	cy.ProjectedRise = &rise
	switch {
	case rise > 0:
		v := savings / rise
		cy.ShareOffset = &v
	case cy.Year == 0:
		cy.Note = "the start year: the projected rise is measured from it"
	default:
		cy.Note = fmt.Sprintf("the projected cost does not rise between %d and %d: no share of a rise to offset", c.Years[0].CalendarYear, cy.CalendarYear)
	}
}

// finite reports whether every figure of c is finite.
func (c *Comparison) finite() bool {
	l := c.Projection.Line
	ok := finite(l.Slope, l.YMean, l.ResidualSD, l.T)
	opt := func(p *float64) bool { return p == nil || finite(*p) }
	for _, y := range c.Years {
		ok = ok && finite(y.CostProjected, y.CostProjectedLow, y.CostProjectedHigh, y.ProjectedRiseUnit) &&
			opt(y.CostObservedMoney) && opt(y.CostProjectedMoney) && opt(y.CostProjectedMoneyLow) && opt(y.CostProjectedMoneyHigh) &&
			opt(y.ProjectedRise) && opt(y.SavingsInCostUnit) && opt(y.ShareOffset)
	}
	return ok
}

func roundCents(v float64) float64 { return math.Round(v*100) / 100 }

func fitSpan(f Fit) string {
	if f.From == 0 {
		return fmt.Sprintf("the years up to %d", f.To)
	}
	return fmt.Sprintf("%d-%d", f.From, f.To)
}

func fitWhy(f Fit) string {
	if f.Rule == "default" {
		return "the years before the start year; give fit_from and fit_to to fit on others"
	}
	return "as fit_from and fit_to ask"
}

func costProvenance(cost Series, conv Conversion) []ProvenanceEntry {
	var r Report
	addProvenance(&r, "cost", cost)
	if conv.Via != nil {
		role := "gdp"
		if conv.Kind == ConvertPerCapita {
			role = "population"
		}
		addProvenance(&r, role, *conv.Via)
	}
	return r.Provenance
}
