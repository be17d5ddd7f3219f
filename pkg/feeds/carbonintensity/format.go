package carbonintensity

import (
	"io"

	"github.com/ounce-data/ounce/pkg/feeds"
)

// The GB Carbon Intensity API's national and regional responses
// (carbonintensity-national-json, carbonintensity-regional-json). The
// catalogue file's columns name the response fields (intensity.forecast,
// intensity.actual, generationmix).
var (
	NationalFormat = feeds.ColumnFormat("carbonintensity-national-json", opener(National))
	RegionalFormat = feeds.ColumnFormat("carbonintensity-regional-json", opener(Regional))
)

func opener(kind Kind) func(io.Reader, feeds.Meta, map[string]feeds.Column) (feeds.Source, error) {
	return func(body io.Reader, meta feeds.Meta, cols map[string]feeds.Column) (feeds.Source, error) {
		rd, err := NewReader(body, kind, Mapping{Meta: meta, Columns: cols})
		if err != nil {
			return nil, err
		}
		return rd, nil
	}
}
