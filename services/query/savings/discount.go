package savings

import "math/big"

// greenBookSchedule is HM Treasury's schedule of declining long-term
// discount rates (docs/savings.md): the rate of every year up to and including
// lastYear, in thousandths.
var greenBookSchedule = []struct {
	lastYear int
	permille int64
}{
	{30, 35}, {75, 30}, {125, 25}, {200, 20}, {300, 15},
}

// greenBookAfter is the rate after the last year of the schedule, in
// thousandths.
const greenBookAfter = 10

// GreenBookRate is the Green Book discount rate of year t ≥ 1: 3.5 % for
// years 1–30, 3.0 % for 31–75, 2.5 % for 76–125, 2.0 % for 126–200, 1.5 %
// for 201–300 and 1.0 % after. Year 0 is not discounted; its rate is 0.
func GreenBookRate(t int) *big.Rat {
	if t <= 0 {
		return new(big.Rat)
	}
	for _, s := range greenBookSchedule {
		if t <= s.lastYear {
			return big.NewRat(s.permille, 1000)
		}
	}
	return big.NewRat(greenBookAfter, 1000)
}

// Discount is the discounting of an initiative: the Green Book schedule, or
// a flat Rate. In JSON it is "green_book" or a number such as 0.035.
type Discount struct {
	GreenBook bool
	Rate      Num // the flat rate when GreenBook is false
}

// GreenBook is the default discounting.
var GreenBook = Discount{GreenBook: true}

// RateOf is the discount rate of year t.
func (d Discount) RateOf(t int) *big.Rat {
	if d.GreenBook {
		return GreenBookRate(t)
	}
	if t <= 0 {
		return new(big.Rat)
	}
	return d.Rate.Rat()
}

// DiscountFactors returns DF(0) … DF(horizon) exactly: DF(0) = 1 and
// DF(t) = DF(t−1) / (1 + r(t)) (docs/savings.md), so a change of rate applies
// from the year it starts on, on top of the factor reached so far.
func DiscountFactors(d Discount, horizon int) []*big.Rat {
	dfs := make([]*big.Rat, horizon+1)
	dfs[0] = big.NewRat(1, 1)
	one := big.NewRat(1, 1)
	for t := 1; t <= horizon; t++ {
		div := new(big.Rat).Add(one, d.RateOf(t))
		dfs[t] = new(big.Rat).Quo(dfs[t-1], div)
	}
	return dfs
}
