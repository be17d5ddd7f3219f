package jsonstat

import (
	"io"

	"github.com/ounce-data/ounce/pkg/feeds"
	"github.com/ounce-data/ounce/pkg/feeds/eurostat"
)

// Format is JSON-stat, format jsonstat: version 2.0 as Eurostat's
// Statistics API and the OECD serve it, and the 1.x bundle of Eurostat's
// retired wdds API. The catalogue entries' columns are selectors of
// categories; the feed's mapping: block (optional) names the place and
// time dimensions, the aggregates' prefix and the kept dims.
var Format = feeds.Format{Name: "jsonstat", Bind: bind}

func bind(b feeds.Binding) (feeds.Opener, error) {
	fields, err := ParseFields(b.Mapping)
	if err != nil {
		return nil, err
	}
	return eurostat.BindPlaces(b, fields.Aggregates, func(body io.Reader, meta feeds.Meta, cols map[string]feeds.Column, geos *eurostat.Places) (feeds.Source, error) {
		rd, err := NewReader(body, Mapping{Meta: meta, Columns: cols, Fields: fields, Places: geos})
		if err != nil {
			return nil, err
		}
		return rd, nil
	})
}
