package savings

import (
	"math/big"
	"strings"
)

// iso4217 holds the ISO 4217 currency codes (current ones, and recently
// withdrawn ones a unit cost of an earlier price year may be quoted in) by
// their minor unit: the number of decimals money is shown with.
var iso4217 = map[int]string{
	0: "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF",
	2: "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN BZD " +
		"CAD CDF CHE CHF CHW CNY COP COU CRC CUC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL " +
		"GHS GIP GMD GTQ GYD HKD HNL HRK HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR " +
		"LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB " +
		"PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP " +
		"SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG ZWL",
	3: "BHD IQD JOD KWD LYD OMR TND",
	4: "CLF UYW",
}

var minorUnits = func() map[string]int {
	m := map[string]int{}
	for exp, codes := range iso4217 {
		for _, c := range strings.Fields(codes) {
			m[c] = exp
		}
	}
	return m
}()

// MinorUnits is the ISO 4217 exponent of a currency (JPY 0, GBP 2, BHD 3),
// and whether the code is an ISO 4217 currency at all.
func MinorUnits(currency string) (int, bool) {
	exp, ok := minorUnits[currency]
	return exp, ok
}

// RoundHalfEven returns r rounded to exp decimals, ties to the even
// neighbour (2.345 → 2.34, 2.355 → 2.36 with exp 2).
func RoundHalfEven(r *big.Rat, exp int) *big.Rat {
	return new(big.Rat).SetFrac(roundScaled(r, exp), pow10(exp))
}

// Money is an exact amount in a currency. It is rounded half-even to the
// currency's minor unit only when shown (String, MarshalJSON); sums and
// products are made on the exact value (Rat). The zero Money is 0 with no
// decimals.
type Money struct {
	r   *big.Rat
	exp int // minor unit of the currency
}

// NewMoney holds r (not copied: do not change it afterwards) in a currency
// with exp decimals.
func NewMoney(r *big.Rat, exp int) Money { return Money{r: r, exp: exp} }

// Rat returns a copy of the exact amount.
func (m Money) Rat() *big.Rat {
	if m.r == nil {
		return new(big.Rat)
	}
	return new(big.Rat).Set(m.r)
}

// Float64 is the nearest float64 of the exact amount.
func (m Money) Float64() float64 {
	f, _ := m.Rat().Float64()
	return f
}

// String is the amount rounded half-even to the minor unit, without
// trailing zeros ("157500", "1234.5").
func (m Money) String() string {
	if m.r == nil {
		return "0"
	}
	return formatScaled(roundScaled(m.r, m.exp), m.exp)
}

// MarshalJSON writes the rounded amount as a plain JSON number.
func (m Money) MarshalJSON() ([]byte, error) { return []byte(m.String()), nil }
