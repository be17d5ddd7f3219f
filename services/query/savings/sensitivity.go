package savings

import (
	"math"
	"sort"
	"strings"
)

// Sensitivity says which input the NPV hangs on (docs/savings.md,
// "Sensitivity").
type Sensitivity struct {
	// NPV at the central values of every input, in the model's float64
	// arithmetic: the report's exact npv to the minor unit.
	NPV float64 `json:"npv"`
	// Tornado has one bar per uncertain input — and the counterfactual,
	// when it has an interval in every year with avoided cases — ordered
	// by swing, largest first.
	Tornado []TornadoBar `json:"tornado"`
	// SwitchingValues has, for every input but a cost that is a plain
	// number, the value at which NPV crosses zero, the others central.
	SwitchingValues []SwitchingValue `json:"switching_values"`
}

// TornadoBar is NPV with one input at its low and at its high end, every
// other input at its central value.
type TornadoBar struct {
	Input string `json:"input"`
	// Low and High are the input's ends; absent for the counterfactual,
	// whose ends are its interval's (Range says which).
	Low   *float64 `json:"low,omitempty"`
	High  *float64 `json:"high,omitempty"`
	Range string   `json:"range,omitempty"`
	// NPVAtLow and NPVAtHigh are NPV with the input at its low and high
	// end; Swing is |NPVAtHigh − NPVAtLow|.
	NPVAtLow  float64 `json:"npv_at_low"`
	NPVAtHigh float64 `json:"npv_at_high"`
	Swing     float64 `json:"swing"`
}

// SwitchingValue is the value of one input at which NPV = 0, the others at
// their central values; Value is nil ("none in range") when NPV keeps its
// sign over the searched range.
type SwitchingValue struct {
	Input    string     `json:"input"`
	Central  float64    `json:"central"`
	Value    *float64   `json:"value"`
	Searched [2]float64 `json:"searched"`
	Note     string     `json:"note,omitempty"`
}

// CounterfactualInput names the counterfactual as an input of the tornado.
const CounterfactualInput = "counterfactual"

// NoneInRange is the note of a switching value that does not exist.
const NoneInRange = "none in range: NPV keeps its sign over the searched range"

// switchTolerance is the relative width a switching value is bisected to.
const switchTolerance = 1e-9

// sensitivity computes the tornado and the switching values of the model,
// with the report's totals for the counterfactual's bar.
func (m *model) sensitivity(tot Totals) *Sensitivity {
	s := &Sensitivity{NPV: m.round(m.eval(m.central, nil).npv), Tornado: []TornadoBar{}, SwitchingValues: []SwitchingValue{}}
	with := func(in modelInput, x float64) float64 {
		p := m.central.clone()
		*in.at(&p) = x
		return m.eval(p, nil).npv
	}
	for _, in := range m.inputs {
		r := in.num.Range()
		if r != nil {
			lo, hi := r.Low.Float64(), r.High.Float64()
			a, b := with(in, lo), with(in, hi)
			s.Tornado = append(s.Tornado, TornadoBar{Input: in.path, Low: &lo, High: &hi,
				NPVAtLow: m.round(a), NPVAtHigh: m.round(b), Swing: m.round(math.Abs(b - a))})
		}
		if r == nil && strings.HasPrefix(in.path, "costs[") {
			continue // one of possibly many yearly costs, given as certain
		}
		s.SwitchingValues = append(s.SwitchingValues, m.switching(in, func(x float64) float64 { return with(in, x) }))
	}
	if tot.NPVLow != nil && tot.NPVHigh != nil {
		a, b := m.round(tot.NPVLow.Float64()), m.round(tot.NPVHigh.Float64())
		s.Tornado = append(s.Tornado, TornadoBar{Input: CounterfactualInput, Range: tot.Interval,
			NPVAtLow: a, NPVAtHigh: b, Swing: m.round(math.Abs(b - a))})
	}
	sort.SliceStable(s.Tornado, func(i, j int) bool { return s.Tornado[i].Swing > s.Tornado[j].Swing })
	if !s.finite() {
		return nil // figures beyond float64 at some end of a range: no sensitivity rather than a broken one
	}
	return s
}

func (s *Sensitivity) finite() bool {
	ok := finite(s.NPV)
	for _, b := range s.Tornado {
		ok = ok && finite(b.NPVAtLow, b.NPVAtHigh, b.Swing)
	}
	for _, v := range s.SwitchingValues {
		ok = ok && finite(v.Central, v.Searched[0], v.Searched[1]) && (v.Value == nil || finite(*v.Value))
	}
	return ok
}

// switching finds where npv(x) crosses zero by bisection, over the input's
// range widened to [0, 1] for a share and to [0, 10 × central] for an
// amount.
func (m *model) switching(in modelInput, npv func(float64) float64) SwitchingValue {
	lo, hi := 0.0, 1.0
	if in.kind == kindAmount {
		hi = 10 * in.central
	}
	if r := in.num.Range(); r != nil {
		lo, hi = min(lo, r.Low.Float64()), max(hi, r.High.Float64())
	}
	sv := SwitchingValue{Input: in.path, Central: in.central, Searched: [2]float64{lo, hi}}
	fa, fb := npv(lo), npv(hi)
	switch {
	case fa == 0:
		sv.Value = &lo
		return sv
	case fb == 0:
		sv.Value = &hi
		return sv
	case math.Signbit(fa) == math.Signbit(fb) || math.IsNaN(fa) || math.IsNaN(fb):
		sv.Note = NoneInRange
		return sv
	}
	a, b := lo, hi
	for range 200 { // 2^-200 of any range is far below the tolerance
		mid := a + (b-a)/2
		fm := npv(mid)
		if fm == 0 {
			a, b = mid, mid
			break
		}
		if math.Signbit(fm) == math.Signbit(fa) {
			a, fa = mid, fm
		} else {
			b = mid
		}
		if b-a <= switchTolerance*math.Max(math.Abs(a), math.Abs(b)) {
			break
		}
	}
	v := a + (b-a)/2
	sv.Value = &v
	return sv
}
