package indicators

import (
	"fmt"
	"math"
	"strings"
)

// Plausibility ceilings: what no value of a catalogue indicator comes near,
// so that a value beyond is a unit slip or a forgery, not data.
const (
	// MaxMagnitude bounds every value: 10^15 is ten times world GDP in
	// US dollars, and far beyond any count, tonnage or energy total.
	MaxMagnitude = 1e15
	// MaxPeople bounds an indicator in people: ten billion, above the
	// world's population.
	MaxPeople = 1e10
	// MaxPer100k bounds a rate per 100 000: everyone.
	MaxPer100k = 100_000
)

// Range is an indicator's declared plausible range; either end may be left
// out, and then the unit's default applies (Plausible).
type Range struct {
	Min *float64 `yaml:"min" json:"min,omitempty"`
	Max *float64 `yaml:"max" json:"max,omitempty"`
}

// Bounds is a closed interval of plausible values.
type Bounds struct {
	Min float64 `json:"min"`
	Max float64 `json:"max"`
}

// Contains reports whether v is finite and within b.
func (b Bounds) Contains(v float64) bool {
	return !math.IsNaN(v) && v >= b.Min && v <= b.Max
}

// String is "0 to 100" or "at most 1e+15 in magnitude".
func (b Bounds) String() string {
	return fmt.Sprintf("%g to %g", b.Min, b.Max)
}

// Plausible is the range an indicator's values must lie in to be believed:
// its declared range, each end not declared taken from its unit —
//
//   - a share ("%…", but not a "% change"): 0 to 100;
//   - a change in % ("% change…", growth rates): -100 up to MaxMagnitude;
//   - people: 0 to MaxPeople;
//   - a rate "per 100,000": 0 to MaxPer100k;
//   - a count (deaths, t, t/year): 0 up to MaxMagnitude;
//   - anything else: ±MaxMagnitude.
//
// The gateway refuses a partner's value outside it (value_out_of_range),
// and a savings report refuses to compute from a stored value outside it.
func (ind *Indicator) Plausible() Bounds {
	b := unitBounds(ind.Unit)
	if ind.Range != nil {
		if ind.Range.Min != nil {
			b.Min = *ind.Range.Min
		}
		if ind.Range.Max != nil {
			b.Max = *ind.Range.Max
		}
	}
	return b
}

func unitBounds(unit string) Bounds {
	u := strings.ToLower(unit)
	switch {
	case strings.HasPrefix(u, "%") && strings.Contains(u, "change"):
		return Bounds{Min: -100, Max: MaxMagnitude}
	case strings.HasPrefix(u, "%"):
		return Bounds{Min: 0, Max: 100}
	case u == "people":
		return Bounds{Min: 0, Max: MaxPeople}
	case strings.Contains(u, "per 100,000") || strings.Contains(u, "per 100 000"):
		return Bounds{Min: 0, Max: MaxPer100k}
	case u == "deaths" || u == "t" || u == "t/year" || u == "cases":
		return Bounds{Min: 0, Max: MaxMagnitude}
	}
	return Bounds{Min: -MaxMagnitude, Max: MaxMagnitude}
}

func (r *Range) check() error {
	if r == nil {
		return nil
	}
	var errs []string
	for _, e := range []struct {
		name string
		v    *float64
	}{{"min", r.Min}, {"max", r.Max}} {
		if e.v != nil && (math.IsNaN(*e.v) || math.IsInf(*e.v, 0)) {
			errs = append(errs, fmt.Sprintf("range.%s %v must be a finite number", e.name, *e.v))
		}
	}
	if r.Min != nil && r.Max != nil && *r.Min >= *r.Max {
		errs = append(errs, fmt.Sprintf("range.min %v must be below range.max %v", *r.Min, *r.Max))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}
