package ingest

import (
	"fmt"
	"io"
	"iter"
	"maps"
	"slices"

	"github.com/rs/zerolog"

	"github.com/ounce-data/ounce/pkg/catalogue"
	"github.com/ounce-data/ounce/pkg/feedcat"
	"github.com/ounce-data/ounce/pkg/feeds"
	"github.com/ounce-data/ounce/pkg/feeds/owid"
	"github.com/ounce-data/ounce/pkg/observation"
)

// parsed is a feed body being read by its format's adapter.
type parsed interface {
	// All yields the observations once; the first error ends it.
	All() iter.Seq2[observation.Observation, error]
	// Rows is how many source rows or records were read so far.
	Rows() int
	// Describe adds what the adapter noticed (unmapped columns, places
	// without codes…) to a log event once All has finished.
	Describe(e *zerolog.Event)
}

// adapter opens body for reading with the columns of catalogue file cf,
// stamping meta on every observation.
type adapter func(body io.Reader, cf *catalogue.File, meta feeds.Meta) (parsed, error)

// adapters by feed format.
var adapters = map[string]adapter{
	"owid-co2-csv": openOWID,
}

// mappedAdapter builds the adapter of a format whose feeds each declare
// their own field mapping (the feed file's mapping: block), checking it
// against the feed's catalogue file once, when the ingester is built.
type mappedAdapter func(mapping []byte, cf *catalogue.File) (adapter, error)

// mappedAdapters by feed format; each also has an entry in adapters, used
// only by feeds that declare no mapping.
var mappedAdapters = map[string]mappedAdapter{}

// bindMapping returns the adapter of feed f: open itself, or for a format
// mapped per feed, open bound to the feed's mapping: block.
func bindMapping(f feedcat.Feed, cf *catalogue.File, open adapter) (adapter, error) {
	build, ok := mappedAdapters[f.Format]
	if !ok {
		if f.Mapping != nil {
			return nil, fmt.Errorf("field mapping: format %q takes no mapping: block; its catalogue maps it", f.Format)
		}
		return open, nil
	}
	bound, err := build(f.Mapping, cf)
	if err != nil {
		return nil, fmt.Errorf("field mapping: %w", err)
	}
	return bound, nil
}

// Formats lists the feed formats this ingester can read.
func Formats() []string {
	return slices.Sorted(maps.Keys(adapters))
}

func openOWID(body io.Reader, cf *catalogue.File, meta feeds.Meta) (parsed, error) {
	cols, err := feeds.Columns(cf)
	if err != nil {
		return nil, err
	}
	rd, err := owid.NewReader(body, owid.Mapping{Meta: meta, Columns: cols})
	if err != nil {
		return nil, err
	}
	return owidParsed{rd}, nil
}

type owidParsed struct{ *owid.Reader }

func (p owidParsed) Rows() int { return p.Stats().Rows }

func (p owidParsed) Describe(e *zerolog.Event) {
	s := p.Stats()
	e.Int("missing_cells", s.Missing).
		Int("uncoded_entities", len(s.Uncoded)).
		Int("uncoded_rows", s.UncodedRows).
		Int("unmapped_columns", len(s.Unmapped))
	if len(s.Unmapped) > 0 {
		e.Strs("unmapped", s.Unmapped)
	}
}
