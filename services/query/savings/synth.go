package savings

import (
	"fmt"
	"math"
	"math/big"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Conventions of method synth (docs/savings.md, "synth").
const (
	// SynthMinPreYears is the fewest pre-period years a synthetic control
	// is fitted on, as for its: with fewer, any donor mix fits.
	SynthMinPreYears = 3
	// SynthFilterMultiple: a placebo counts towards the interval when its
	// RMSPE_pre is at most this many times the target's.
	SynthFilterMultiple = 5
	// SynthMinIntervalPlacebos is the fewest placebos (within the filter,
	// with a gap in the year) an interval is taken from.
	SynthMinIntervalPlacebos = 4
	// SynthLowPercentile and SynthHighPercentile bound the interval.
	SynthLowPercentile  = 2.5
	SynthHighPercentile = 97.5
	// DonorWeightsTolerance is how far from 1 pinned donor_weights may
	// sum.
	DonorWeightsTolerance = 1e-9
)

// WarningDonorDropped: a comparison place lacks a value in a pre-period
// year in which the target has one, and is left out of the donor pool.
// Synth also warns with WarningNoInterval.
const WarningDonorDropped = "donor_dropped"

// SynthResult is a report's synth block: the synthetic control of the
// target, how well it fits, and the placebos in space it is judged
// against (docs/savings.md, "synth").
type SynthResult struct {
	// Weights are the donors' weights, every donor in the pool, largest
	// first (ties by place).
	Weights []SynthWeight `json:"weights"`
	// Pinned is true when the weights are the document's donor_weights,
	// false when they were fitted.
	Pinned bool `json:"pinned"`
	// PreYears are the pre-period years the weights are fitted on: the
	// years before start_year in which the target has a value.
	PreYears []int `json:"pre_years"`
	// Years are the pre-period years and the report's calendar years,
	// with the target's observed value, the synthetic control's and the
	// gap between them.
	Years []SynthYear `json:"years"`
	// RMSPEPre is √(mean over the pre-period of (observed − synthetic)²);
	// RMSPEPost the same over the report's years with both values, null
	// with none.
	RMSPEPre  float64  `json:"rmspe_pre"`
	RMSPEPost *float64 `json:"rmspe_post"`
	// Ratio is RMSPE_post / RMSPE_pre; null when it is not a number (no
	// post-period value, or both RMSPEs 0) or infinite (RMSPE_pre 0,
	// ranked above every finite ratio).
	Ratio *float64 `json:"ratio"`
	// Rank is 1 + the number of placebos whose ratio is at least the
	// target's, and PValue is Rank / (J + 1), J the placebos with a ratio;
	// both null when the target has no ratio or there is no placebo.
	Rank   *int     `json:"rank"`
	PValue *float64 `json:"p_value"`
	// Placebos are the donors, each in turn fitted as the target on the
	// other donors (never on the real target), in comparison_geos order.
	Placebos []SynthPlacebo `json:"placebos"`
	// FilterMultiple is the filter of the interval: placebos with
	// RMSPE_pre at most FilterMultiple × the target's; IntervalPlacebos
	// is how many pass it.
	FilterMultiple   float64 `json:"filter_multiple"`
	IntervalPlacebos int     `json:"interval_placebos"`
}

// SynthWeight is one donor's weight.
type SynthWeight struct {
	Geo    string  `json:"geo"`
	Weight float64 `json:"weight"`
}

// SynthYear is one year of the target beside its synthetic control.
type SynthYear struct {
	Year      int      `json:"year"`   // calendar year
	Period    string   `json:"period"` // pre or post
	Observed  *float64 `json:"observed"`
	Synthetic *float64 `json:"synthetic"`
	Gap       *float64 `json:"gap"` // observed − synthetic
}

// SynthPlacebo is one placebo in space: a donor treated as the target.
type SynthPlacebo struct {
	Geo       string   `json:"geo"`
	RMSPEPre  float64  `json:"rmspe_pre"`
	RMSPEPost *float64 `json:"rmspe_post"`
	Ratio     *float64 `json:"ratio"`
	// WithinFilter is true when its RMSPE_pre is at most FilterMultiple ×
	// the target's: its gaps enter the interval.
	WithinFilter bool `json:"within_filter"`
	// Gaps are its observed − synthetic values, pre-period and report
	// years, where both exist.
	Gaps []SynthGap `json:"gaps"`
}

// SynthGap is a placebo's gap in one year.
type SynthGap struct {
	Year int     `json:"year"`
	Gap  float64 `json:"gap"`
}

// DroppedDonor is a comparison place left out of the donor pool, with the
// pre-period years it lacks.
type DroppedDonor struct {
	Geo     string
	Missing []int
}

// Synth is a fitted synthetic control (SyntheticControl).
type Synth struct {
	Result  SynthResult
	Dropped []DroppedDonor
	// NoInterval lists the report's years with a counterfactual but no
	// interval, and NoIntervalWhy says why.
	NoInterval    []int
	NoIntervalWhy string

	donors    []synthDonor
	intervals map[int][2]float64 // year → 2.5th and 97.5th percentile of the placebo gaps
}

type synthDonor struct {
	geo    string
	values map[int]float64
	weight float64
}

// SyntheticControl is the counterfactual of method synth (docs/savings.md,
// Abadie, Diamond & Hainmueller 2010), on the outcome alone:
//
//   - the pre-period P is every year before startYear in which the target
//     has a value (at least SynthMinPreYears);
//   - the donors are the places of geos whose series (comparison, by
//     place) has a value in every year of P; the others are Dropped;
//   - the weights w ≥ 0, Σ w = 1 minimise Σ_{t∈P} (Y(t) − Σ_j w_j Y_j(t))²
//     (SimplexLeastSquares), unless pinned gives them (place → weight; a
//     donor it leaves out weighs 0);
//   - synthetic(t) = Σ_j w_j Y_j(t), in every year in which each donor of
//     positive weight has a value;
//   - RMSPE_pre over P, RMSPE_post over years (the report's calendar
//     years) with an observed and a synthetic value, and their ratio;
//   - each donor in turn is a placebo, fitted on the other donors; the
//     p-value is (1 + #{placebos with ratio ≥ the target's}) / (J + 1);
//   - the interval of year t is synthetic(t) plus the 2.5th and 97.5th
//     percentiles (Percentile) of the gaps in t of the placebos whose
//     RMSPE_pre is at most SynthFilterMultiple × the target's; with fewer
//     than SynthMinIntervalPlacebos such gaps, or percentiles that
//     coincide, there is none (NoInterval).
//
// Errors are *InputError: insufficient_data for too few pre-period years
// (field indicator) or no usable donor (comparison_geos), or a pinned
// donor of positive weight without the pre-period (donor_weights.<geo>).
func SyntheticControl(target Series, comparison []Series, geos []string, startYear int, years []int, pinned map[string]float64) (Synth, error) {
	var s Synth
	allYears, _ := points(target.Values)
	var pre []int
	for _, y := range allYears {
		if y < startYear {
			pre = append(pre, y)
		}
	}
	if len(pre) < SynthMinPreYears {
		return s, notEnough(&NotEnoughDataError{
			What: fmt.Sprintf("pre-period years (before %d) of the target series to fit a synthetic control", startYear),
			Need: SynthMinPreYears, Have: len(pre), Years: pre,
		}, "indicator", "method synth", target)
	}
	byGeo := make(map[string]map[int]float64, len(comparison))
	for _, c := range comparison {
		byGeo[c.Geo] = c.Values
	}
	for _, g := range geos {
		series := byGeo[g]
		var missing []int
		for _, y := range pre {
			if v, ok := series[y]; !ok || !finite(v) {
				missing = append(missing, y)
			}
		}
		if len(missing) > 0 {
			s.Dropped = append(s.Dropped, DroppedDonor{Geo: g, Missing: missing})
			continue
		}
		s.donors = append(s.donors, synthDonor{geo: g, values: series})
	}
	if len(geos) == 0 {
		return s, inputError(CodeInsufficientData, "comparison_geos",
			"method synth on %s for %s has no donor: name the donor places in comparison_geos", target.Indicator, target.Geo)
	}
	if len(s.donors) == 0 {
		var lacks []string
		for _, dd := range s.Dropped {
			lacks = append(lacks, dd.Geo+" lacks "+yearRuns(dd.Missing))
		}
		return s, inputError(CodeInsufficientData, "comparison_geos",
			"method synth on %s for %s needs at least one comparison place with a value in every pre-period year in which %s has one (%s); none has: %s. Name other comparison places, or start the pre-period later with pre_from",
			target.Indicator, target.Geo, target.Geo, yearRuns(pre), strings.Join(lacks, "; "))
	}

	y := valuesAt(target.Values, pre)
	r := &s.Result
	r.PreYears, r.FilterMultiple, r.Placebos = pre, SynthFilterMultiple, []SynthPlacebo{}
	if pinned != nil {
		r.Pinned = true
		for _, dd := range s.Dropped {
			if pinned[dd.Geo] > 0 {
				return s, inputError(CodeInsufficientData, "donor_weights."+dd.Geo,
					"the pinned weight %g of %s cannot be used: %s has no value of %s in %s, pre-period years in which %s has one; give %s weight 0 and share its weight among the other donors, or leave donor_weights out to fit the weights",
					pinned[dd.Geo], dd.Geo, dd.Geo, target.Indicator, yearRuns(dd.Missing), target.Geo, dd.Geo)
			}
		}
		for i := range s.donors {
			s.donors[i].weight = pinned[s.donors[i].geo]
		}
	} else {
		x := make([][]float64, len(s.donors))
		for j, dn := range s.donors {
			x[j] = valuesAt(dn.values, pre)
		}
		fit := SimplexLeastSquares(y, x)
		for j := range s.donors {
			s.donors[j].weight = fit.Weights[j]
		}
	}
	for _, dn := range s.donors {
		r.Weights = append(r.Weights, SynthWeight{Geo: dn.geo, Weight: dn.weight})
	}
	sort.SliceStable(r.Weights, func(i, j int) bool {
		a, b := r.Weights[i], r.Weights[j]
		if a.Weight != b.Weight {
			return a.Weight > b.Weight
		}
		return a.Geo < b.Geo
	})

	// The target against its synthetic control.
	weights := make([]float64, len(s.donors))
	series := make([]map[int]float64, len(s.donors))
	for j, dn := range s.donors {
		weights[j], series[j] = dn.weight, dn.values
	}
	target0 := synthUnit{values: target.Values, donors: series, weights: weights}
	preFit, postFit, gapsAt := target0.fit(pre, years)
	if !finite(preFit) || (postFit != nil && !finite(*postFit)) {
		return s, tooLarge(target)
	}
	r.RMSPEPre, r.RMSPEPost = preFit, postFit
	ratio := rmspeRatio(preFit, postFit)
	r.Ratio = finitePtr(ratio)
	seen := map[int]bool{}
	for _, yr := range slices.Concat(pre, years) {
		if seen[yr] {
			continue
		}
		seen[yr] = true
		sy := SynthYear{Year: yr, Period: "post"}
		if yr < startYear {
			sy.Period = "pre"
		}
		if v, ok := target.Values[yr]; ok && finite(v) {
			sy.Observed = &v
		}
		if v, ok := target0.synthetic(yr); ok {
			sy.Synthetic = &v
		}
		if g, ok := gapsAt[yr]; ok {
			sy.Gap = &g
		}
		r.Years = append(r.Years, sy)
	}
	sort.Slice(r.Years, func(i, j int) bool { return r.Years[i].Year < r.Years[j].Year })

	// Placebos in space: each donor as the target, on the other donors.
	var ratios []float64
	if len(s.donors) >= 2 {
		for j, dn := range s.donors {
			others := make([][]float64, 0, len(s.donors)-1)
			otherSeries := make([]map[int]float64, 0, len(s.donors)-1)
			for k, o := range s.donors {
				if k != j {
					others = append(others, valuesAt(o.values, pre))
					otherSeries = append(otherSeries, o.values)
				}
			}
			fit := SimplexLeastSquares(valuesAt(dn.values, pre), others)
			u := synthUnit{values: dn.values, donors: otherSeries, weights: fit.Weights}
			pPre, pPost, pGaps := u.fit(pre, years)
			if !finite(pPre) || (pPost != nil && !finite(*pPost)) {
				return s, tooLarge(target)
			}
			p := SynthPlacebo{Geo: dn.geo, RMSPEPre: pPre, RMSPEPost: pPost, Gaps: []SynthGap{},
				WithinFilter: pPre <= SynthFilterMultiple*preFit}
			pr := rmspeRatio(pPre, pPost)
			p.Ratio = finitePtr(pr)
			if !math.IsNaN(pr) {
				ratios = append(ratios, pr)
			}
			gy := make([]int, 0, len(pGaps))
			for yr := range pGaps {
				gy = append(gy, yr)
			}
			sort.Ints(gy)
			for _, yr := range gy {
				p.Gaps = append(p.Gaps, SynthGap{Year: yr, Gap: pGaps[yr]})
			}
			if p.WithinFilter {
				r.IntervalPlacebos++
			}
			r.Placebos = append(r.Placebos, p)
		}
	}
	if !math.IsNaN(ratio) && len(ratios) > 0 {
		rank := 1
		for _, pr := range ratios {
			if pr >= ratio {
				rank++
			}
		}
		pv := float64(rank) / float64(len(ratios)+1)
		r.Rank, r.PValue = &rank, &pv
	}

	// The interval from the placebos' gaps, year by year.
	s.intervals = map[int][2]float64{}
	var tooFewThatYear, coincide bool
	for _, yr := range years {
		if _, ok := target0.synthetic(yr); !ok {
			continue
		}
		var gaps []float64
		for _, p := range r.Placebos {
			if !p.WithinFilter {
				continue
			}
			for _, g := range p.Gaps {
				if g.Year == yr {
					gaps = append(gaps, g.Gap)
				}
			}
		}
		if len(gaps) < SynthMinIntervalPlacebos {
			s.NoInterval = append(s.NoInterval, yr)
			tooFewThatYear = true
			continue
		}
		sort.Float64s(gaps)
		lo, hi := Percentile(gaps, SynthLowPercentile), Percentile(gaps, SynthHighPercentile)
		if !(hi-lo > 1e-12*max(1, math.Abs(lo), math.Abs(hi))) {
			s.NoInterval = append(s.NoInterval, yr)
			coincide = true
			continue
		}
		s.intervals[yr] = [2]float64{lo, hi}
	}
	switch {
	case len(s.NoInterval) == 0:
	case r.IntervalPlacebos < SynthMinIntervalPlacebos:
		s.NoIntervalWhy = fmt.Sprintf("%d of the %d placebos fit their pre-period with an RMSPE at most %g times the target's (%.4g); an interval needs at least %d",
			r.IntervalPlacebos, len(r.Placebos), float64(SynthFilterMultiple), preFit, SynthMinIntervalPlacebos)
	case tooFewThatYear && coincide:
		s.NoIntervalWhy = fmt.Sprintf("fewer than %d placebos within the filter have a value in some of those years, and in the others their gaps' percentiles coincide", SynthMinIntervalPlacebos)
	case tooFewThatYear:
		s.NoIntervalWhy = fmt.Sprintf("fewer than %d placebos within the filter have a value in those years", SynthMinIntervalPlacebos)
	default:
		s.NoIntervalWhy = "the placebos' gaps give a 2.5th and a 97.5th percentile that coincide, an interval of zero width"
	}
	return s, nil
}

// At is the synthetic control's counterfactual of year, with the placebo
// interval where there is one; ok is false when a donor of positive weight
// has no value that year.
func (s Synth) At(year int) (Estimate, bool) {
	weights := make([]float64, len(s.donors))
	series := make([]map[int]float64, len(s.donors))
	for j, dn := range s.donors {
		weights[j], series[j] = dn.weight, dn.values
	}
	v, ok := synthUnit{donors: series, weights: weights}.synthetic(year)
	if !ok {
		return Estimate{}, false
	}
	e := Estimate{Value: v, Low: v, High: v}
	if iv, has := s.intervals[year]; has {
		e.Low, e.High, e.HasInterval = v+iv[0], v+iv[1], true
	}
	return e, true
}

// synthUnit is a unit (the target or a placebo) and the donors of its
// synthetic control.
type synthUnit struct {
	values  map[int]float64
	donors  []map[int]float64
	weights []float64
}

// synthetic is Σ w_j Y_j(year), false when a donor of positive weight has
// no value that year.
func (u synthUnit) synthetic(year int) (float64, bool) {
	var v float64
	for j, w := range u.weights {
		if w == 0 {
			continue
		}
		x, ok := u.donors[j][year]
		if !ok || !finite(x) {
			return 0, false
		}
		v += w * x
	}
	return v, finite(v)
}

// fit is the unit's RMSPE over pre and over post (nil without a year with
// both values), and its gaps (observed − synthetic) in the years of pre and
// post with both.
func (u synthUnit) fit(pre, post []int) (rmspePre float64, rmspePost *float64, gaps map[int]float64) {
	gaps = map[int]float64{}
	gap := func(y int) (float64, bool) {
		if g, ok := gaps[y]; ok {
			return g, true
		}
		obs, ok := u.values[y]
		if !ok || !finite(obs) {
			return 0, false
		}
		s, ok := u.synthetic(y)
		if !ok {
			return 0, false
		}
		gaps[y] = obs - s
		return obs - s, true
	}
	rmspe := func(years []int) (float64, bool) {
		var ss float64
		n := 0
		for _, y := range years {
			if g, ok := gap(y); ok {
				ss += g * g
				n++
			}
		}
		if n == 0 {
			return 0, false
		}
		return math.Sqrt(ss / float64(n)), true
	}
	rmspePre, _ = rmspe(pre)
	if v, ok := rmspe(post); ok {
		rmspePost = &v
	}
	return rmspePre, rmspePost, gaps
}

// rmspeRatio is RMSPE_post / RMSPE_pre: NaN without a post-period RMSPE or
// when both are 0, +Inf when only RMSPE_pre is 0.
func rmspeRatio(pre float64, post *float64) float64 {
	switch {
	case post == nil:
		return math.NaN()
	case pre == 0 && *post == 0:
		return math.NaN()
	case pre == 0:
		return math.Inf(1)
	}
	return *post / pre
}

// Percentile is the p-th percentile (0 ≤ p ≤ 100) of sorted values, by
// linear interpolation between order statistics (Hyndman & Fan's type 7,
// the default of R and NumPy): with h = (n − 1) · p / 100, it is
// x[⌊h⌋] + (h − ⌊h⌋) · (x[⌊h⌋+1] − x[⌊h⌋]), x the values in ascending
// order from index 0. NaN without values.
func Percentile(sorted []float64, p float64) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	h := float64(n-1) * min(max(p, 0), 100) / 100
	i := int(math.Floor(h))
	if i >= n-1 {
		return sorted[n-1]
	}
	return sorted[i] + (h-float64(i))*(sorted[i+1]-sorted[i])
}

func valuesAt(values map[int]float64, years []int) []float64 {
	out := make([]float64, len(years))
	for i, y := range years {
		out[i] = values[y]
	}
	return out
}

func finitePtr(v float64) *float64 {
	if !finite(v) {
		return nil
	}
	return &v
}

// yearRuns writes years as runs: 1990-1995, 1998.
func yearRuns(years []int) string {
	var parts []string
	for i := 0; i < len(years); {
		j := i
		for j+1 < len(years) && years[j+1] == years[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, strconv.Itoa(years[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", years[i], years[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ", ")
}

// pinnedWeights is the document's donor_weights as numbers, nil when it
// gives none.
func (in Initiative) pinnedWeights() map[string]float64 {
	if in.DonorWeights == nil {
		return nil
	}
	out := make(map[string]float64, len(in.DonorWeights))
	for g, w := range in.DonorWeights {
		out[g], _ = w.rat().Float64()
	}
	return out
}

// validateDonorWeights checks donor_weights: each weight at least 0, for a
// place of comparison_geos, and their sum 1 within DonorWeightsTolerance.
func (in Initiative) validateDonorWeights(ps *problems) {
	if in.DonorWeights == nil {
		return
	}
	geos := make([]string, 0, len(in.DonorWeights))
	for g := range in.DonorWeights {
		geos = append(geos, g)
	}
	sort.Strings(geos)
	sum := new(big.Rat)
	ok := true
	for _, g := range geos {
		w := in.DonorWeights[g]
		field := "donor_weights." + g
		if !slices.Contains(in.ComparisonGeos, g) {
			ps.add(field, "%q is not one of comparison_geos; a donor weight is for one of the comparison places (%s)", g, strings.Join(in.ComparisonGeos, ", "))
			ok = false
		}
		if w.Sign() < 0 || w.cmp("1") > 0 {
			ps.add(field, "must be between 0 and 1, got %s", w)
			ok = false
			continue
		}
		sum.Add(sum, w.rat())
	}
	if !ok {
		return
	}
	diff := new(big.Rat).Sub(sum, big.NewRat(1, 1))
	if diff.Abs(diff).Cmp(new(big.Rat).SetFloat64(DonorWeightsTolerance)) > 0 {
		s, _ := sum.Float64()
		ps.add("donor_weights", "the weights sum to %.12g; they must sum to 1 (within %g): the synthetic control is their weighted mean. Leave donor_weights out to fit them", s, DonorWeightsTolerance)
	}
}

// synthCounterfactual fits method synth for a report (SyntheticControl),
// records its synth block, the donors left out (inputs and warnings) and
// the donors' provenance, and returns its counterfactual.
func synthCounterfactual(rep *Report, d Initiative, data Data) (func(int) (Estimate, bool), error) {
	years := make([]int, len(rep.Years))
	for t, y := range rep.Years {
		years[t] = y.CalendarYear
	}
	s, err := SyntheticControl(data.Target, data.Comparison, d.ComparisonGeos, d.StartYear, years, d.pinnedWeights())
	if err != nil {
		return nil, err
	}
	rep.Synth = &s.Result
	for _, dd := range s.Dropped {
		rep.Inputs.ComparisonGeosWithoutData = append(rep.Inputs.ComparisonGeosWithoutData, dd.Geo)
		rep.Warnings = append(rep.Warnings, Warning{Code: WarningDonorDropped, Indicator: d.Indicator, Geo: dd.Geo, Period: "pre",
			Message: fmt.Sprintf("%s has no value of %s in %s, pre-period years in which %s has one: it is left out of the donor pool (and of the placebos)",
				dd.Geo, d.Indicator, yearRuns(dd.Missing), d.Geo)})
	}
	if len(s.NoInterval) > 0 {
		rep.Warnings = append(rep.Warnings, Warning{Code: WarningNoInterval, Indicator: d.Indicator, Geo: d.Geo,
			Message: fmt.Sprintf("the counterfactual of %s has no interval: %s; none is shown rather than one of zero width",
				yearRuns(s.NoInterval), s.NoIntervalWhy)})
	}
	inPool := map[string]bool{}
	for _, dn := range s.donors {
		inPool[dn.geo] = true
	}
	for _, c := range data.Comparison {
		if inPool[c.Geo] {
			addProvenance(rep, "comparison", c)
		}
	}
	return s.At, nil
}

// placeboGaps are the gap paths, per report year, of the placebos whose
// gaps make the counterfactual's interval (NaN in a year without a gap):
// the Monte Carlo draws one of them uniformly (docs/savings.md). Nil
// without a synthetic control or such placebos.
func placeboGaps(s *SynthResult, years []Year) [][]float64 {
	if s == nil {
		return nil
	}
	var out [][]float64
	for _, p := range s.Placebos {
		if !p.WithinFilter {
			continue
		}
		byYear := make(map[int]float64, len(p.Gaps))
		for _, g := range p.Gaps {
			byYear[g.Year] = g.Gap
		}
		path := make([]float64, len(years))
		for t, y := range years {
			path[t] = math.NaN()
			if g, ok := byYear[y.CalendarYear]; ok {
				path[t] = g
			}
		}
		out = append(out, path)
	}
	if len(out) < SynthMinIntervalPlacebos {
		return nil // no interval, so nothing to draw from
	}
	return out
}
