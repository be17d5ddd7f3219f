package query_test

import (
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/extch"
	"github.com/ounce-data/ounce/pkg/httpapi"
	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/pkg/testenv"
	"github.com/ounce-data/ounce/services/query"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

func TestMain(m *testing.M) {
	testenv.Main(m)
}

// retrieved is the retrieved_at of every test observation.
var retrieved = time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)

// obs builds a valid OWID-like observation.
func obs(indicator, geo string, period observation.Period, value float64, version uint64, dims observation.Dims) observation.Observation {
	return observation.Observation{
		Indicator: indicator,
		Geo:       geo,
		Period:    period,
		Dims:      dims,
		Value:     observation.Float(value),
		Unit:      "t CO2/person",
		Source:    "owid-co2",
		Version:   version,
		Provenance: observation.Provenance{
			URL:         "https://github.com/owid/co2-data",
			Licence:     "CC BY 4.0",
			RetrievedAt: retrieved,
		},
	}
}

// insert writes os in one INSERT, as the loader does.
func insert(t testing.TB, ch *testenv.ClickHouse, os ...observation.Observation) {
	t.Helper()
	var cols extch.Columns
	for i := range os {
		require.NoError(t, os[i].Validate())
		cols.Add(&os[i], "test-batch")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, cols.Insert(ctx, ch.Conn))
}

type fixture struct {
	ch  *testenv.ClickHouse
	svc *query.Service
	reg *prometheus.Registry
	h   http.Handler
}

func newFixture(t testing.TB, cfg query.Config) *fixture {
	t.Helper()
	return newFixtureLogging(t, cfg, zerolog.Nop())
}

// newFixtureLogging is newFixture with the service logging to log.
func newFixtureLogging(t testing.TB, cfg query.Config, log zerolog.Logger) *fixture {
	t.Helper()
	ch := testenv.StartClickHouse(t)
	cat, err := indicators.Load()
	require.NoError(t, err)
	reg := prometheus.NewRegistry()
	svc, err := query.New(cfg, ch.Conn, cat, log, reg)
	require.NoError(t, err)
	return &fixture{ch: ch, svc: svc, reg: reg, h: svc.Handler()}
}

// get sends a request to the handler in-process.
func (f *fixture) get(t testing.TB, target string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	return do(f.h, http.MethodGet, target, header...)
}

func do(h http.Handler, method, target string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func decode[T any](t testing.TB, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	require.NoErrorf(t, json.Unmarshal(rec.Body.Bytes(), &v), "body: %s", rec.Body.String())
	return v
}

// seedSeries stores CO2 per capita for GBR and FRA, in shuffled order and in
// two inserts, with an older version of GBR 2018 that must never be seen.
func seedSeries(t testing.TB, ch *testenv.ClickHouse) {
	const ind = "owid.co2_per_capita"
	insert(t, ch,
		obs(ind, "GBR", observation.Year(2018), 9.999, 1, nil), // superseded below
		obs(ind, "FRA", observation.Year(2018), 4.856, 2, nil),
		obs(ind, "GBR", observation.Year(2016), 6.002, 2, nil),
		obs(ind, "FRA", observation.Year(2017), 4.966, 2, nil),
		obs(ind, "DEU", observation.Year(2017), 9.700, 2, nil),
	)
	insert(t, ch,
		obs(ind, "GBR", observation.Year(2018), 5.645, 2, nil),
		obs(ind, "GBR", observation.Year(2017), 5.807, 2, nil),
		obs(ind, "GBR", observation.Year(2015), 6.160, 2, nil),
	)
}

func TestIntegrationSeries(t *testing.T) {
	f := newFixture(t, query.Config{})
	seedSeries(t, f.ch)

	rec := f.get(t, "/v1/series?indicator=owid.co2_per_capita&geo=GBR,FRA&from=2016&to=2018")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, "application/json; charset=utf-8", rec.Header().Get("Content-Type"))
	golden(t, "series_gbr_fra.json", rec.Body.Bytes())

	got := decode[query.SeriesResponse](t, rec)
	require.Equal(t, 5, got.Count)
	require.Len(t, got.Series, 2)
	require.Equal(t, "FRA", got.Series[0].Geo, "series ordered by geo")
	require.Equal(t, "GBR", got.Series[1].Geo)
	var periods []string
	for _, p := range got.Series[1].Points {
		periods = append(periods, p.Period)
	}
	require.Equal(t, []string{"2016", "2017", "2018"}, periods, "points ordered by period; 2015 is before from")
	last := got.Series[1].Points[2]
	require.NotNil(t, last.Value)
	require.Equal(t, 5.645, *last.Value, "only the newest version of GBR 2018")
	require.Equal(t, uint64(2), last.Version)
	require.Equal(t, "2018-01-01", last.Start)
	require.Equal(t, "owid-co2", last.Source)
	require.Equal(t, query.Provenance{URL: "https://github.com/owid/co2-data", Licence: "CC BY 4.0", RetrievedAt: retrieved}, last.Provenance)
	require.Equal(t, query.IndicatorRef{Code: "owid.co2_per_capita", Name: "CO2 emissions per capita",
		Unit: "t CO2/person", Polarity: indicators.LowerIsBetter}, got.Indicator)
	require.Contains(t, rec.Body.String(), `"dims":{}`, "no breakdown is an empty object, not null")
}

func TestIntegrationSeriesDedupe(t *testing.T) {
	f := newFixture(t, query.Config{})
	const ind = "owid.co2_per_capita"
	// Three versions of one key in three inserts, newest in the middle.
	insert(t, f.ch, obs(ind, "GBR", observation.Year(2018), 1, 10, nil))
	insert(t, f.ch, obs(ind, "GBR", observation.Year(2018), 3, 30, nil))
	insert(t, f.ch, obs(ind, "GBR", observation.Year(2018), 2, 20, nil))

	got := decode[query.SeriesResponse](t, f.get(t, "/v1/series?indicator="+ind+"&geo=GBR"))
	require.Equal(t, 1, got.Count)
	require.Len(t, got.Series, 1)
	require.Len(t, got.Series[0].Points, 1)
	require.Equal(t, 3.0, *got.Series[0].Points[0].Value)
	require.Equal(t, uint64(30), got.Series[0].Points[0].Version)

	cov := decode[query.IndicatorsResponse](t, f.get(t, "/v1/indicators"))
	for _, e := range cov.Indicators {
		if e.Code == ind {
			require.Equal(t, uint64(1), e.Coverage.Rows, "coverage counts facts, not versions")
		}
	}

	// Versions do not count against the row limit: three versions of one
	// key and one of another make two rows, within max_rows=2, though the
	// first read (every version) reaches the limit and FINAL answers.
	insert(t, f.ch, obs(ind, "GBR", observation.Year(2019), 4, 1, nil))
	got = decode[query.SeriesResponse](t, f.get(t, "/v1/series?indicator="+ind+"&geo=GBR&max_rows=2"))
	require.Equal(t, 2, got.Count)
	require.Equal(t, 3.0, *got.Series[0].Points[0].Value)
	require.Equal(t, 4.0, *got.Series[0].Points[1].Value)
}

func TestIntegrationSeriesRanges(t *testing.T) {
	f := newFixture(t, query.Config{})
	seedSeries(t, f.ch)
	const ind = "owid.co2_per_capita"
	insert(t, f.ch,
		obs(ind, "GBR", observation.Period{Grain: observation.GrainQuarter, Start: time.Date(2016, 4, 1, 0, 0, 0, 0, time.UTC)}, 1.5, 1, nil),
		obs(ind, "GBR", observation.Period{Grain: observation.GrainHalfHour, Start: time.Date(2016, 8, 25, 12, 30, 0, 0, time.UTC)}, 0.1, 1, nil),
	)
	tests := []struct {
		name        string
		query       string
		wantPeriods []string // geo:period in response order
	}{
		{name: "no bounds, every place", query: "",
			wantPeriods: []string{"DEU:2017", "FRA:2017", "FRA:2018", "GBR:2015", "GBR:2016", "GBR:2016-Q2", "GBR:2016-08-25T12:30Z", "GBR:2017", "GBR:2018"}},
		{name: "from only", query: "&geo=GBR&from=2017", wantPeriods: []string{"GBR:2017", "GBR:2018"}},
		{name: "to only", query: "&geo=GBR&to=2015", wantPeriods: []string{"GBR:2015"}},
		{name: "a quarter overlaps its year", query: "&geo=GBR&from=2016-Q2&to=2016-Q2",
			wantPeriods: []string{"GBR:2016", "GBR:2016-Q2"}},
		{name: "a day holds the half hour", query: "&geo=GBR&from=2016-08-25&to=2016-08-25",
			wantPeriods: []string{"GBR:2016", "GBR:2016-08-25T12:30Z"}},
		{name: "nothing stored there", query: "&geo=GBR&from=2030", wantPeriods: nil},
		{name: "unknown place", query: "&geo=ATA", wantPeriods: nil},
		{name: "repeated geo parameters", query: "&geo=FRA&geo=DEU&to=2017", wantPeriods: []string{"DEU:2017", "FRA:2017"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := f.get(t, "/v1/series?indicator="+ind+tt.query)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			got := decode[query.SeriesResponse](t, rec)
			var periods []string
			for _, s := range got.Series {
				for _, p := range s.Points {
					periods = append(periods, s.Geo+":"+p.Period)
				}
			}
			require.Equal(t, tt.wantPeriods, periods)
			require.Equal(t, len(tt.wantPeriods), got.Count)
			require.NotNil(t, got.Series, "series is [] when empty, never null")
		})
	}
}

func TestIntegrationSeriesDims(t *testing.T) {
	f := newFixture(t, query.Config{})
	const ind = "owid.co2"
	insert(t, f.ch,
		obs(ind, "GBR", observation.Year(2018), 380, 1, nil),
		obs(ind, "GBR", observation.Year(2018), 20, 1, observation.Dims{"fuel": "coal"}),
		obs(ind, "GBR", observation.Year(2018), 150, 1, observation.Dims{"fuel": "gas"}),
		obs(ind, "GBR", observation.Year(2017), 25, 1, observation.Dims{"fuel": "coal"}),
		obs(ind, "GBR", observation.Year(2018), 7, 1, observation.Dims{"fuel": "coal", "sector": "power & heat"}),
		obs(ind, "GBR", observation.Year(2018), 9, 1, observation.Dims{"fuel": "a=b&c"}),
	)
	type series struct {
		dims   observation.Dims
		values []float64
	}
	tests := []struct {
		name  string
		query string
		want  []series
	}{
		{name: "every breakdown", query: "", want: []series{
			{dims: observation.Dims{}, values: []float64{380}},
			{dims: observation.Dims{"fuel": "a=b&c"}, values: []float64{9}},
			{dims: observation.Dims{"fuel": "coal"}, values: []float64{25, 20}},
			{dims: observation.Dims{"fuel": "coal", "sector": "power & heat"}, values: []float64{7}},
			{dims: observation.Dims{"fuel": "gas"}, values: []float64{150}},
		}},
		{name: "one pair matches every breakdown holding it", query: "&dims=fuel=coal", want: []series{
			{dims: observation.Dims{"fuel": "coal"}, values: []float64{25, 20}},
			{dims: observation.Dims{"fuel": "coal", "sector": "power & heat"}, values: []float64{7}},
		}},
		{name: "two pairs", query: "&dims=fuel=coal&dims=" + url.QueryEscape("sector=power & heat"), want: []series{
			{dims: observation.Dims{"fuel": "coal", "sector": "power & heat"}, values: []float64{7}},
		}},
		{name: "escaped value", query: "&dims=" + url.QueryEscape("fuel=a=b&c"), want: []series{
			{dims: observation.Dims{"fuel": "a=b&c"}, values: []float64{9}},
		}},
		{name: "no match", query: "&dims=fuel=oil", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := f.get(t, "/v1/series?indicator="+ind+"&geo=GBR"+tt.query)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			got := decode[query.SeriesResponse](t, rec)
			var have []series
			for _, s := range got.Series {
				var vs []float64
				for _, p := range s.Points {
					vs = append(vs, *p.Value)
				}
				have = append(have, series{dims: s.Dims, values: vs})
			}
			require.Equal(t, tt.want, have)
		})
	}
}

func TestIntegrationIndicators(t *testing.T) {
	f := newFixture(t, query.Config{})
	seedSeries(t, f.ch)
	before := time.Now().UTC().Add(-time.Minute)

	rec := f.get(t, "/v1/indicators")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	got := decode[query.IndicatorsResponse](t, rec)
	cat, err := indicators.Load()
	require.NoError(t, err)
	require.Equal(t, len(cat.Indicators()), got.Count)
	require.Len(t, got.Indicators, got.Count)

	byCode := map[string]query.IndicatorEntry{}
	for _, e := range got.Indicators {
		byCode[e.Code] = e
	}
	e := byCode["owid.co2_per_capita"]
	require.Equal(t, "CO2 emissions per capita", e.Name)
	require.Equal(t, "t CO2/person", e.Unit)
	require.Equal(t, indicators.LowerIsBetter, e.Polarity)
	require.Equal(t, "carbon", e.Domain)
	require.Equal(t, "CC BY 4.0", e.Licence)
	require.Equal(t, "https://github.com/owid/co2-data", e.URL)
	require.Equal(t, "yearly", e.Cadence)
	require.Contains(t, e.Producer, "Our World in Data")
	require.Equal(t, uint64(3), e.Coverage.Places)
	require.Equal(t, uint64(7), e.Coverage.Rows, "the superseded version is not counted")
	require.Equal(t, "2015", e.Coverage.First)
	require.Equal(t, "2018", e.Coverage.Last)
	require.NotNil(t, e.Coverage.LastLoadedAt)
	require.True(t, e.Coverage.LastLoadedAt.After(before), "last loaded %s", e.Coverage.LastLoadedAt)

	empty := byCode["owid.gdp"]
	require.Equal(t, query.Coverage{}, empty.Coverage)
	require.NotContains(t, rec.Body.String(), `"last_loaded_at":null`)

	rec = f.get(t, "/v1/indicators?domain=carbon")
	require.Equal(t, http.StatusBadRequest, rec.Code)
	require.Equal(t, "domain", decode[httpapi.Envelope](t, rec).Error.Field)
}

// TestIntegrationErrors covers every client mistake: a 4xx naming the field,
// never a 5xx.
func TestIntegrationErrors(t *testing.T) {
	f := newFixture(t, query.Config{MaxRows: 3, RowsCeiling: 5, MaxGeos: 4})
	seedSeries(t, f.ch)
	tests := []struct {
		name        string
		method      string
		target      string
		wantStatus  int
		wantCode    httpapi.Code
		wantField   string
		errContains string
	}{
		{name: "missing indicator", target: "/v1/series?geo=GBR", wantStatus: 400, wantCode: httpapi.CodeBadRequest, wantField: "indicator", errContains: "indicator is missing"},
		{name: "unknown indicator", target: "/v1/series?indicator=who.nothing", wantStatus: 404, wantCode: httpapi.CodeUnknownIndicator, wantField: "indicator", errContains: "GET /v1/indicators"},
		{name: "malformed geo", target: "/v1/series?indicator=owid.co2&geo=GB%20R", wantStatus: 400, wantCode: httpapi.CodeBadRequest, wantField: "geo"},
		{name: "semicolon in geo", target: "/v1/series?indicator=owid.co2&geo=GBR;FRA", wantStatus: 400, wantCode: httpapi.CodeBadRequest, wantField: "geo", errContains: "';'"},
		{name: "a name for a code", target: "/v1/series?indicator=owid.co2&geo=France", wantStatus: 404, wantCode: httpapi.CodeUnknownPlace, wantField: "geo", errContains: "did you mean FRA (France)"},
		{name: "unknown place in an aggregate", target: "/v1/aggregate?indicator=owid.co2&geo=fra", wantStatus: 404, wantCode: httpapi.CodeUnknownPlace, wantField: "geo", errContains: "did you mean FRA"},
		{name: "a mean of rates without their parts", target: "/v1/aggregate?indicator=cdc.vsrr.death_rate&geo=USA", wantStatus: 400, wantCode: httpapi.CodeBadRequest, wantField: "agg", errContains: "does not combine over places: age-adjusted"},
		{name: "a sum of rates without their parts", target: "/v1/aggregate?indicator=ci.intensity_forecast&geo=GB&agg=sum", wantStatus: 400, wantCode: httpapi.CodeBadRequest, wantField: "agg", errContains: "agg=min, max, median or count"},
		{name: "too many geos", target: "/v1/series?indicator=owid.co2&geo=GBR,FRA,DEU,ITA,ESP", wantStatus: 400, wantCode: httpapi.CodeBadRequest, wantField: "geo", errContains: "at most 4"},
		{name: "malformed from", target: "/v1/series?indicator=owid.co2&from=last-year", wantStatus: 400, wantCode: httpapi.CodeBadRequest, wantField: "from"},
		{name: "malformed to", target: "/v1/series?indicator=owid.co2&to=2018-Q5", wantStatus: 400, wantCode: httpapi.CodeBadRequest, wantField: "to", errContains: "quarter"},
		{name: "from after to", target: "/v1/series?indicator=owid.co2&from=2018&to=1990", wantStatus: 400, wantCode: httpapi.CodeBadRequest, wantField: "from", errContains: "swap"},
		{name: "malformed dims", target: "/v1/series?indicator=owid.co2&dims=nokey", wantStatus: 400, wantCode: httpapi.CodeBadRequest, wantField: "dims"},
		{name: "unknown parameter", target: "/v1/series?indicator=owid.co2&limit=10", wantStatus: 400, wantCode: httpapi.CodeBadRequest, wantField: "limit"},
		{name: "more rows than the limit", target: "/v1/series?indicator=owid.co2_per_capita", wantStatus: 422, wantCode: httpapi.CodeRangeTooLarge, wantField: "max_rows", errContains: "more than 3 rows"},
		{name: "more rows than a lowered limit", target: "/v1/series?indicator=owid.co2_per_capita&max_rows=2", wantStatus: 422, wantCode: httpapi.CodeRangeTooLarge, wantField: "max_rows", errContains: "raise the limit with max_rows= (at most 5)"},
		{name: "max_rows above the ceiling", target: "/v1/series?indicator=owid.co2_per_capita&max_rows=6", wantStatus: 400, wantCode: httpapi.CodeBadRequest, wantField: "max_rows", errContains: "ceiling of 5"},
		{name: "max_rows not a number", target: "/v1/series?indicator=owid.co2_per_capita&max_rows=lots", wantStatus: 400, wantCode: httpapi.CodeBadRequest, wantField: "max_rows"},
		{name: "wrong method", method: http.MethodPost, target: "/v1/series?indicator=owid.co2", wantStatus: 405, wantCode: httpapi.CodeMethodNotAllowed},
		{name: "no such route", target: "/v1/nothing", wantStatus: 404, wantCode: httpapi.CodeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			rec := do(f.h, method, tt.target)
			require.Equal(t, tt.wantStatus, rec.Code, rec.Body.String())
			env := decode[httpapi.Envelope](t, rec)
			require.NotNil(t, env.Error)
			require.Equal(t, tt.wantCode, env.Error.Code)
			require.Equal(t, tt.wantField, env.Error.Field)
			require.Contains(t, env.Error.Message, tt.errContains)
			require.Empty(t, rec.Header().Get("ETag"), "errors carry no ETag")
		})
	}

	// Exactly the limit is fine.
	rec := f.get(t, "/v1/series?indicator=owid.co2_per_capita&geo=GBR&from=2016")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, 3, decode[query.SeriesResponse](t, rec).Count)

	// max_rows raises the limit explicitly, up to the ceiling.
	require.Equal(t, http.StatusUnprocessableEntity, f.get(t, "/v1/series?indicator=owid.co2_per_capita&geo=GBR").Code)
	rec = f.get(t, "/v1/series?indicator=owid.co2_per_capita&geo=GBR&max_rows=4")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, 4, decode[query.SeriesResponse](t, rec).Count)
}

// TestIntegrationInjection sends SQL in every parameter: each answer is a 4xx
// or an empty result, and the data is untouched.
func TestIntegrationInjection(t *testing.T) {
	f := newFixture(t, query.Config{})
	seedSeries(t, f.ch)
	countRows := func() uint64 {
		var n uint64
		require.NoError(t, f.ch.Conn.QueryRow(context.Background(), "SELECT count() FROM observations").Scan(&n))
		return n
	}
	rowsBefore := countRows()

	evils := []string{
		`GBR' OR 1=1 --`,
		`x'; DROP TABLE observations; --`,
		`') OR ('1'='1`,
		`GBR\' OR 1=1 --`,
		"GBR`; DROP TABLE observations",
		`1990 OR 1=1`,
		`?`,
		`' UNION SELECT name, name, name, 0, 0, name, name, 0, name, name, now() FROM system.tables --`,
	}
	for _, evil := range evils {
		e := url.QueryEscape(evil)
		targets := []string{
			"/v1/series?indicator=" + e,
			"/v1/series?indicator=owid.co2_per_capita&geo=" + e,
			"/v1/series?indicator=owid.co2_per_capita&geo=GBR," + e,
			"/v1/series?indicator=owid.co2_per_capita&from=" + e,
			"/v1/series?indicator=owid.co2_per_capita&to=" + e,
			"/v1/series?indicator=owid.co2_per_capita&dims=" + e,
			"/v1/series?indicator=owid.co2_per_capita&dims=fuel=" + e,
			"/v1/series?indicator=owid.co2_per_capita&dims=" + e + "=coal",
			"/v1/series?indicator=owid.co2_per_capita&" + e + "=1",
			"/v1/indicators?" + e + "=1",
			"/v1/indicators?x=" + e,
		}
		for _, target := range targets {
			rec := f.get(t, target)
			switch {
			case rec.Code >= 400 && rec.Code < 500:
				env := decode[httpapi.Envelope](t, rec)
				require.NotEmpty(t, env.Error.Code, target)
			case rec.Code == http.StatusOK:
				got := decode[query.SeriesResponse](t, rec)
				require.Zerof(t, got.Count, "%s returned data", target)
				require.Empty(t, got.Series, target)
			default:
				t.Fatalf("%s: status %d: %s", target, rec.Code, rec.Body.String())
			}
		}
	}
	require.Equal(t, rowsBefore, countRows(), "observations table exists and is unchanged")
	rec := f.get(t, "/v1/series?indicator=owid.co2_per_capita&geo=GBR")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, 4, decode[query.SeriesResponse](t, rec).Count)
}

func TestIntegrationETag(t *testing.T) {
	f := newFixture(t, query.Config{})
	seedSeries(t, f.ch)
	for _, target := range []string{
		"/v1/series?indicator=owid.co2_per_capita&geo=GBR",
		"/v1/indicators",
	} {
		t.Run(target, func(t *testing.T) {
			first := f.get(t, target)
			require.Equal(t, http.StatusOK, first.Code)
			tag := first.Header().Get("ETag")
			require.Equal(t, httpapi.ETag(first.Body.Bytes()), tag)
			require.False(t, strings.HasPrefix(tag, "W/"), "strong ETag")

			again := f.get(t, target)
			require.Equal(t, tag, again.Header().Get("ETag"), "same data, same tag")

			notModified := f.get(t, target, "If-None-Match", tag)
			require.Equal(t, http.StatusNotModified, notModified.Code)
			require.Empty(t, notModified.Body.Bytes())
			require.Equal(t, tag, notModified.Header().Get("ETag"))

			stale := f.get(t, target, "If-None-Match", `"stale"`)
			require.Equal(t, http.StatusOK, stale.Code)
			require.Equal(t, first.Body.String(), stale.Body.String())
		})
	}

	// New data changes the body and so the tag, once the watermark is
	// read again (within Config.FreshnessInterval, one second by default).
	target := "/v1/series?indicator=owid.co2_per_capita&geo=GBR"
	tag := f.get(t, target).Header().Get("ETag")
	insert(t, f.ch, obs("owid.co2_per_capita", "GBR", observation.Year(2019), 5.5, 3, nil))
	var rec *httptest.ResponseRecorder
	require.Eventually(t, func() bool {
		rec = f.get(t, target, "If-None-Match", tag)
		return rec.Code == http.StatusOK
	}, 5*time.Second, 50*time.Millisecond, "new data never changed the answer")
	require.NotEqual(t, tag, rec.Header().Get("ETag"))
}

func TestIntegrationHealthAndMetrics(t *testing.T) {
	f := newFixture(t, query.Config{})
	require.Equal(t, http.StatusOK, f.get(t, "/healthz").Code)
	rec := f.get(t, "/readyz")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.True(t, decode[httpapi.Readiness](t, rec).Ready)

	require.Equal(t, http.StatusOK, f.get(t, "/v1/series?indicator=owid.co2&geo=GBR").Code)
	require.Equal(t, http.StatusOK, f.get(t, "/v1/series?indicator=owid.co2&geo=FRA").Code)
	require.Equal(t, http.StatusNotFound, f.get(t, "/v1/series?indicator=nope").Code)
	require.Equal(t, http.StatusNotFound, f.get(t, "/some/random/path/123").Code)

	rec = f.get(t, "/metrics")
	require.Equal(t, http.StatusOK, rec.Code)
	body := rec.Body.String()
	require.Contains(t, body, `ounce_query_http_requests_total{code="200",route="GET /v1/series"} 2`)
	require.Contains(t, body, `ounce_query_http_requests_total{code="404",route="GET /v1/series"} 1`)
	require.Contains(t, body, `ounce_query_http_requests_total{code="404",route="unmatched"} 1`)
	require.Contains(t, body, `ounce_query_http_request_duration_seconds_count{route="GET /v1/series"} 3`)
	require.Contains(t, body, `ounce_query_clickhouse_query_duration_seconds_count{query="series"} 2`)
	require.NotContains(t, body, "/some/random/path", "raw paths never become labels")
	lint(t, f.reg)
}

// TestIntegrationRun serves on a real port and shuts down on cancel; a taken
// port is an error naming --addr.
func TestIntegrationRun(t *testing.T) {
	f := newFixture(t, query.Config{})
	ln, err := httpapi.Listen(t.Context(), "127.0.0.1:0", query.FlagAddr)
	require.NoError(t, err)
	addr := ln.Addr().String()

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- f.svc.Serve(ctx, ln) }()

	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + addr + "/readyz")
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)

	// A second service on the same address fails clearly.
	cat, err := indicators.Load()
	require.NoError(t, err)
	other, err := query.New(query.Config{Addr: addr}, f.ch.Conn, cat, zerolog.Nop(), prometheus.NewRegistry())
	require.NoError(t, err)
	err = other.Run(t.Context())
	require.ErrorContains(t, err, "already in use")
	require.ErrorContains(t, err, "--addr")

	cancel()
	require.NoError(t, <-done)
	tr.CloseIdleConnections()
}

func lint(t *testing.T, reg *prometheus.Registry) {
	t.Helper()
	problems, err := lintRegistry(reg)
	require.NoError(t, err)
	require.Empty(t, problems)
}

// golden compares got with testdata/name, rewriting it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		var v any
		require.NoError(t, json.Unmarshal(got, &v))
		pretty, err := json.MarshalIndent(v, "", "  ")
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, append(pretty, '\n'), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -run %s -update to create it", t.Name())
	require.JSONEq(t, string(want), string(got))
}
