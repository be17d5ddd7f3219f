package ingest

import (
	"io"

	"github.com/rs/zerolog"

	"github.com/ounce-data/ounce/pkg/catalogue"
	"github.com/ounce-data/ounce/pkg/feeds"
	"github.com/ounce-data/ounce/pkg/feeds/gho"
)

// WHO Global Health Observatory formats (pkg/feeds/gho): the OData API's
// JSON answer and the GHO data-download CSV. The catalogue's column field
// names the GHO IndicatorCode of each indicator.
func init() {
	adapters["who-gho-odata-json"] = openGHO(gho.NewODataReader)
	adapters["who-gho-csv"] = openGHO(gho.NewCSVReader)
}

func openGHO(open func(io.Reader, gho.Mapping) (*gho.Reader, error)) adapter {
	return func(body io.Reader, cf *catalogue.File, meta feeds.Meta) (parsed, error) {
		inds, err := feeds.Columns(cf)
		if err != nil {
			return nil, err
		}
		rd, err := open(body, gho.Mapping{Meta: meta, Indicators: inds})
		if err != nil {
			return nil, err
		}
		return ghoParsed{rd}, nil
	}
}

type ghoParsed struct{ *gho.Reader }

func (p ghoParsed) Rows() int { return p.Stats().Records }

func (p ghoParsed) Describe(e *zerolog.Event) {
	s := p.Stats()
	e.Int("missing_values", s.Missing).
		Int("aggregate_observations", s.Aggregates).
		Int("interval_observations", s.Intervals).
		Int("unmapped_indicators", len(s.Unmapped))
	if len(s.Unmapped) > 0 {
		e.Strs("unmapped", s.UnmappedCodes())
	}
	if s.NextLink != "" {
		e.Str("next_link", s.NextLink)
	}
}
