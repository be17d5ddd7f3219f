package places_test

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/places"
)

func load(t *testing.T) *places.Catalogue {
	t.Helper()
	c, err := places.Load()
	require.NoError(t, err)
	return c
}

func codes(ps []places.Place) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Code
	}
	return out
}

func TestLoadEmbedded(t *testing.T) {
	c := load(t)
	require.Greater(t, c.Len(), 400)
	usa, ok := c.Place("USA")
	require.True(t, ok)
	require.Equal(t, places.Country, usa.Level)
	require.Equal(t, "US", usa.Alpha2)
	require.Equal(t, "840", usa.M49)
	require.Equal(t, "m49:003", usa.Parent)

	require.Equal(t, []string{"WLD"}, codes(c.List(places.World)))
	require.Len(t, c.List(places.Region), 7)
	countries := c.List(places.Country)
	require.Greater(t, len(countries), 240)
	for _, p := range countries {
		require.Len(t, p.Code, 3, "country %s has an ISO3 code", p.Code)
		parents, ok := c.Parents(p.Code)
		require.True(t, ok)
		require.Len(t, parents, 2, "country %s rolls up to a region then the world", p.Code)
		require.Equal(t, places.Region, parents[0].Level)
		require.Equal(t, "WLD", parents[1].Code)
	}
}

func TestParents(t *testing.T) {
	c := load(t)
	for _, tc := range []struct {
		code string
		want []string
	}{
		{"US-CA", []string{"hhs:9", "USA", "m49:003", "WLD"}},
		{"hhs:1", []string{"USA", "m49:003", "WLD"}},
		{"us-place:0644000", []string{"US-CA", "hhs:9", "USA", "m49:003", "WLD"}},
		{"us-county:15003", []string{"US-HI", "hhs:9", "USA", "m49:003", "WLD"}},
		{"who:GBD_REG14_EURA", []string{}},
		{"ci:13", []string{"GB", "GBR", "m49:150", "WLD"}},
		{"GB", []string{"GBR", "m49:150", "WLD"}},
		{"GB-MAN", []string{"ci:15", "GB", "GBR", "m49:150", "WLD"}},
		{"FRA", []string{"m49:150", "WLD"}},
		{"m49:002", []string{"WLD"}},
		{"WLD", []string{}},
		{"EAS", []string{}},
	} {
		chain, ok := c.Parents(tc.code)
		require.True(t, ok, tc.code)
		require.Equal(t, tc.want, codes(chain), tc.code)
	}
	_, ok := c.Parents("NOPE")
	require.False(t, ok)
}

// TestGreatBritainRollsUpWithoutOverlap: Great Britain's default children
// are its 14 DNO regions and its gb-nations children its three nations,
// which each cover it; a partner's local area (gb-local.yaml) hangs below a
// nation, never beside either set, where a roll-up of GB would count it
// twice.
func TestGreatBritainRollsUpWithoutOverlap(t *testing.T) {
	c := load(t)
	byHierarchy := map[string][]string{}
	for _, p := range c.List() {
		if p.Parent == "GB" {
			byHierarchy[p.Hierarchy] = append(byHierarchy[p.Hierarchy], p.Code)
		}
	}
	var dno []string
	for id := 1; id <= 14; id++ {
		dno = append(dno, fmt.Sprintf("ci:%d", id))
	}
	require.ElementsMatch(t, dno, byHierarchy[""], "GB's default roll-up")
	require.ElementsMatch(t, []string{"ci:15", "ci:16", "ci:17"}, byHierarchy["gb-nations"])
	require.Len(t, byHierarchy, 2)

	manchester, ok := c.Place("GB-MAN")
	require.True(t, ok)
	require.Equal(t, places.Subnational, manchester.Level)
	require.Equal(t, "ci:15", manchester.Parent, "under England")
	require.Empty(t, manchester.Hierarchy, "England's default roll-up")
	for _, p := range c.List() {
		if strings.HasPrefix(p.Code, "GB-") {
			chain, _ := c.Parents(p.Code)
			require.GreaterOrEqual(t, len(chain), 5, "%s rolls up to the world through a nation", p.Code)
			require.Contains(t, []string{"ci:15", "ci:16", "ci:17"}, chain[len(chain)-5].Code, "%s rolls up to GB through a nation", p.Code)
		}
	}
}

func TestResolve(t *testing.T) {
	c := load(t)
	for _, tc := range []struct {
		scheme, code, want string
		ok                 bool
	}{
		{places.SchemeM49, "840", "USA", true},
		{places.SchemeM49, "4", "AFG", true},
		{places.SchemeM49, "004", "AFG", true},
		{places.SchemeM49, "826", "GBR", true},
		{places.SchemeM49, "001", "WLD", true},
		{places.SchemeM49, "150", "m49:150", true},
		{places.SchemeM49, "953", "", false}, // a WHO region, not M49
		{places.SchemeM49, "99x", "", false},
		{places.SchemeM49, "1234", "", false},
		{places.SchemeWHOM49, "953", "who:AFR", true},
		{places.SchemeWHOM49, "910", "who:WB_HI", true},
		{places.SchemeWHOM49, "807", "MKD", true}, // falls back to M49
		{places.SchemeISO2, "DE", "DEU", true},
		{places.SchemeISO3, "DEU", "DEU", true},
		{places.SchemeISO3, "EAS", "", false}, // a World Bank aggregate is no country
		{places.SchemeCode, "EAS", "EAS", true},
		{places.SchemeCode, "ZZZ", "ZZZ", false},
	} {
		got, ok := c.Resolve(tc.scheme, tc.code)
		require.Equal(t, tc.ok, ok, "%s %s", tc.scheme, tc.code)
		if tc.ok {
			require.Equal(t, tc.want, got, "%s %s", tc.scheme, tc.code)
		}
	}
	iso, ok := c.M49ToISO3("250")
	require.True(t, ok)
	require.Equal(t, "FRA", iso)
	_, ok = c.M49ToISO3("150") // Europe: a region, not a country
	require.False(t, ok)
}

// Publishers' aggregates are in the catalogue as aggregates, never countries.
func TestAggregatesAreNotCountries(t *testing.T) {
	c := load(t)
	for _, code := range []string{"EAS", "AFE", "HIC", "INX", "OWID_WRL", "OWID_CIS", "owid:africa",
		"who:EUR", "who:GLOBAL", "who:WB_HI", "wb:XD", "who:GBD_REG14_AFRD", "who:OECD_HII_EUR", "FCS"} {
		p, ok := c.Place(code)
		require.True(t, ok, code)
		require.Equal(t, places.Aggregate, p.Level, code)
		require.Empty(t, p.Parent, code)
	}
}

func TestLoadRejects(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, errContains string
	}{
		{"unknown field", "places:\n  - {code: WLD, name: World, level: world, colour: blue}\n", "field colour not found"},
		{"duplicate", "places:\n  - {code: WLD, name: World, level: world}\n  - {code: WLD, name: W, level: world}\n", "WLD is defined twice"},
		{"bad level", "places:\n  - {code: WLD, name: World, level: planet}\n", `level "planet" is not`},
		{"missing parent", "places:\n  - {code: FRA, name: France, level: country}\n", "a country needs a parent"},
		{"unknown parent", "places:\n  - {code: FRA, name: France, level: country, parent: m49:150}\n", "parent m49:150 is not in the catalogue"},
		{"parent of wrong level", "places:\n  - {code: WLD, name: World, level: world}\n  - {code: FRA, name: France, level: country, parent: WLD}\n", "parent WLD is a world"},
		{"aggregate with parent", "places:\n  - {code: WLD, name: World, level: world}\n  - {code: EAS, name: East Asia, level: aggregate, parent: WLD}\n", "a aggregate has no parent"},
		{"bad m49", "places:\n  - {code: WLD, name: World, level: world, m49: '1'}\n", `m49 "1" is not three digits`},
		{"alias clash", "places:\n  - {code: WLD, name: World, level: world, m49: '001'}\n  - {code: X, name: X, level: aggregate, aliases: ['m49:001']}\n", "alias m49:001 is already WLD's"},
		{"bad code", "places:\n  - {code: 'a b', name: X, level: aggregate}\n", "code must be"},
		{"no name", "places:\n  - {code: X, level: aggregate}\n", "name is missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := places.LoadFS(fstest.MapFS{"p/a.yaml": {Data: []byte(tc.yaml)}}, "p")
			require.ErrorContains(t, err, tc.errContains)
		})
	}
}
