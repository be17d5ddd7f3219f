package socrata

import (
	"strconv"
	"strings"

	"github.com/ounce-data/ounce/pkg/feeds"
)

// Place code schemes a mapping may name (place.codes, columns[].place).
// Codes follow observation.ValidGeo:
//
//   - the 50 states and DC: ISO 3166-2 "US-" + postal code (US-CA, US-DC),
//     as in schemas/places/us-states.yaml;
//   - the territories: their ISO 3166-1 alpha-3 code (PRI, GUM, VIR, ASM,
//     MNP), as the place catalogue has them among the countries;
//   - the United States as a whole: ISO 3166-1 alpha-3 USA;
//   - HHS regions 1–10: "hhs:" + number (hhs:1 … hhs:10);
//   - cities and other Census places: "us-place:" + the 7-digit Census
//     place GEOID, state FIPS then place FIPS (us-place:0644000 = Los
//     Angeles, CA); a 5-digit GEOID is a county, "us-county:" + GEOID, as
//     500 Cities gives Honolulu (a consolidated city-county: us-county:15003).
const (
	// CodesPostal reads USPS codes: CA, DC, PR, US (the nation), HHS1..HHS10.
	CodesPostal = "us-postal"
	// CodesStateName reads names: California, District of Columbia,
	// United States, Puerto Rico…
	CodesStateName = "us-state-name"
	// CodesStateSnake reads names in lower-case snake_case, as Socrata
	// field names carry them: north_carolina, district_of_columbia.
	CodesStateSnake = "us-state-snake"
	// CodesFIPS reads state FIPS codes, with or without the leading zero: 06, 6.
	CodesFIPS = "us-fips"
	// CodesPlaceFIPS reads 7-digit Census place GEOIDs (0644000) and
	// 5-digit county GEOIDs (15003).
	CodesPlaceFIPS = "us-place-fips"
	// CodesAsIs takes the text as the place code (ISO3 or another code
	// that is already one), refusing what is not a valid code.
	CodesAsIs = "as-is"
)

// Geo codes of places that are not states.
const (
	NationGeo      = "USA"
	HHSPrefix      = "hhs:"
	CityPrefix     = "us-place:"
	CountyPrefix   = "us-county:"
	subdivisionPre = "US-"
)

var codeSchemes = []string{CodesPostal, CodesStateName, CodesStateSnake, CodesFIPS, CodesPlaceFIPS, CodesAsIs}

// usState is a state, DC or a territory.
type usState struct {
	postal, fips, name string
	alias              []string // other published names
	iso3               string   // territories: their own ISO 3166-1 code
}

var usStates = []usState{
	{"AL", "01", "Alabama", nil, ""}, {"AK", "02", "Alaska", nil, ""}, {"AZ", "04", "Arizona", nil, ""},
	{"AR", "05", "Arkansas", nil, ""}, {"CA", "06", "California", nil, ""}, {"CO", "08", "Colorado", nil, ""},
	{"CT", "09", "Connecticut", nil, ""}, {"DE", "10", "Delaware", nil, ""},
	{"DC", "11", "District of Columbia", []string{"Washington, D.C.", "Washington DC"}, ""},
	{"FL", "12", "Florida", nil, ""}, {"GA", "13", "Georgia", nil, ""}, {"HI", "15", "Hawaii", nil, ""},
	{"ID", "16", "Idaho", nil, ""}, {"IL", "17", "Illinois", nil, ""}, {"IN", "18", "Indiana", nil, ""},
	{"IA", "19", "Iowa", nil, ""}, {"KS", "20", "Kansas", nil, ""}, {"KY", "21", "Kentucky", nil, ""},
	{"LA", "22", "Louisiana", nil, ""}, {"ME", "23", "Maine", nil, ""}, {"MD", "24", "Maryland", nil, ""},
	{"MA", "25", "Massachusetts", nil, ""}, {"MI", "26", "Michigan", nil, ""}, {"MN", "27", "Minnesota", nil, ""},
	{"MS", "28", "Mississippi", nil, ""}, {"MO", "29", "Missouri", nil, ""}, {"MT", "30", "Montana", nil, ""},
	{"NE", "31", "Nebraska", nil, ""}, {"NV", "32", "Nevada", nil, ""}, {"NH", "33", "New Hampshire", nil, ""},
	{"NJ", "34", "New Jersey", nil, ""}, {"NM", "35", "New Mexico", nil, ""}, {"NY", "36", "New York", nil, ""},
	{"NC", "37", "North Carolina", nil, ""}, {"ND", "38", "North Dakota", nil, ""}, {"OH", "39", "Ohio", nil, ""},
	{"OK", "40", "Oklahoma", nil, ""}, {"OR", "41", "Oregon", nil, ""}, {"PA", "42", "Pennsylvania", nil, ""},
	{"RI", "44", "Rhode Island", nil, ""}, {"SC", "45", "South Carolina", nil, ""}, {"SD", "46", "South Dakota", nil, ""},
	{"TN", "47", "Tennessee", nil, ""}, {"TX", "48", "Texas", nil, ""}, {"UT", "49", "Utah", nil, ""},
	{"VT", "50", "Vermont", nil, ""}, {"VA", "51", "Virginia", nil, ""}, {"WA", "53", "Washington", nil, ""},
	{"WV", "54", "West Virginia", nil, ""}, {"WI", "55", "Wisconsin", nil, ""}, {"WY", "56", "Wyoming", nil, ""},
	{"AS", "60", "American Samoa", nil, "ASM"}, {"GU", "66", "Guam", nil, "GUM"},
	{"MP", "69", "Northern Mariana Islands", []string{"Commonwealth of the Northern Mariana Islands"}, "MNP"},
	{"PR", "72", "Puerto Rico", nil, "PRI"},
	{"VI", "78", "U.S. Virgin Islands", []string{"Virgin Islands", "US Virgin Islands", "United States Virgin Islands"}, "VIR"},
}

// nationNames are the names and codes of the United States as a whole.
var nationNames = []string{"United States", "US", "USA", "United States, DC & Territories"}

// placeTables are the lookups of each scheme built from usStates.
type placeTables struct {
	postal, name, snake, fips map[string]string
}

var tables = buildTables()

func buildTables() placeTables {
	t := placeTables{postal: map[string]string{}, name: map[string]string{}, snake: map[string]string{}, fips: map[string]string{}}
	for _, s := range usStates {
		geo := subdivisionPre + s.postal
		if s.iso3 != "" {
			geo = s.iso3
		}
		t.postal[s.postal] = geo
		t.fips[s.fips] = geo
		t.fips[strings.TrimLeft(s.fips, "0")] = geo
		for _, n := range append([]string{s.name}, s.alias...) {
			t.name[n] = geo
			t.snake[feeds.SnakeCase(n)] = geo
		}
	}
	for _, n := range nationNames {
		t.name[n] = NationGeo
		t.snake[feeds.SnakeCase(n)] = NationGeo
	}
	t.postal["US"] = NationGeo
	for i := 1; i <= 10; i++ {
		t.postal["HHS"+strconv.Itoa(i)] = HHSPrefix + strconv.Itoa(i)
	}
	return t
}

// placeCode returns the geo of text under scheme; ok is false for a text
// the scheme does not know (an unknown place, counted by the reader).
func placeCode(scheme, text string) (string, bool) {
	switch scheme {
	case CodesPostal:
		g, ok := tables.postal[strings.ToUpper(strings.TrimSpace(text))]
		return g, ok
	case CodesStateName:
		g, ok := tables.name[strings.TrimSpace(text)]
		return g, ok
	case CodesStateSnake:
		g, ok := tables.snake[text]
		return g, ok
	case CodesFIPS:
		g, ok := tables.fips[strings.TrimSpace(text)]
		return g, ok
	case CodesPlaceFIPS:
		if (len(text) != 7 && len(text) != 5) || strings.Trim(text, "0123456789") != "" {
			return "", false
		}
		if _, ok := tables.fips[text[:2]]; !ok {
			return "", false
		}
		if len(text) == 5 {
			return CountyPrefix + text, true
		}
		return CityPrefix + text, true
	}
	return text, true // CodesAsIs: checked by the caller with ValidGeo
}
