package ingest

import (
	"io"

	"github.com/rs/zerolog"

	"github.com/ounce-data/ounce/pkg/catalogue"
	"github.com/ounce-data/ounce/pkg/feeds"
	"github.com/ounce-data/ounce/pkg/feeds/carbonintensity"
)

// Feed formats of the GB Carbon Intensity API.
const (
	FormatCarbonIntensityNational = "carbonintensity-national-json"
	FormatCarbonIntensityRegional = "carbonintensity-regional-json"
)

func init() {
	adapters[FormatCarbonIntensityNational] = openCarbonIntensity(carbonintensity.National)
	adapters[FormatCarbonIntensityRegional] = openCarbonIntensity(carbonintensity.Regional)
}

// openCarbonIntensity is the adapter of one Carbon Intensity response kind;
// the catalogue file's columns name the response fields (intensity.forecast,
// intensity.actual, generationmix).
func openCarbonIntensity(kind carbonintensity.Kind) adapter {
	return func(body io.Reader, cf *catalogue.File, meta feeds.Meta) (parsed, error) {
		cols, err := feeds.Columns(cf)
		if err != nil {
			return nil, err
		}
		rd, err := carbonintensity.NewReader(body, kind, carbonintensity.Mapping{Meta: meta, Columns: cols})
		if err != nil {
			return nil, err
		}
		return carbonIntensityParsed{rd}, nil
	}
}

type carbonIntensityParsed struct{ *carbonintensity.Reader }

// Rows is the half-hour records read.
func (p carbonIntensityParsed) Rows() int { return p.Stats().Records }

func (p carbonIntensityParsed) Describe(e *zerolog.Event) {
	s := p.Stats()
	e.Str("kind", string(p.Kind())).
		Int("half_hours", s.Records).
		Int("missing_values", s.Missing)
	if !s.From.IsZero() {
		e.Time("from", s.From).Time("to", s.To)
	}
	if p.Kind() == carbonintensity.Regional {
		e.Int("region_entries", s.RegionEntries).Int("regions", len(s.Regions))
	}
}
