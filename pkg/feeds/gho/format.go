package gho

import (
	"io"

	"github.com/ounce-data/ounce/pkg/feeds"
)

// The WHO Global Health Observatory's formats: the OData API's JSON answer
// (who-gho-odata-json) and the GHO data-download CSV (who-gho-csv). The
// catalogue file's columns name the GHO IndicatorCode of each indicator.
var (
	ODataFormat = feeds.ColumnFormat("who-gho-odata-json", opener(NewODataReader))
	CSVFormat   = feeds.ColumnFormat("who-gho-csv", opener(NewCSVReader))
)

func opener(open func(io.Reader, Mapping) (*Reader, error)) func(io.Reader, feeds.Meta, map[string]feeds.Column) (feeds.Source, error) {
	return func(body io.Reader, meta feeds.Meta, inds map[string]feeds.Column) (feeds.Source, error) {
		rd, err := open(body, Mapping{Meta: meta, Indicators: inds})
		if err != nil {
			return nil, err
		}
		return rd, nil
	}
}
