package ingest

import (
	"errors"
	"io"

	"github.com/rs/zerolog"

	"github.com/ounce-data/ounce/pkg/catalogue"
	"github.com/ounce-data/ounce/pkg/feeds"
	"github.com/ounce-data/ounce/pkg/feeds/socrata"
)

// Socrata open-data portals (pkg/feeds/socrata): the SODA resource JSON
// (socrata-json) and the views rows.json export (socrata-rows-json). Each
// feed declares its field mapping (place, period, dims, intervals,
// footnotes, wide columns) in its mapping: block; the catalogue's column
// field names the value fields.
func init() {
	for format, open := range map[string]func(io.Reader, socrata.Mapping) (*socrata.Reader, error){
		"socrata-json":      socrata.NewReader,
		"socrata-rows-json": socrata.NewRowsReader,
	} {
		adapters[format] = func(io.Reader, *catalogue.File, feeds.Meta) (parsed, error) {
			return nil, errors.New("socrata: the feed declares no mapping: block (place, period…)")
		}
		mappedAdapters[format] = bindSocrata(open)
	}
	// SODA answers are paged with $limit/$offset: a feed's page_size is $limit.
	pagers["socrata-json"] = pager{pageURL: socrata.PageURL, count: socrata.CountRows}
}

func bindSocrata(open func(io.Reader, socrata.Mapping) (*socrata.Reader, error)) mappedAdapter {
	return func(mapping []byte, cf *catalogue.File) (adapter, error) {
		fields, err := socrata.ParseFields(mapping)
		if err != nil {
			return nil, err
		}
		inds, err := feeds.Columns(cf)
		if err != nil {
			return nil, err
		}
		return func(body io.Reader, _ *catalogue.File, meta feeds.Meta) (parsed, error) {
			rd, err := open(body, socrata.Mapping{Meta: meta, Indicators: inds, Fields: fields})
			if err != nil {
				return nil, err
			}
			return socrataParsed{rd}, nil
		}, nil
	}
}

type socrataParsed struct{ *socrata.Reader }

func (p socrataParsed) Rows() int { return p.Stats().Records }

func (p socrataParsed) Describe(e *zerolog.Event) {
	s := p.Stats()
	e.Str("shape", s.Shape).
		Int("missing_values", s.Missing).
		Int("interval_observations", s.Intervals).
		Int("footnoted_observations", s.Footnoted).
		Int("unknown_places", len(s.UnknownPlaces)).
		Int("unmapped_fields", len(s.Unmapped))
	if s.Pages > 0 {
		e.Int("pages", s.Pages)
	}
	if len(s.Suppressed) > 0 {
		e.Interface("suppressed", s.Suppressed)
	}
	if len(s.UnknownPlaces) > 0 {
		// Counted, not silently dropped: the rows of these places were skipped.
		e.Interface("unknown_place_rows", s.UnknownPlaces)
	}
	if len(s.Unmapped) > 0 {
		e.Strs("unmapped", s.Unmapped)
	}
	if s.RowsUpdatedAt > 0 {
		e.Int64("rows_updated_at", s.RowsUpdatedAt)
	}
}
