package ingest

import (
	"io"

	"github.com/rs/zerolog"

	"github.com/ounce-data/ounce/pkg/catalogue"
	"github.com/ounce-data/ounce/pkg/feeds"
	"github.com/ounce-data/ounce/pkg/feeds/worldbank"
)

// The World Bank Indicators API v2 in JSON: one URL per feed, one page. A
// feed asks for a per_page above the indicator's total so that the page is
// the whole indicator; a page that is not the last is logged (page, pages)
// and published as it is — paging over HTTP is the caller's, see
// worldbank.PageURL.
func init() { adapters["worldbank-api-json"] = openWorldBank }

func openWorldBank(body io.Reader, cf *catalogue.File, meta feeds.Meta) (parsed, error) {
	cols, err := feeds.Columns(cf)
	if err != nil {
		return nil, err
	}
	rd, err := worldbank.NewReader(body, worldbank.Mapping{Meta: meta, Indicators: cols})
	if err != nil {
		return nil, err
	}
	return worldBankParsed{rd}, nil
}

type worldBankParsed struct{ *worldbank.Reader }

func (p worldBankParsed) Rows() int { return p.Stats().Records }

func (p worldBankParsed) Describe(e *zerolog.Event) {
	s := p.Stats()
	md := p.Metadata()
	e.Int("page", md.Page).
		Int("pages", md.Pages).
		Int("total_records", md.Total).
		Bool("more_pages", md.Page < md.Pages).
		Int("missing_values", s.Missing).
		Int("uncoded_entities", len(s.Uncoded)).
		Int("uncoded_records", s.UncodedRecords).
		Int("unmapped_indicators", len(s.Unmapped)).
		Int("unmapped_records", s.UnmappedRecords)
	if md.LastUpdated != "" {
		e.Str("source_last_updated", md.LastUpdated)
	}
	if len(s.Unmapped) > 0 {
		e.Strs("unmapped", s.Unmapped)
	}
}
