package eurostat

import (
	"errors"
	"io"

	"github.com/ounce-data/ounce/pkg/feeds"
)

// Format is Eurostat's "with labels" CSV export, eurostat-labels-csv. Each
// feed's mapping: block names the column whose label picks the catalogue
// entry, the dims and the required values; geo labels resolve through the
// place catalogue.
var Format = feeds.Format{Name: "eurostat-labels-csv", Bind: bind}

func bind(b feeds.Binding) (feeds.Opener, error) {
	if b.Mapping == nil {
		return nil, errors.New("eurostat csv: the feed declares no mapping: block (indicator, dims…)")
	}
	fields, err := ParseFields(b.Mapping)
	if err != nil {
		return nil, err
	}
	return BindPlaces(b, EurostatPrefix, func(body io.Reader, meta feeds.Meta, cols map[string]feeds.Column, geos *Places) (feeds.Source, error) {
		rd, err := NewReader(body, Mapping{Meta: meta, Columns: cols, Fields: fields, Places: geos})
		if err != nil {
			return nil, err
		}
		return rd, nil
	})
}

// BindPlaces is the opener of a format whose places are Eurostat geo codes
// (aggregates under prefix): open gets the catalogue file's columns and a
// fresh resolver of geo codes for each body.
func BindPlaces(b feeds.Binding, prefix string, open func(io.Reader, feeds.Meta, map[string]feeds.Column, *Places) (feeds.Source, error)) (feeds.Opener, error) {
	cols, err := feeds.Columns(b.File)
	if err != nil {
		return nil, err
	}
	if _, err := NewPlaces(b.Places, prefix); err != nil {
		return nil, err
	}
	return func(body io.Reader, meta feeds.Meta) (feeds.Source, error) {
		geos, err := NewPlaces(b.Places, prefix)
		if err != nil {
			return nil, err
		}
		return open(body, meta, cols, geos)
	}, nil
}
