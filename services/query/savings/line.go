package savings

import (
	"math"
	"sort"
)

// Line is an ordinary least-squares line y = YMean + Slope · (x − XMean)
// through N points (x a calendar year), with what a 95 % prediction
// interval needs.
type Line struct {
	N          int     `json:"n"`
	FirstYear  int     `json:"first_year"`
	LastYear   int     `json:"last_year"`
	XMean      float64 `json:"x_mean"`
	YMean      float64 `json:"y_mean"`
	Slope      float64 `json:"slope"`
	Sxx        float64 `json:"-"`
	ResidualSD float64 `json:"residual_sd"` // s = √(Σ residual² / (N − 2))
	T          float64 `json:"t_quantile"`  // Student t 0.975-quantile with N − 2 degrees of freedom
}

// minFitPoints is the fewest points a line with a prediction interval needs:
// with 2 the residual variance has no degree of freedom.
const minFitPoints = 3

// points returns the finite values of a series in year order.
func points(series map[int]float64) (years []int, values []float64) {
	years = make([]int, 0, len(series))
	for y, v := range series {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			years = append(years, y)
		}
	}
	sort.Ints(years)
	values = make([]float64, len(years))
	for i, y := range years {
		values[i] = series[y]
	}
	return years, values
}

// FitLine fits a least-squares line through the points (years[i],
// values[i]); it needs at least 3 points (a caller checks) and distinct
// years.
func FitLine(years []int, values []float64) Line {
	n := len(years)
	l := Line{N: n, FirstYear: years[0], LastYear: years[n-1]}
	for i := range years {
		l.XMean += float64(years[i])
		l.YMean += values[i]
	}
	l.XMean /= float64(n)
	l.YMean /= float64(n)
	var sxy float64
	for i := range years {
		dx := float64(years[i]) - l.XMean
		l.Sxx += dx * dx
		sxy += dx * (values[i] - l.YMean)
	}
	if l.Sxx > 0 {
		l.Slope = sxy / l.Sxx
	}
	var ssr float64
	for i := range years {
		r := values[i] - l.at(float64(years[i]))
		ssr += r * r
	}
	if n > 2 {
		l.ResidualSD = math.Sqrt(ssr / float64(n-2))
		l.T = StudentTQuantile(0.975, n-2)
	}
	return l
}

func (l Line) at(x float64) float64 { return l.YMean + l.Slope*(x-l.XMean) }

// At is the line's value in year and its 95 % prediction interval for a new
// observation there: ŷ ± t · s · √(1 + 1/N + (x − x̄)² / Sxx).
func (l Line) At(year int) (value, low, high float64) {
	x := float64(year)
	value = l.at(x)
	if l.N < minFitPoints || l.Sxx == 0 {
		return value, value, value
	}
	dx := x - l.XMean
	half := l.T * l.ResidualSD * math.Sqrt(1+1/float64(l.N)+dx*dx/l.Sxx)
	return value, value - half, value + half
}
