package query

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/places"
	"github.com/ounce-data/ounce/services/query/savings"
)

// TestDefaultDonors: a candidate qualifies with a value in every
// pre-period year in which the target has one (post-period years and
// years the target lacks do not count); over the limit, the closest are
// kept, ties by code, and the answer is in code order.
func TestDefaultDonors(t *testing.T) {
	target := savings.Series{Values: map[int]float64{2000: 10, 2001: 11, 2003: 13, 2010: 5}}
	series := map[string]savings.Series{
		"AAA": {Values: map[int]float64{2000: 10, 2001: 11, 2003: 13}},          // distance 0
		"BBB": {Values: map[int]float64{2000: 12, 2001: 13, 2003: 15, 2010: 1}}, // distance 2
		"CCC": {Values: map[int]float64{2000: 10, 2001: 11}},                    // lacks 2003
		"DDD": {Values: map[int]float64{2000: 9, 2001: 10, 2002: 0, 2003: 12}},  // distance 1
		"EEE": {Values: map[int]float64{2000: 11, 2001: 12, 2003: 14}},          // distance 1, after DDD
		"FFF": {},
	}
	cands := []string{"AAA", "BBB", "CCC", "DDD", "EEE", "FFF"}

	kept, qualified, pre := defaultDonors(target, series, cands, 2005, 50)
	require.Equal(t, []int{2000, 2001, 2003}, pre)
	require.Equal(t, 4, qualified)
	require.Equal(t, []string{"AAA", "BBB", "DDD", "EEE"}, kept)

	kept, qualified, _ = defaultDonors(target, series, cands, 2005, 2)
	require.Equal(t, 4, qualified)
	require.Equal(t, []string{"AAA", "DDD"}, kept, "the two closest; DDD before EEE at the same distance")

	kept, qualified, _ = defaultDonors(target, series, cands, 2005, 3)
	require.Equal(t, 4, qualified)
	require.Equal(t, []string{"AAA", "DDD", "EEE"}, kept)

	kept, qualified, pre = defaultDonors(target, series, cands, 1999, 50)
	require.Empty(t, pre)
	require.Zero(t, qualified, "no pre-period year: nothing to qualify on")
	require.Empty(t, kept)
}

// TestDonorCandidates: a country's candidates are every other country; a
// US state's the other states, never HHS regions or counties; the world
// and a publisher's aggregate have none, and say why.
func TestDonorCandidates(t *testing.T) {
	cat, err := places.Load()
	require.NoError(t, err)

	pool, err := newDonorPool(cat, "FRA")
	require.NoError(t, err)
	countries := cat.List(places.Country)
	require.Len(t, pool.candidates, len(countries)-1)
	require.NotContains(t, pool.candidates, "FRA")
	require.Contains(t, pool.candidates, "DEU")
	require.Equal(t, "country", pool.Kind)

	pool, err = newDonorPool(cat, "US-CA")
	require.NoError(t, err)
	require.Equal(t, "US-", pool.Kind)
	require.Contains(t, pool.candidates, "US-NY")
	for _, c := range pool.candidates {
		require.Regexp(t, `^US-`, c)
	}

	for geo, want := range map[string]string{
		"WLD":     "WLD is a place of level world",
		"EUU":     "EUU is a place of level aggregate",
		"GB-ZZZZ": "GB-ZZZZ is not a place of the catalogue's tree",
	} {
		_, err := newDonorPool(cat, geo)
		var ie *savings.InputError
		require.ErrorAs(t, err, &ie, geo)
		require.Equal(t, savings.CodeInsufficientData, ie.Code)
		require.Equal(t, "comparison_geos", ie.Problems[0].Field)
		require.Contains(t, ie.Problems[0].Message, want, fmt.Sprint(geo))
	}
}
