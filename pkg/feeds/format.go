package feeds

import (
	"fmt"
	"io"
	"iter"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/pkg/places"
)

// Format is one feed format: how the bodies of the feeds that declare it
// are read. Each format package exports its Formats; services/ingest lists
// them all in one table.
type Format struct {
	Name string
	// Bind checks one feed's mapping against its catalogue file, once, when
	// the ingester is built, and returns how to open that feed's bodies.
	Bind func(Binding) (Opener, error)
	// Pager, when set, pages the answers of feeds that declare a page_size.
	Pager *Pager
}

// Binding is what a format is given about one feed.
type Binding struct {
	File    *indicators.File  // the feed's catalogue file
	Mapping []byte            // the feed's mapping: block as YAML; nil when it declares none
	Places  *places.Catalogue // the place catalogue
}

// NoMapping is the error of a format whose catalogue maps it, for a feed
// that declares a mapping: block anyway; nil when it declares none.
func (b Binding) NoMapping(format string) error {
	if b.Mapping == nil {
		return nil
	}
	return fmt.Errorf("format %q takes no mapping: block; its catalogue maps it", format)
}

// Opener opens one body of a bound feed, stamping meta on every observation.
type Opener func(body io.Reader, meta Meta) (Source, error)

// Source is a feed body being read.
type Source interface {
	// All yields the observations once; the first error ends it.
	All() iter.Seq2[observation.Observation, error]
	// Stats is what was counted so far; complete once All has finished.
	Stats() Stats
}

// Pager pages a format's answers: PageURL is the URL of the page of size
// records from offset, Count the records a page body holds.
type Pager struct {
	PageURL func(base string, offset, size int) (string, error)
	Count   func(body []byte) (int, error)
}

// Stats is what a reader counted in one body: the same fields for every
// format, and Details for what only one format has.
type Stats struct {
	Rows         int // source rows, records or cells read
	Observations int // observations yielded
	Missing      int // values of mapped indicators that are absent or empty
	Aggregates   int // observations of publisher aggregates (regions, income groups…)
	Intervals    int // observations whose source gives an uncertainty interval (checked, not stored)
	// Unmapped counts, by name, what no catalogue entry maps: columns,
	// indicator codes, labels or fields; the count is the rows skipped
	// because of it (0 for a column beside mapped ones: nothing is lost).
	Unmapped map[string]int
	// UnknownPlaces counts the rows skipped because the place catalogue
	// does not know their place, by the place as written.
	UnknownPlaces map[string]int
	// Uncoded lists the entities the body gives without a place code, and
	// the place each was filed under.
	Uncoded []Entity
	// UncodedRows counts the rows of those entities.
	UncodedRows int
	// Flags counts observations and missing values by their source flag,
	// status or footnote.
	Flags map[string]int
	// Incomplete says what the body lacks when it is not the whole of what
	// the source declares (a first page of several, an answer cut at a
	// next link); empty when it is whole. What was read is still good.
	Incomplete string
	// From and To bound the time the records cover, when the format
	// stamps records with times (zero otherwise).
	From, To time.Time
	// Details are facts only this format has (pages, datasets, metadata),
	// in the order they were set.
	Details []Detail
}

// Entity is a place as a publisher names it, without a usable place code,
// and the place it was filed under.
type Entity struct {
	ID   string // the publisher's own id of it, when it has one (World Bank "XD")
	Name string // as written, e.g. "High income", "Africa"
	Geo  string // the place it was filed under, e.g. "wb:XD", "owid:africa"
}

// Detail is one fact of Stats.Details.
type Detail struct {
	Name  string
	Value any
}

// Detail returns the value of the detail called name, or nil.
func (s Stats) Detail(name string) any {
	for _, d := range s.Details {
		if d.Name == name {
			return d.Value
		}
	}
	return nil
}

// SetDetail sets the detail called name to v, keeping its place if set.
func (s *Stats) SetDetail(name string, v any) {
	for i := range s.Details {
		if s.Details[i].Name == name {
			s.Details[i].Value = v
			return
		}
	}
	s.Details = append(s.Details, Detail{name, v})
}

// Count adds n to m[key], making m when it is nil.
func Count(m *map[string]int, key string, n int) {
	if *m == nil {
		*m = map[string]int{}
	}
	(*m)[key] += n
}

// Error is a problem with a feed body: at one record (a row, an array
// element, a cell), or with the body as a whole. Every format reports its
// problems as an *Error.
type Error struct {
	Feed   string // feed id, when known
	Format string // how the body was read: "owid csv", "gho odata", "worldbank json"…
	// At says where in the body, in the format's own terms: "line 12 (data
	// row 11)", "value[3] (Id 123)", "records[2] (byte 512)"; empty for the
	// body as a whole.
	At     string
	Record int    // the record's position as At counts it; -1 when not about one record
	Offset int    // byte offset in the body where the record starts, when the format knows it (0 otherwise)
	Field  string // the column or field at fault; empty when the whole record is
	Value  string // the offending value as written, when there is one (shortened)
	// JSON says Value is JSON text, shown as it is; other values are quoted.
	JSON   bool
	Reason string
	Err    error // the cause, when another error is
}

// Error renders e as "[feed F: ]format at[, field F][, value "v"]: reason";
// a field of other characters than letters, digits and ._[]- is quoted.
func (e *Error) Error() string {
	var b strings.Builder
	if e.Feed != "" {
		fmt.Fprintf(&b, "feed %s: ", e.Feed)
	}
	b.WriteString(e.Format)
	if e.At != "" {
		b.WriteByte(' ')
		b.WriteString(e.At)
	}
	if e.Field != "" {
		if strings.Trim(e.Field, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._[]-") == "" {
			fmt.Fprintf(&b, ", field %s", e.Field)
		} else {
			fmt.Fprintf(&b, ", field %q", e.Field)
		}
	}
	switch {
	case e.Value != "" && e.JSON:
		fmt.Fprintf(&b, ", value %s", Shorten(e.Value, 80))
	case e.Value != "":
		fmt.Fprintf(&b, ", value %q", Shorten(e.Value, 80))
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	if e.Err != nil {
		if e.Reason != "" {
			b.WriteString(": ")
		}
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Shorten cuts s to at most n bytes, on a rune boundary, marking the cut
// with "…".
func Shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

// LineError is the *Error of a CSV record: at line (1 = the first line of
// the file), data row row (1 = the first after the header).
func LineError(format string, line, row int, field, value, reason string) *Error {
	return &Error{Format: format, At: fmt.Sprintf("line %d (data row %d)", line, row), Record: row, Field: field, Value: value, Reason: reason}
}

// Clone returns a copy of s that shares no map or slice with it.
func (s Stats) Clone() Stats {
	s.Unmapped = maps.Clone(s.Unmapped)
	s.UnknownPlaces = maps.Clone(s.UnknownPlaces)
	s.Flags = maps.Clone(s.Flags)
	s.Uncoded = slices.Clone(s.Uncoded)
	s.Details = slices.Clone(s.Details)
	return s
}

// ColumnFormat is a format whose catalogue file maps it alone, without a
// mapping: block: open reads a body with the file's columns.
func ColumnFormat(name string, open func(body io.Reader, meta Meta, cols map[string]Column) (Source, error)) Format {
	return Format{Name: name, Bind: func(b Binding) (Opener, error) {
		if err := b.NoMapping(name); err != nil {
			return nil, err
		}
		cols, err := Columns(b.File)
		if err != nil {
			return nil, err
		}
		return func(body io.Reader, meta Meta) (Source, error) { return open(body, meta, cols) }, nil
	}}
}
