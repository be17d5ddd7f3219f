package ingest

import (
	"io"

	"github.com/rs/zerolog"

	"github.com/ounce-data/ounce/pkg/catalogue"
	"github.com/ounce-data/ounce/pkg/feeds"
	"github.com/ounce-data/ounce/pkg/feeds/eurostat"
	"github.com/ounce-data/ounce/pkg/feeds/jsonstat"
)

// JSON-stat datasets (pkg/feeds/jsonstat), format jsonstat: version 2.0 as
// Eurostat's Statistics API and the OECD serve it, and the 1.x bundle of
// Eurostat's retired wdds API. The catalogue entries' columns are
// selectors of categories; the feed's mapping: block (optional) names the
// place and time dimensions, the aggregates' prefix and the kept dims.
func init() {
	adapters["jsonstat"] = func(body io.Reader, cf *catalogue.File, meta feeds.Meta) (parsed, error) {
		open, err := bindJSONStat(nil, cf)
		if err != nil {
			return nil, err
		}
		return open(body, cf, meta)
	}
	mappedAdapters["jsonstat"] = bindJSONStat
}

func bindJSONStat(mapping []byte, cf *catalogue.File) (adapter, error) {
	fields, err := jsonstat.ParseFields(mapping)
	if err != nil {
		return nil, err
	}
	return bindEurostatPlaces(cf, fields.Aggregates, func(body io.Reader, m feeds.Meta, cols map[string]feeds.Column, geos *eurostat.Places) (parsed, error) {
		rd, err := jsonstat.NewReader(body, jsonstat.Mapping{Meta: m, Columns: cols, Fields: fields, Places: geos})
		if err != nil {
			return nil, err
		}
		return jsonstatParsed{rd}, nil
	})
}

type jsonstatParsed struct{ *jsonstat.Reader }

func (p jsonstatParsed) Rows() int { return p.Stats().Cells }

func (p jsonstatParsed) Describe(e *zerolog.Event) {
	s := p.Stats()
	e.Int("datasets", s.Datasets).
		Bool("jsonstat_1x", s.Legacy).
		Int("missing_values", s.Missing).
		Int("unmapped_cells", s.Unmapped).
		Int("aggregate_observations", s.Aggregates)
	if len(s.Statuses) > 0 {
		e.Interface("statuses", s.Statuses)
	}
	if len(s.Constant) > 0 {
		e.Strs("constant_dimensions", s.Constant)
	}
}
