package feedcat_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/ounce-data/ounce/pkg/feedcat"
	"github.com/ounce-data/ounce/pkg/indicators"
)

func TestParseBad(t *testing.T) {
	tests := []struct {
		file        string
		errContains []string
	}{
		{"unknown-field.bad.yaml", []string{"unknown-field.bad.yaml", "field refresh not found"}},
		{"missing-id.bad.yaml", []string{"missing-id.bad.yaml", "field id: is missing"}},
		{"bad-schedule.bad.yaml", []string{"field schedule", `"daily" is not a duration`}},
		{"schedule-number.bad.yaml", []string{"field schedule", `"86400" is not a duration`}},
		{"short-schedule.bad.yaml", []string{"field schedule", "10s is shorter than 1m0s"}},
		{"bad-domain.bad.yaml", []string{"field domain", `"weather" is not one of health, waste, carbon, cost`}},
		{"partner-domain.bad.yaml", []string{"field domain", `"partner" is not one of`}},
		{"relative-url.bad.yaml", []string{"field url", "absolute http or https URL"}},
		{"escaping-mirror.bad.yaml", []string{"field mirror", "clean relative path"}},
		{"upper-id.bad.yaml", []string{"field id", `"OWID_CO2" must be`}},
		{"missing-licence.bad.yaml", []string{"field licence: is missing"}},
		{"missing-catalogue.bad.yaml", []string{"field catalogue: is missing"}},
		{"id-mismatch.bad.yaml", []string{"field id", `"something-else" does not match the file name`}},
		{"two-documents.bad.yaml", []string{"two-documents.bad.yaml", "more than one YAML document"}},
		{"empty.bad.yaml", []string{"empty.bad.yaml", "file is empty"}},
		{"not-a-mapping.bad.yaml", []string{"not-a-mapping.bad.yaml", "parse"}},
		{"mapping-list.bad.yaml", []string{"field mapping", "must be a mapping of keys to values (line 9)"}},
		{"negative-page-size.bad.yaml", []string{"field page_size", "-5 is negative"}},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		seen[tt.file] = true
		t.Run(tt.file, func(t *testing.T) {
			name := filepath.Join("testdata", tt.file)
			data, err := os.ReadFile(name)
			require.NoError(t, err)
			_, err = feedcat.Parse(name, data)
			require.Error(t, err)
			for _, want := range tt.errContains {
				require.ErrorContains(t, err, want)
			}
		})
	}
	// Every bad file in testdata has a case, so none is silently untested.
	files, err := filepath.Glob(filepath.Join("testdata", "*.bad.yaml"))
	require.NoError(t, err)
	for _, f := range files {
		require.True(t, seen[filepath.Base(f)], "testdata file %s has no test case", f)
	}
}

func TestParseGood(t *testing.T) {
	name := filepath.Join("testdata", "good-feed.yaml")
	data, err := os.ReadFile(name)
	require.NoError(t, err)
	f, err := feedcat.Parse(name, data)
	require.NoError(t, err)
	require.Equal(t, feedcat.Feed{
		File:        name,
		ID:          "good-feed",
		Format:      "owid-co2-csv",
		Domain:      "carbon",
		URL:         "https://example.org/data.csv",
		Mirror:      "example/data.csv",
		Schedule:    6 * time.Hour,
		Licence:     "CC BY 4.0",
		Attribution: "Example publisher",
		Catalogue:   "owid-co2",
	}, f)
	require.NoError(t, f.Validate())
}

// A feed may declare a page size and a mapping: block; the mapping is kept
// as YAML for the format's adapter to decode.
func TestParseMappedFeed(t *testing.T) {
	name := filepath.Join("testdata", "good-mapped-feed.yaml")
	data, err := os.ReadFile(name)
	require.NoError(t, err)
	f, err := feedcat.Parse(name, data)
	require.NoError(t, err)
	require.Equal(t, 50000, f.PageSize)
	var m struct {
		Place  map[string]string `yaml:"place"`
		Period map[string]string `yaml:"period"`
	}
	require.NoError(t, yaml.Unmarshal(f.Mapping, &m))
	require.Equal(t, map[string]string{"field": "state", "codes": "us-state-name"}, m.Place)
	require.Equal(t, map[string]string{"field": "year", "grain": "year"}, m.Period)
}

func TestValidateNamesFileAndEveryField(t *testing.T) {
	err := feedcat.Feed{File: "feeds/x.yaml"}.Validate()
	require.Error(t, err)
	for _, field := range []string{"id", "format", "domain", "url", "schedule", "licence", "catalogue"} {
		require.ErrorContains(t, err, "feed file feeds/x.yaml: field "+field+":")
	}
	var fe *feedcat.FieldError
	require.True(t, errors.As(err, &fe))
}

func TestLoadEmbeddedCatalogue(t *testing.T) {
	feeds, err := feedcat.Load()
	require.NoError(t, err)
	require.NotEmpty(t, feeds)
	cat, err := indicators.Load()
	require.NoError(t, err)
	for _, f := range feeds {
		require.NoError(t, f.Validate())
		_, ok := cat.Files[f.Catalogue]
		require.True(t, ok, "feed %s names catalogue %q, which is not under schemas/catalogue", f.ID, f.Catalogue)
	}
	owid, ok := feedcat.ByID(feeds, "owid-co2")
	require.True(t, ok)
	require.Equal(t, "owid-co2-csv", owid.Format)
	require.Equal(t, 24*time.Hour, owid.Schedule)
	_, ok = feedcat.ByID(feeds, "no-such-feed")
	require.False(t, ok)
}

func TestLoadFS(t *testing.T) {
	good, err := os.ReadFile(filepath.Join("testdata", "good-feed.yaml"))
	require.NoError(t, err)
	fsys := fstest.MapFS{
		"a/good-feed.yaml": {Data: good},
		"b/good-feed.yaml": {Data: good},
	}
	feeds, err := feedcat.LoadFS(fsys, "a")
	require.NoError(t, err)
	require.Len(t, feeds, 1)

	// A copy under another name would declare the id twice: refused
	// because the file name must be the id.
	fsys["a/copy.yaml"] = &fstest.MapFile{Data: good}
	_, err = feedcat.LoadFS(fsys, "a")
	require.ErrorContains(t, err, "feed file a/copy.yaml: field id:")
	require.ErrorContains(t, err, "does not match the file name")
}

// TestFlagCodeLists: the embedded code lists load, every feed naming one
// names one that exists, and the letters met in the recordings are known.
func TestFlagCodeLists(t *testing.T) {
	lists, err := feedcat.LoadFlags()
	require.NoError(t, err)
	feeds, err := feedcat.Load()
	require.NoError(t, err)
	require.NoError(t, feedcat.CheckFlags(feeds, lists))
	known, unknown := lists["eurostat"].Meanings("bp")
	require.Equal(t, map[string]string{"b": "break in time series", "p": "provisional"}, known)
	require.Empty(t, unknown)
	_, unknown = lists["eurostat"].Meanings("px")
	require.Equal(t, []string{"x"}, unknown)

	feeds[0].Flags = "nosuch"
	require.ErrorContains(t, feedcat.CheckFlags(feeds[:1], lists), `field flags: names code list "nosuch", which schemas/flags lacks; the lists are eurostat, oecd`)
}

// TestFlagCodeListErrorsNameTheLine: a bad letter, a letter twice or a
// letter without a meaning is an error naming the file and the line.
func TestFlagCodeListErrorsNameTheLine(t *testing.T) {
	fsys := fstest.MapFS{"flags/x.yaml": {Data: []byte("id: x\nflags:\n  p: provisional\n  P: upper\n  p: again\n  e: \"\"\n")}}
	_, err := feedcat.LoadFlagsFS(fsys, "flags")
	require.ErrorContains(t, err, `flag code list flags/x.yaml line 4: flag "P" must be one lower-case letter`)
	require.ErrorContains(t, err, `line 5: flag "p" is declared twice (first on line 3)`)
	require.ErrorContains(t, err, `line 6: flag "e" has no meaning`)
	fsys = fstest.MapFS{"flags/y.yaml": {Data: []byte("id: z\nflags: {p: provisional}\n")}}
	_, err = feedcat.LoadFlagsFS(fsys, "flags")
	require.ErrorContains(t, err, `id "z" does not match the file name`)
}
