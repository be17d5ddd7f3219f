package savings

import "fmt"

// Projection is the least-squares line through a cost-trend series and its
// values over the years after the last observation.
type Projection struct {
	Line   Line             `json:"line"`
	Points []ProjectedPoint `json:"points"` // last observed year + 1 … + horizon
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
// and extrapolates it horizon years beyond the last one, with a 95 %
// prediction interval (as the its counterfactual). It needs at least 3
// values (*NotEnoughDataError otherwise).
func Project(series map[int]float64, horizon int) (Projection, error) {
	years, values := points(series)
	if len(years) < minFitPoints {
		return Projection{}, &NotEnoughDataError{What: "years of the cost series to project a trend", Need: minFitPoints, Have: len(years), Years: years}
	}
	p := Projection{Line: FitLine(years, values), Points: make([]ProjectedPoint, 0, max(horizon, 0))}
	for y := p.Line.LastYear + 1; y <= p.Line.LastYear+horizon; y++ {
		p.Points = append(p.Points, projectedPoint(p.Line, y))
	}
	return p, nil
}

func projectedPoint(l Line, year int) ProjectedPoint {
	v, lo, hi := l.At(year)
	return ProjectedPoint{Year: year, Value: v, Low: lo, High: hi}
}

// Comparison is the answer of GET /v1/compare (docs/savings.md "compare"): a
// cost indicator's series for the initiative's place, its linear
// projection over the report's years, and the initiative's yearly savings
// beside the projected rise in that cost.
type Comparison struct {
	Initiative    string            `json:"initiative"`
	Method        string            `json:"method"`
	Currency      string            `json:"currency"`
	CostIndicator CostIndicator     `json:"cost_indicator"`
	Series        []SeriesPoint     `json:"series"`
	Projection    Projection        `json:"projection"`
	Years         []ComparisonYear  `json:"years"`
	Provenance    []ProvenanceEntry `json:"provenance"`
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

// ComparisonYear lays one year of a report beside the cost trend. Savings
// are the year's benefit and PVSavings its present value, in the report's
// currency; the cost values are in the cost indicator's unit.
// ProjectedRise is the trend's value in the year minus its value in the
// initiative's start year: how much the cost is projected to have risen
// since the initiative began (negative when it falls).
type ComparisonYear struct {
	Year              int      `json:"year"`
	CalendarYear      int      `json:"calendar_year"`
	Savings           Money    `json:"savings"`
	PVSavings         Money    `json:"pv_savings"`
	CostObserved      *float64 `json:"cost_observed"`
	CostProjected     float64  `json:"cost_projected"`
	CostProjectedLow  float64  `json:"cost_projected_low"`
	CostProjectedHigh float64  `json:"cost_projected_high"`
	ProjectedRise     float64  `json:"projected_rise"`
}

// Compare lays a report's yearly savings beside the trend of a cost
// indicator in the same place: the line through every value of cost,
// projected to the report's last year. The handler reads the series and
// marshals the result.
func Compare(r Report, cost Series) (Comparison, error) {
	if len(r.Years) == 0 {
		return Comparison{}, fmt.Errorf("compare %s: the report has no years", r.Initiative)
	}
	first, last := r.Years[0].CalendarYear, r.Years[len(r.Years)-1].CalendarYear
	years, values := points(cost.Values)
	horizon := 0
	if len(years) > 0 {
		horizon = max(0, last-years[len(years)-1])
	}
	proj, err := Project(cost.Values, horizon)
	if err != nil {
		return Comparison{}, notEnough(err, "indicator", "compare", cost)
	}
	c := Comparison{
		Initiative: r.Initiative, Method: r.Method, Currency: r.Currency,
		CostIndicator: CostIndicator{Indicator: cost.Indicator, Geo: cost.Geo, Unit: cost.Unit},
		Series:        make([]SeriesPoint, len(years)),
		Projection:    proj,
		Years:         make([]ComparisonYear, len(r.Years)),
		Provenance:    append(append([]ProvenanceEntry{}, r.Provenance...), costProvenance(cost)...),
	}
	for i, y := range years {
		c.Series[i] = SeriesPoint{Year: y, Value: values[i]}
	}
	base, _, _ := proj.Line.At(first)
	for i, ry := range r.Years {
		p := projectedPoint(proj.Line, ry.CalendarYear)
		cy := ComparisonYear{
			Year: ry.Year, CalendarYear: ry.CalendarYear,
			Savings: ry.Benefit, PVSavings: ry.PVBenefit,
			CostProjected: p.Value, CostProjectedLow: p.Low, CostProjectedHigh: p.High,
			ProjectedRise: p.Value - base,
		}
		if v, ok := cost.Values[ry.CalendarYear]; ok && finite(v) {
			cy.CostObserved = &v
		}
		c.Years[i] = cy
	}
	ok := finite(proj.Line.Slope, proj.Line.YMean, proj.Line.ResidualSD, proj.Line.T)
	for _, y := range c.Years {
		ok = ok && finite(y.CostProjected, y.CostProjectedLow, y.CostProjectedHigh, y.ProjectedRise)
	}
	for _, p := range proj.Points {
		ok = ok && finite(p.Value, p.Low, p.High)
	}
	if !ok {
		return Comparison{}, inputError(CodeInsufficientData, "indicator", "the values of %s for %s are too large to fit a trend", cost.Indicator, cost.Geo)
	}
	return c, nil
}

func costProvenance(cost Series) []ProvenanceEntry {
	var r Report
	addProvenance(&r, "cost", cost)
	return r.Provenance
}
