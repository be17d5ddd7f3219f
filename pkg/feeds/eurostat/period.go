package eurostat

import (
	"fmt"

	"github.com/ounce-data/ounce/pkg/observation"
)

// Period reads a Eurostat time code: a year "2016", a quarter "2016Q1" or
// "2016-Q1", a month "2016M03" or "2016-03".
func Period(code string) (observation.Period, error) {
	switch {
	case len(code) == 4:
		y := 0
		for i := range 4 {
			if code[i] < '0' || code[i] > '9' {
				return observation.Period{}, fmt.Errorf("is not a Eurostat time code (2016, 2016Q1, 2016M03)")
			}
			y = y*10 + int(code[i]-'0')
		}
		if y >= 1000 && y <= 2999 {
			// What ParsePeriod makes of it, a year this service takes.
			return observation.Year(y), nil
		}
	case len(code) == 6 && code[4] == 'Q':
		code = code[:4] + "-" + code[4:]
	case len(code) == 7 && code[4] == 'M':
		code = code[:4] + "-" + code[5:]
	case len(code) == 7 && code[4] == '-':
	default:
		return observation.Period{}, fmt.Errorf("is not a Eurostat time code (2016, 2016Q1, 2016M03)")
	}
	p, err := observation.ParsePeriod(code)
	if err != nil {
		return observation.Period{}, fmt.Errorf("is not a Eurostat time code (2016, 2016Q1, 2016M03): %w", err)
	}
	if err := p.Check(); err != nil {
		return observation.Period{}, fmt.Errorf("is not a period of this service: %w", err)
	}
	return p, nil
}
