package worldbank

import (
	"io"

	"github.com/ounce-data/ounce/pkg/feeds"
)

// Format is the World Bank Indicators API v2 in JSON, worldbank-api-json:
// one URL per feed, one page. A feed asks for a per_page above the
// indicator's total so that the page is the whole indicator; the page
// metadata is in the stats' details (see PageURL for paging over HTTP).
// The catalogue file's columns name the indicator ids.
var Format = feeds.ColumnFormat("worldbank-api-json", func(body io.Reader, meta feeds.Meta, cols map[string]feeds.Column) (feeds.Source, error) {
	rd, err := NewReader(body, Mapping{Meta: meta, Indicators: cols})
	if err != nil {
		return nil, err
	}
	return rd, nil
})
