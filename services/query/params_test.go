package query

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/httpapi"
	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/places"
)

// TestParseSeriesParams checks request parsing alone: no server needed.
func TestParseSeriesParams(t *testing.T) {
	cat, err := indicators.Load()
	require.NoError(t, err)
	pl, err := places.Load()
	require.NoError(t, err)

	tests := []struct {
		name        string
		query       string
		wantGeos    []string
		wantFrom    string // period code, "" when absent
		wantTo      string
		wantDims    []string
		wantCode    httpapi.Code
		wantField   string
		errContains string
	}{
		{name: "indicator only", query: "indicator=owid.co2"},
		{name: "geos split, trimmed, deduplicated and sorted", query: "indicator=owid.co2&geo=GBR,%20FRA,GBR&geo=DEU,",
			wantGeos: []string{"DEU", "FRA", "GBR"}},
		{name: "years", query: "indicator=owid.co2&from=1990&to=2018", wantFrom: "1990", wantTo: "2018"},
		{name: "any grain", query: "indicator=owid.co2&from=2018-Q2&to=2019-08-25T12:30Z", wantFrom: "2018-Q2", wantTo: "2019-08-25T12:30Z"},
		{name: "from and to the same period", query: "indicator=owid.co2&from=2018&to=2018", wantFrom: "2018", wantTo: "2018"},
		{name: "from inside to", query: "indicator=owid.co2&from=2018-06&to=2018", wantFrom: "2018-06", wantTo: "2018"},
		{name: "dims are canonical and escaped", query: "indicator=owid.co2&dims=sex=female&dims=age=15%3D49%26over",
			wantDims: []string{"age=15%3D49%26over", "sex=female"}},
		{name: "geo with colon and dot", query: "indicator=owid.co2&geo=ci:13,us-place:0644000", wantGeos: []string{"ci:13", "us-place:0644000"}},

		{name: "missing indicator", query: "geo=GBR", wantCode: httpapi.CodeBadRequest, wantField: "indicator", errContains: "indicator is missing"},
		{name: "blank indicator", query: "indicator=%20", wantCode: httpapi.CodeBadRequest, wantField: "indicator", errContains: "missing"},
		{name: "indicator twice", query: "indicator=owid.co2&indicator=owid.gdp", wantCode: httpapi.CodeBadRequest, wantField: "indicator", errContains: "once"},
		{name: "unknown indicator", query: "indicator=owid.nope", wantCode: httpapi.CodeUnknownIndicator, wantField: "indicator", errContains: "not in the catalogue"},
		{name: "unknown parameter", query: "indicator=owid.co2&form=1990", wantCode: httpapi.CodeBadRequest, wantField: "form", errContains: "unknown parameter"},
		{name: "malformed geo", query: "indicator=owid.co2&geo=GBR|FRA", wantCode: httpapi.CodeBadRequest, wantField: "geo", errContains: `"GBR|FRA"`},
		{name: "quote in geo", query: "indicator=owid.co2&geo=" + url.QueryEscape("GBR' OR 1=1 --"), wantCode: httpapi.CodeBadRequest, wantField: "geo"},
		{name: "empty geo", query: "indicator=owid.co2&geo=,", wantCode: httpapi.CodeBadRequest, wantField: "geo", errContains: "empty"},
		{name: "too many geos", query: "indicator=owid.co2&geo=GBR,FRA,DEU,ITA", wantCode: httpapi.CodeBadRequest, wantField: "geo", errContains: "at most 3"},
		{name: "malformed from", query: "indicator=owid.co2&from=19x0", wantCode: httpapi.CodeBadRequest, wantField: "from", errContains: "year is not a number"},
		{name: "malformed to", query: "indicator=owid.co2&to=2018-13", wantCode: httpapi.CodeBadRequest, wantField: "to", errContains: "month"},
		{name: "year out of range", query: "indicator=owid.co2&from=0999", wantCode: httpapi.CodeBadRequest, wantField: "from", errContains: "outside 1000..2999"},
		{name: "unaligned half hour", query: "indicator=owid.co2&to=2019-08-25T12:10Z", wantCode: httpapi.CodeBadRequest, wantField: "to", errContains: "not aligned"},
		{name: "from after to", query: "indicator=owid.co2&from=2019&to=2018", wantCode: httpapi.CodeBadRequest, wantField: "from", errContains: "from 2019 is after to 2018"},
		{name: "from after to, finer grain", query: "indicator=owid.co2&from=2019-01&to=2018", wantCode: httpapi.CodeBadRequest, wantField: "from", errContains: "after"},
		{name: "from twice", query: "indicator=owid.co2&from=2018&from=2019", wantCode: httpapi.CodeBadRequest, wantField: "from", errContains: "once"},
		{name: "dims without value", query: "indicator=owid.co2&dims=sex", wantCode: httpapi.CodeBadRequest, wantField: "dims", errContains: "key=value"},
		{name: "dims empty value", query: "indicator=owid.co2&dims=sex=", wantCode: httpapi.CodeBadRequest, wantField: "dims", errContains: "1-128"},
		{name: "dims upper-case key", query: "indicator=owid.co2&dims=Sex=female", wantCode: httpapi.CodeBadRequest, wantField: "dims", errContains: "snake_case"},
		{name: "dims key twice", query: "indicator=owid.co2&dims=sex=female&dims=sex=male", wantCode: httpapi.CodeBadRequest, wantField: "dims", errContains: "twice"},
		{name: "dims value too long", query: "indicator=owid.co2&dims=sex=" + strings.Repeat("x", 129), wantCode: httpapi.CodeBadRequest, wantField: "dims"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, perr := parseQuery(tt.query)
			require.Nil(t, perr)
			p, perr := parseSeriesParams(q, cat, pl, 3)
			if tt.wantCode != "" {
				require.NotNil(t, perr)
				require.Equal(t, tt.wantCode, perr.Code)
				require.Equal(t, tt.wantField, perr.Field)
				require.Contains(t, perr.Message, tt.errContains)
				require.Less(t, perr.Code.Status(), 500, "client mistakes are never 5xx")
				return
			}
			require.Nil(t, perr)
			require.Equal(t, "owid.co2", p.Indicator.Code)
			require.Equal(t, tt.wantGeos, p.Geos)
			require.Equal(t, tt.wantDims, p.DimPairs)
			requirePeriod(t, tt.wantFrom, p.From)
			requirePeriod(t, tt.wantTo, p.To)
		})
	}
}

func TestParseQuery(t *testing.T) {
	tests := []struct {
		name        string
		raw         string
		want        url.Values
		wantField   string
		errContains string
	}{
		{name: "empty", raw: "", want: url.Values{}},
		{name: "plain", raw: "indicator=owid.co2&geo=GBR,FRA&geo=DEU", want: url.Values{"indicator": {"owid.co2"}, "geo": {"GBR,FRA", "DEU"}}},
		{name: "escapes and plus", raw: "dims=sector%3Dpower+%26+heat&&x", want: url.Values{"dims": {"sector=power & heat"}, "x": {""}}},
		{name: "semicolon names its parameter", raw: "indicator=owid.co2&geo=GBR;FRA", wantField: "geo", errContains: "';'"},
		{name: "bad escape names its parameter", raw: "indicator=owid.co2&from=19%zz", wantField: "from", errContains: "percent-encoding"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, perr := parseQuery(tt.raw)
			if tt.errContains != "" {
				require.NotNil(t, perr)
				require.Equal(t, httpapi.CodeBadRequest, perr.Code)
				require.Equal(t, tt.wantField, perr.Field)
				require.Contains(t, perr.Message, tt.errContains)
				return
			}
			require.Nil(t, perr)
			require.Equal(t, tt.want, q)
		})
	}
}

func requirePeriod(t *testing.T, want string, got interface{ Code() string }) {
	t.Helper()
	if want == "" {
		require.Nil(t, got)
		return
	}
	require.NotNil(t, got)
	require.Equal(t, want, got.Code())
}

// TestSeriesQueryBindsEveryValue checks that no request value reaches the SQL
// text: the text is the same whatever the values, which travel as arguments.
func TestSeriesQueryBindsEveryValue(t *testing.T) {
	cat, err := indicators.Load()
	require.NoError(t, err)
	pl, err := places.Load()
	require.NoError(t, err)
	evil := "x'; DROP TABLE observations; --"
	q := url.Values{
		"indicator": {"owid.co2"},
		"geo":       {"GBR,FRA"},
		"from":      {"1990"},
		"to":        {"2018"},
		"dims":      {"fuel=" + evil},
	}
	p, perr := parseSeriesParams(q, cat, pl, 10)
	require.Nil(t, perr)
	for _, final := range []bool{false, true} {
		sql, args := seriesQuery(p, 11, final)
		require.NotContains(t, sql, "GBR")
		require.NotContains(t, sql, "DROP")
		require.NotContains(t, sql, "owid.co2")
		require.Equal(t, strings.Count(sql, "?"), len(args))
		require.Contains(t, args, "fuel="+evil)
		require.Equal(t, final, strings.Contains(sql, "FROM observations FINAL"))
		require.Contains(t, sql, "ORDER BY geo, dims, period_start, grain, source, version\n", "versions of a key adjacent, newest last")
	}
}

func TestDedupeVersionsKeepsTheNewestOfEachKey(t *testing.T) {
	row := func(geo, dims string, start int64, source string, version uint64, value float64) observationRow {
		return observationRow{Geo: geo, Dims: dims, Grain: "year", PeriodStart: start, Source: source, Version: version, Value: value}
	}
	in := []observationRow{
		row("FRA", "", 0, "a", 1, 10),
		row("GBR", "", 0, "a", 1, 1), row("GBR", "", 0, "a", 2, 2), row("GBR", "", 0, "a", 5, 5),
		row("GBR", "", 0, "b", 1, 7), // another source: another key
		row("GBR", "", 1, "a", 3, 3),
		row("GBR", "sex=f", 1, "a", 1, 4), row("GBR", "sex=f", 1, "a", 9, 9),
	}
	got := dedupeVersions(in)
	var values []float64
	for _, r := range got {
		values = append(values, r.Value)
	}
	require.Equal(t, []float64{10, 5, 7, 3, 9}, values)
	require.Empty(t, dedupeVersions(nil))
}

// A place the catalogue lacks is set aside for the handler, which answers
// 404 unless data is stored there (a partner's own area: GB-LDS, Leeds, is
// not in the catalogue, while GB-MAN, Manchester, is).
func TestUncataloguedPlacesAreSetAside(t *testing.T) {
	cat, err := indicators.Load()
	require.NoError(t, err)
	pl, err := places.Load()
	require.NoError(t, err)
	q, perr := parseQuery("indicator=owid.co2&geo=France,FRA,GB-LDS,GB-MAN")
	require.Nil(t, perr)
	p, perr := parseSeriesParams(q, cat, pl, 5)
	require.Nil(t, perr)
	require.Equal(t, []string{"FRA", "France", "GB-LDS", "GB-MAN"}, p.Geos)
	require.Equal(t, []string{"France", "GB-LDS"}, p.Uncatalogued)
}
