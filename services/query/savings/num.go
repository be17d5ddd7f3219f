package savings

import (
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"strings"
)

// Num is a number of the initiative document, held exactly as the decimal
// its JSON literal writes: 0.1 is one tenth, not the nearest float64. The
// zero Num is 0. A Num is never changed once made, so copies may share it.
type Num struct{ r *big.Rat }

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

// MarshalJSON writes the exact decimal as a JSON number.
func (n Num) MarshalJSON() ([]byte, error) { return []byte(n.String()), nil }

// UnmarshalJSON reads a JSON number literal exactly.
func (n *Num) UnmarshalJSON(b []byte) error {
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
