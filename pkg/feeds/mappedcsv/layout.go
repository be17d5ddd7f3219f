package mappedcsv

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"

	"go.yaml.in/yaml/v3"

	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/pkg/places"
)

// Layout says where a CSV file keeps each part of an observation. It is
// declared: a format's preset (WorldBankBulk, OWIDGrapher, WHOPortal,
// WhatAWaste) or a catalogue file's csv block (see Merge), never coded per
// publisher.
//
// Values come in one of three shapes:
//
//   - wide by indicator (Indicator and Value empty, Period.WideYears
//     false): each header column that a catalogue entry names in its column
//     field holds that indicator's values, one row per place and period
//     (OWID grapher, What a Waste);
//   - long (Indicator and Value set): the Indicator column holds a code that
//     a catalogue entry names in its column field, the Value column its
//     value (WHO data portal);
//   - wide by year (Indicator set, Period.WideYears true): the Indicator
//     column selects the entry, and every header column that is a year holds
//     that year's value (World Bank bulk CSV).
type Layout struct {
	// Name names the format in errors, e.g. "worldbank bulk csv".
	Name string `yaml:"-"`
	// SkipLines is the number of lines before the header (a preamble).
	SkipLines int `yaml:"skip_lines"`
	// Place is where the place code is.
	Place PlaceColumn `yaml:"place"`
	// Period is where the period is.
	Period PeriodColumn `yaml:"period"`
	// Indicator is the column holding the indicator code in the long and
	// wide-by-year shapes.
	Indicator string `yaml:"indicator"`
	// Value is the column holding the value in the long shape.
	Value string `yaml:"value"`
	// Lower and Upper are the columns of an uncertainty interval around the
	// value (long shape): checked to be numbers with lower ≤ value ≤ upper,
	// counted in Stats.Intervals, not stored.
	Lower string `yaml:"lower"`
	Upper string `yaml:"upper"`
	// Dims maps a dims key to the column holding its value; an empty cell
	// leaves the key out.
	Dims map[string]string `yaml:"dims"`
	// Require maps a column to the one value it must hold in every row
	// (DIM_TIME_TYPE: YEAR), so that a file that changed meaning fails.
	Require map[string]string `yaml:"require"`
	// Missing lists the cell texts that mean "no value" besides the empty
	// cell (None, "..", "n/a").
	Missing []string `yaml:"missing"`
	// Scale multiplies the values of an indicator (by catalogue code), to
	// bring them to the catalogue unit (1000 for a file in thousands).
	Scale map[string]float64 `yaml:"scale"`
	// FinalNewline, when true, makes a body that does not end in a line
	// break an error: it was cut short. OWID's grapher files end without one.
	FinalNewline bool `yaml:"final_newline"`
}

// PlaceColumn says where a row's place is and how its code is read.
type PlaceColumn struct {
	// Column holds the place code.
	Column string `yaml:"column"`
	// Scheme is how the code is read: "code" (the catalogue's own code: ISO
	// 3166-1 alpha-3 for countries, WLD, EAS, OWID_WRL…), "m49", "who-m49"
	// (M49 with WHO's region and income-group numbers), "iso2" — see
	// places.Resolve.
	Scheme string `yaml:"scheme"`
	// NameColumn holds the place's name. A row whose code cell is empty gets
	// the place BlankPrefix + the slug of its name (OWID's entities without a
	// code: "owid:" + "european-union-27"); without a NameColumn an empty
	// code is an error.
	NameColumn  string `yaml:"name_column"`
	BlankPrefix string `yaml:"blank_prefix"`
	// Unknown is what a code the place catalogue does not know does:
	// "error" (the default) fails the body naming row and column; "count"
	// skips the row and counts it in Stats.UnknownPlaces, which the ingest
	// log reports.
	Unknown string `yaml:"unknown"`
}

// PeriodColumn says where a row's period is.
type PeriodColumn struct {
	// Column holds the year.
	Column string `yaml:"column"`
	// Year is the year of every row, for a file that has no period column
	// (What a Waste: the publisher's reference year).
	Year int `yaml:"year"`
	// WideYears says the header's year columns hold the values.
	WideYears bool `yaml:"wide_years"`
}

// Unknown-place policies.
const (
	UnknownError = "error"
	UnknownCount = "count"
)

// Merge overlays the fields set in a catalogue file's csv block on l and
// checks the result; block may be nil. Unknown fields in the block are
// errors.
func (l Layout) Merge(block *indicators.Block) (Layout, error) {
	if block != nil && block.Node != nil {
		raw, err := yaml.Marshal(block.Node)
		if err != nil {
			return Layout{}, fmt.Errorf("csv block: %w", err)
		}
		var o Layout
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		dec.KnownFields(true)
		if err := dec.Decode(&o); err != nil {
			return Layout{}, fmt.Errorf("csv block: %w", err)
		}
		l = l.overlay(o)
	}
	return l, l.Check()
}

func (l Layout) overlay(o Layout) Layout {
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	if o.SkipLines != 0 {
		l.SkipLines = o.SkipLines
	}
	set(&l.Place.Column, o.Place.Column)
	set(&l.Place.Scheme, o.Place.Scheme)
	set(&l.Place.NameColumn, o.Place.NameColumn)
	set(&l.Place.BlankPrefix, o.Place.BlankPrefix)
	set(&l.Place.Unknown, o.Place.Unknown)
	set(&l.Period.Column, o.Period.Column)
	if o.Period.Year != 0 {
		l.Period.Year = o.Period.Year
	}
	l.Period.WideYears = l.Period.WideYears || o.Period.WideYears
	set(&l.Indicator, o.Indicator)
	set(&l.Value, o.Value)
	set(&l.Lower, o.Lower)
	set(&l.Upper, o.Upper)
	l.Dims = mergeMap(l.Dims, o.Dims)
	l.Require = mergeMap(l.Require, o.Require)
	l.Scale = mergeMap(l.Scale, o.Scale)
	if o.Missing != nil {
		l.Missing = o.Missing
	}
	l.FinalNewline = l.FinalNewline || o.FinalNewline
	return l
}

func mergeMap[V any](a, b map[string]V) map[string]V {
	if len(b) == 0 {
		return a
	}
	out := maps.Clone(a)
	if out == nil {
		out = map[string]V{}
	}
	maps.Copy(out, b)
	return out
}

// Check reports every problem with l.
func (l Layout) Check() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if l.SkipLines < 0 || l.SkipLines > 100 {
		add("skip_lines %d is not 0..100", l.SkipLines)
	}
	if l.Place.Column == "" {
		add("place.column is missing: name the column that holds the place code")
	}
	switch l.Place.Scheme {
	case places.SchemeCode, places.SchemeM49, places.SchemeWHOM49, places.SchemeISO2:
	default:
		add("place.scheme %q is not code, m49, who-m49 or iso2", l.Place.Scheme)
	}
	if l.Place.NameColumn != "" && l.Place.BlankPrefix == "" {
		add("place.name_column needs place.blank_prefix, the prefix of the code of places without one")
	}
	if l.Place.BlankPrefix != "" && !observation.ValidGeo(l.Place.BlankPrefix+"x") {
		add("place.blank_prefix %q does not make place codes", l.Place.BlankPrefix)
	}
	switch l.Place.Unknown {
	case "", UnknownError, UnknownCount:
	default:
		add("place.unknown %q is not error or count", l.Place.Unknown)
	}
	periods := 0
	if l.Period.Column != "" {
		periods++
	}
	if l.Period.Year != 0 {
		periods++
		if l.Period.Year < 1000 || l.Period.Year > 2999 {
			add("period.year %d is outside 1000..2999", l.Period.Year)
		}
	}
	if l.Period.WideYears {
		periods++
		if l.Indicator == "" {
			add("period.wide_years needs indicator, the column that names each row's indicator")
		}
		if l.Value != "" {
			add("period.wide_years takes the values from the year columns; value must be empty")
		}
	}
	if periods != 1 {
		add("give exactly one of period.column, period.year and period.wide_years")
	}
	if !l.Period.WideYears && (l.Indicator == "") != (l.Value == "") {
		add("indicator and value go together (the long shape): give both or neither")
	}
	if (l.Lower != "" || l.Upper != "") && l.Value == "" {
		add("lower and upper bound the value column: they need value")
	}
	for _, k := range slices.Sorted(maps.Keys(l.Dims)) {
		if !observation.ValidDimKey(k) {
			add("dims key %q must be lower-case snake_case, 1-32 characters", k)
		}
		if l.Dims[k] == "" {
			add("dims.%s names no column", k)
		}
	}
	if len(l.Dims) > observation.MaxDims {
		add("dims has %d keys; at most %d", len(l.Dims), observation.MaxDims)
	}
	for _, k := range slices.Sorted(maps.Keys(l.Scale)) {
		if s := l.Scale[k]; s == 0 || math.IsNaN(s) || math.IsInf(s, 0) {
			add("scale.%s %v must be a finite non-zero number", k, s)
		}
	}
	return errors.Join(errs...)
}
