package savings

import "math"

// SimplexFit is the answer of SimplexLeastSquares.
type SimplexFit struct {
	// Weights are w_j ≥ 0 with Σ w_j = 1, one per donor in the order given.
	Weights []float64
	// SSR is the objective at Weights: Σ_t (y(t) − Σ_j w_j x_j(t))².
	SSR float64
	// Iterations counts the solver's major and minor cycles.
	Iterations int
	// Converged is false when the iteration bound stopped the solver
	// before its optimality test passed; Weights are then still feasible,
	// and the best point it reached.
	Converged bool
}

// SimplexLeastSquares finds the weights w ≥ 0, Σ w = 1 minimising
// Σ_t (y(t) − Σ_j w_j x[j](t))²: the synthetic control's fit on the
// outcome alone (docs/savings.md, synth). x[j] is donor j's series over the
// same years as y (len(x[j]) == len(y) for every j); with no donor there
// are no weights.
//
// Since Σ w = 1, y − Σ w_j x_j = −Σ w_j (x_j − y): the problem is the
// point of minimum norm in the convex hull of the points d_j = x_j − y,
// which Wolfe's algorithm (1976) finds exactly in finitely many steps. It
// keeps a corral S of affinely independent points and the current point
// as a convex combination of them. A major cycle adds the point d_j with
// the least d_jᵀx (the steepest descent vertex) unless d_jᵀx ≥ xᵀx, the
// optimality condition; minor cycles then move to the minimum-norm point
// of S's affine hull (a least-squares problem, solved by Householder QR)
// and, when that leaves the simplex, stop at its boundary and drop the
// points whose weight reached 0. Ties go to the lowest index, so the
// answer is deterministic; the number of cycles is bounded, and the result
// is feasible whatever happens. At the answer every donor's gradient
// 2 x_jᵀ(Σ w x − y) is at least λ = 2 (Σ w x)ᵀ(Σ w x − y), with equality
// where w_j > 0 (the KKT conditions). Collinear or duplicate donors leave
// the weights non-unique; the fitted path Σ w_j x_j is unique.
func SimplexLeastSquares(y []float64, x [][]float64) SimplexFit {
	n := len(x)
	if n == 0 {
		return SimplexFit{Converged: true}
	}
	m := len(y)
	// The points d_j = x_j − y, scaled so that the largest entry is 1:
	// the tolerances below are then relative to the data.
	d := make([][]float64, n)
	scale := 0.0
	for j := range x {
		d[j] = make([]float64, m)
		for t := range m {
			v := 0.0
			if t < len(x[j]) {
				v = x[j][t] - y[t]
			}
			if !finite(v) {
				v = 0
			}
			d[j][t] = v
			scale = max(scale, math.Abs(v))
		}
	}
	w := make([]float64, n)
	if n == 1 || scale == 0 {
		// One donor, or every donor's path equals the target's: any
		// weights fit (exactly, for all-zero points); take the first.
		w[0] = 1
		return SimplexFit{Weights: w, SSR: ssr(y, x, w), Converged: true}
	}
	for j := range d {
		for t := range d[j] {
			d[j][t] /= scale
		}
	}
	s := newWolfe(d, m)
	s.run()
	for i, j := range s.set {
		w[j] = s.lambda[i]
	}
	normalise(w)
	return SimplexFit{Weights: w, SSR: ssr(y, x, w), Iterations: s.iter, Converged: s.converged}
}

// maxWolfeCycles bounds Wolfe's algorithm, which in exact arithmetic ends
// after finitely many cycles (in practice a few per donor).
func maxWolfeCycles(n, m int) int { return 1000 + 50*(n+m) }

// Tolerances of Wolfe's algorithm on points scaled to at most 1 in each
// coordinate (Wolfe's Z1, Z2, Z3).
const (
	wolfeOptimal = 1e-12 // d_jᵀx ≥ xᵀx − this × max ‖d_j‖² is optimal
	wolfeWeight  = 1e-12 // an affine weight at most this leaves the simplex
	wolfeRank    = 1e-12 // a QR diagonal below this × the column norm is rank deficiency
)

type wolfe struct {
	d         [][]float64 // the points
	m         int         // their dimension
	set       []int       // the corral S: indices into d, affinely independent
	lambda    []float64   // the current point's convex weights on set
	x         []float64   // the current point Σ lambda_i d_set[i]
	maxNorm2  float64     // max ‖d_j‖²
	iter      int
	converged bool
	alpha     []float64 // scratch: affine weights
	a, b      []float64 // scratch: the QR problem
}

func newWolfe(d [][]float64, m int) *wolfe {
	s := &wolfe{d: d, m: m, x: make([]float64, m)}
	best, bestNorm := 0, math.Inf(1)
	for j := range d {
		nn := dot(d[j], d[j])
		s.maxNorm2 = max(s.maxNorm2, nn)
		if nn < bestNorm {
			best, bestNorm = j, nn
		}
	}
	s.set = []int{best}
	s.lambda = []float64{1}
	copy(s.x, d[best])
	return s
}

func (s *wolfe) run() {
	limit := maxWolfeCycles(len(s.d), s.m)
	for s.iter < limit {
		s.iter++
		// Major cycle: the vertex of steepest descent.
		xx := dot(s.x, s.x)
		if xx == 0 {
			s.converged = true // the target lies in the donors' hull
			return
		}
		j, best := -1, math.Inf(1)
		for k := range s.d {
			if v := dot(s.x, s.d[k]); v < best {
				j, best = k, v
			}
		}
		if best >= xx-wolfeOptimal*s.maxNorm2 || s.inSet(j) {
			s.converged = true
			return
		}
		s.set = append(s.set, j)
		s.lambda = append(s.lambda, 0)
		if !s.minor(limit) {
			// The new point is (numerically) in the corral's affine
			// hull: it cannot lower the norm further.
			if last := len(s.set) - 1; s.set[last] == j {
				s.set, s.lambda = s.set[:last], s.lambda[:last]
				normalise(s.lambda)
			}
			s.setX()
			s.converged = true
			return
		}
	}
}

// minor runs minor cycles until the current point is the minimum-norm
// point of the corral's affine hull, inside the simplex. It returns false
// when the corral is affinely dependent.
func (s *wolfe) minor(limit int) bool {
	for {
		if !s.affine() {
			return false
		}
		inside := true
		for _, a := range s.alpha {
			if a <= wolfeWeight {
				inside = false
				break
			}
		}
		if inside {
			copy(s.lambda, s.alpha)
			s.setX()
			return true
		}
		if s.iter >= limit {
			return true // the bound: keep the current feasible point
		}
		s.iter++
		// Move from lambda towards alpha as far as the simplex allows.
		theta := 1.0
		for i, a := range s.alpha {
			if a <= wolfeWeight && s.lambda[i] > a {
				theta = min(theta, s.lambda[i]/(s.lambda[i]-a))
			}
		}
		keepSet, keepLambda := s.set[:0], s.lambda[:0]
		dropped := false
		for i := range s.set {
			l := theta*s.alpha[i] + (1-theta)*s.lambda[i]
			if l <= wolfeWeight && (!dropped || l <= 0) {
				dropped = true // drop at least one, the first to reach 0
				continue
			}
			keepSet = append(keepSet, s.set[i])
			keepLambda = append(keepLambda, max(l, 0))
		}
		s.set, s.lambda = keepSet, keepLambda
		normalise(s.lambda)
		s.setX()
	}
}

func (s *wolfe) inSet(j int) bool {
	for _, k := range s.set {
		if k == j {
			return true
		}
	}
	return false
}

func (s *wolfe) setX() {
	clear(s.x)
	for i, j := range s.set {
		for t, v := range s.d[j] {
			s.x[t] += s.lambda[i] * v
		}
	}
}

// affine sets alpha to the affine weights (Σ alpha = 1) of the
// minimum-norm point of the corral's affine hull: with base p_0 and
// E = [p_i − p_0], it minimises ‖p_0 + E β‖ by Householder QR, and
// alpha = (1 − Σβ, β). It returns false when E is rank deficient.
func (s *wolfe) affine() bool {
	k, m := len(s.set)-1, s.m
	s.alpha = append(s.alpha[:0], make([]float64, k+1)...)
	if k == 0 {
		s.alpha[0] = 1
		return true
	}
	if k > m {
		return false
	}
	s.a = append(s.a[:0], make([]float64, m*k)...)
	s.b = append(s.b[:0], make([]float64, m)...)
	base := s.d[s.set[0]]
	for c := range k {
		p := s.d[s.set[c+1]]
		for t := range m {
			s.a[c*m+t] = p[t] - base[t]
		}
	}
	for t := range m {
		s.b[t] = -base[t]
	}
	beta, ok := householderLS(s.a, s.b, m, k)
	if !ok {
		return false
	}
	sum := 0.0
	for i, v := range beta {
		s.alpha[i+1] = v
		sum += v
	}
	s.alpha[0] = 1 - sum
	return true
}

// householderLS solves min ‖A β − b‖ for A m×k (column-major, k ≤ m) by
// Householder QR, overwriting A and b. It returns false when a diagonal of
// R is negligible beside its column's norm: A is rank deficient.
func householderLS(a, b []float64, m, k int) ([]float64, bool) {
	col := func(c int) []float64 { return a[c*m : (c+1)*m] }
	for c := range k {
		v := col(c)
		norm0 := math.Sqrt(dot(v, v)) // the column's norm before this step
		var sub float64
		for t := c; t < m; t++ {
			sub += v[t] * v[t]
		}
		alpha := math.Sqrt(sub)
		if alpha <= wolfeRank*max(norm0, 1e-300) || alpha == 0 {
			return nil, false
		}
		if v[c] > 0 {
			alpha = -alpha
		}
		// Reflector u = v[c:] − alpha·e_1, applied as H = I − 2uuᵀ/uᵀu.
		v[c] -= alpha
		uu := 0.0
		for t := c; t < m; t++ {
			uu += v[t] * v[t]
		}
		apply := func(z []float64) {
			var p float64
			for t := c; t < m; t++ {
				p += v[t] * z[t]
			}
			f := 2 * p / uu
			for t := c; t < m; t++ {
				z[t] -= f * v[t]
			}
		}
		for c2 := c + 1; c2 < k; c2++ {
			apply(col(c2))
		}
		apply(b)
		v[c] = alpha // R's diagonal; below it the reflector is no longer needed
	}
	beta := make([]float64, k)
	for i := k - 1; i >= 0; i-- {
		sum := b[i]
		for c := i + 1; c < k; c++ {
			sum -= col(c)[i] * beta[c]
		}
		beta[i] = sum / col(i)[i]
		if !finite(beta[i]) {
			return nil, false
		}
	}
	return beta, true
}

// normalise clips w at 0 and rescales it to sum to 1 (uniform if it sums
// to 0).
func normalise(w []float64) {
	sum := 0.0
	for i, v := range w {
		if v < 0 || !finite(v) {
			w[i] = 0
		}
		sum += w[i]
	}
	if sum <= 0 {
		for i := range w {
			w[i] = 1 / float64(len(w))
		}
		return
	}
	for i := range w {
		w[i] /= sum
	}
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// ssr is Σ_t (y(t) − Σ_j w_j x_j(t))².
func ssr(y []float64, x [][]float64, w []float64) float64 {
	var s float64
	for t := range y {
		fit := 0.0
		for j := range x {
			if w[j] != 0 {
				fit += w[j] * x[j][t]
			}
		}
		r := y[t] - fit
		s += r * r
	}
	return s
}
