package socrata

import (
	"errors"
	"io"

	"github.com/ounce-data/ounce/pkg/feeds"
)

// Socrata open-data portals: the SODA resource JSON (socrata-json), paged
// with $limit/$offset when a feed declares a page_size, and the views
// rows.json export (socrata-rows-json). Each feed declares its field
// mapping (place, period, dims, intervals, footnotes, wide columns) in its
// mapping: block; the catalogue's column field names the value fields.
var (
	SODAFormat = feeds.Format{Name: "socrata-json", Bind: binder(NewReader),
		Pager: &feeds.Pager{PageURL: PageURL, Count: CountRows}}
	RowsFormat = feeds.Format{Name: "socrata-rows-json", Bind: binder(NewRowsReader)}
)

func binder(open func(io.Reader, Mapping) (*Reader, error)) func(feeds.Binding) (feeds.Opener, error) {
	return func(b feeds.Binding) (feeds.Opener, error) {
		if b.Mapping == nil {
			return nil, errors.New("socrata: the feed declares no mapping: block (place, period…)")
		}
		fields, err := ParseFields(b.Mapping)
		if err != nil {
			return nil, err
		}
		inds, err := feeds.Columns(b.File)
		if err != nil {
			return nil, err
		}
		return func(body io.Reader, meta feeds.Meta) (feeds.Source, error) {
			rd, err := open(body, Mapping{Meta: meta, Indicators: inds, Fields: fields})
			if err != nil {
				return nil, err
			}
			return rd, nil
		}, nil
	}
}
