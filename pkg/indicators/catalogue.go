// Package indicators reads the indicator catalogue under schemas/catalogue:
// what each indicator measures, in which unit, which direction is better, and
// who publishes it under which licence.
package indicators

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/schemas"
)

// Polarity says which direction of an indicator is better.
type Polarity string

// Polarities.
const (
	LowerIsBetter  Polarity = "lower"
	HigherIsBetter Polarity = "higher"
	Neutral        Polarity = "neutral"
)

// Indicator is one catalogue entry.
type Indicator struct {
	Code        string   `yaml:"code" json:"code"`
	Column      string   `yaml:"column" json:"-"` // source column, for wide feeds
	Name        string   `yaml:"name" json:"name"`
	Unit        string   `yaml:"unit" json:"unit"`
	Polarity    Polarity `yaml:"polarity" json:"polarity"`
	Domain      string   `yaml:"domain" json:"domain"`
	Description string   `yaml:"description" json:"description,omitempty"`
	Producer    string   `yaml:"producer" json:"producer"`
	URL         string   `yaml:"url" json:"url"`
	Licence     string   `yaml:"licence" json:"licence"`
	Cadence     string   `yaml:"cadence" json:"cadence"`
	// Ratio, when set, says the indicator is numerator / denominator × scale
	// of two other indicators, so that values of several places or periods
	// aggregate as Σ numerator / Σ denominator rather than a mean of ratios.
	Ratio *Ratio `yaml:"ratio" json:"ratio,omitempty"`
	// Aggregation, for a rate or per-unit indicator whose parts the
	// catalogue does not hold, says how its values of several places may
	// combine, and why (IsRate: every rate has a Ratio or an Aggregation).
	Aggregation *Aggregation `yaml:"aggregation" json:"aggregation,omitempty"`
	// Sources is the order in which sources are preferred when several
	// hold a value of one fact (indicator, place, period, breakdown): the
	// first listed that has it is served (SourceRank). Set on the file for
	// all its indicators; empty means the default rule.
	Sources []string `yaml:"sources" json:"sources,omitempty"`
	// Range, when set, declares where values are plausible beyond what the
	// unit says (Plausible); e.g. a growth rate in "%" from -100 up.
	Range *Range `yaml:"range" json:"range,omitempty"`
	// PartOf, when set, names the indicator this one is a part of (waste
	// landfilled of waste disposed of): for the same place, period,
	// breakdown and source its value cannot exceed the whole's, and a value
	// that does is flagged (pkg/quality). Both are in the same unit.
	PartOf string `yaml:"part_of" json:"part_of,omitempty"`
}

// Ratio defines a ratio indicator from two catalogue indicators:
// value = numerator / denominator × Scale.
type Ratio struct {
	Numerator   string  `yaml:"numerator" json:"numerator"`
	Denominator string  `yaml:"denominator" json:"denominator"`
	Scale       float64 `yaml:"scale" json:"scale"`
}

// Rollups an Aggregation may declare.
const (
	// RollupNone: a mean or sum of the indicator over places means nothing
	// (an age-adjusted rate, a per-unit figure without its parts): the
	// query service refuses agg=avg and agg=sum of it, and serves only
	// order statistics (min, max, median, count).
	RollupNone = "none"
	// RollupAvg: the values of several places average but do not add up
	// (a level or a share whose parts are not held): the query service
	// refuses agg=sum of it. Only a user indicator declares it (its
	// registrant chose "avg", pkg/userindicators); the catalogue declares
	// a ratio or none.
	RollupAvg = "avg"
)

// UserPrefix starts the code of every indicator defined by a user
// (pkg/userindicators): user.<namespace>.<name>. The catalogue never uses
// it (LoadFS refuses such a code), so a user indicator can never shadow,
// or be shadowed by, a catalogue entry.
const UserPrefix = "user."

// Lookup finds an indicator by code: a *Catalogue, or the catalogue
// together with the indicators users registered (pkg/userindicators).
type Lookup interface {
	Indicator(code string) (*Indicator, bool)
}

// Aggregation declares how a rate without declared parts rolls up.
type Aggregation struct {
	Rollup string `yaml:"rollup" json:"rollup"`
	// Reason says why, for the analyst who asks for a mean anyway.
	Reason string `yaml:"reason" json:"reason"`
}

// IsRate reports whether ind reads as a rate or a per-unit figure: its
// code says "per" (co2_per_capita) or its unit divides ("t/person",
// "deaths per 100,000", "EUR per inhabitant"); a flow per year ("t/year")
// is not one, as its values add up.
func (ind Indicator) IsRate() bool {
	unit := strings.ToLower(ind.Unit)
	if strings.HasSuffix(unit, "/year") || strings.HasSuffix(unit, " per year") {
		return false
	}
	return strings.Contains(ind.Code, "_per_") ||
		strings.Contains(unit, "/") || strings.HasPrefix(unit, "per ") || strings.Contains(unit, " per ")
}

// File is one catalogue file: defaults for its indicators, then the list.
type File struct {
	Name     string `yaml:"-"`
	Producer string `yaml:"producer"`
	URL      string `yaml:"url"`
	Licence  string `yaml:"licence"`
	Domain   string `yaml:"domain"`
	Cadence  string `yaml:"cadence"`
	// Sources is the default source order of the file's indicators.
	Sources    []string    `yaml:"sources"`
	Indicators []Indicator `yaml:"indicators"`
	// CSV is the file layout of a CSV feed, for formats that read one
	// (pkg/feeds/mappedcsv checks it); nil when the file has no csv block.
	CSV *Block `yaml:"csv"`
}

// Block is a YAML block kept as it was written, for the package that
// understands it to decode strictly.
type Block struct{ Node *yaml.Node }

// UnmarshalYAML keeps the block's node.
func (b *Block) UnmarshalYAML(n *yaml.Node) error {
	b.Node = n
	return nil
}

// Catalogue is every indicator, by file and by code.
type Catalogue struct {
	Files  map[string]*File
	byCode map[string]*Indicator
	wholes map[string]bool // indicators some other is part_of
}

// Load reads the catalogue embedded from schemas/catalogue.
func Load() (*Catalogue, error) { return LoadFS(schemas.Catalogue, "catalogue") }

// LoadFS reads every *.yaml under dir of fsys.
func LoadFS(fsys fs.FS, dir string) (*Catalogue, error) {
	names, err := fs.Glob(fsys, path.Join(dir, "*.yaml"))
	if err != nil {
		return nil, fmt.Errorf("list catalogue: %w", err)
	}
	c := &Catalogue{Files: map[string]*File{}, byCode: map[string]*Indicator{}}
	for _, name := range names {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("read catalogue %s: %w", name, err)
		}
		f, err := Parse(data)
		if err != nil {
			return nil, fmt.Errorf("catalogue %s: %w", name, err)
		}
		f.Name = path.Base(name[:len(name)-len(".yaml")])
		c.Files[f.Name] = f
		for i := range f.Indicators {
			ind := &f.Indicators[i]
			if strings.HasPrefix(ind.Code, UserPrefix) {
				return nil, fmt.Errorf("catalogue %s: indicator %s: codes starting with %q belong to indicators users register (POST /v1/indicators); give the catalogue entry another code", name, ind.Code, UserPrefix)
			}
			if _, dup := c.byCode[ind.Code]; dup {
				return nil, fmt.Errorf("catalogue %s: indicator %s is defined twice", name, ind.Code)
			}
			c.byCode[ind.Code] = ind
		}
	}
	if err := errors.Join(c.checkRatios(), c.checkParts()); err != nil {
		return nil, err
	}
	return c, nil
}

// checkParts reports part_of declarations naming an indicator the
// catalogue lacks or one in another unit, and cycles; it notes which
// indicators are wholes (IsWhole).
func (c *Catalogue) checkParts() error {
	var errs []error
	c.wholes = map[string]bool{}
	for _, ind := range c.Indicators() {
		if ind.PartOf == "" {
			continue
		}
		w, ok := c.byCode[ind.PartOf]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("indicator %s: part_of %q is not in the catalogue", ind.Code, ind.PartOf))
			continue
		case w.Unit != ind.Unit:
			errs = append(errs, fmt.Errorf("indicator %s: part_of %s is in %q, and a part must be in its whole's unit (%q)", ind.Code, w.Code, w.Unit, ind.Unit))
		}
		c.wholes[w.Code] = true
		seen := map[string]bool{ind.Code: true}
		for at := w; at != nil && at.PartOf != ""; {
			if seen[at.Code] {
				errs = append(errs, fmt.Errorf("indicator %s: part_of makes a cycle through %s", ind.Code, at.Code))
				break
			}
			seen[at.Code] = true
			at = c.byCode[at.PartOf]
		}
	}
	return errors.Join(errs...)
}

// IsWhole reports whether some indicator is declared part_of code.
func (c *Catalogue) IsWhole(code string) bool { return c.wholes[code] }

// checkRatios reports ratio indicators whose parts are not in the catalogue
// or are themselves ratios.
func (c *Catalogue) checkRatios() error {
	var errs []error
	for _, ind := range c.Indicators() {
		if ind.Ratio == nil {
			continue
		}
		for _, part := range []struct{ role, code string }{{"numerator", ind.Ratio.Numerator}, {"denominator", ind.Ratio.Denominator}} {
			p, ok := c.byCode[part.code]
			switch {
			case !ok:
				errs = append(errs, fmt.Errorf("indicator %s: ratio.%s %q is not in the catalogue", ind.Code, part.role, part.code))
			case p.Ratio != nil:
				errs = append(errs, fmt.Errorf("indicator %s: ratio.%s %s is itself a ratio; name its parts", ind.Code, part.role, part.code))
			}
		}
	}
	return errors.Join(errs...)
}

// Parse reads one catalogue file strictly: unknown fields are errors.
func Parse(data []byte) (*File, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	var errs []error
	for i := range f.Indicators {
		ind := &f.Indicators[i]
		if ind.Producer == "" {
			ind.Producer = f.Producer
		}
		if ind.URL == "" {
			ind.URL = f.URL
		}
		if ind.Licence == "" {
			ind.Licence = f.Licence
		}
		if ind.Domain == "" {
			ind.Domain = f.Domain
		}
		if ind.Cadence == "" {
			ind.Cadence = f.Cadence
		}
		if ind.Sources == nil {
			ind.Sources = f.Sources
		}
		if err := ind.check(); err != nil {
			errs = append(errs, fmt.Errorf("indicators[%d] (%s): %w", i, ind.Code, err))
		}
	}
	return &f, errors.Join(errs...)
}

func (ind *Indicator) check() error {
	var errs []error
	if ind.Code == "" {
		errs = append(errs, errors.New("code is missing"))
	}
	if ind.Name == "" {
		errs = append(errs, errors.New("name is missing"))
	}
	if ind.Unit == "" {
		errs = append(errs, errors.New("unit is missing"))
	}
	switch ind.Polarity {
	case LowerIsBetter, HigherIsBetter, Neutral:
	default:
		errs = append(errs, fmt.Errorf("polarity %q is not lower, higher or neutral", ind.Polarity))
	}
	if ind.Licence == "" {
		errs = append(errs, errors.New("licence is missing (set it on the entry or the file)"))
	}
	if err := ind.Range.check(); err != nil {
		errs = append(errs, err)
	}
	if r := ind.Ratio; r != nil {
		if r.Numerator == "" || r.Denominator == "" {
			errs = append(errs, errors.New("ratio needs both numerator and denominator"))
		}
		if r.Scale == 0 || math.IsNaN(r.Scale) || math.IsInf(r.Scale, 0) {
			errs = append(errs, fmt.Errorf("ratio.scale %v must be a finite non-zero number (1 when the parts are in the ratio's units)", r.Scale))
		}
		if r.Numerator == ind.Code || r.Denominator == ind.Code {
			errs = append(errs, errors.New("ratio refers to the indicator itself"))
		}
	}
	if a := ind.Aggregation; a != nil {
		switch {
		case ind.Ratio != nil:
			errs = append(errs, errors.New("aggregation and ratio are both given; a ratio aggregates as Σ numerator / Σ denominator: drop aggregation"))
		case a.Rollup != RollupNone:
			errs = append(errs, fmt.Errorf("aggregation.rollup %q is not %q", a.Rollup, RollupNone))
		case strings.TrimSpace(a.Reason) == "":
			errs = append(errs, errors.New("aggregation.reason is missing: say why the indicator does not combine over places"))
		}
	}
	seen := map[string]bool{}
	for _, src := range ind.Sources {
		switch {
		case !observation.ValidSource(src):
			errs = append(errs, fmt.Errorf("sources: %q is not a source id (a feed id, or partner:<id>)", src))
		case seen[src]:
			errs = append(errs, fmt.Errorf("sources: %q is listed twice; the order must be one", src))
		}
		seen[src] = true
	}
	if ind.IsRate() && ind.Ratio == nil && ind.Aggregation == nil {
		errs = append(errs, fmt.Errorf("%s (unit %q) is a rate: declare its ratio: {numerator, denominator, scale} of catalogue indicators, or aggregation: {rollup: none, reason: …} saying why it has none", ind.Code, ind.Unit))
	}
	return errors.Join(errs...)
}

// SourceRank orders the sources of one fact, lowest first: a source
// listed in Sources ranks by its place there; then every feed not listed;
// then every partner ("partner:…") not listed. Between sources of one rank
// the newer vintage (the higher version) is preferred, then the lower id,
// so that the choice never depends on storage order.
func (ind Indicator) SourceRank(source string) int {
	if i := slices.Index(ind.Sources, source); i >= 0 {
		return i
	}
	if strings.HasPrefix(source, "partner:") {
		return len(ind.Sources) + 1
	}
	return len(ind.Sources)
}

// Indicator returns the entry for code.
func (c *Catalogue) Indicator(code string) (*Indicator, bool) {
	ind, ok := c.byCode[code]
	return ind, ok
}

// Indicators returns every entry sorted by code.
func (c *Catalogue) Indicators() []Indicator {
	out := make([]Indicator, 0, len(c.byCode))
	for _, ind := range c.byCode {
		out = append(out, *ind)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out
}
