package owid

import (
	"io"

	"github.com/ounce-data/ounce/pkg/feeds"
)

// Format is OWID's full-dataset CSV, owid-co2-csv: the catalogue file's
// columns name the CSV columns.
var Format = feeds.ColumnFormat("owid-co2-csv", func(body io.Reader, meta feeds.Meta, cols map[string]feeds.Column) (feeds.Source, error) {
	rd, err := NewReader(body, Mapping{Meta: meta, Columns: cols})
	if err != nil {
		return nil, err
	}
	return rd, nil
})
