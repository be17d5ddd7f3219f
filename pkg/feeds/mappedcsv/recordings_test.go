package mappedcsv_test

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/biter777/countries"
	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/feeds"
	"github.com/ounce-data/ounce/pkg/feeds/feedtest"
	"github.com/ounce-data/ounce/pkg/feeds/mappedcsv"
	"github.com/ounce-data/ounce/pkg/feeds/owid"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/pkg/places"
)

// want is what a recording holds, read with encoding/csv alone: the value
// of each "indicator|geo|year|dims" key.
type want map[string]float64

func key(indicator, geo string, year int, dims string) string {
	return fmt.Sprintf("%s|%s|%d|%s", indicator, geo, year, dims)
}

func parseF(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	require.NoError(t, err, s)
	return v
}

// check reads the recording with the package and compares every
// observation with the independent reading.
func check(t *testing.T, f format, expect func(t *testing.T, m mappedcsv.Mapping, data []byte) want) feeds.Stats {
	t.Helper()
	layout, m, data := setup(t, f)
	exp := expect(t, m, data)
	require.NotEmpty(t, exp)
	obs, stats, err := feedtest.ReadAll(mappedcsv.NewReader(bytes.NewReader(data), layout, m))
	require.NoError(t, err)
	require.Len(t, obs, len(exp), "one observation per non-empty mapped cell")
	require.Equal(t, len(obs), stats.Observations)
	places := map[string]bool{}
	years := map[int]bool{}
	for _, o := range obs {
		require.NoError(t, o.Validate())
		require.Equal(t, observation.GrainYear, o.Period.Grain)
		k := key(o.Indicator, o.Geo, o.Period.Start.Year(), o.Dims.Canonical())
		v, ok := exp[k]
		require.True(t, ok, "observation %s is not in the file", k)
		require.Equal(t, v, *o.Value, k)
		delete(exp, k)
		places[o.Geo] = true
		years[o.Period.Start.Year()] = true
		require.Equal(t, f.feed, o.Source)
	}
	require.Empty(t, exp)
	require.Greater(t, len(places), 1)
	t.Logf("%s: %d observations, %d places, %d years", f.feed, len(obs), len(places), len(years))
	return stats
}

func TestWorldBankBulkRecording(t *testing.T) {
	stats := check(t, wbBulk, func(t *testing.T, m mappedcsv.Mapping, data []byte) want {
		recs := records(t, data, 4)
		h := recs[0]
		code, ind := column(t, h, "Country Code"), column(t, h, "Indicator Code")
		w := want{}
		for _, r := range recs[1:] {
			c, ok := m.Columns[r[ind]]
			require.True(t, ok)
			for j := ind + 1; j < len(h); j++ {
				if r[j] == "" {
					continue
				}
				y, err := strconv.Atoi(h[j])
				require.NoError(t, err)
				w[key(c.Indicator, r[code], y, "")] = parseF(t, r[j])
			}
		}
		return w
	})
	require.Equal(t, []string{`"Data Source","World Development Indicators",`, "", `"Last Updated Date","2026-07-13",`, ""}, stats.Detail("preamble"))
	require.Positive(t, stats.Aggregates, "regions and income groups are kept")
	require.Positive(t, stats.Missing)
}

func TestOWIDGrapherRecording(t *testing.T) {
	stats := check(t, grapher, func(t *testing.T, m mappedcsv.Mapping, data []byte) want {
		recs := records(t, data, 0)
		h := recs[0]
		c, ok := m.Columns[h[3]]
		require.True(t, ok)
		w := want{}
		for _, r := range recs[1:] {
			geo := r[1]
			if geo == "" {
				geo = "owid:" + owid.Slug(r[0])
				if country, ok := m.Places.EntityCountry(geo); ok {
					geo = country // reviewed in schemas/places/entities.yaml
				}
			}
			w[key(c.Indicator, geo, int(parseF(t, r[2])), "")] = parseF(t, r[3])
		}
		return w
	})
	require.Positive(t, stats.Aggregates)
	require.NotEmpty(t, stats.Uncoded)
	require.Contains(t, stats.Uncoded, feeds.Entity{Name: "Faeroe Islands", Geo: "FRO"}, "an entity reviewed as a country files under its code")
}

func TestWHOPortalRecording(t *testing.T) {
	layout, m, data := setup(t, portal)
	recs := records(t, data, 0)
	h := recs[0]
	geo, typ, year := column(t, h, "DIM_GEO_CODE_M49"), column(t, h, "DIM_GEO_CODE_TYPE"), column(t, h, "DIM_TIME")
	ind, val, lo, hi := column(t, h, "IND_CODE"), column(t, h, "RATE_PER_100_N"), column(t, h, "RATE_PER_100_NL"), column(t, h, "RATE_PER_100_NU")
	sex, age := column(t, h, "DIM_SEX"), column(t, h, "DIM_AGE")
	countryRows, aggregateRows := want{}, 0
	for _, r := range recs[1:] {
		n, err := strconv.Atoi(r[geo])
		require.NoError(t, err)
		c := m.Columns[r[ind]]
		dims := observation.Dims{"sex": r[sex], "age": r[age]}.Canonical()
		y, err := strconv.Atoi(r[year])
		require.NoError(t, err)
		switch r[typ] {
		case "WHOREGION", "WORLDBANKINCOMEGROUP":
			aggregateRows++
		case "GLOBAL":
			countryRows[key(c.Indicator, places.WorldCode, y, dims)] = parseF(t, r[val])
		default: // COUNTRY and the territory types: ISO 3166-1 by their M49 number
			iso := countries.ByNumeric(n).Alpha3()
			require.Len(t, iso, 3, "M49 %d", n)
			countryRows[key(c.Indicator, iso, y, dims)] = parseF(t, r[val])
		}
		require.LessOrEqual(t, parseF(t, r[lo]), parseF(t, r[val]))
	}
	obs, stats, err := feedtest.ReadAll(mappedcsv.NewReader(bytes.NewReader(data), layout, m))
	require.NoError(t, err)
	require.Len(t, obs, len(recs)-1, "every row is an observation: every M49 code is known")
	require.Empty(t, stats.UnknownPlaces)
	require.Equal(t, len(recs)-1, stats.Intervals)
	aggregates := 0
	for _, o := range obs {
		require.NoError(t, o.Validate())
		k := key(o.Indicator, o.Geo, o.Period.Start.Year(), o.Dims.Canonical())
		if strings.HasPrefix(o.Geo, "who:") {
			aggregates++
			continue
		}
		v, ok := countryRows[k]
		require.True(t, ok, "observation %s is not in the file", k)
		require.Equal(t, v, *o.Value, k)
		delete(countryRows, k)
	}
	require.Empty(t, countryRows)
	require.Equal(t, aggregateRows, aggregates)
	require.Equal(t, aggregateRows, stats.Aggregates)
	_ = hi
}

func TestWhatAWasteRecording(t *testing.T) {
	layout, _, _ := setup(t, waste)
	require.Equal(t, 2016, layout.Period.Year, "the catalogue's csv block gives the year")
	nonISO := 0 // cells of economies without an ISO 3166 code: aggregates
	stats := check(t, waste, func(t *testing.T, m mappedcsv.Mapping, data []byte) want {
		recs := records(t, data, 0)
		h := recs[0]
		iso := column(t, h, "iso3c")
		w := want{}
		eNotation := 0
		for name, c := range m.Columns {
			j := column(t, h, name)
			for _, r := range recs[1:] {
				if r[j] == "" || r[j] == "None" {
					continue
				}
				if strings.ContainsAny(r[j], "eE") {
					eNotation++
				}
				if countries.ByName(r[iso]) == countries.Unknown {
					nonISO++
				}
				w[key(c.Indicator, r[iso], 2016, "")] = parseF(t, r[j])
			}
		}
		require.Positive(t, eNotation, "the recording has E-notation numbers")
		return w
	})
	require.Equal(t, nonISO, stats.Aggregates)
	require.Contains(t, stats.Unmapped, "country_name")
}

// Every World Bank aggregate of the bulk download's country metadata (an
// empty Region) is an aggregate in the place catalogue, and every economy
// with a region is a country, or an aggregate when it has no ISO code.
func TestWorldBankMetadata(t *testing.T) {
	_, m, _ := setup(t, wbBulk)
	dir := testDataDir(t)
	f := openFile(t, dir, "Metadata_Country_API_SH.XPD.CHEX.GD.ZS_DS2_en_csv_v2_33342.csv")
	ecos, err := mappedcsv.ReadEconomies(f)
	require.NoError(t, err)
	require.Len(t, ecos, len(records(t, readFile(t, dir, "Metadata_Country_API_SH.XPD.CHEX.GD.ZS_DS2_en_csv_v2_33342.csv"), 0))-1)
	aggs := 0
	for _, e := range ecos {
		p, ok := m.Places.Place(e.Code)
		require.True(t, ok, e.Code)
		switch {
		case e.Code == places.WorldCode:
			require.Equal(t, places.World, p.Level)
		case e.Aggregate():
			aggs++
			require.Equal(t, places.Aggregate, p.Level, e.Code)
		case p.Level != places.Country:
			require.Equal(t, places.Aggregate, p.Level, e.Code)
			require.Contains(t, p.Name, "without an ISO 3166 code")
		}
	}
	require.Greater(t, aggs, 40)

	inds, err := mappedcsv.ReadIndicatorMeta(openFile(t, dir, "Metadata_Indicator_API_SH.XPD.CHEX.GD.ZS_DS2_en_csv_v2_33342.csv"))
	require.NoError(t, err)
	require.Len(t, inds, 1)
	require.Equal(t, "SH.XPD.CHEX.GD.ZS", inds[0].Code)
	require.Contains(t, inds[0].SourceOrganization, "Global Health Expenditure Database")
	c, ok := m.Columns[inds[0].Code]
	require.True(t, ok, "the catalogue maps the bulk file's indicator")
	require.Equal(t, inds[0].Code, c.Indicator)

	_, err = mappedcsv.ReadEconomies(strings.NewReader("<html>oops</html>"))
	require.ErrorContains(t, err, "HTML")
	_, err = mappedcsv.ReadEconomies(strings.NewReader("\"Country Code\",\"Region\"\n\"ABW\",\"x\"\n"))
	require.ErrorContains(t, err, `column "IncomeGroup" is missing`)
}
