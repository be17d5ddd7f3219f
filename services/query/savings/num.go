package savings

import (
	"encoding/json"
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"strings"
)

// Num is a number of the initiative document, held exactly as the decimal
// its JSON literal writes: 0.1 is one tenth, not the nearest float64. The
// zero Num is 0. A Num is never changed once made, so copies may share it.
//
// A Num may be uncertain (docs/savings.md, "Monte Carlo"): a range
// {"low", "mode", "high"} (triangular) or {"low", "high"} (uniform). Its
// value is then the central one — the mode, or the midpoint — which every
// computation of the point report uses; Range gives the distribution.
type Num struct {
	r *big.Rat
	d *Range
}

// Range is the distribution of an uncertain Num: triangular when Mode is
// set, uniform otherwise; Low < High, and Low ≤ Mode ≤ High.
type Range struct {
	Low, High Num
	Mode      *Num
}

// NewRange returns the uncertain Num of low, mode (nil for uniform) and
// high, or an error naming the part out of order.
func NewRange(low, high Num, mode *Num) (Num, error) {
	if low.rat().Cmp(high.rat()) >= 0 {
		return Num{}, fmt.Errorf("low %s must be below high %s", low, high)
	}
	var central *big.Rat
	if mode != nil {
		if mode.rat().Cmp(low.rat()) < 0 || mode.rat().Cmp(high.rat()) > 0 {
			return Num{}, fmt.Errorf("mode %s must lie between low %s and high %s", mode, low, high)
		}
		central = new(big.Rat).Set(mode.rat())
		m := *mode
		mode = &m
	} else {
		central = new(big.Rat).Add(low.rat(), high.rat())
		central.Quo(central, big.NewRat(2, 1))
	}
	return Num{r: central, d: &Range{Low: low, High: high, Mode: mode}}, nil
}

// Range returns the distribution of an uncertain Num, nil for a plain one.
func (n Num) Range() *Range { return n.d }

// Ends are the values a bound on n must hold for: its low and high end
// when uncertain, else n itself.
func (n Num) Ends() []Num {
	if n.d == nil {
		return []Num{n}
	}
	return []Num{n.d.Low, n.d.High}
}

// Bounds on number literals, so that no literal ("1e999999") makes exact
// arithmetic slow: at most maxLiteralLen characters and an exponent within
// ±maxExponent.
const (
	maxLiteralLen = 40
	maxExponent   = 30
)

var numberRE = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// ParseNum reads a JSON number literal exactly.
func ParseNum(s string) (Num, error) {
	if !numberRE.MatchString(s) {
		return Num{}, fmt.Errorf("%q is not a number", s)
	}
	if len(s) > maxLiteralLen {
		return Num{}, fmt.Errorf("%s has more than %d characters", s, maxLiteralLen)
	}
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.Atoi(s[i+1:])
		if err != nil || e > maxExponent || e < -maxExponent {
			return Num{}, fmt.Errorf("%s has an exponent outside ±%d", s, maxExponent)
		}
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return Num{}, fmt.Errorf("%q is not a number", s)
	}
	return Num{r: r}, nil
}

// mustNum is ParseNum for constants of the package.
func mustNum(s string) Num {
	n, err := ParseNum(s)
	if err != nil {
		panic(err) // only reached with a bad constant in this package
	}
	return n
}

// NumOfRat returns a Num holding a copy of r.
func NumOfRat(r *big.Rat) Num { return Num{r: new(big.Rat).Set(r)} }

// Rat returns a copy of the exact value.
func (n Num) Rat() *big.Rat { return new(big.Rat).Set(n.rat()) }

var ratZero = new(big.Rat)

// rat returns the value without copying; callers must not change it.
func (n Num) rat() *big.Rat {
	if n.r == nil {
		return ratZero
	}
	return n.r
}

// Float64 is the nearest float64.
func (n Num) Float64() float64 {
	f, _ := n.rat().Float64()
	return f
}

// Sign is -1, 0 or +1.
func (n Num) Sign() int { return n.rat().Sign() }

// cmp compares n with the decimal s.
func (n Num) cmp(s string) int { return n.rat().Cmp(mustNum(s).rat()) }

// String is the exact decimal.
func (n Num) String() string { return exactDecimal(n.rat()) }

// MarshalJSON writes the exact decimal as a JSON number, and an uncertain
// Num as its range.
func (n Num) MarshalJSON() ([]byte, error) {
	if d := n.d; d != nil {
		if d.Mode != nil {
			return []byte(`{"low":` + d.Low.String() + `,"mode":` + d.Mode.String() + `,"high":` + d.High.String() + `}`), nil
		}
		return []byte(`{"low":` + d.Low.String() + `,"high":` + d.High.String() + `}`), nil
	}
	return []byte(n.String()), nil
}

// UnmarshalJSON reads a JSON number literal exactly, or a range
// {"low", "mode", "high"} / {"low", "high"}.
func (n *Num) UnmarshalJSON(b []byte) error {
	if t := strings.TrimSpace(string(b)); strings.HasPrefix(t, "{") {
		var r struct {
			Low  *Num `json:"low"`
			Mode *Num `json:"mode"`
			High *Num `json:"high"`
		}
		if err := json.Unmarshal(b, &r); err != nil {
			return err
		}
		if r.Low == nil || r.High == nil {
			return fmt.Errorf("a range needs low and high")
		}
		v, err := NewRange(*r.Low, *r.High, r.Mode)
		if err != nil {
			return err
		}
		*n = v
		return nil
	}
	v, err := ParseNum(string(b))
	if err != nil {
		return err
	}
	*n = v
	return nil
}

// exactDecimal writes r as a decimal. Every value read from a document is a
// finite decimal; any other rational is written with 20 decimals, the last
// one rounded half-even.
func exactDecimal(r *big.Rat) string {
	den := new(big.Int).Set(r.Denom())
	k := 0
	for _, p := range []int64{2, 5} {
		n := 0
		bp := big.NewInt(p)
		m := new(big.Int)
		for {
			q, rem := new(big.Int).QuoRem(den, bp, m)
			if rem.Sign() != 0 {
				break
			}
			den = q
			n++
		}
		k = max(k, n)
	}
	if den.Cmp(big.NewInt(1)) != 0 {
		return formatScaled(roundScaled(r, 20), 20)
	}
	return formatScaled(roundScaled(r, k), k)
}

// roundScaled returns r × 10^exp rounded half-even to an integer.
func roundScaled(r *big.Rat, exp int) *big.Int {
	num := new(big.Int).Abs(r.Num())
	num.Mul(num, pow10(exp))
	q, m := new(big.Int).QuoRem(num, r.Denom(), new(big.Int))
	switch c := new(big.Int).Lsh(m, 1).Cmp(r.Denom()); {
	case c > 0, c == 0 && q.Bit(0) == 1:
		q.Add(q, big.NewInt(1))
	}
	if r.Sign() < 0 {
		q.Neg(q)
	}
	return q
}

func pow10(exp int) *big.Int {
	return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(exp)), nil)
}

// formatScaled writes q / 10^exp as a decimal without trailing zeros after
// the point, and never as "-0".
func formatScaled(q *big.Int, exp int) string {
	neg := q.Sign() < 0
	digits := new(big.Int).Abs(q).String()
	if exp > 0 {
		if len(digits) <= exp {
			digits = strings.Repeat("0", exp-len(digits)+1) + digits
		}
		intPart, frac := digits[:len(digits)-exp], strings.TrimRight(digits[len(digits)-exp:], "0")
		digits = intPart
		if frac != "" {
			digits += "." + frac
		}
	}
	if neg && digits != "0" {
		return "-" + digits
	}
	return digits
}
