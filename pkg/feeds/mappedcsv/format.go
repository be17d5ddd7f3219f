package mappedcsv

import (
	"io"

	"github.com/ounce-data/ounce/pkg/feeds"
)

// The CSV formats read through a layout: each is a preset, which the
// catalogue file's csv block may complete or override (mapped-csv has no
// preset: the block is the whole layout). Place codes resolve through the
// place catalogue.
var (
	WorldBankBulkFormat = layoutFormat("worldbank-bulk-csv", WorldBankBulk, BulkDataFile)
	OWIDGrapherFormat   = layoutFormat("owid-grapher-csv", OWIDGrapher, nil)
	WHOPortalFormat     = layoutFormat("who-portal-csv", WHOPortal, nil)
	GenericFormat       = layoutFormat("mapped-csv", Generic, nil)
)

// layoutFormat is the format name of the preset layout; unwrap, when set,
// finds the CSV inside the body (a zip archive).
func layoutFormat(name string, preset Layout, unwrap func(io.Reader) (io.Reader, error)) feeds.Format {
	bind := func(b feeds.Binding) (feeds.Opener, error) {
		if err := b.NoMapping(name); err != nil {
			return nil, err
		}
		cols, err := feeds.Columns(b.File)
		if err != nil {
			return nil, err
		}
		layout, err := preset.Merge(b.File.CSV)
		if err != nil {
			return nil, err
		}
		return func(body io.Reader, meta feeds.Meta) (feeds.Source, error) {
			if unwrap != nil {
				if body, err = unwrap(body); err != nil {
					return nil, err
				}
			}
			rd, err := NewReader(body, layout, Mapping{Meta: meta, Columns: cols, Places: b.Places})
			if err != nil {
				return nil, err
			}
			return rd, nil
		}, nil
	}
	return feeds.Format{Name: name, Bind: bind}
}
