package feedcat

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/ounce-data/ounce/schemas"
)

// CodeList is a publisher's list of observation flags: what each letter of
// an observation's Flag means. A flag of several letters carries several
// statuses.
type CodeList struct {
	File  string            // e.g. "flags/eurostat.yaml"
	ID    string            // what feed files name in flags:
	Flags map[string]string // letter → meaning
}

// Meanings lists what each letter of flag means, in the flag's order, and
// the letters the list does not hold.
func (c CodeList) Meanings(flag string) (known map[string]string, unknown []string) {
	for i := 0; i < len(flag); i++ {
		l := flag[i : i+1]
		if m, ok := c.Flags[l]; ok {
			if known == nil {
				known = map[string]string{}
			}
			known[l] = m
		} else if !slices.Contains(unknown, l) {
			unknown = append(unknown, l)
		}
	}
	return known, unknown
}

var flagLetterRE = regexp.MustCompile(`^[a-z]$`)

// LoadFlags reads the code lists embedded from schemas/flags.
func LoadFlags() (map[string]CodeList, error) { return LoadFlagsFS(schemas.Flags, "flags") }

// LoadFlagsFS reads and checks every *.yaml under dir of fsys: each file
// is named after its id, and declares one lower-case letter per flag, each
// once, with its meaning; an error names the file and the line.
func LoadFlagsFS(fsys fs.FS, dir string) (map[string]CodeList, error) {
	names, err := fs.Glob(fsys, path.Join(dir, "*.yaml"))
	if err != nil {
		return nil, fmt.Errorf("list flag code lists %s: %w", dir, err)
	}
	out := map[string]CodeList{}
	var errs []error
	for _, name := range names {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			errs = append(errs, fmt.Errorf("read flag code list %s: %w", name, err))
			continue
		}
		c, err := parseCodeList(name, data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out[c.ID] = c
	}
	return out, errors.Join(errs...)
}

func parseCodeList(name string, data []byte) (CodeList, error) {
	var raw struct {
		ID    string    `yaml:"id"`
		Flags yaml.Node `yaml:"flags"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil {
		if errors.Is(err, io.EOF) {
			return CodeList{}, fmt.Errorf("flag code list %s: file is empty", name)
		}
		return CodeList{}, fmt.Errorf("flag code list %s: parse: %w", name, err)
	}
	c := CodeList{File: name, ID: raw.ID, Flags: map[string]string{}}
	var errs []error
	fail := func(line int, format string, args ...any) {
		errs = append(errs, fmt.Errorf("flag code list %s line %d: %s", name, line, fmt.Sprintf(format, args...)))
	}
	if base := strings.TrimSuffix(path.Base(name), path.Ext(name)); raw.ID != base {
		fail(1, "id %q does not match the file name; name the file %s.yaml", raw.ID, raw.ID)
	}
	if raw.Flags.Kind != yaml.MappingNode || len(raw.Flags.Content) == 0 {
		fail(raw.Flags.Line, "flags must map each flag letter to its meaning")
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(raw.Flags.Content); i += 2 {
		k, v := raw.Flags.Content[i], raw.Flags.Content[i+1]
		switch {
		case !flagLetterRE.MatchString(k.Value):
			fail(k.Line, "flag %q must be one lower-case letter", k.Value)
		case seen[k.Value] > 0:
			fail(k.Line, "flag %q is declared twice (first on line %d)", k.Value, seen[k.Value])
		case v.Kind != yaml.ScalarNode || strings.TrimSpace(v.Value) == "":
			fail(v.Line, "flag %q has no meaning; say what it stands for", k.Value)
		default:
			c.Flags[k.Value] = v.Value
		}
		seen[k.Value] = k.Line
	}
	return c, errors.Join(errs...)
}

// CheckFlags reports every feed naming a code list that does not exist.
func CheckFlags(feeds []Feed, lists map[string]CodeList) error {
	var errs []error
	for _, f := range feeds {
		if f.Flags == "" {
			continue
		}
		if _, ok := lists[f.Flags]; !ok {
			ids := make([]string, 0, len(lists))
			for id := range lists {
				ids = append(ids, id)
			}
			slices.Sort(ids)
			errs = append(errs, &FieldError{File: f.File, Field: "flags",
				Reason: fmt.Sprintf("names code list %q, which schemas/flags lacks; the lists are %s", f.Flags, strings.Join(ids, ", "))})
		}
	}
	return errors.Join(errs...)
}
