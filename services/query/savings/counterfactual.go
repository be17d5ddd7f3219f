package savings

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/ounce-data/ounce/pkg/indicators"
)

// NotEnoughDataError says that a series has too few points for a method:
// how many it needs and how many there are. Compute turns it into an
// InputError with code insufficient_data naming the series.
type NotEnoughDataError struct {
	What  string // what the points are for, e.g. "pre-period years (before 2016) of the target"
	Need  int
	Have  int
	Years []int // the years there are
}

func (e *NotEnoughDataError) Error() string {
	years := make([]string, len(e.Years))
	for i, y := range e.Years {
		years[i] = strconv.Itoa(y)
	}
	list := ""
	if len(years) > 0 {
		list = " (" + strings.Join(years, ", ") + ")"
	}
	return fmt.Sprintf("needs at least %d %s; there are %d%s", e.Need, e.What, e.Have, list)
}

// Estimate is one counterfactual value with its 95 % interval; Low and High
// equal Value when no interval can be given.
type Estimate struct {
	Value, Low, High float64
	HasInterval      bool
}

// InterruptedTimeSeries fits the least-squares line through the target's
// values before startYear (docs/savings.md `its`). Its At gives the
// counterfactual of any later year, extrapolated, with a 95 % prediction
// interval from Student's t with N − 2 degrees of freedom. It needs at least
// 3 pre-period years (*NotEnoughDataError otherwise). Non-finite values are
// left out.
func InterruptedTimeSeries(target map[int]float64, startYear int) (Line, error) {
	pre := make(map[int]float64, len(target))
	for y, v := range target {
		if y < startYear {
			pre[y] = v
		}
	}
	years, values := points(pre)
	if len(years) < minFitPoints {
		return Line{}, &NotEnoughDataError{
			What: fmt.Sprintf("pre-period years (before %d) of the target series to fit a trend", startYear),
			Need: minFitPoints, Have: len(years), Years: years,
		}
	}
	return FitLine(years, values), nil
}

// ITSEstimate is the counterfactual of a Line in year, with its interval.
func ITSEstimate(l Line, year int) Estimate {
	v, lo, hi := l.At(year)
	return Estimate{Value: v, Low: lo, High: hi, HasInterval: l.N >= minFitPoints && l.Sxx > 0}
}

// DiD is a difference-in-differences counterfactual (docs/savings.md `did`):
// the comparison places' mean change from their pre-period mean, added to
// the target's pre-period mean.
//
// Each comparison place c is paired with the target over the pre-period
// years (before the start year) in which both have a value, P_c. Place c
// implies the counterfactual
//
//	cf_c(t) = mean of target over P_c + (y_c(t) − mean of y_c over P_c),
//
// and the counterfactual is the mean of cf_c(t) over the k places with a
// value in year t. When every place has the target's pre-period years this
// is exactly the target's pre-period mean plus the places' mean change.
//
// The interval comes from the spread across the comparison places: each
// cf_c(t) is taken as one draw, and the 95 % interval of their mean is
// mean ± t(0.975, k − 1) · sd / √k, with sd the sample standard deviation of
// the cf_c(t). With one place in a year there is no spread and no interval.
type DiD struct {
	Places []DiDPlace
}

// DiDPlace is one comparison place as the DiD uses it.
type DiDPlace struct {
	Geo        string  `json:"geo"`
	PreYears   []int   `json:"pre_years"`   // P_c
	TargetMean float64 `json:"target_mean"` // mean of the target over P_c
	PlaceMean  float64 `json:"place_mean"`  // mean of the place over P_c
	series     map[int]float64
}

// DifferenceInDifferences pairs the target with each comparison place (geo
// → series) over the pre-period before startYear. Places without a common
// pre-period year are left out; at least one must remain
// (*NotEnoughDataError otherwise). geos gives the order of the places.
func DifferenceInDifferences(target map[int]float64, geos []string, comparisons map[string]map[int]float64, startYear int) (DiD, error) {
	var d DiD
	years, _ := points(target)
	for _, geo := range geos {
		series := comparisons[geo]
		p := DiDPlace{Geo: geo, series: series}
		for _, y := range years {
			v, ok := series[y]
			if y >= startYear || !ok || math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			p.PreYears = append(p.PreYears, y)
			p.TargetMean += target[y]
			p.PlaceMean += v
		}
		if len(p.PreYears) == 0 {
			continue
		}
		p.TargetMean /= float64(len(p.PreYears))
		p.PlaceMean /= float64(len(p.PreYears))
		d.Places = append(d.Places, p)
	}
	if len(d.Places) == 0 {
		return d, &NotEnoughDataError{
			What: fmt.Sprintf("comparison place with a value in a year before %d in which the target has one too", startYear),
			Need: 1, Have: 0,
		}
	}
	return d, nil
}

// At is the counterfactual of year; ok is false when no comparison place
// has a value that year.
func (d DiD) At(year int) (e Estimate, ok bool) {
	var cfs []float64
	for _, p := range d.Places {
		v, has := p.series[year]
		if !has || math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		cfs = append(cfs, p.TargetMean+(v-p.PlaceMean))
	}
	k := len(cfs)
	if k == 0 {
		return Estimate{}, false
	}
	var mean float64
	for _, c := range cfs {
		mean += c
	}
	mean /= float64(k)
	e = Estimate{Value: mean, Low: mean, High: mean}
	if k < 2 {
		return e, true
	}
	var ss float64
	for _, c := range cfs {
		ss += (c - mean) * (c - mean)
	}
	half := StudentTQuantile(0.975, k-1) * math.Sqrt(ss/float64(k-1)) / math.Sqrt(float64(k))
	e.Low, e.High, e.HasInterval = mean-half, mean+half, true
	return e, true
}

// Sign is +1 when lower values of the indicator are better, −1 when higher
// ones are; ok is false for a neutral or unknown polarity.
func Sign(p indicators.Polarity) (sign int, ok bool) {
	switch p {
	case indicators.LowerIsBetter:
		return 1, true
	case indicators.HigherIsBetter:
		return -1, true
	}
	return 0, false
}

// Avoided is the avoided amount of the indicator (docs/savings.md):
// (counterfactual − observed) · sign, and its interval from the
// counterfactual's, ordered low ≤ high.
func Avoided(cf Estimate, observed float64, sign int) (value, low, high float64) {
	s := float64(sign)
	value = (cf.Value - observed) * s
	a, b := (cf.Low-observed)*s, (cf.High-observed)*s
	return value, min(a, b), max(a, b)
}

// preMeanSE is the standard error of the comparison places' pre-period
// mean, the quantity the Monte Carlo draws DiD's counterfactual from
// (docs/savings.md): with m(y) the mean of the places' values in a
// pre-period year y, sd(m) / √n over the n such years; 0 with fewer than 2.
func (d DiD) preMeanSE() float64 {
	sum, count := map[int]float64{}, map[int]int{}
	for _, p := range d.Places {
		for _, y := range p.PreYears {
			sum[y] += p.series[y]
			count[y]++
		}
	}
	n := len(sum)
	if n < 2 {
		return 0
	}
	var mean float64
	for y := range sum {
		mean += sum[y] / float64(count[y])
	}
	mean /= float64(n)
	var ss float64
	for y := range sum {
		d := sum[y]/float64(count[y]) - mean
		ss += d * d
	}
	return math.Sqrt(ss/float64(n-1)) / math.Sqrt(float64(n))
}
