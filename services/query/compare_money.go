package query

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/services/query/savings"
)

// GDPIndicators are the GDP series a share of GDP is turned into money
// with (docs/savings.md, "Beside the cost trend"), in the order they are
// tried: the first in the initiative's currency that holds values for the
// place.
var GDPIndicators = []string{"NY.GDP.MKTP.CD", "eurostat.nama.gdp_cp_meur"}

// PopulationIndicator is the population a per-capita cost is multiplied by.
const PopulationIndicator = "SP.POP.TOTL"

// moneyUnit reads a unit of money: its ISO 4217 currency, the multiplier
// of one unit ("million EUR": 1e6) and whether it is per person. ok is
// false for anything else, a unit in constant prices ("million EUR (2020
// prices)") or in an unnamed national currency included.
func moneyUnit(unit string) (currency string, scale float64, perCapita, ok bool) {
	u := strings.TrimSpace(unit)
	for _, suffix := range []string{" per person", " per inhabitant", " per capita", " per head"} {
		if rest, cut := strings.CutSuffix(u, suffix); cut {
			u, perCapita = rest, true
			break
		}
	}
	u = strings.TrimPrefix(u, "current ")
	scale = 1
	for word, m := range map[string]float64{"thousand ": 1e3, "million ": 1e6, "billion ": 1e9} {
		if rest, cut := strings.CutPrefix(u, word); cut {
			u, scale = rest, m
			break
		}
	}
	switch {
	case u == "US$":
		return "USD", scale, perCapita, true
	case u == "€":
		return "EUR", scale, perCapita, true
	case u == "£":
		return "GBP", scale, perCapita, true
	case len(u) == 3 && strings.ToUpper(u) == u && strings.IndexFunc(u, func(r rune) bool { return r < 'A' || r > 'Z' }) < 0:
		return u, scale, perCapita, true
	}
	return "", 0, false, false
}

// isShareOfGDP reports whether unit is a percentage of GDP.
func isShareOfGDP(unit string) bool {
	return strings.EqualFold(strings.TrimSpace(unit), "% of GDP")
}

// costConversion chooses how cost (of ind, in geo) becomes money in
// currency: through a GDP series for a share of GDP, the population for a
// per-capita amount, a constant for an amount of money; or none, with the
// reason naming what is missing. Only the store's errors are errors.
func (s *Service) costConversion(ctx context.Context, ind *indicators.Indicator, geo, currency string) (savings.Conversion, error) {
	none := func(format string, args ...any) (savings.Conversion, error) {
		return savings.Conversion{Kind: savings.ConvertNone, Reason: fmt.Sprintf(format, args...)}, nil
	}
	if isShareOfGDP(ind.Unit) {
		var known []string
		for _, code := range GDPIndicators {
			gdp, ok := s.lookup(ctx).Indicator(code)
			if !ok {
				continue
			}
			cur, scale, perCapita, ok := moneyUnit(gdp.Unit)
			if !ok || perCapita {
				continue
			}
			known = append(known, fmt.Sprintf("%s (%s)", code, cur))
			if cur != currency {
				continue
			}
			series, err := s.viaSeries(ctx, gdp, geo)
			if err != nil {
				return savings.Conversion{}, err
			}
			if series == nil {
				known[len(known)-1] += fmt.Sprintf(", which holds no value for %s", geo)
				continue
			}
			return savings.Conversion{Kind: savings.ConvertShareOfGDP, Scale: scale / 100, Via: series,
				Formula: fmt.Sprintf("%s / 100 × %s (%s)", ind.Code, code, gdp.Unit)}, nil
		}
		return none("%s is a share of GDP, and no GDP series of %s in %s is held to turn it into money: Ounce reads GDP from %s; load one in %s for %s, or express the initiative's amounts in a currency one of them is in",
			ind.Code, geo, currency, strings.Join(known, ", "), currency, geo)
	}
	cur, scale, perCapita, ok := moneyUnit(ind.Unit)
	switch {
	case !ok:
		return none("the unit of %s, %q, is neither a share of GDP, an amount of money nor an amount per person: it cannot be turned into money", ind.Code, ind.Unit)
	case cur != currency:
		return none("%s is in %s and the initiative's amounts in %s; Ounce holds no exchange rate: compare with a cost indicator in %s", ind.Code, cur, currency, currency)
	case !perCapita:
		return savings.Conversion{Kind: savings.ConvertMoney, Scale: scale, Formula: fmt.Sprintf("%s × %g", ind.Code, scale)}, nil
	}
	pop, ok := s.lookup(ctx).Indicator(PopulationIndicator)
	if !ok {
		return none("%s is per person and the population indicator %s is not in the catalogue", ind.Code, PopulationIndicator)
	}
	series, err := s.viaSeries(ctx, pop, geo)
	if err != nil {
		return savings.Conversion{}, err
	}
	if series == nil {
		return none("%s is per person, and %s holds no population of %s to multiply it by", ind.Code, PopulationIndicator, geo)
	}
	return savings.Conversion{Kind: savings.ConvertPerCapita, Scale: scale, Via: series,
		Formula: fmt.Sprintf("%s × %s", ind.Code, PopulationIndicator)}, nil
}

// viaSeries reads the series a conversion multiplies by, nil when geo
// holds none of it (or several breakdowns and none to choose).
func (s *Service) viaSeries(ctx context.Context, ind *indicators.Indicator, geo string) (*savings.Series, error) {
	series, err := s.yearly(ctx, ind, geo, seriesChoice{optional: true})
	var ie *savings.InputError
	switch {
	case errors.As(err, &ie):
		return nil, nil
	case err != nil:
		return nil, err
	case len(series.Values) == 0:
		return nil, nil
	}
	return &series, nil
}
