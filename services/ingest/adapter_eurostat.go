package ingest

import (
	"errors"
	"io"
	"maps"
	"slices"

	"github.com/rs/zerolog"

	"github.com/ounce-data/ounce/pkg/catalogue"
	"github.com/ounce-data/ounce/pkg/feeds"
	"github.com/ounce-data/ounce/pkg/feeds/eurostat"
)

// Eurostat's "with labels" CSV export (pkg/feeds/eurostat), format
// eurostat-labels-csv. Each feed's mapping: block names the column whose
// label picks the catalogue entry, the dims and the required values; geo
// labels resolve through the place catalogue.
func init() {
	adapters["eurostat-labels-csv"] = func(io.Reader, *catalogue.File, feeds.Meta) (parsed, error) {
		return nil, errors.New("eurostat csv: the feed declares no mapping: block (indicator, dims…)")
	}
	mappedAdapters["eurostat-labels-csv"] = bindEurostat
}

func bindEurostat(mapping []byte, cf *catalogue.File) (adapter, error) {
	fields, err := eurostat.ParseFields(mapping)
	if err != nil {
		return nil, err
	}
	return bindEurostatPlaces(cf, eurostat.EurostatPrefix, func(body io.Reader, m feeds.Meta, cols map[string]feeds.Column, geos *eurostat.Places) (parsed, error) {
		rd, err := eurostat.NewReader(body, eurostat.Mapping{Meta: m, Columns: cols, Fields: fields, Places: geos})
		if err != nil {
			return nil, err
		}
		return eurostatParsed{rd}, nil
	})
}

// bindEurostatPlaces is the adapter of a format whose places are Eurostat
// geo codes (aggregates under prefix): open gets the catalogue's columns
// and the place catalogue read once.
func bindEurostatPlaces(cf *catalogue.File, prefix string, open func(io.Reader, feeds.Meta, map[string]feeds.Column, *eurostat.Places) (parsed, error)) (adapter, error) {
	cols, err := feeds.Columns(cf)
	if err != nil {
		return nil, err
	}
	return func(body io.Reader, _ *catalogue.File, meta feeds.Meta) (parsed, error) {
		pl, err := placeCatalogue()
		if err != nil {
			return nil, err
		}
		geos, err := eurostat.NewPlaces(pl, prefix)
		if err != nil {
			return nil, err
		}
		return open(body, meta, cols, geos)
	}, nil
}

type eurostatParsed struct{ *eurostat.Reader }

func (p eurostatParsed) Rows() int { return p.Stats().Rows }

func (p eurostatParsed) Describe(e *zerolog.Event) {
	s := p.Stats()
	e.Int("missing_values", s.Missing).
		Int("aggregate_observations", s.Aggregates).
		Int("unmapped_labels", len(s.Unmapped))
	if len(s.Flags) > 0 {
		e.Interface("flags", s.Flags)
	}
	if len(s.Unmapped) > 0 {
		e.Strs("unmapped", slices.Sorted(maps.Keys(s.Unmapped)))
	}
}
