package query_test

import (
	"context"
	"encoding/csv"
	"io/fs"
	"net/http"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/httpapi"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/pkg/places"
	"github.com/ounce-data/ounce/pkg/testenv"
	"github.com/ounce-data/ounce/schemas"
	"github.com/ounce-data/ounce/services/query"
)

// seedPlaces stores, in place of the place catalogue testenv syncs, a small
// hierarchy: a world, one region with three countries, and a publisher
// aggregate under the world that a roll-up must never count.
func seedPlaces(t testing.TB, ch *testenv.ClickHouse) {
	t.Helper()
	clearPlaces(t, ch)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := ch.Conn.PrepareBatch(ctx, "INSERT INTO places (code, name, level, parent, version)")
	require.NoError(t, err)
	for _, p := range [][4]string{
		{"WLD", "World", "world", ""},
		{"ECS", "Europe & Central Asia", "region", "WLD"},
		{"FRA", "France", "country", "ECS"},
		{"DEU", "Germany", "country", "ECS"},
		{"GBR", "United Kingdom", "country", "ECS"},
		// A subdivision without data of its own: GBR, which has data,
		// must count for itself rather than be replaced by it.
		{"GB-1", "North Scotland", "region", "GBR"},
		{"EUU", "European Union", "aggregate", "WLD"},
	} {
		require.NoError(t, b.Append(p[0], p[1], p[2], p[3], uint64(1)))
	}
	require.NoError(t, b.Send())
}

// clearPlaces empties the place catalogue of the test database.
func clearPlaces(t testing.TB, ch *testenv.ClickHouse) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, ch.Conn.Exec(ctx, "TRUNCATE TABLE places"))
}

// seedAggregate stores CO2 (Mt), population and CO2 per capita for the
// three countries in 2017 and 2018, and a CO2 value for the aggregate.
func seedAggregate(t testing.TB, ch *testenv.ClickHouse) {
	t.Helper()
	seedPlaces(t, ch)
	var os []observation.Observation
	for _, r := range []struct {
		geo       string
		year      int
		co2, pop  float64
		perCapita float64
	}{
		{"FRA", 2017, 350, 65e6, 5.38},
		{"FRA", 2018, 330, 66e6, 5.0},
		{"DEU", 2017, 800, 82e6, 9.76},
		{"DEU", 2018, 760, 83e6, 9.16},
		{"GBR", 2017, 380, 66e6, 5.76},
		{"GBR", 2018, 370, 67e6, 5.52},
	} {
		os = append(os,
			obs("owid.co2", r.geo, observation.Year(r.year), r.co2, 1, nil),
			obs("owid.population", r.geo, observation.Year(r.year), r.pop, 1, nil),
			obs("owid.co2_per_capita", r.geo, observation.Year(r.year), r.perCapita, 1, nil),
		)
	}
	os = append(os, obs("owid.co2", "EUU", observation.Year(2017), 3000, 1, nil))
	insert(t, ch, os...)
}

func TestIntegrationAggregate(t *testing.T) {
	f := newFixture(t, query.Config{})
	seedAggregate(t, f.ch)

	value := func(t *testing.T, g query.AggregateGroup) float64 {
		t.Helper()
		require.NotNil(t, g.Value, "group %+v", g)
		return *g.Value
	}

	t.Run("sum by period rolls a region up from its countries", func(t *testing.T) {
		rec := f.get(t, "/v1/aggregate?indicator=owid.co2&geo=ECS&by=period&agg=sum")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		got := decode[query.AggregateResponse](t, rec)
		require.Equal(t, query.MethodValues, got.Method)
		require.Len(t, got.Groups, 2)
		require.Equal(t, "2017", got.Groups[0].Period)
		require.Equal(t, 350.0+800+380, value(t, got.Groups[0]))
		require.Equal(t, []string{"DEU", "FRA", "GBR"}, got.Groups[0].Members)
		require.Equal(t, 330.0+760+370, value(t, got.Groups[1]))
		require.NotEmpty(t, got.Provenance)
		require.Equal(t, "CC BY 4.0", got.Provenance[0].Licence)
	})

	t.Run("the world leaves out publisher aggregates", func(t *testing.T) {
		got := decode[query.AggregateResponse](t, f.get(t, "/v1/aggregate?indicator=owid.co2&geo=WLD&by=period&agg=sum&from=2017&to=2017"))
		require.Len(t, got.Groups, 1)
		require.Equal(t, 350.0+800+380, value(t, got.Groups[0]), "EUU's 3000 must not be added to its own countries")
	})

	t.Run("a ratio indicator averages as a ratio of sums", func(t *testing.T) {
		got := decode[query.AggregateResponse](t, f.get(t, "/v1/aggregate?indicator=owid.co2_per_capita&geo=ECS&by=period"))
		require.Equal(t, query.MethodRatioOfSums, got.Method)
		require.NotNil(t, got.Ratio)
		require.Len(t, got.Groups, 2)
		want := (350.0 + 800 + 380) / (65e6 + 82e6 + 66e6) * 1e6
		require.InDelta(t, want, value(t, got.Groups[0]), 1e-12)
		unweighted := (5.38 + 9.76 + 5.76) / 3
		require.Greater(t, abs(unweighted-value(t, got.Groups[0])), 0.01, "not the mean of the ratios")
	})

	t.Run("by geo over a level, with max, min, median and count", func(t *testing.T) {
		for agg, want := range map[string]map[string]float64{
			"max":    {"DEU": 800, "FRA": 350, "GBR": 380},
			"min":    {"DEU": 760, "FRA": 330, "GBR": 370},
			"median": {"DEU": 780, "FRA": 340, "GBR": 375},
			"count":  {"DEU": 2, "FRA": 2, "GBR": 2},
			"avg":    {"DEU": 780, "FRA": 340, "GBR": 375},
		} {
			got := decode[query.AggregateResponse](t, f.get(t, "/v1/aggregate?indicator=owid.co2&level=country&by=geo&agg="+agg))
			require.Len(t, got.Groups, 3, agg)
			for _, g := range got.Groups {
				require.Equal(t, want[g.Geo], value(t, g), "%s of %s", agg, g.Geo)
				require.Empty(t, g.Period)
			}
		}
	})

	t.Run("no by gives one value", func(t *testing.T) {
		got := decode[query.AggregateResponse](t, f.get(t, "/v1/aggregate?indicator=owid.co2&geo=FRA,ECS&agg=count"))
		require.Len(t, got.Groups, 1)
		require.Equal(t, 6.0, value(t, got.Groups[0]), "FRA is in ECS too, but counted once")
	})

	t.Run("csv", func(t *testing.T) {
		rec := f.get(t, "/v1/aggregate?indicator=owid.co2&geo=ECS&by=period&agg=sum&format=csv")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		recs, err := csv.NewReader(strings.NewReader(rec.Body.String())).ReadAll()
		require.NoError(t, err)
		require.Len(t, recs, 3)
		require.Equal(t, []string{"owid.co2", "sum", "values", "", "2017", "", "1530", "Mt CO2", "3", "DEU FRA GBR"}, recs[1])
	})

	for name, tc := range map[string]struct {
		target string
		status int
		field  string
	}{
		"sum of a ratio":    {"/v1/aggregate?indicator=owid.co2_per_capita&geo=ECS&agg=sum", 400, "agg"},
		"unknown agg":       {"/v1/aggregate?indicator=owid.co2&geo=ECS&agg=mode", 400, "agg"},
		"unknown by":        {"/v1/aggregate?indicator=owid.co2&geo=ECS&by=source", 400, "by"},
		"no places":         {"/v1/aggregate?indicator=owid.co2", 400, "geo"},
		"geo and level":     {"/v1/aggregate?indicator=owid.co2&geo=ECS&level=country", 400, "level"},
		"unknown level":     {"/v1/aggregate?indicator=owid.co2&level=galaxy", 400, "level"},
		"unknown param":     {"/v1/aggregate?indicator=owid.co2&geo=ECS&weight=pop", 400, "weight"},
		"agg twice":         {"/v1/aggregate?indicator=owid.co2&geo=ECS&agg=sum&agg=max", 400, "agg"},
		"unknown indicator": {"/v1/aggregate?indicator=nope&geo=ECS", 404, "indicator"},
	} {
		t.Run(name, func(t *testing.T) {
			rec := f.get(t, tc.target)
			require.Equal(t, tc.status, rec.Code, rec.Body.String())
			require.Contains(t, rec.Body.String(), `"field":"`+tc.field+`"`)
		})
	}
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}

func TestIntegrationPlacesAndIndicator(t *testing.T) {
	f := newFixture(t, query.Config{})
	seedAggregate(t, f.ch)

	all := decode[query.PlacesResponse](t, f.get(t, "/v1/places"))
	require.Equal(t, 7, all.Count)
	require.Equal(t, query.Place{Code: "DEU", Name: "Germany", Level: "country", Parent: "ECS"}, all.Places[0])

	countries := decode[query.PlacesResponse](t, f.get(t, "/v1/places?level=country"))
	require.Equal(t, 3, countries.Count)
	children := decode[query.PlacesResponse](t, f.get(t, "/v1/places?parent=WLD"))
	require.Equal(t, []query.Place{
		{Code: "ECS", Name: "Europe & Central Asia", Level: "region", Parent: "WLD"},
		{Code: "EUU", Name: "European Union", Level: "aggregate", Parent: "WLD"},
	}, children.Places)

	rec := f.get(t, "/v1/places?parent=ATLANTIS")
	require.Equal(t, http.StatusNotFound, rec.Code)
	require.Contains(t, rec.Body.String(), `"code":"unknown_place"`)
	rec = f.get(t, "/v1/places?level=planet")
	require.Equal(t, http.StatusBadRequest, rec.Code)
	require.Contains(t, rec.Body.String(), "aggregate, country, region, world")

	rec = f.get(t, "/v1/indicators/owid.co2")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	ind := decode[query.IndicatorEntry](t, rec)
	require.Equal(t, "owid.co2", ind.Code)
	require.Equal(t, uint64(4), ind.Coverage.Places)
	require.Equal(t, uint64(7), ind.Coverage.Rows)
	require.Equal(t, "2017", ind.Coverage.First)
	require.Equal(t, "2018", ind.Coverage.Last)
	tag := rec.Header().Get("ETag")
	require.Equal(t, http.StatusNotModified, f.get(t, "/v1/indicators/owid.co2", "If-None-Match", tag).Code)

	perCapita := decode[query.IndicatorEntry](t, f.get(t, "/v1/indicators/owid.co2_per_capita"))
	require.NotNil(t, perCapita.Ratio)
	require.Equal(t, "owid.population", perCapita.Ratio.Denominator)

	rec = f.get(t, "/v1/indicators/nope")
	require.Equal(t, http.StatusNotFound, rec.Code)
	require.Contains(t, rec.Body.String(), `"code":"unknown_indicator"`)
}

// TestIntegrationAggregateNoMembers covers places with nothing to roll up:
// a group whose only child is a publisher aggregate has no members, which
// is an empty answer, not a query ClickHouse refuses.
func TestIntegrationAggregateNoMembers(t *testing.T) {
	f := newFixture(t, query.Config{Places: placesWith(t, `places:
  - {code: GRP, name: Group of aggregates, level: region, parent: WLD}
  - {code: EUX, name: An aggregate, level: aggregate}
`)})
	seedAggregate(t, f.ch)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := f.ch.Conn.PrepareBatch(ctx, "INSERT INTO places (code, name, level, parent, version)")
	require.NoError(t, err)
	require.NoError(t, b.Append("GRP", "Group of aggregates", "group", "", uint64(1)))
	require.NoError(t, b.Append("EUX", "An aggregate", "aggregate", "GRP", uint64(1)))
	require.NoError(t, b.Send())
	insert(t, f.ch, obs("owid.co2", "EUX", observation.Year(2017), 2500, 1, nil))

	for _, target := range []string{
		"/v1/aggregate?indicator=owid.co2&geo=GRP&agg=sum",
		"/v1/aggregate?indicator=owid.co2&level=group&by=geo",
		"/v1/aggregate?indicator=owid.co2_per_capita&geo=GRP",
	} {
		rec := f.get(t, target)
		require.Equal(t, http.StatusOK, rec.Code, "%s: %s", target, rec.Body.String())
		got := decode[query.AggregateResponse](t, rec)
		require.Empty(t, got.Groups, target)
		require.Equal(t, 0, got.Count, target)
		require.NotNil(t, got.Provenance, target)
	}
	// The aggregate itself, asked for by name, has its own value.
	got := decode[query.AggregateResponse](t, f.get(t, "/v1/aggregate?indicator=owid.co2&geo=EUX&agg=sum"))
	require.Len(t, got.Groups, 1)
	require.NotNil(t, got.Groups[0].Value)
	require.Equal(t, 2500.0, *got.Groups[0].Value)
}

func TestIntegrationPlacesEmptyCatalogue(t *testing.T) {
	f := newFixture(t, query.Config{})
	clearPlaces(t, f.ch)
	got := decode[query.PlacesResponse](t, f.get(t, "/v1/places"))
	require.Equal(t, 0, got.Count)
	require.NotNil(t, got.Places)
	for _, target := range []string{"/v1/places?level=country", "/v1/aggregate?indicator=owid.co2&level=country"} {
		rec := f.get(t, target)
		require.Equal(t, http.StatusBadRequest, rec.Code, target)
		env := decode[httpapi.Envelope](t, rec)
		require.Equal(t, "level", env.Error.Field, target)
		require.Contains(t, env.Error.Message, `the place catalogue is empty, so no place has level "country"`, target)
	}
}

func TestIndicatorRefusesParameters(t *testing.T) {
	_, h := newOfflineService(t)
	rec := do(h, http.MethodGet, "/v1/indicators/owid.co2?geo=GBR")
	require.Equal(t, http.StatusBadRequest, rec.Code, rec.Body.String())
	env := decode[httpapi.Envelope](t, rec)
	require.Equal(t, "geo", env.Error.Field)
	require.Equal(t, `unknown parameter "geo"; GET /v1/indicators/{code} takes no parameters`, env.Error.Message)
}

// placesWith is the embedded place catalogue with the places of file
// added, for tests that store places the catalogue lacks.
func placesWith(t *testing.T, file string) *places.Catalogue {
	t.Helper()
	fsys := fstest.MapFS{"places/zz-test.yaml": {Data: []byte(file)}}
	require.NoError(t, fs.WalkDir(schemas.Places, "places", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(schemas.Places, path)
		fsys[path] = &fstest.MapFile{Data: data}
		return err
	}))
	pl, err := places.LoadFS(fsys, "places")
	require.NoError(t, err)
	return pl
}
