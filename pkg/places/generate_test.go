package places_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/biter777/countries"
	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/feeds/gho"
	"github.com/ounce-data/ounce/pkg/feeds/owid"
	"github.com/ounce-data/ounce/pkg/feeds/socrata"
	"github.com/ounce-data/ounce/pkg/places"
	"github.com/ounce-data/ounce/pkg/testenv"
)

var update = flag.Bool("update", false, "rewrite the generated files under schemas/places")

// regionFixes corrects github.com/biter777/countries v1.7.5 where its
// continent is wrong: it puts Curaçao in Oceania.
var regionFixes = map[string]countries.RegionCode{"CUW": countries.RegionNA}

// usTerritories are ISO 3166-2:US subdivisions that are also countries in
// ISO 3166-1 (AS, GU, MP, PR, UM, VI): they stay countries only.
var usTerritories = []string{"US-AS", "US-GU", "US-MP", "US-PR", "US-UM", "US-VI"}

// hhsRegions are the ten regions of the US Department of Health and Human
// Services (hhs.gov, "HHS Regional Offices") by the postal codes of their
// states and DC. Region 2 also serves Puerto Rico and the US Virgin Islands,
// region 9 American Samoa, Guam, the Northern Mariana Islands and the freely
// associated states: those are countries of their own in countries.yaml,
// not under a region.
var hhsRegions = [][]string{
	1:  {"CT", "MA", "ME", "NH", "RI", "VT"},
	2:  {"NJ", "NY"},
	3:  {"DC", "DE", "MD", "PA", "VA", "WV"},
	4:  {"AL", "FL", "GA", "KY", "MS", "NC", "SC", "TN"},
	5:  {"IL", "IN", "MI", "MN", "OH", "WI"},
	6:  {"AR", "LA", "NM", "OK", "TX"},
	7:  {"IA", "KS", "MO", "NE"},
	8:  {"CO", "MT", "ND", "SD", "UT", "WY"},
	9:  {"AZ", "CA", "HI", "NV"},
	10: {"AK", "ID", "OR", "WA"},
}

// whoPlaceholders are codes of the GHO code lists that name no place.
var whoPlaceholders = []string{"NA", "NOA", "NOTSPEC"}

func placesDir(t *testing.T) string {
	t.Helper()
	return filepath.Join("..", "..", "schemas", "places")
}

// The generated catalogue files are what their generators make from their
// sources; run with -update to regenerate them.
func TestGeneratedFiles(t *testing.T) {
	files := map[string]func(t *testing.T) []places.Place{
		"countries.yaml": genCountries,
		"us-states.yaml": genUSStates,
	}
	headers := map[string]string{
		"countries.yaml": "# Place catalogue: ISO 3166-1 countries, generated from github.com/biter777/countries\n" +
			"# v1.7.5 (alpha-3 code, English name, alpha-2, UN M49 number, continent) by\n" +
			"# `go test ./places -run TestGeneratedFiles -update` in pkg; do not edit by hand.\n" +
			"# Continent fixes: Curaçao (CUW) is in North America, not Oceania.\n",
		"us-states.yaml": "# Place catalogue: the 50 US states and the District of Columbia, ISO 3166-2:US codes,\n" +
			"# generated from github.com/biter777/countries v1.7.5 by\n" +
			"# `go test ./places -run TestGeneratedFiles -update` in pkg; do not edit by hand.\n" +
			"# The territories (AS, GU, MP, PR, UM, VI) are countries of their own in countries.yaml.\n" +
			"# Each state's parent is its HHS region (hhsRegions in pkg/places/generate_test.go).\n",
		"us-hhs.yaml": "# Place catalogue: the ten HHS regions of the United States, hhs:1…hhs:10 as\n" +
			"# pkg/feeds/socrata names them (HHS1…HHS10 in CDC data), generated from hhsRegions in\n" +
			"# pkg/places/generate_test.go by `go test ./places -run TestGeneratedFiles -update` in pkg.\n" +
			"# The states and DC hang under their region (us-states.yaml); so a value of the United\n" +
			"# States rolls up from the regions, or from the states where no region has data.\n",
		"us-places.yaml": "# Place catalogue: US cities (us-place:<7-digit Census place GEOID>) and counties\n" +
			"# (us-county:<5-digit GEOID>), as pkg/feeds/socrata names them, each under its state,\n" +
			"# generated from the CDC 500 Cities recording (../shared/data/cdc/socrata: placefips,\n" +
			"# placename, stateabbr) by `go test ./places -run TestGeneratedFiles -update` in pkg.\n",
		"aggregates-who.yaml": "# Place catalogue: the WHO GHO's regions and income groupings that aggregates.yaml does\n" +
			"# not list (who:GBD_REG14_*, who:OECD_*, who:WHO_LMI_*…), as pkg/feeds/gho names them\n" +
			"# (\"who:\" + SpatialDim), generated from the GHO code lists REGION and\n" +
			"# WORLDBANKINCOMEGROUP (../shared/data/who/gho_ghed/codes) by\n" +
			"# `go test ./places -run TestGeneratedFiles -update` in pkg. NA, NOA and NOTSPEC\n" +
			"# (\"not applicable\", \"not included\", \"not specified\") name no place and are left out.\n",
		"aggregates-worldbank.yaml": "# Place catalogue: World Bank aggregates (regions, income and lending groups),\n" +
			"# generated from the World Bank bulk CSV of SH.XPD.CHEX.GD.ZS and its Metadata_Country file\n" +
			"# (codes whose Region is empty, or that the metadata does not list, and economies\n" +
			"# without an ISO 3166 code) and the Indicators API pages in api_v2_full (countryiso3code\n" +
			"# of no ISO 3166 country, such as FCS) by `go test ./places -run TestGeneratedFiles -update` in pkg.\n",
		"aggregates-owid.yaml": "# Place catalogue: Our World in Data entities that are not ISO 3166 countries: OWID_*\n" +
			"# codes and entities without a code (owid:<slug of the name>, as pkg/feeds/owid and\n" +
			"# the grapher feeds name them), generated from the OWID CO2 dataset and the grapher\n" +
			"# diabetes chart by `go test ./places -run TestGeneratedFiles -update` in pkg.\n" +
			"# They are aggregates or historical or non-ISO entities, each reviewed in entities.yaml;\n" +
			"# the entities that are countries (Kosovo, Macao…) are left out: they file under the country.\n",
	}
	files["aggregates-worldbank.yaml"] = genWorldBank
	files["aggregates-owid.yaml"] = genOWID
	files["us-hhs.yaml"] = genHHS
	files["us-places.yaml"] = genUSPlaces
	files["aggregates-who.yaml"] = genWHO
	for name, gen := range files {
		t.Run(name, func(t *testing.T) {
			got := render(headers[name], gen(t))
			path := filepath.Join(placesDir(t), name)
			if *update {
				require.NoError(t, os.WriteFile(path, got, 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err)
			require.Equal(t, string(want), string(got), "run go test ./places -run TestGeneratedFiles -update")
		})
	}
}

func render(header string, ps []places.Place) []byte {
	var b bytes.Buffer
	b.WriteString(header)
	b.WriteString("places:\n")
	q := func(s string) string { return fmt.Sprintf("%q", s) }
	for _, p := range ps {
		fmt.Fprintf(&b, "  - {code: %s, name: %s, level: %s", q(p.Code), q(p.Name), p.Level)
		if p.Parent != "" {
			fmt.Fprintf(&b, ", parent: %s", q(p.Parent))
		}
		if p.Alpha2 != "" {
			fmt.Fprintf(&b, ", alpha2: %s", q(p.Alpha2))
		}
		if p.M49 != "" {
			fmt.Fprintf(&b, ", m49: %s", q(p.M49))
		}
		b.WriteString("}\n")
	}
	return b.Bytes()
}

func genCountries(t *testing.T) []places.Place {
	var out []places.Place
	for _, c := range countries.All() {
		code := c.Alpha3()
		region := c.Region()
		if fix, ok := regionFixes[code]; ok {
			region = fix
		}
		m49 := fmt.Sprintf("%03d", int(c))
		if int(c) >= 900 { // Kosovo: 900 is not an M49 code
			m49 = ""
		}
		out = append(out, places.Place{Code: code, Name: c.String(), Level: places.Country,
			Parent: fmt.Sprintf("m49:%03d", int(region)), Alpha2: c.Alpha2(), M49: m49})
	}
	require.Greater(t, len(out), 240)
	slices.SortFunc(out, func(a, b places.Place) int { return strings.Compare(a.Code, b.Code) })
	return out
}

func genUSStates(t *testing.T) []places.Place {
	var out []places.Place
	for _, s := range countries.AllSubdivisionsByCountryCode()[countries.USA] {
		code := string(s)
		if slices.Contains(usTerritories, code) {
			continue
		}
		region := hhsRegion(t, strings.TrimPrefix(code, "US-"))
		out = append(out, places.Place{Code: code, Name: s.String(), Level: places.Subnational, Parent: region})
	}
	require.Len(t, out, 51)
	slices.SortFunc(out, func(a, b places.Place) int { return strings.Compare(a.Code, b.Code) })
	return out
}

func readCSV(t *testing.T, path string, skip int) [][]string {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	for range skip {
		i := bytes.IndexByte(data, '\n')
		require.GreaterOrEqual(t, i, 0)
		data = data[i+1:]
	}
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	require.NoError(t, err)
	return recs
}

func genWorldBank(t *testing.T) []places.Place {
	dir := filepath.Join(testenv.SharedDataDir(t), "worldbank", "bulk_csv")
	const stem = "API_SH.XPD.CHEX.GD.ZS_DS2_en_csv_v2_33342.csv"
	wbCountries, wbAggregates := reviewedEntities(t)
	region := map[string]string{}
	for _, r := range readCSV(t, filepath.Join(dir, "Metadata_Country_"+stem), 0)[1:] {
		region[r[0]] = r[1]
	}
	iso := map[string]bool{}
	for _, c := range countries.All() {
		iso[c.Alpha3()] = true
	}
	var out []places.Place
	seen := map[string]bool{}
	for _, r := range readCSV(t, filepath.Join(dir, stem), 4)[1:] {
		name, code := r[0], r[1]
		if code == places.WorldCode {
			continue // the world, in world.yaml
		}
		if reg, listed := region[code]; listed && reg != "" {
			if iso[code] {
				continue // an economy that is a country
			}
			if wbCountries[code] {
				continue // reviewed: a country, its observations go to its code
			}
			require.True(t, wbAggregates[code], "World Bank economy %s (%q) has no ISO code and is not reviewed: list it in schemas/places/entities.yaml as a country or an aggregate", code, name)
			name += " (World Bank economy without an ISO 3166 code)"
		}
		out = append(out, places.Place{Code: code, Name: name, Level: places.Aggregate})
		seen[code] = true
	}
	pages, err := filepath.Glob(filepath.Join(testenv.SharedDataDir(t), "worldbank", "api_v2_full", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, pages)
	for _, page := range pages {
		data, err := os.ReadFile(page)
		require.NoError(t, err)
		var doc []json.RawMessage
		require.NoError(t, json.Unmarshal(data, &doc))
		require.Len(t, doc, 2, page)
		var recs []struct {
			ISO3    string `json:"countryiso3code"`
			Country struct {
				Value string `json:"value"`
			} `json:"country"`
		}
		require.NoError(t, json.Unmarshal(doc[1], &recs), page)
		for _, r := range recs {
			// Records without an ISO3 code are wb:<id>, in aggregates.yaml.
			if len(r.ISO3) != 3 || iso[r.ISO3] || seen[r.ISO3] || r.ISO3 == places.WorldCode {
				continue
			}
			seen[r.ISO3] = true
			out = append(out, places.Place{Code: r.ISO3, Name: r.Country.Value, Level: places.Aggregate})
		}
	}
	require.Greater(t, len(out), 40)
	slices.SortFunc(out, func(a, b places.Place) int { return strings.Compare(a.Code, b.Code) })
	return out
}

// reviewedEntities reads schemas/places/entities.yaml: the entities that
// are countries, and those reviewed as aggregates.
func reviewedEntities(t *testing.T) (countries, aggregates map[string]bool) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(placesDir(t), "entities.yaml"))
	require.NoError(t, err)
	f, err := places.Parse(data)
	require.NoError(t, err)
	require.NotNil(t, f.Entities)
	countries, aggregates = map[string]bool{}, map[string]bool{}
	for _, c := range f.Entities.Countries {
		countries[c.Entity] = true
	}
	for _, a := range f.Entities.Aggregates {
		aggregates[a] = true
	}
	return countries, aggregates
}

func genOWID(t *testing.T) []places.Place {
	dir := filepath.Join(testenv.SharedDataDir(t), "owid")
	countries, aggregates := reviewedEntities(t)
	seen := map[string]bool{}
	var out []places.Place
	add := func(code, name string) {
		if code == "" {
			code = owid.UncodedPrefix + owid.Slug(name)
		} else if !strings.HasPrefix(code, "OWID_") {
			return
		}
		if seen[code] || countries[code] {
			return // a country's observations go to its code
		}
		seen[code] = true
		require.True(t, aggregates[code], "OWID entity %s (%q) has no ISO code and is not reviewed: list it in schemas/places/entities.yaml as a country or an aggregate", code, name)
		out = append(out, places.Place{Code: code, Name: name + " (Our World in Data)", Level: places.Aggregate})
	}
	co2 := readCSV(t, filepath.Join(dir, "co2", "owid-co2-data.csv"), 0)
	iso, country := slices.Index(co2[0], "iso_code"), slices.Index(co2[0], "country")
	for _, r := range co2[1:] {
		add(r[iso], r[country])
	}
	for _, r := range readCSV(t, filepath.Join(dir, "grapher", "diabetes-prevalence.csv"), 0)[1:] {
		add(r[1], r[0])
	}
	require.Greater(t, len(out), 20)
	slices.SortFunc(out, func(a, b places.Place) int { return strings.Compare(a.Code, b.Code) })
	return out
}

// hhsRegion is the code of the HHS region of the state with postal code
// postal; every state and DC is in exactly one region.
func hhsRegion(t *testing.T, postal string) string {
	t.Helper()
	var in []string
	for n, states := range hhsRegions {
		if slices.Contains(states, postal) {
			in = append(in, socrata.HHSPrefix+strconv.Itoa(n))
		}
	}
	require.Len(t, in, 1, "state %s is in one HHS region", postal)
	return in[0]
}

func genHHS(t *testing.T) []places.Place {
	var out []places.Place
	n := 0
	for i, states := range hhsRegions[1:] {
		n += len(states)
		out = append(out, places.Place{Code: socrata.HHSPrefix + strconv.Itoa(i+1),
			Name: "HHS Region " + strconv.Itoa(i+1), Level: places.Subnational, Parent: socrata.NationGeo})
	}
	require.Len(t, out, 10)
	require.Equal(t, 51, n, "the 50 states and DC")
	slices.SortFunc(out, func(a, b places.Place) int { return strings.Compare(a.Code, b.Code) })
	return out
}

// genUSPlaces makes the cities (7-digit GEOIDs) and counties (5-digit) of
// the 500 Cities recording, each under the state of its stateabbr; the
// state FIPS prefix of every GEOID names one state throughout.
func genUSPlaces(t *testing.T) []places.Place {
	path := filepath.Join(testenv.SharedDataDir(t), "cdc", "socrata", "dxpw-cm5u_500cities_city_gis.json")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var rows []struct {
		FIPS  string `json:"placefips"`
		Name  string `json:"placename"`
		State string `json:"stateabbr"`
	}
	require.NoError(t, json.Unmarshal(data, &rows))
	stateOfPrefix := map[string]string{}
	seen := map[string]bool{}
	var out []places.Place
	for i, r := range rows {
		require.True(t, len(r.FIPS) == 7 || len(r.FIPS) == 5, "row %d: placefips %q", i, r.FIPS)
		require.NotEmpty(t, r.Name, "row %d: placename", i)
		require.Len(t, r.State, 2, "row %d: stateabbr", i)
		if prev, ok := stateOfPrefix[r.FIPS[:2]]; ok {
			require.Equal(t, prev, r.State, "row %d: state FIPS %s names one state", i, r.FIPS[:2])
		}
		stateOfPrefix[r.FIPS[:2]] = r.State
		code := socrata.CityPrefix + r.FIPS
		if len(r.FIPS) == 5 {
			code = socrata.CountyPrefix + r.FIPS
		}
		if seen[code] {
			continue
		}
		seen[code] = true
		out = append(out, places.Place{Code: code, Name: r.Name + ", " + r.State,
			Level: places.Subnational, Parent: "US-" + r.State})
	}
	require.Greater(t, len(out), 400)
	slices.SortFunc(out, func(a, b places.Place) int { return strings.Compare(a.Code, b.Code) })
	return out
}

// genWHO makes the GHO's REGION and WORLDBANKINCOMEGROUP codes that the
// hand-written aggregates.yaml does not hold.
func genWHO(t *testing.T) []places.Place {
	hand, err := os.ReadFile(filepath.Join(placesDir(t), "aggregates.yaml"))
	require.NoError(t, err)
	f, err := places.Parse(hand)
	require.NoError(t, err)
	written := map[string]bool{}
	for _, p := range f.Places {
		written[p.Code] = true
	}
	dir := filepath.Join(testenv.SharedDataDir(t), "who", "gho_ghed", "codes")
	var out []places.Place
	for _, list := range []string{"REGION.csv", "WORLDBANKINCOMEGROUP.csv"} {
		recs := readCSV(t, filepath.Join(dir, list), 0)
		require.Equal(t, []string{"Dimension", "Code", "Title"}, recs[0][:3], list)
		for _, r := range recs[1:] {
			code := gho.AggregatePrefix + r[1]
			if written[code] || slices.Contains(whoPlaceholders, r[1]) {
				continue
			}
			out = append(out, places.Place{Code: code, Name: strings.TrimSpace(r[2]) + " (WHO)", Level: places.Aggregate})
		}
	}
	require.Greater(t, len(out), 20)
	slices.SortFunc(out, func(a, b places.Place) int { return strings.Compare(a.Code, b.Code) })
	return out
}
