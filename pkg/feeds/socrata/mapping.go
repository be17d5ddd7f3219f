package socrata

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/ounce-data/ounce/pkg/observation"
)

// Fields is a feed's mapping: block: which fields of a Socrata row are the
// place, the period and the breakdown, which hold confidence limits and
// footnotes, and which wide fields fold into a catalogue indicator. The
// value fields themselves are the catalogue entries' column.
//
//	mapping:
//	  place: {field: locationabbr, codes: us-postal}   # or {value: USA}
//	  period: {field: year, grain: year}               # or {value: "2017"}
//	  dims:
//	    - {field: response, key: response}
//	  intervals:
//	    - {value: data_value, low: low_confidence_limit, high: high_confidence_limit}
//	    - {value: "*_crudeprev", pair: "*_crude95ci"}  # one field "(lo, hi)"
//	  footnote: {symbol: data_value_footnote_symbol, text: data_value_footnote}
//	  columns:                                         # wide fields of one indicator
//	    - {match: "rate_sex_*", like: rate_overall, dims: {sex: "*"}}
//	    - {match: "rate_*", like: rate_overall, place: us-state-snake}
//
// A '*' in a pattern stands for any non-empty run of characters; in
// intervals and in columns' dims and place it is replaced by what the
// value field's '*' matched.
type Fields struct {
	Place     PlaceRule      `yaml:"place"`
	Period    PeriodRule     `yaml:"period"`
	Dims      []DimRule      `yaml:"dims"`
	Intervals []IntervalRule `yaml:"intervals"`
	Footnote  FootnoteRule   `yaml:"footnote"`
	Columns   []ColumnRule   `yaml:"columns"`
}

// PlaceRule says where a row's place is: in Field, read with the code
// scheme Codes, or the constant Value for every row.
type PlaceRule struct {
	Field string `yaml:"field"`
	Codes string `yaml:"codes"`
	Value string `yaml:"value"`
}

// PeriodRule says where a row's period is: in Field, of grain Grain (year,
// quarter, month, day), or the constant period code Value.
type PeriodRule struct {
	Field string `yaml:"field"`
	Grain string `yaml:"grain"`
	Value string `yaml:"value"`
}

// DimRule makes Field a dims entry named Key.
type DimRule struct {
	Field string `yaml:"field"`
	Key   string `yaml:"key"`
}

// IntervalRule names the confidence limits of the value fields matching
// Value: two fields Low and High, or one field Pair written "(lo, hi)".
type IntervalRule struct {
	Value string `yaml:"value"`
	Low   string `yaml:"low"`
	High  string `yaml:"high"`
	Pair  string `yaml:"pair"`
}

// FootnoteRule names the footnote fields. A row without a value and with
// a footnote is suppressed (counted apart from plain missing values); a
// footnote on a row with a value becomes the dims entry Dim when Dim is
// set, and is counted otherwise.
type FootnoteRule struct {
	Symbol string `yaml:"symbol"`
	Text   string `yaml:"text"`
	Dim    string `yaml:"dim"`
}

// ColumnRule folds the fields matching Match into the indicator of the
// catalogue column Like, with their own place (the '*' read with the code
// scheme Place) and dims (values may use '*').
type ColumnRule struct {
	Match string            `yaml:"match"`
	Like  string            `yaml:"like"`
	Place string            `yaml:"place"`
	Dims  map[string]string `yaml:"dims"`
}

// Grains a period rule may name.
var grains = []observation.Grain{observation.GrainYear, observation.GrainQuarter, observation.GrainMonth, observation.GrainDay}

// ParseFields decodes a mapping: block strictly (unknown keys are errors)
// and checks it.
func ParseFields(data []byte) (Fields, error) {
	var f Fields
	if len(bytes.TrimSpace(data)) == 0 {
		return f, errors.New("socrata mapping: is missing; declare mapping: with place and period (see pkg/feeds/socrata)")
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return f, fmt.Errorf("socrata mapping: %w", err)
	}
	return f, f.Check()
}

// Check reports every problem of the mapping, each naming its key.
func (f Fields) Check() error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("socrata mapping: %s: %s", key, fmt.Sprintf(format, args...)))
	}
	switch p := f.Place; {
	case p.Field == "" && p.Value == "":
		add("place", "give field (with codes) or value")
	case p.Field != "" && p.Value != "":
		add("place", "give field or value, not both")
	case p.Value != "" && !observation.ValidGeo(p.Value):
		add("place.value", "%q is not a place code", p.Value)
	case p.Field != "" && !slices.Contains(codeSchemes, p.Codes):
		add("place.codes", "%q is not one of %s", p.Codes, strings.Join(codeSchemes, ", "))
	}
	switch p := f.Period; {
	case p.Field == "" && p.Value == "":
		add("period", "give field (with grain) or value")
	case p.Field != "" && p.Value != "":
		add("period", "give field or value, not both")
	case p.Value != "":
		if _, err := observation.ParsePeriod(p.Value); err != nil {
			add("period.value", "%v", err)
		}
	case !slices.Contains(grains, observation.Grain(p.Grain)):
		add("period.grain", "%q is not one of year, quarter, month, day", p.Grain)
	}
	keys := map[string]bool{}
	for i, d := range f.Dims {
		switch {
		case d.Field == "":
			add(fmt.Sprintf("dims[%d].field", i), "is missing")
		case !observation.ValidDimKey(d.Key):
			add(fmt.Sprintf("dims[%d].key", i), "%q must be 1-32 lower-case letters, digits or '_', starting with a letter", d.Key)
		case keys[d.Key]:
			add(fmt.Sprintf("dims[%d].key", i), "%q is given twice", d.Key)
		}
		keys[d.Key] = true
	}
	if k := f.Footnote.Dim; k != "" && (!observation.ValidDimKey(k) || keys[k]) {
		add("footnote.dim", "%q must be a dims key not used by dims", k)
	}
	if f.Footnote.Dim != "" && f.Footnote.Symbol == "" {
		add("footnote.dim", "needs footnote.symbol")
	}
	for i, iv := range f.Intervals {
		key := fmt.Sprintf("intervals[%d]", i)
		stars := strings.Count(iv.Value, "*")
		switch {
		case iv.Value == "" || stars > 1:
			add(key+".value", "%q must be a field name with at most one '*'", iv.Value)
		case iv.Pair == "" && (iv.Low == "" || iv.High == ""):
			add(key, "give low and high, or pair")
		case iv.Pair != "" && (iv.Low != "" || iv.High != ""):
			add(key, "give low and high, or pair, not both")
		}
		for _, p := range []string{iv.Low, iv.High, iv.Pair} {
			if strings.Count(p, "*") > stars {
				add(key, "%q has a '*' that %q lacks", p, iv.Value)
			}
		}
	}
	for i, c := range f.Columns {
		key := fmt.Sprintf("columns[%d]", i)
		if c.Match == "" || strings.Count(c.Match, "*") > 1 {
			add(key+".match", "%q must be a field name with at most one '*'", c.Match)
		}
		if c.Like == "" {
			add(key+".like", "is missing; name the catalogue column whose indicator these fields are")
		}
		if c.Place != "" && !slices.Contains(codeSchemes, c.Place) {
			add(key+".place", "%q is not one of %s", c.Place, strings.Join(codeSchemes, ", "))
		}
		for k, v := range c.Dims {
			if !observation.ValidDimKey(k) || keys[k] {
				add(key+".dims", "key %q must be a dims key not used by dims", k)
			}
			if v == "" {
				add(key+".dims."+k, "is empty")
			}
		}
	}
	return errors.Join(errs...)
}

// match reports whether name matches pattern (at most one '*', standing
// for a non-empty run) and what the '*' matched.
func match(pattern, name string) (string, bool) {
	pre, post, star := strings.Cut(pattern, "*")
	if !star {
		return "", name == pattern
	}
	if len(name) <= len(pre)+len(post) || !strings.HasPrefix(name, pre) || !strings.HasSuffix(name, post) {
		return "", false
	}
	return name[len(pre) : len(name)-len(post)], true
}

// fill replaces the '*' of pattern with s.
func fill(pattern, s string) string { return strings.Replace(pattern, "*", s, 1) }
