// Package places reads the place catalogue under schemas/places: every place
// code a feed may give an observation, its name, its level and its parent,
// so that values can roll up (country → region → world) and publishers'
// aggregates are never mistaken for countries.
//
// Levels, from the top:
//
//	world       WLD, the whole world (the World Bank's code, which its feeds carry)
//	region      a UN M49 continental region, m49:002 Africa … m49:150 Europe; parent WLD
//	country     an ISO 3166-1 alpha-3 code (the code every feed uses); parent its region
//	subnational a part of a country: hhs:1…hhs:10 (HHS regions), US-CA (ISO 3166-2,
//	            under its HHS region), us-place:<GEOID> and us-county:<GEOID> (US cities
//	            and counties, under their state), GB (Great Britain), ci:1…ci:17 (GB
//	            Carbon Intensity regions), GB-MAN (ISO 3166-2:GB, a partner's local
//	            area, under its nation); parent the next place up
//	aggregate   a publisher's own grouping, outside the tree: World Bank regions and
//	            income groups (EAS, HIC…), OWID's OWID_* codes and owid:<slug> entities,
//	            WHO regions and income groups (who:EUR, who:WB_HI); parent empty
//
// Countries carry their ISO 3166-1 alpha-2 code and UN M49 numeric code;
// any place may carry aliases, "scheme:code" strings by which a publisher
// names it (who-m49:953 for who:AFR), so that Resolve maps a publisher's
// code to the catalogue's.
package places

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/schemas"
)

// Level is a place's rank in the roll-up tree.
type Level string

// Levels.
const (
	World       Level = "world"
	Region      Level = "region"
	Country     Level = "country"
	Subnational Level = "subnational"
	Aggregate   Level = "aggregate"
)

// WorldCode is the code of the world.
const WorldCode = "WLD"

// Schemes of Resolve.
const (
	SchemeCode   = "code"    // the catalogue's own code
	SchemeISO3   = "iso3"    // ISO 3166-1 alpha-3, a country's code
	SchemeISO2   = "iso2"    // ISO 3166-1 alpha-2
	SchemeM49    = "m49"     // UN M49 numeric, 3 digits ("4" and "004" alike)
	SchemeWHOM49 = "who-m49" // WHO data portal's numeric codes, M49 extended with WHO regions and income groups
)

// Place is one catalogue entry.
type Place struct {
	Code    string   `yaml:"code" json:"code"`
	Name    string   `yaml:"name" json:"name"`
	Level   Level    `yaml:"level" json:"level"`
	Parent  string   `yaml:"parent,omitempty" json:"parent,omitempty"`
	Alpha2  string   `yaml:"alpha2,omitempty" json:"alpha2,omitempty"`
	M49     string   `yaml:"m49,omitempty" json:"m49,omitempty"`
	Aliases []string `yaml:"aliases,omitempty" json:"aliases,omitempty"`
	// Hierarchy names the alternative grouping the place belongs to under
	// its parent ("gb-nations"); empty for the parent's default one. A
	// roll-up follows one hierarchy, never two, so that a place is not
	// counted twice (Great Britain by DNO regions, or by nations).
	Hierarchy string `yaml:"hierarchy,omitempty" json:"hierarchy,omitempty"`
}

// File is one catalogue file: places, or the review of publishers'
// entities (entities.yaml).
type File struct {
	Places   []Place   `yaml:"places"`
	Entities *Entities `yaml:"entities"`
}

// Entities is the review of every place a publisher's file gives without an
// ISO 3166 code (OWID's OWID_* codes and names without a code, the World
// Bank's economies without one): each is either the country it names,
// whose code its observations are filed under, or a reviewed aggregate (a
// group, a historical state, an accounting line: no country).
type Entities struct {
	Countries  []EntityCountry `yaml:"countries"`
	Aggregates []string        `yaml:"aggregates"`
}

// EntityCountry is an entity that is a country.
type EntityCountry struct {
	Entity  string `yaml:"entity"`  // the code the reader gives it, e.g. "owid:macao", "OWID_KOS"
	Country string `yaml:"country"` // the country's code, e.g. "MAC", "XKX"
}

// Catalogue is every place, by code and by alias.
type Catalogue struct {
	byCode   map[string]*Place
	byAlias  map[string]string // "scheme:code" -> place code
	order    []string          // codes, sorted
	entities map[string]string // entity -> country code, "" for a reviewed aggregate
	// entityCountries are the countries some entity is.
	entityCountries map[string]bool
}

// Load reads the catalogue embedded from schemas/places.
func Load() (*Catalogue, error) { return LoadFS(schemas.Places, "places") }

// LoadFS reads every *.yaml under dir of fsys and checks the whole: unique
// codes and aliases, known levels, and parents that exist one level up.
func LoadFS(fsys fs.FS, dir string) (*Catalogue, error) {
	names, err := fs.Glob(fsys, path.Join(dir, "*.yaml"))
	if err != nil {
		return nil, fmt.Errorf("list place catalogue: %w", err)
	}
	var all []Place
	var ents Entities
	for _, name := range names {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("read place catalogue %s: %w", name, err)
		}
		f, err := Parse(data)
		if err != nil {
			return nil, fmt.Errorf("place catalogue %s: %w", name, err)
		}
		all = append(all, f.Places...)
		if f.Entities != nil {
			ents.Countries = append(ents.Countries, f.Entities.Countries...)
			ents.Aggregates = append(ents.Aggregates, f.Entities.Aggregates...)
		}
	}
	c, err := New(all)
	if err != nil {
		return nil, err
	}
	if err := c.setEntities(ents); err != nil {
		return nil, fmt.Errorf("place catalogue entities: %w", err)
	}
	return c, nil
}

// setEntities checks and keeps the review of entities: a country entity
// names a country and is no place of its own (its observations go to the
// country); a reviewed aggregate is a place of level aggregate; none is
// listed twice.
func (c *Catalogue) setEntities(e Entities) error {
	c.entities, c.entityCountries = map[string]string{}, map[string]bool{}
	var errs []error
	for _, ec := range e.Countries {
		if _, dup := c.entities[ec.Entity]; dup {
			errs = append(errs, fmt.Errorf("entity %s is listed twice", ec.Entity))
			continue
		}
		if p, ok := c.byCode[ec.Country]; !ok || p.Level != Country {
			errs = append(errs, fmt.Errorf("entity %s: country %s is not a country of the catalogue", ec.Entity, ec.Country))
		}
		if _, isPlace := c.byCode[ec.Entity]; isPlace {
			errs = append(errs, fmt.Errorf("entity %s is the country %s, so it must not be a place of its own: remove it from the generated file", ec.Entity, ec.Country))
		}
		c.entities[ec.Entity] = ec.Country
		c.entityCountries[ec.Country] = true
	}
	for _, a := range e.Aggregates {
		if _, dup := c.entities[a]; dup {
			errs = append(errs, fmt.Errorf("entity %s is listed twice", a))
			continue
		}
		if p, ok := c.byCode[a]; !ok || p.Level != Aggregate {
			errs = append(errs, fmt.Errorf("entity %s is listed as an aggregate but is no aggregate place of the catalogue", a))
		}
		c.entities[a] = ""
	}
	return errors.Join(errs...)
}

// EntityCountry returns the country a publisher's entity without an ISO
// code is (OWID_KOS → XKX); false when it is no reviewed country.
func (c *Catalogue) EntityCountry(code string) (string, bool) {
	country := c.entities[code]
	return country, country != ""
}

// IsEntityCountry reports whether some reviewed entity is the country code.
func (c *Catalogue) IsEntityCountry(code string) bool { return c.entityCountries[code] }

// Parse reads one catalogue file strictly: unknown fields are errors.
func Parse(data []byte) (*File, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	return &f, nil
}

// New builds a catalogue from places and checks it.
func New(ps []Place) (*Catalogue, error) {
	c := &Catalogue{byCode: make(map[string]*Place, len(ps)), byAlias: map[string]string{}}
	var errs []error
	for i := range ps {
		p := &ps[i]
		if _, dup := c.byCode[p.Code]; dup {
			errs = append(errs, fmt.Errorf("place %s is defined twice", p.Code))
			continue
		}
		if err := p.check(); err != nil {
			errs = append(errs, fmt.Errorf("place %q: %w", p.Code, err))
			continue
		}
		c.byCode[p.Code] = p
		c.order = append(c.order, p.Code)
	}
	for _, code := range c.order {
		p := c.byCode[code]
		aliases := slices.Clone(p.Aliases)
		if p.Level == Country {
			aliases = append(aliases, SchemeISO3+":"+p.Code)
			if p.Alpha2 != "" {
				aliases = append(aliases, SchemeISO2+":"+p.Alpha2)
			}
		}
		if p.M49 != "" {
			aliases = append(aliases, SchemeM49+":"+p.M49)
		}
		for _, a := range aliases {
			if other, dup := c.byAlias[a]; dup {
				errs = append(errs, fmt.Errorf("place %s: alias %s is already %s's", p.Code, a, other))
				continue
			}
			c.byAlias[a] = p.Code
		}
		if err := c.checkParent(p); err != nil {
			errs = append(errs, fmt.Errorf("place %s: %w", p.Code, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	slices.Sort(c.order)
	return c, nil
}

func (p *Place) check() error {
	var errs []error
	if !observation.ValidGeo(p.Code) {
		errs = append(errs, errors.New("code must be 1-64 letters, digits, '.', '_', ':' or '-'"))
	}
	if strings.TrimSpace(p.Name) == "" {
		errs = append(errs, errors.New("name is missing"))
	}
	switch p.Level {
	case World, Region, Country, Subnational, Aggregate:
	default:
		errs = append(errs, fmt.Errorf("level %q is not world, region, country, subnational or aggregate", p.Level))
	}
	if p.M49 != "" && !isM49(p.M49) {
		errs = append(errs, fmt.Errorf("m49 %q is not three digits", p.M49))
	}
	if p.Alpha2 != "" && (len(p.Alpha2) != 2 || strings.ToUpper(p.Alpha2) != p.Alpha2) {
		errs = append(errs, fmt.Errorf("alpha2 %q is not two upper-case letters", p.Alpha2))
	}
	for _, a := range p.Aliases {
		if s, v, ok := strings.Cut(a, ":"); !ok || s == "" || v == "" {
			errs = append(errs, fmt.Errorf("alias %q is not scheme:code", a))
		}
	}
	return errors.Join(errs...)
}

// parentLevels says which levels a place of each level may hang under.
var parentLevels = map[Level][]Level{
	World:       nil,
	Region:      {World},
	Country:     {Region},
	Subnational: {Country, Subnational},
	Aggregate:   nil,
}

// hierarchyRE is the form of a hierarchy name.
var hierarchyRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)

func (c *Catalogue) checkParent(p *Place) error {
	if p.Hierarchy != "" {
		if !hierarchyRE.MatchString(p.Hierarchy) {
			return fmt.Errorf("hierarchy %q: want 1-32 lower-case letters, digits or '-', starting with a letter", p.Hierarchy)
		}
		if p.Parent == "" {
			return fmt.Errorf("hierarchy %s: a place in a named hierarchy needs a parent", p.Hierarchy)
		}
	}
	want := parentLevels[p.Level]
	if p.Parent == "" {
		if len(want) > 0 {
			return fmt.Errorf("a %s needs a parent (a %v)", p.Level, want)
		}
		return nil
	}
	if len(want) == 0 {
		return fmt.Errorf("a %s has no parent, but %s is given", p.Level, p.Parent)
	}
	parent, ok := c.byCode[p.Parent]
	if !ok {
		return fmt.Errorf("parent %s is not in the catalogue", p.Parent)
	}
	if !slices.Contains(want, parent.Level) {
		return fmt.Errorf("parent %s is a %s; a %s hangs under a %v", p.Parent, parent.Level, p.Level, want)
	}
	if parent.Code == p.Code {
		return errors.New("is its own parent")
	}
	return nil
}

func isM49(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := range 3 {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Len is the number of places.
func (c *Catalogue) Len() int { return len(c.order) }

// Place returns the place with code.
func (c *Catalogue) Place(code string) (Place, bool) {
	p, ok := c.byCode[code]
	if !ok {
		return Place{}, false
	}
	return *p, true
}

// List returns the places of the given levels (every place when none is
// given), sorted by code.
func (c *Catalogue) List(levels ...Level) []Place {
	out := make([]Place, 0, len(c.order))
	for _, code := range c.order {
		p := c.byCode[code]
		if len(levels) == 0 || slices.Contains(levels, p.Level) {
			out = append(out, *p)
		}
	}
	return out
}

// Parents returns the chain of code's parents, nearest first: for a
// country its region then the world. It is empty for the world and for
// aggregates; ok is false for an unknown code.
func (c *Catalogue) Parents(code string) (chain []Place, ok bool) {
	p, ok := c.byCode[code]
	if !ok {
		return nil, false
	}
	for p.Parent != "" && len(chain) <= len(c.order) {
		p = c.byCode[p.Parent]
		chain = append(chain, *p)
	}
	return chain, true
}

// Resolve maps a publisher's code in scheme to the catalogue's place code.
// SchemeCode looks the code up as it is; SchemeM49 and SchemeWHOM49 accept
// codes with or without leading zeros ("4", "004"); SchemeWHOM49 falls back
// to plain M49.
func (c *Catalogue) Resolve(scheme, code string) (string, bool) {
	switch scheme {
	case SchemeCode:
		_, ok := c.byCode[code]
		return code, ok
	case SchemeM49, SchemeWHOM49:
		code = padM49(code)
		if code == "" {
			return "", false
		}
		if scheme == SchemeWHOM49 {
			if p, ok := c.byAlias[SchemeWHOM49+":"+code]; ok {
				return p, true
			}
		}
		p, ok := c.byAlias[SchemeM49+":"+code]
		return p, ok
	}
	p, ok := c.byAlias[scheme+":"+code]
	return p, ok
}

// M49ToISO3 returns the ISO 3166-1 alpha-3 code of a country's M49 code.
func (c *Catalogue) M49ToISO3(m49 string) (string, bool) {
	code, ok := c.Resolve(SchemeM49, m49)
	if !ok || c.byCode[code].Level != Country {
		return "", false
	}
	return code, true
}

// padM49 gives 1-3 digits three digits; anything else "".
func padM49(s string) string {
	if len(s) == 0 || len(s) > 3 {
		return ""
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return ""
		}
	}
	return strings.Repeat("0", 3-len(s)) + s
}
