package places_test

import (
	"bytes"
	"encoding/csv"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/biter777/countries"
	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/feeds/owid"
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
			"# The territories (AS, GU, MP, PR, UM, VI) are countries of their own in countries.yaml.\n",
		"aggregates-worldbank.yaml": "# Place catalogue: World Bank aggregates (regions, income and lending groups),\n" +
			"# generated from the World Bank bulk CSV of SH.XPD.CHEX.GD.ZS and its Metadata_Country file\n" +
			"# (codes whose Region is empty, or that the metadata does not list, and economies\n" +
			"# without an ISO 3166 code) by `go test ./places -run TestGeneratedFiles -update` in pkg.\n",
		"aggregates-owid.yaml": "# Place catalogue: Our World in Data entities that are not ISO 3166 countries: OWID_*\n" +
			"# codes and entities without a code (owid:<slug of the name>, as pkg/feeds/owid and\n" +
			"# the grapher feeds name them), generated from the OWID CO2 dataset and the grapher\n" +
			"# diabetes chart by `go test ./places -run TestGeneratedFiles -update` in pkg.\n" +
			"# They are aggregates or historical or non-ISO entities; none is mistaken for a country.\n",
	}
	files["aggregates-worldbank.yaml"] = genWorldBank
	files["aggregates-owid.yaml"] = genOWID
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
		out = append(out, places.Place{Code: code, Name: s.String(), Level: places.Subnational, Parent: "USA"})
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
	region := map[string]string{}
	for _, r := range readCSV(t, filepath.Join(dir, "Metadata_Country_"+stem), 0)[1:] {
		region[r[0]] = r[1]
	}
	iso := map[string]bool{}
	for _, c := range countries.All() {
		iso[c.Alpha3()] = true
	}
	var out []places.Place
	for _, r := range readCSV(t, filepath.Join(dir, stem), 4)[1:] {
		name, code := r[0], r[1]
		if code == places.WorldCode {
			continue // the world, in world.yaml
		}
		if reg, listed := region[code]; listed && reg != "" {
			if iso[code] {
				continue // an economy that is a country
			}
			name += " (World Bank economy without an ISO 3166 code)"
		}
		out = append(out, places.Place{Code: code, Name: name, Level: places.Aggregate})
	}
	require.Greater(t, len(out), 40)
	slices.SortFunc(out, func(a, b places.Place) int { return strings.Compare(a.Code, b.Code) })
	return out
}

func genOWID(t *testing.T) []places.Place {
	dir := filepath.Join(testenv.SharedDataDir(t), "owid")
	seen := map[string]bool{}
	var out []places.Place
	add := func(code, name string) {
		if code == "" {
			code = owid.UncodedPrefix + owid.Slug(name)
		} else if !strings.HasPrefix(code, "OWID_") {
			return
		}
		if !seen[code] {
			seen[code] = true
			out = append(out, places.Place{Code: code, Name: name + " (Our World in Data)", Level: places.Aggregate})
		}
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
