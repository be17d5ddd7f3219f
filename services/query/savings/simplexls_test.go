package savings_test

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/services/query/savings"
)

// fitted is Σ_j w_j x_j(t).
func fitted(x [][]float64, w []float64, t int) float64 {
	var f float64
	for j := range x {
		f += w[j] * x[j][t]
	}
	return f
}

// objective is Σ_t (y(t) − Σ_j w_j x_j(t))², computed here apart from the
// solver.
func objective(y []float64, x [][]float64, w []float64) float64 {
	var s float64
	for t := range y {
		r := y[t] - fitted(x, w, t)
		s += r * r
	}
	return s
}

// requireSimplexOptimum holds a fit to what makes it a minimiser: feasible
// (w ≥ 0, Σ w = 1), the KKT conditions (every gradient_j ≥ λ, with
// equality where w_j > 0, λ = Σ w_j gradient_j), and an objective no worse
// than every vertex's and the uniform weights'. tol is relative to the
// data's scale.
func requireSimplexOptimum(t *testing.T, y []float64, x [][]float64, fit savings.SimplexFit, tol float64) {
	t.Helper()
	require.True(t, fit.Converged, "converged in %d cycles", fit.Iterations)
	w := fit.Weights
	require.Len(t, w, len(x))
	var sum float64
	for _, v := range w {
		require.GreaterOrEqual(t, v, 0.0)
		sum += v
	}
	require.InDelta(t, 1, sum, 1e-12)
	got := objective(y, x, w)
	require.InDelta(t, got, fit.SSR, 1e-9*(1+got), "SSR is the objective at the weights")

	// Gradients in the form 2 (x_j − y)ᵀ(fit − y), which differs from
	// 2 x_jᵀ(fit − y) by the same constant for every j (Σ w = 1) and loses
	// less to rounding.
	scale := 0.0
	for j := range x {
		for i := range y {
			scale = max(scale, math.Abs(x[j][i]-y[i]))
		}
	}
	slack := tol * (1 + 2*float64(len(y))*scale*scale)
	grad := make([]float64, len(x))
	lambda := 0.0
	for j := range x {
		for i := range y {
			grad[j] += 2 * (x[j][i] - y[i]) * (fitted(x, w, i) - y[i])
		}
		lambda += w[j] * grad[j]
	}
	for j := range x {
		require.GreaterOrEqual(t, grad[j], lambda-slack, "KKT: gradient of donor %d is at least λ", j)
		if w[j] > 1e-9 {
			require.InDelta(t, lambda, grad[j], slack, "KKT: donor %d with weight %g is on the optimum's face", j, w[j])
		}
	}
	better := func(v []float64) {
		o := objective(y, x, v)
		require.LessOrEqual(t, got, o+slack, "no worse than %v", v)
	}
	uniform := make([]float64, len(x))
	for j := range x {
		vertex := make([]float64, len(x))
		vertex[j] = 1
		better(vertex)
		uniform[j] = 1 / float64(len(x))
	}
	better(uniform)
}

// combine is Σ_j w_j x_j, year by year.
func combine(x [][]float64, w []float64) []float64 {
	y := make([]float64, len(x[0]))
	for t := range y {
		y[t] = fitted(x, w, t)
	}
	return y
}

func randomSeries(r *rand.Rand, n, years int) [][]float64 {
	x := make([][]float64, n)
	for j := range x {
		x[j] = make([]float64, years)
		level := 50 + 100*r.Float64()
		for t := range x[j] {
			x[j][t] = level + 10*r.NormFloat64()
		}
	}
	return x
}

func TestSimplexLeastSquaresRecoversAConvexCombination(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	x := randomSeries(r, 6, 20)
	want := []float64{0, 0.3, 0, 0.5, 0.2, 0}
	y := combine(x, want)
	fit := savings.SimplexLeastSquares(y, x)
	requireSimplexOptimum(t, y, x, fit, 1e-9)
	require.InDeltaSlice(t, want, fit.Weights, 1e-9, "20 years in general position pin the weights down")
	require.InDelta(t, 0, fit.SSR, 1e-12)
}

func TestSimplexLeastSquaresSinglePerfectDonor(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	x := randomSeries(r, 5, 12)
	y := append([]float64(nil), x[3]...)
	fit := savings.SimplexLeastSquares(y, x)
	requireSimplexOptimum(t, y, x, fit, 1e-9)
	require.InDeltaSlice(t, []float64{0, 0, 0, 1, 0}, fit.Weights, 1e-12)

	one := savings.SimplexLeastSquares([]float64{1, 2, 3}, [][]float64{{5, 5, 5}})
	require.Equal(t, []float64{1}, one.Weights, "one donor takes all the weight")
	require.InDelta(t, 16+9+4, one.SSR, 1e-12)
	require.Empty(t, savings.SimplexLeastSquares([]float64{1}, nil).Weights)
}

// Duplicate and collinear donors leave the weights non-unique: the answer
// must still be a minimiser, with the unique fitted path.
func TestSimplexLeastSquaresDuplicateAndCollinearDonors(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	base := randomSeries(r, 3, 15)
	a, b, c := base[0], base[1], base[2]
	mid := combine([][]float64{a, b}, []float64{0.5, 0.5}) // collinear with a and b
	x := [][]float64{a, a, b, mid, c, b}
	y := combine([][]float64{a, b, c}, []float64{0.25, 0.35, 0.4})
	fit := savings.SimplexLeastSquares(y, x)
	requireSimplexOptimum(t, y, x, fit, 1e-9)
	require.InDelta(t, 0, fit.SSR, 1e-9)
	require.InDeltaSlice(t, y, combine(x, fit.Weights), 1e-9, "the fitted path is the target's")
	require.InDelta(t, 0.4, fit.Weights[4], 1e-9, "c is not collinear with the others: its weight is pinned")

	// A target outside the hull: the projection is unique even though the
	// weights on the duplicates are not.
	far := append([]float64(nil), y...)
	for i := range far {
		far[i] += 30
	}
	fit = savings.SimplexLeastSquares(far, x)
	requireSimplexOptimum(t, far, x, fit, 1e-9)
	again := savings.SimplexLeastSquares(far, [][]float64{a, b, mid, c})
	require.InDelta(t, again.SSR, fit.SSR, 1e-9*(1+again.SSR), "duplicates change nothing")
	require.InDeltaSlice(t, combine([][]float64{a, b, mid, c}, again.Weights), combine(x, fit.Weights), 1e-7)
	require.Equal(t, fit, savings.SimplexLeastSquares(far, x), "deterministic")
}

func TestSimplexLeastSquaresDegenerateDonors(t *testing.T) {
	flat := func(v float64, n int) []float64 {
		s := make([]float64, n)
		for i := range s {
			s[i] = v
		}
		return s
	}
	for name, tc := range map[string]struct {
		y   []float64
		x   [][]float64
		ssr float64
	}{
		"flat donors around a flat target": {flat(5, 8), [][]float64{flat(3, 8), flat(7, 8), flat(10, 8)}, 0},
		"flat donors above a flat target":  {flat(1, 4), [][]float64{flat(3, 4), flat(7, 4)}, 4 * 4},
		"every donor is the target":        {flat(2, 5), [][]float64{flat(2, 5), flat(2, 5)}, 0},
		"zero donors":                      {[]float64{1, -1, 2}, [][]float64{flat(0, 3), flat(0, 3)}, 6},
		"no years":                         {nil, [][]float64{{}, {}}, 0},
	} {
		t.Run(name, func(t *testing.T) {
			fit := savings.SimplexLeastSquares(tc.y, tc.x)
			requireSimplexOptimum(t, tc.y, tc.x, fit, 1e-9)
			require.InDelta(t, tc.ssr, fit.SSR, 1e-9)
		})
	}
}

// With fewer pre-period years than donors many weights fit: the answer
// must satisfy the KKT conditions.
func TestSimplexLeastSquaresFewerYearsThanDonors(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, years := range []int{1, 2, 3, 5} {
		x := randomSeries(r, 12, years)
		y := make([]float64, years)
		for i := range y {
			y[i] = 40 + 150*r.Float64() // inside the hull or outside it
		}
		fit := savings.SimplexLeastSquares(y, x)
		requireSimplexOptimum(t, y, x, fit, 1e-9)
		support := 0
		for _, w := range fit.Weights {
			if w > 0 {
				support++
			}
		}
		require.LessOrEqual(t, support, years+1, "at most years + 1 affinely independent donors carry weight")
	}
}

// FuzzSimplexLeastSquares: on any panel (values in ±327.67, duplicates
// and flat series included) the result is feasible, meets the KKT
// conditions and is no worse than every vertex and the uniform weights.
func FuzzSimplexLeastSquares(f *testing.F) {
	f.Add(uint8(5), uint8(10), []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 200, 100, 3})
	f.Add(uint8(12), uint8(3), []byte{0, 0, 0, 0, 255, 255})
	f.Add(uint8(1), uint8(1), []byte{})
	f.Add(uint8(40), uint8(20), []byte{7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 9})
	f.Fuzz(func(t *testing.T, donors, years uint8, raw []byte) {
		n, m := 1+int(donors%40), 1+int(years%25)
		at := 0
		next := func() float64 {
			if len(raw) < 2 {
				return 0
			}
			v := float64(int16(binary.LittleEndian.Uint16(raw[at%(len(raw)-1):]))) / 100
			at += 2
			return v
		}
		y := make([]float64, m)
		for i := range y {
			y[i] = next()
		}
		x := make([][]float64, n)
		for j := range x {
			x[j] = make([]float64, m)
			for i := range x[j] {
				x[j][i] = next()
			}
		}
		requireSimplexOptimum(t, y, x, savings.SimplexLeastSquares(y, x), 1e-8)
	})
}
