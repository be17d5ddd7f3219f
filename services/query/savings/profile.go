package savings

import "math/big"

// OptimismBias applies the Green Book's optimism bias adjustment
// (docs/savings.md): benefits × (1 − obBenefits), costs × (1 + obCosts).
func OptimismBias(benefit, cost, obBenefits, obCosts *big.Rat) (adjBenefit, adjCost *big.Rat) {
	one := big.NewRat(1, 1)
	adjBenefit = new(big.Rat).Mul(benefit, new(big.Rat).Sub(one, obBenefits))
	adjCost = new(big.Rat).Mul(cost, new(big.Rat).Add(one, obCosts))
	return adjBenefit, adjCost
}

// BenefitProfile spreads the first year's benefit b1 over years 0 … horizon
// (docs/savings.md): benefits start in year 1 + lag and last persistence years,
// falling by dropOff each year after the first,
// B(1+lag+j) = b1 · (1 − dropOff)^j for j = 0 … persistence − 1. Years
// outside that window are nil (no benefit modelled); years beyond the
// horizon are not appraised.
func BenefitProfile(b1 *big.Rat, lag, persistence int, dropOff *big.Rat, horizon int) []*big.Rat {
	out := make([]*big.Rat, horizon+1)
	keep := new(big.Rat).Sub(big.NewRat(1, 1), dropOff)
	b := new(big.Rat).Set(b1)
	for j := range persistence {
		t := 1 + lag + j
		if t > horizon || t < 0 {
			break
		}
		out[t] = new(big.Rat).Set(b)
		b.Mul(b, keep)
	}
	return out
}

// ModelledOutcomes is the number of outcomes the modelled method credits to
// the initiative in its first year of benefits (docs/savings.md, as in the GMCA
// model): cohort × engagement × success, then × (1 − deadweight) ×
// (1 − ob_benefits), and SROI-style × (1 − displacement) × attribution.
// Pass displacement 0 and attribution 1 when they are not given.
func ModelledOutcomes(size, engagement, success, deadweight, obBenefits, displacement, attribution *big.Rat) *big.Rat {
	one := big.NewRat(1, 1)
	out := new(big.Rat).Mul(size, engagement)
	out.Mul(out, success)
	out.Mul(out, new(big.Rat).Sub(one, deadweight))
	out.Mul(out, new(big.Rat).Sub(one, obBenefits))
	out.Mul(out, new(big.Rat).Sub(one, displacement))
	return out.Mul(out, attribution)
}
