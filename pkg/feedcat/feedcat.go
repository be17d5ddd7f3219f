// Package feedcat reads the feed catalogue under schemas/feeds: one YAML file
// per feed declaring its format, where to fetch it, how often, under which
// licence, and which indicator catalogue maps its columns. A feed is declared,
// not coded: the adapter for its format does the rest.
package feedcat

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/schemas"
)

// MinSchedule is the shortest schedule a feed may declare: open-data
// publishers are not to be polled harder than this.
const MinSchedule = time.Minute

// Feed is one declared feed.
type Feed struct {
	// File is the catalogue file the feed was read from, e.g. "feeds/owid-co2.yaml".
	File string
	// ID is the feed id, also the observations' source: lower-case letters,
	// digits and '-'; the file must be named <id>.yaml.
	ID string
	// Format names the adapter that parses the feed, e.g. "owid-co2-csv".
	Format string
	// Domain is the subject domain: obs.v1.<domain>.<id>.
	Domain string
	// URL is where the feed is fetched from (http or https).
	URL string
	// Mirror is the feed's path relative to a mirror directory, for offline runs.
	Mirror string
	// Schedule is how often the feed is fetched.
	Schedule time.Duration
	// Licence is the licence stamped on every observation.
	Licence string
	// Attribution is the credit line the licence asks for.
	Attribution string
	// Catalogue names the indicator catalogue file (schemas/catalogue/<name>.yaml)
	// that maps the feed's columns to indicators.
	Catalogue string
	// PageSize, when set, is how many records the feed asks for a page: the
	// feed's format pages its answers (Socrata's $limit/$offset) and the
	// fetch reads page after page until one comes back short. 0 = one request.
	PageSize int
	// Flags names the publisher's code list of observation flags
	// (schemas/flags/<name>.yaml) for a feed whose values carry flags;
	// empty for the others.
	Flags string
	// Periods, when set, is the range of years the feed's periods start in
	// (the source's declared coverage); a value outside it is flagged
	// period_out_of_range (pkg/quality).
	Periods *Periods
	// Mapping is the feed's mapping: block as YAML, for formats whose field
	// mapping (which field is the value, the place, the period…) differs per
	// feed; the format's adapter decodes and checks it. Nil when absent.
	Mapping []byte
}

// fileFeed is the YAML shape of a feed file.
type fileFeed struct {
	ID          string    `yaml:"id"`
	Format      string    `yaml:"format"`
	Domain      string    `yaml:"domain"`
	URL         string    `yaml:"url"`
	Mirror      string    `yaml:"mirror"`
	Schedule    string    `yaml:"schedule"`
	Licence     string    `yaml:"licence"`
	Attribution string    `yaml:"attribution"`
	Catalogue   string    `yaml:"catalogue"`
	PageSize    int       `yaml:"page_size"`
	Flags       string    `yaml:"flags"`
	Periods     *Periods  `yaml:"periods"`
	Mapping     yaml.Node `yaml:"mapping"`
}

var (
	idRE        = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)
	formatRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)
	catalogueRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
)

// Load reads the feed catalogue embedded from schemas/feeds.
func Load() ([]Feed, error) { return LoadFS(schemas.Feeds, "feeds") }

// LoadFS reads and validates every *.yaml under dir of fsys, sorted by id.
// Ids are unique because each file must be named after its feed id.
func LoadFS(fsys fs.FS, dir string) ([]Feed, error) {
	names, err := fs.Glob(fsys, path.Join(dir, "*.yaml"))
	if err != nil {
		return nil, fmt.Errorf("list feed catalogue %s: %w", dir, err)
	}
	var (
		feeds []Feed
		errs  []error
	)
	for _, name := range names {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			errs = append(errs, fmt.Errorf("read feed file %s: %w", name, err))
			continue
		}
		f, err := Parse(name, data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		feeds = append(feeds, f)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	slices.SortFunc(feeds, func(a, b Feed) int { return strings.Compare(a.ID, b.ID) })
	return feeds, nil
}

// Parse reads one feed file strictly (unknown fields, a second document and
// an empty file are errors) and validates it. name is the file's path, used
// in errors and to check that the file is named after the feed id.
func Parse(name string, data []byte) (Feed, error) {
	var raw fileFeed
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil {
		if errors.Is(err, io.EOF) {
			return Feed{}, fmt.Errorf("feed file %s: file is empty", name)
		}
		return Feed{}, fmt.Errorf("feed file %s: parse: %w", name, err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return Feed{}, fmt.Errorf("feed file %s: holds more than one YAML document; declare one feed per file", name)
	}
	f := Feed{
		File:        name,
		ID:          raw.ID,
		Format:      raw.Format,
		Domain:      raw.Domain,
		URL:         raw.URL,
		Mirror:      raw.Mirror,
		Licence:     raw.Licence,
		Attribution: raw.Attribution,
		Catalogue:   raw.Catalogue,
		PageSize:    raw.PageSize,
		Flags:       raw.Flags,
		Periods:     raw.Periods,
	}
	var problems []*FieldError
	switch raw.Mapping.Kind {
	case 0:
	case yaml.MappingNode:
		m, err := yaml.Marshal(&raw.Mapping)
		if err != nil {
			problems = append(problems, &FieldError{File: name, Field: "mapping", Reason: err.Error()})
		}
		f.Mapping = m
	default:
		problems = append(problems, &FieldError{File: name, Field: "mapping",
			Reason: fmt.Sprintf("must be a mapping of keys to values (line %d)", raw.Mapping.Line)})
	}
	if raw.Schedule != "" {
		d, err := time.ParseDuration(raw.Schedule)
		if err != nil {
			// Said here, not as "is missing" by Validate.
			problems = append(problems, &FieldError{File: name, Field: "schedule",
				Reason: fmt.Sprintf("%q is not a duration like 6h or 24h", raw.Schedule)})
			d = MinSchedule
		}
		f.Schedule = d
	}
	problems = append(problems, f.problems()...)
	if len(problems) > 0 {
		return Feed{}, joinProblems(problems)
	}
	if base := strings.TrimSuffix(path.Base(name), path.Ext(name)); base != f.ID {
		return Feed{}, &FieldError{File: name, Field: "id",
			Reason: fmt.Sprintf("%q does not match the file name; name the file %s.yaml", f.ID, f.ID)}
	}
	return f, nil
}

// Periods is a range of years, either end open when zero.
type Periods struct {
	From int `yaml:"from"`
	To   int `yaml:"to"`
}

// FieldError is one problem with one field of one feed file.
type FieldError struct {
	File   string
	Field  string
	Reason string
}

func (e *FieldError) Error() string {
	return "feed file " + e.File + ": field " + e.Field + ": " + e.Reason
}

func joinProblems(ps []*FieldError) error {
	errs := make([]error, len(ps))
	for i, p := range ps {
		errs[i] = p
	}
	return errors.Join(errs...)
}

// Validate reports every problem with f as *FieldError values joined, each
// naming the file and the field.
func (f Feed) Validate() error {
	if ps := f.problems(); len(ps) > 0 {
		return joinProblems(ps)
	}
	return nil
}

func (f Feed) problems() []*FieldError {
	file := f.File
	if file == "" {
		file = "(unnamed)"
	}
	var ps []*FieldError
	add := func(field, format string, args ...any) {
		ps = append(ps, &FieldError{File: file, Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	switch {
	case f.ID == "":
		add("id", "is missing")
	case !idRE.MatchString(f.ID):
		add("id", "%q must be 1-64 lower-case letters, digits or '-', starting with a letter or digit", f.ID)
	}
	switch {
	case f.Format == "":
		add("format", "is missing")
	case !formatRE.MatchString(f.Format):
		add("format", "%q must be lower-case letters, digits or '-'", f.Format)
	}
	switch {
	case f.Domain == "":
		add("domain", "is missing")
	case f.Domain == "partner" || !slices.Contains(observation.Domains, f.Domain):
		add("domain", "%q is not one of %s", f.Domain, strings.Join(feedDomains(), ", "))
	}
	if f.URL == "" {
		add("url", "is missing")
	} else if u, err := url.Parse(f.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add("url", "%q must be an absolute http or https URL", f.URL)
	} else if len(f.URL) > observation.MaxURLLen {
		add("url", "is longer than %d characters", observation.MaxURLLen)
	}
	if f.Mirror != "" {
		if strings.Contains(f.Mirror, `\`) || path.IsAbs(f.Mirror) || path.Clean(f.Mirror) != f.Mirror ||
			f.Mirror == ".." || strings.HasPrefix(f.Mirror, "../") {
			add("mirror", "%q must be a clean relative path with '/' separators inside the mirror directory", f.Mirror)
		}
	}
	switch {
	case f.Schedule == 0:
		add("schedule", "is missing; give a duration like 24h")
	case f.Schedule < MinSchedule:
		add("schedule", "%s is shorter than %s", f.Schedule, MinSchedule)
	}
	switch {
	case f.Licence == "":
		add("licence", "is missing")
	case len(f.Licence) > observation.MaxLicenceLen:
		add("licence", "is longer than %d characters", observation.MaxLicenceLen)
	}
	if p := f.Periods; p != nil {
		switch {
		case p.From == 0 && p.To == 0:
			add("periods", "declares neither from nor to; give the first or last year of the source's coverage, or leave periods out")
		case p.From != 0 && (p.From < 1000 || p.From > 3000), p.To != 0 && (p.To < 1000 || p.To > 3000):
			add("periods", "from %d, to %d: give years (1000-3000)", p.From, p.To)
		case p.From != 0 && p.To != 0 && p.From > p.To:
			add("periods", "from %d is after to %d", p.From, p.To)
		}
	}
	if f.PageSize < 0 {
		add("page_size", "%d is negative; give the records a page holds, or leave it out", f.PageSize)
	}
	switch {
	case f.Catalogue == "":
		add("catalogue", "is missing; name the indicator catalogue file that maps this feed")
	case !catalogueRE.MatchString(f.Catalogue):
		add("catalogue", "%q must be the base name of a file under schemas/catalogue", f.Catalogue)
	}
	return ps
}

func feedDomains() []string {
	var out []string
	for _, d := range observation.Domains {
		if d != "partner" {
			out = append(out, d)
		}
	}
	return out
}

// ByID returns the feed with id from feeds.
func ByID(feeds []Feed, id string) (Feed, bool) {
	for _, f := range feeds {
		if f.ID == id {
			return f, true
		}
	}
	return Feed{}, false
}
