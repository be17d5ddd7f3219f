package ingest

import (
	"fmt"
	"maps"
	"slices"

	"github.com/rs/zerolog"

	"github.com/ounce-data/ounce/pkg/feedcat"
	"github.com/ounce-data/ounce/pkg/feeds"
	"github.com/ounce-data/ounce/pkg/feeds/carbonintensity"
	"github.com/ounce-data/ounce/pkg/feeds/eurostat"
	"github.com/ounce-data/ounce/pkg/feeds/gho"
	"github.com/ounce-data/ounce/pkg/feeds/jsonstat"
	"github.com/ounce-data/ounce/pkg/feeds/mappedcsv"
	"github.com/ounce-data/ounce/pkg/feeds/owid"
	"github.com/ounce-data/ounce/pkg/feeds/socrata"
	"github.com/ounce-data/ounce/pkg/feeds/worldbank"
	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/places"
)

// formats are the feed formats this ingester reads, by name: every format
// of pkg/feeds, listed once here.
var formats = table(
	owid.Format,
	worldbank.Format,
	mappedcsv.WorldBankBulkFormat,
	mappedcsv.OWIDGrapherFormat,
	mappedcsv.WHOPortalFormat,
	mappedcsv.GenericFormat,
	gho.ODataFormat,
	gho.CSVFormat,
	eurostat.Format,
	jsonstat.Format,
	socrata.SODAFormat,
	socrata.RowsFormat,
	carbonintensity.NationalFormat,
	carbonintensity.RegionalFormat,
)

func table(fs ...feeds.Format) map[string]feeds.Format {
	t := make(map[string]feeds.Format, len(fs))
	for _, f := range fs {
		if _, dup := t[f.Name]; dup {
			panic("ingest: format " + f.Name + " is listed twice") // a programming error, caught by every test
		}
		t[f.Name] = f
	}
	return t
}

// Formats lists the feed formats this ingester can read.
func Formats() []string {
	return slices.Sorted(maps.Keys(formats))
}

// bind returns how to open the bodies of feed f, whose catalogue file is
// cf: its format bound to the feed's mapping: block.
func bind(f feedcat.Feed, cf *indicators.File, pl *places.Catalogue) (feeds.Opener, *feeds.Pager, error) {
	format, ok := formats[f.Format]
	if !ok {
		return nil, nil, fmt.Errorf("format %q is not one this ingester reads; known formats: %v", f.Format, Formats())
	}
	open, err := format.Bind(feeds.Binding{File: cf, Mapping: f.Mapping, Places: pl})
	if err != nil {
		return nil, nil, fmt.Errorf("field mapping: %w", err)
	}
	return open, format.Pager, nil
}

// describe adds what a reader counted to a log event.
func describe(e *zerolog.Event, s feeds.Stats) {
	e.Int("missing_values", s.Missing)
	if s.Aggregates > 0 {
		e.Int("aggregate_observations", s.Aggregates)
	}
	if s.Intervals > 0 {
		e.Int("interval_observations", s.Intervals)
	}
	if len(s.Unmapped) > 0 {
		e.Int("unmapped", len(s.Unmapped)).Interface("unmapped_rows", s.Unmapped)
	}
	if len(s.UnknownPlaces) > 0 {
		// Counted, not silently dropped: the rows of these places were skipped.
		e.Interface("unknown_place_rows", s.UnknownPlaces)
	}
	if len(s.Uncoded) > 0 {
		e.Int("uncoded_entities", len(s.Uncoded)).Int("uncoded_rows", s.UncodedRows)
	}
	if len(s.Flags) > 0 {
		e.Interface("flags", s.Flags)
	}
	if !s.From.IsZero() {
		e.Time("from", s.From).Time("to", s.To)
	}
	for _, d := range s.Details {
		e.Interface(d.Name, d.Value)
	}
}
