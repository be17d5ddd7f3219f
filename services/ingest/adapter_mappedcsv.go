package ingest

import (
	"io"
	"maps"
	"slices"
	"sync"

	"github.com/rs/zerolog"

	"github.com/ounce-data/ounce/pkg/catalogue"
	"github.com/ounce-data/ounce/pkg/feeds"
	"github.com/ounce-data/ounce/pkg/feeds/mappedcsv"
	"github.com/ounce-data/ounce/pkg/places"
)

// CSV formats read by pkg/feeds/mappedcsv: each is a layout preset, which
// the catalogue file's csv block may complete or override (mapped-csv has
// no preset: the block is the whole layout). Place codes resolve through
// the place catalogue (schemas/places).
func init() {
	adapters["worldbank-bulk-csv"] = openMappedCSV(mappedcsv.WorldBankBulk, mappedcsv.BulkDataFile)
	adapters["owid-grapher-csv"] = openMappedCSV(mappedcsv.OWIDGrapher, nil)
	adapters["who-portal-csv"] = openMappedCSV(mappedcsv.WHOPortal, nil)
	adapters["mapped-csv"] = openMappedCSV(mappedcsv.Generic, nil)
}

// placeCatalogue is the embedded place catalogue, read once.
var placeCatalogue = sync.OnceValues(places.Load)

func openMappedCSV(preset mappedcsv.Layout, unwrap func(io.Reader) (io.Reader, error)) adapter {
	return func(body io.Reader, cf *catalogue.File, meta feeds.Meta) (parsed, error) {
		cols, err := feeds.Columns(cf)
		if err != nil {
			return nil, err
		}
		layout, err := preset.Merge(cf.CSV)
		if err != nil {
			return nil, err
		}
		pl, err := placeCatalogue()
		if err != nil {
			return nil, err
		}
		if unwrap != nil {
			if body, err = unwrap(body); err != nil {
				return nil, err
			}
		}
		rd, err := mappedcsv.NewReader(body, layout, mappedcsv.Mapping{Meta: meta, Columns: cols, Places: pl})
		if err != nil {
			return nil, err
		}
		return mappedCSVParsed{rd}, nil
	}
}

type mappedCSVParsed struct{ *mappedcsv.Reader }

func (p mappedCSVParsed) Rows() int { return p.Stats().Rows }

func (p mappedCSVParsed) Describe(e *zerolog.Event) {
	s := p.Stats()
	e.Int("missing_cells", s.Missing).
		Int("aggregate_observations", s.Aggregates).
		Int("interval_observations", s.Intervals).
		Int("uncoded_entities", len(s.Uncoded)).
		Int("unmapped_columns", len(s.Unmapped)).
		Int("unmapped_codes", len(s.UnmappedCodes)).
		Int("unknown_place_rows", s.UnknownRows)
	if len(s.UnknownPlaces) > 0 {
		e.Strs("unknown_places", slices.Sorted(maps.Keys(s.UnknownPlaces)))
	}
	if len(s.UnmappedCodes) > 0 {
		e.Strs("unmapped_indicator_codes", slices.Sorted(maps.Keys(s.UnmappedCodes)))
	}
	if len(s.Preamble) > 0 {
		e.Strs("preamble", s.Preamble)
	}
}
