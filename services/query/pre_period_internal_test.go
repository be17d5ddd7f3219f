package query

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/services/query/savings"
)

// TestDefaultPrePeriod checks the default window before the start year:
// 3 × (horizon + 1) years within 10..30, reaching back to hold 5 values of
// the target when the window holds fewer, and the request's own choices.
func TestDefaultPrePeriod(t *testing.T) {
	yearly := func(from, to, step int) map[int]float64 {
		m := map[int]float64{}
		for y := from; y <= to; y += step {
			m[y] = float64(y)
		}
		return m
	}
	horizon := func(h int) savings.Initiative {
		return savings.Initiative{StartYear: 2015, Method: savings.MethodITS, CBA: savings.CBA{Horizon: &h}}
	}
	cases := map[string]struct {
		in     savings.Initiative
		pre    prePeriod
		target map[int]float64
		from   int
		rule   string
	}{
		"three times the post-period": {horizon(5), prePeriod{}, yearly(1950, 2020, 1), 2015 - 18, PreFromDefault},
		"at least ten years":          {horizon(1), prePeriod{}, yearly(1950, 2020, 1), 2015 - 10, PreFromDefault},
		"at most thirty years":        {horizon(20), prePeriod{}, yearly(1950, 2020, 1), 2015 - 30, PreFromDefault},
		"back to five values":         {horizon(1), prePeriod{}, yearly(1950, 2020, 5), 1990, PreFromDefault},
		"every value when fewer":      {horizon(1), prePeriod{}, map[int]float64{1980: 1, 1990: 2, 2016: 3}, 1980, PreFromDefault},
		"the request's year":          {horizon(5), prePeriod{from: 2001}, yearly(1950, 2020, 1), 2001, PreFromRequest},
		"every year":                  {horizon(5), prePeriod{all: true}, yearly(1950, 2020, 1), 0, PreFromAll},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			from, rule, err := c.pre.first(c.in, savings.MethodITS, c.target)
			require.NoError(t, err)
			require.Equal(t, c.from, from)
			require.Equal(t, c.rule, rule)
		})
	}
	t.Run("modelled reads no series", func(t *testing.T) {
		from, rule, err := prePeriod{}.first(horizon(5), savings.MethodModelled, nil)
		require.NoError(t, err)
		require.Zero(t, from)
		require.Empty(t, rule)
	})
	t.Run("a year not before the start", func(t *testing.T) {
		_, _, err := prePeriod{from: 2015}.first(horizon(5), savings.MethodITS, nil)
		require.ErrorContains(t, err, "pre_from 2015 must be before the initiative's start_year 2015")
	})
}
