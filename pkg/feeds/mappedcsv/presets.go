package mappedcsv

import "github.com/ounce-data/ounce/pkg/places"

// WorldBankBulk is the World Bank's bulk-download CSV
// (API_<indicator>_DS2_en_csv_v2_<n>.csv): a four-line preamble ("Data
// Source", "Last Updated Date"), then Country Name, Country Code, Indicator
// Name, Indicator Code and one column per year, with an empty last column
// from a trailing comma. Country Code is an ISO 3166-1 alpha-3 code or a
// World Bank aggregate code (EAS, HIC, WLD…), which the place catalogue
// lists as aggregates (the world as the world). An empty cell is a missing
// value.
var WorldBankBulk = Layout{
	Name:         "worldbank bulk csv",
	SkipLines:    4,
	Place:        PlaceColumn{Column: "Country Code", Scheme: places.SchemeCode},
	Period:       PeriodColumn{WideYears: true},
	Indicator:    "Indicator Code",
	FinalNewline: true,
}

// OWIDGrapher is the CSV download of an Our World in Data grapher chart:
// Entity, Code, Year and one column per series, named by its title (the
// catalogue maps that title). Code is ISO 3166-1 alpha-3 or OWID's own
// OWID_* code; entities without a code (income groups, the World Bank's
// regions as OWID names them, territories such as the Faeroe Islands) get
// "owid:" + the slug of their name, as pkg/feeds/owid names them. The
// place catalogue lists OWID_* and owid: places as aggregates. The file
// ends without a line break.
var OWIDGrapher = Layout{
	Name: "owid grapher csv",
	Place: PlaceColumn{Column: "Code", Scheme: places.SchemeCode,
		NameColumn: "Entity", BlankPrefix: "owid:"},
	Period: PeriodColumn{Column: "Year"},
}

// WHOPortal is the CSV export of the WHO data portal (data.who.int,
// <UUID>_ALL_LATEST.csv): one row per indicator, place, year and breakdown;
// IND_CODE names the indicator, DIM_GEO_CODE_M49 the place by its M49
// number (WHO regions and World Bank income groups by WHO's own 9xx
// numbers), DIM_TIME the year (DIM_TIME_TYPE YEAR), RATE_PER_100_N the
// value and RATE_PER_100_NL/NU its uncertainty interval. DIM_SEX and DIM_AGE
// become the dims sex and age. A number the place catalogue does not know is
// counted and its row skipped (Stats.UnknownPlaces), not an error.
var WHOPortal = Layout{
	Name:         "who data portal csv",
	Place:        PlaceColumn{Column: "DIM_GEO_CODE_M49", Scheme: places.SchemeWHOM49, Unknown: UnknownCount},
	Period:       PeriodColumn{Column: "DIM_TIME"},
	Indicator:    "IND_CODE",
	Value:        "RATE_PER_100_N",
	Lower:        "RATE_PER_100_NL",
	Upper:        "RATE_PER_100_NU",
	Dims:         map[string]string{"sex": "DIM_SEX", "age": "DIM_AGE"},
	Require:      map[string]string{"DIM_TIME_TYPE": "YEAR"},
	FinalNewline: true,
}

// Generic is the base of the mapped-csv format: everything comes from the
// catalogue file's csv block.
var Generic = Layout{Name: "mapped csv", Place: PlaceColumn{Scheme: places.SchemeCode}}
