package savings

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Interval is a 95 % confidence interval of an estimate.
type Interval struct {
	Estimate float64 `json:"estimate"`
	Low      float64 `json:"low"`
	High     float64 `json:"high"`
}

// excludesZero reports whether the interval lies wholly on one side of 0.
func (i Interval) excludesZero() bool { return i.Low > 0 || i.High < 0 }

// YearValue is one point of a series.
type YearValue struct {
	Year  int     `json:"year"`
	Value float64 `json:"value"`
}

// ITSDiagnostics says how well the pre-period line fits, and what a
// segmented model over every year makes of the start (docs/savings.md,
// "Diagnostics").
type ITSDiagnostics struct {
	// Pre are the pre-period points the line is fitted to; Fitted the
	// line's value in each of their years.
	Pre    []YearValue `json:"pre"`
	Fitted []YearValue `json:"fitted"`
	// Slope is the line's slope per year with its 95 % interval.
	Slope Interval `json:"slope"`
	// RSquared is the share of the pre-period variance the line explains.
	RSquared float64 `json:"r_squared"`
	// DurbinWatson is Σ (e_t − e_{t−1})² / Σ e_t² over the pre-period
	// residuals in year order: near 2 without autocorrelation, towards 0
	// when residuals persist (the interval is then too narrow).
	DurbinWatson *float64 `json:"durbin_watson"`
	// Segmented is y = a + b·t + c·D(t) + d·(t − t0)·D(t) fitted over
	// the pre-period and the report's years, each with an observed value
	// (D = 1 from the start year t0):
	// c is the level change at the start, d the slope change; nil when
	// there are too few years on either side to fit it.
	Segmented *Segmented `json:"segmented"`
}

// Segmented is the segmented regression of an interrupted time series.
type Segmented struct {
	N           int      `json:"n"`
	LevelChange Interval `json:"level_change"` // c
	SlopeChange Interval `json:"slope_change"` // d
}

// DiagnoseITS computes the ITS diagnostics of line, fitted to the target's
// values before startYear; target holds every year, and the report's years
// end at lastYear.
func DiagnoseITS(line Line, target map[int]float64, startYear, lastYear int) ITSDiagnostics {
	years, values := points(target)
	var d ITSDiagnostics
	var resid []float64
	var ssTot, ssRes float64
	for i, y := range years {
		if y >= startYear {
			continue
		}
		fit := line.at(float64(y))
		d.Pre = append(d.Pre, YearValue{y, values[i]})
		d.Fitted = append(d.Fitted, YearValue{y, fit})
		resid = append(resid, values[i]-fit)
		ssTot += (values[i] - line.YMean) * (values[i] - line.YMean)
		ssRes += (values[i] - fit) * (values[i] - fit)
	}
	d.Slope = Interval{Estimate: line.Slope, Low: line.Slope, High: line.Slope}
	if line.N > 2 && line.Sxx > 0 {
		half := line.T * line.ResidualSD / math.Sqrt(line.Sxx)
		d.Slope.Low, d.Slope.High = line.Slope-half, line.Slope+half
	}
	if ssTot > 0 {
		d.RSquared = 1 - ssRes/ssTot
	} else {
		d.RSquared = 1
	}
	// Residuals at rounding level (an exact line) have no autocorrelation
	// to speak of.
	if ssRes > 1e-20*math.Max(ssTot, 1) && len(resid) > 1 {
		var num float64
		for i := 1; i < len(resid); i++ {
			num += (resid[i] - resid[i-1]) * (resid[i] - resid[i-1])
		}
		if dw := num / ssRes; finite(dw) {
			d.DurbinWatson = &dw
		}
	}
	var sy []int
	var sv []float64
	for i, y := range years {
		if y <= lastYear {
			sy, sv = append(sy, y), append(sv, values[i])
		}
	}
	d.Segmented = segmented(sy, sv, startYear)
	return d
}

// segmented fits y = a + b·t + c·D + d·(t − t0)·D by least squares, with
// 95 % intervals of c and d from Student's t with n − 4 degrees of freedom;
// it needs two years on each side and five in all.
func segmented(years []int, values []float64, t0 int) *Segmented {
	var pre, post int
	for _, y := range years {
		if y < t0 {
			pre++
		} else {
			post++
		}
	}
	n := len(years)
	if pre < 2 || post < 2 || n < 5 {
		return nil
	}
	// Centre t on t0 so that the normal equations stay well conditioned.
	x := make([][4]float64, n)
	for i, y := range years {
		t := float64(y - t0)
		var dd float64
		if y >= t0 {
			dd = 1
		}
		x[i] = [4]float64{1, t, dd, t * dd}
	}
	var xtx [4][4]float64
	var xty [4]float64
	for i := range x {
		for a := 0; a < 4; a++ {
			xty[a] += x[i][a] * values[i]
			for b := 0; b < 4; b++ {
				xtx[a][b] += x[i][a] * x[i][b]
			}
		}
	}
	inv, ok := invert4(xtx)
	if !ok {
		return nil
	}
	var beta [4]float64
	for a := 0; a < 4; a++ {
		for b := 0; b < 4; b++ {
			beta[a] += inv[a][b] * xty[b]
		}
	}
	var ssr float64
	for i := range x {
		fit := 0.0
		for a := 0; a < 4; a++ {
			fit += x[i][a] * beta[a]
		}
		ssr += (values[i] - fit) * (values[i] - fit)
	}
	df := n - 4
	s2 := ssr / float64(df)
	tq := StudentTQuantile(0.975, df)
	ci := func(k int) Interval {
		half := tq * math.Sqrt(s2*inv[k][k])
		return Interval{Estimate: beta[k], Low: beta[k] - half, High: beta[k] + half}
	}
	lc, sc := ci(2), ci(3)
	if !finite(lc.Estimate, lc.Low, lc.High, sc.Estimate, sc.Low, sc.High) {
		return nil // values beyond float64's range in the squares: no model rather than an infinite one
	}
	return &Segmented{N: n, LevelChange: lc, SlopeChange: sc}
}

// invert4 inverts a 4×4 matrix by Gauss–Jordan elimination with partial
// pivoting; ok is false when it is singular.
func invert4(m [4][4]float64) (inv [4][4]float64, ok bool) {
	var a [4][8]float64
	for i := 0; i < 4; i++ {
		for j := 0; j < 4; j++ {
			a[i][j] = m[i][j]
		}
		a[i][4+i] = 1
	}
	for col := 0; col < 4; col++ {
		p := col
		for r := col + 1; r < 4; r++ {
			if math.Abs(a[r][col]) > math.Abs(a[p][col]) {
				p = r
			}
		}
		if math.Abs(a[p][col]) < 1e-12 {
			return inv, false
		}
		a[col], a[p] = a[p], a[col]
		piv := a[col][col]
		for j := range a[col] {
			a[col][j] /= piv
		}
		for r := 0; r < 4; r++ {
			if r == col {
				continue
			}
			f := a[r][col]
			for j := range a[r] {
				a[r][j] -= f * a[col][j]
			}
		}
	}
	for i := 0; i < 4; i++ {
		for j := 0; j < 4; j++ {
			inv[i][j] = a[i][4+j]
		}
	}
	return inv, true
}

// DiDDiagnostics checks the parallel-trends assumption of a DiD and says
// which comparison places it used.
type DiDDiagnostics struct {
	// PreGap is target(t) − the comparison places' mean(t) over the
	// pre-period years in which the target and a place have a value.
	PreGap []YearValue `json:"pre_gap"`
	// GapSlope is the least-squares slope of PreGap per year with its
	// 95 % interval: an interval that excludes 0 means the target and the
	// comparison were not moving in parallel before the start.
	GapSlope *Interval `json:"gap_slope"`
	// Places lists every comparison place named, and whether it was used.
	Places []ComparisonUse `json:"places"`
}

// ComparisonUse says whether one comparison place was used, and why not.
type ComparisonUse struct {
	Geo    string `json:"geo"`
	Used   bool   `json:"used"`
	Reason string `json:"reason,omitempty"`
}

// DiagnoseDiD computes the DiD diagnostics of d for the target, over the
// comparison places geos (all named, in order).
func DiagnoseDiD(d DiD, target map[int]float64, geos []string, startYear int) DiDDiagnostics {
	var out DiDDiagnostics
	used := map[string]bool{}
	for _, p := range d.Places {
		used[p.Geo] = true
	}
	for _, g := range geos {
		u := ComparisonUse{Geo: g, Used: used[g]}
		if !u.Used {
			u.Reason = fmt.Sprintf("no value in a year before %d in which the target has one", startYear)
		}
		out.Places = append(out.Places, u)
	}
	years, values := points(target)
	var gy []int
	var gv []float64
	for i, y := range years {
		if y >= startYear {
			continue
		}
		var sum float64
		k := 0
		for _, p := range d.Places {
			if v, ok := p.series[y]; ok && !math.IsNaN(v) && !math.IsInf(v, 0) {
				sum += v
				k++
			}
		}
		if k == 0 {
			continue
		}
		g := values[i] - sum/float64(k)
		out.PreGap = append(out.PreGap, YearValue{y, g})
		gy, gv = append(gy, y), append(gv, g)
	}
	if len(gy) >= minFitPoints {
		l := FitLine(gy, gv)
		if l.Sxx > 0 {
			half := l.T * l.ResidualSD / math.Sqrt(l.Sxx)
			out.GapSlope = &Interval{Estimate: l.Slope, Low: l.Slope - half, High: l.Slope + half}
		}
	}
	return out
}

// Warning codes of the methods (stable: clients may key on them).
const (
	// WarningYear0OutsideInterval: in the start year, before any benefit
	// is credited, the observed value already lies outside the
	// counterfactual's interval: the change began before the initiative,
	// or the counterfactual does not fit.
	WarningYear0OutsideInterval = "year0_outside_interval"
	// WarningTrendsNotParallel: DiD's pre-period gap between the target and
	// its comparison places has a slope whose interval excludes 0.
	WarningTrendsNotParallel = "trends_not_parallel"
	// WarningFewPreYears: fewer than MinPreYears pre-period years.
	WarningFewPreYears = "few_pre_years"
	// WarningLongFitWindow: the pre-period spans more than
	// LongFitFactor times the post-period: a line through a long past says
	// little about the next few years (give pre_from).
	WarningLongFitWindow = "long_fit_window"
	// WarningComparisonWithoutData: named comparison places were left out
	// for lack of data.
	WarningComparisonWithoutData = "comparison_without_data"
	// WarningNoInterval: years whose counterfactual has no interval (one
	// comparison place, too few points); none is shown rather than one of
	// zero width.
	WarningNoInterval = "no_interval"
)

// Thresholds of the method warnings.
const (
	MinPreYears   = 5
	LongFitFactor = 3
)

// methodWarnings are the warnings of a computed report of method, from its
// years and diagnostics (either may be nil).
func methodWarnings(rep *Report, in Initiative, its *ITSDiagnostics, did *DiDDiagnostics) []Warning {
	var out []Warning
	add := func(code, format string, args ...any) {
		out = append(out, Warning{Code: code, Message: fmt.Sprintf(format, args...)})
	}
	if len(rep.Years) > 0 {
		y := rep.Years[0]
		if y.Observed != nil && y.CounterfactualLow != nil && y.CounterfactualHigh != nil &&
			(*y.Observed < *y.CounterfactualLow || *y.Observed > *y.CounterfactualHigh) {
			add(WarningYear0OutsideInterval, "in %d, the start year, the observed value %.6g already lies outside the counterfactual's 95 %% interval [%.6g, %.6g]: the change may have begun before the initiative, or the counterfactual does not fit",
				y.CalendarYear, *y.Observed, *y.CounterfactualLow, *y.CounterfactualHigh)
		}
	}
	var pre []YearValue
	switch {
	case its != nil:
		pre = its.Pre
	case did != nil:
		pre = did.PreGap
	}
	if (its != nil || did != nil) && len(pre) < MinPreYears {
		add(WarningFewPreYears, "the counterfactual rests on %d pre-period years; with fewer than %d its interval is wide and its trend fragile", len(pre), MinPreYears)
	}
	if its != nil && len(pre) > 0 {
		span := pre[len(pre)-1].Year - pre[0].Year + 1
		post := len(rep.Years)
		if span > LongFitFactor*post {
			add(WarningLongFitWindow, "the line is fitted over %d years (%d-%d) to project %d: more than %d times the post-period; give pre_from to fit the recent past",
				span, pre[0].Year, pre[len(pre)-1].Year, post, LongFitFactor)
		}
	}
	if did != nil {
		if g := did.GapSlope; g != nil && g.excludesZero() {
			add(WarningTrendsNotParallel, "before %d the gap between the target and its comparison places changed by %.4g a year (95 %% interval %.4g to %.4g): their trends were not parallel, and DiD credits the initiative with a drift under way",
				in.StartYear, g.Estimate, g.Low, g.High)
		}
		var missing []string
		for _, p := range did.Places {
			if !p.Used {
				missing = append(missing, p.Geo)
			}
		}
		if len(missing) > 0 {
			add(WarningComparisonWithoutData, "comparison places left out for lack of pre-period data: %s", strings.Join(missing, ", "))
		}
	}
	var noInterval []int
	for _, y := range rep.Years {
		if y.Counterfactual != nil && y.CounterfactualLow == nil {
			noInterval = append(noInterval, y.CalendarYear)
		}
	}
	if len(noInterval) > 0 && rep.Method != MethodModelled {
		why := "too few points to estimate one"
		if did != nil {
			why = "only one comparison place has a value in those years"
		}
		add(WarningNoInterval, "the counterfactual of %s has no interval (%s); none is shown rather than one of zero width", yearList(noInterval), why)
	}
	return out
}

func yearList(ys []int) string {
	s := make([]string, len(ys))
	for i, y := range ys {
		s[i] = strconv.Itoa(y)
	}
	return strings.Join(s, ", ")
}
