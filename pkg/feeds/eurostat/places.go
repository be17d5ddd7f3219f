package eurostat

import (
	"fmt"

	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/pkg/places"
)

// Geo codes. Eurostat names countries by ISO 3166-1 alpha-2 codes except
// two: EL is Greece (ISO GR) and UK the United Kingdom (ISO GB); the OECD's
// JSON-stat also writes UK. Kosovo is XK, as in the place catalogue.
// Anything else (EU27_2020, EA20, the OECD's EU15 and OECD) is an aggregate:
// the feed's prefix + the code, which the place catalogue must list
// (schemas/places/aggregates-eurostat.yaml).
var exceptions = map[string]string{"EL": "GRC", "UK": "GBR"}

// Prefixes of aggregates.
const (
	EurostatPrefix = "eurostat:"
	OECDPrefix     = "oecd:"
)

// Places resolves Eurostat geo codes to place catalogue codes.
type Places struct {
	cat    *places.Catalogue
	prefix string
	known  map[string]Place
}

// Place is a resolved geo code.
type Place struct {
	Geo       string // place catalogue code
	Aggregate bool   // a publisher's aggregate, not a country
}

// NewPlaces resolves codes through cat, aggregates under prefix.
func NewPlaces(cat *places.Catalogue, prefix string) (*Places, error) {
	if cat == nil {
		return nil, fmt.Errorf("eurostat places: no place catalogue")
	}
	if prefix != "" && !observation.ValidGeo(prefix+"x") {
		return nil, fmt.Errorf("eurostat places: prefix %q does not make place codes", prefix)
	}
	return &Places{cat: cat, prefix: prefix, known: map[string]Place{}}, nil
}

// Resolve maps a Eurostat geo code to the place catalogue; false when the
// catalogue knows neither the country nor the aggregate.
func (p *Places) Resolve(code string) (Place, bool) {
	if pl, ok := p.known[code]; ok {
		return pl, true
	}
	var pl Place
	switch {
	case exceptions[code] != "":
		pl.Geo = exceptions[code]
	case len(code) == 2:
		geo, ok := p.cat.Resolve(places.SchemeISO2, code)
		if !ok {
			return Place{}, false
		}
		pl.Geo = geo
	default:
		geo := p.prefix + code
		cp, ok := p.cat.Place(geo)
		if !ok || p.prefix == "" {
			return Place{}, false
		}
		pl = Place{Geo: geo, Aggregate: cp.Level == places.Aggregate}
	}
	p.known[code] = pl
	return pl, true
}

// labels maps the English geo labels of Eurostat's "with labels" exports
// to Eurostat geo codes (Eurostat's GEO code list): the EU and EFTA
// members, the candidate countries and the EU aggregates. A label not
// listed is an unknown place.
var labels = map[string]string{
	"European Union - 27 countries (from 2020)":        "EU27_2020",
	"European Union - 28 countries (2013-2020)":        "EU28",
	"European Union - 27 countries (2007-2013)":        "EU27_2007",
	"European Union - 15 countries (1995-2004)":        "EU15",
	"Euro area - 20 countries (from 2023)":             "EA20",
	"Euro area - 19 countries  (2015-2022)":            "EA19",
	"Euro area - 19 countries (2015-2022)":             "EA19",
	"Belgium":                                          "BE",
	"Bulgaria":                                         "BG",
	"Czechia":                                          "CZ",
	"Czech Republic":                                   "CZ",
	"Denmark":                                          "DK",
	"Germany":                                          "DE",
	"Germany (until 1990 former territory of the FRG)": "DE",
	"Estonia":                "EE",
	"Ireland":                "IE",
	"Greece":                 "EL",
	"Spain":                  "ES",
	"France":                 "FR",
	"Croatia":                "HR",
	"Italy":                  "IT",
	"Cyprus":                 "CY",
	"Latvia":                 "LV",
	"Lithuania":              "LT",
	"Luxembourg":             "LU",
	"Hungary":                "HU",
	"Malta":                  "MT",
	"Netherlands":            "NL",
	"Austria":                "AT",
	"Poland":                 "PL",
	"Portugal":               "PT",
	"Romania":                "RO",
	"Slovenia":               "SI",
	"Slovakia":               "SK",
	"Finland":                "FI",
	"Sweden":                 "SE",
	"United Kingdom":         "UK",
	"Iceland":                "IS",
	"Liechtenstein":          "LI",
	"Norway":                 "NO",
	"Switzerland":            "CH",
	"Montenegro":             "ME",
	"North Macedonia":        "MK",
	"Albania":                "AL",
	"Serbia":                 "RS",
	"Turkey":                 "TR",
	"Türkiye":                "TR",
	"Bosnia and Herzegovina": "BA",
	"Kosovo (under United Nations Security Council Resolution 1244/99)": "XK",
	"Kosovo*": "XK",
	"Moldova": "MD",
	"Ukraine": "UA",
	"Georgia": "GE",
}

// LabelCode returns the Eurostat geo code of an English geo label.
func LabelCode(label string) (string, bool) {
	c, ok := labels[label]
	return c, ok
}
