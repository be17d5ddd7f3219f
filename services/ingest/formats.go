package ingest

import (
	"fmt"
	"io"
	"iter"
	"maps"
	"math"
	"slices"

	"github.com/rs/zerolog"

	"github.com/ounce-data/ounce/pkg/feedcat"
	"github.com/ounce-data/ounce/pkg/feeds"
	"github.com/ounce-data/ounce/pkg/feeds/carbonintensity"
	"github.com/ounce-data/ounce/pkg/feeds/eurostat"
	"github.com/ounce-data/ounce/pkg/feeds/gho"
	"github.com/ounce-data/ounce/pkg/feeds/jsonstat"
	"github.com/ounce-data/ounce/pkg/feeds/mappedcsv"
	"github.com/ounce-data/ounce/pkg/feeds/owid"
	"github.com/ounce-data/ounce/pkg/feeds/socrata"
	"github.com/ounce-data/ounce/pkg/feeds/worldbank"
	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/pkg/places"
)

// formats are the feed formats this ingester reads, by name: every format
// of pkg/feeds, listed once here.
var formats = table(
	owid.Format,
	worldbank.Format,
	mappedcsv.WorldBankBulkFormat,
	mappedcsv.OWIDGrapherFormat,
	mappedcsv.WHOPortalFormat,
	mappedcsv.GenericFormat,
	gho.ODataFormat,
	gho.CSVFormat,
	eurostat.Format,
	jsonstat.Format,
	socrata.SODAFormat,
	socrata.RowsFormat,
	carbonintensity.NationalFormat,
	carbonintensity.RegionalFormat,
)

func table(fs ...feeds.Format) map[string]feeds.Format {
	t := make(map[string]feeds.Format, len(fs))
	for _, f := range fs {
		if _, dup := t[f.Name]; dup {
			panic("ingest: format " + f.Name + " is listed twice") // a programming error, caught by every test
		}
		t[f.Name] = f
	}
	return t
}

// Formats lists the feed formats this ingester can read.
func Formats() []string {
	return slices.Sorted(maps.Keys(formats))
}

// bind returns how to open the bodies of feed f, whose catalogue file is
// cf: its format bound to the feed's mapping: block.
func bind(f feedcat.Feed, cf *indicators.File, pl *places.Catalogue) (feeds.Opener, *feeds.Pager, error) {
	format, ok := formats[f.Format]
	if !ok {
		return nil, nil, fmt.Errorf("format %q is not one this ingester reads; known formats: %v", f.Format, Formats())
	}
	open, err := format.Bind(feeds.Binding{File: cf, Mapping: f.Mapping, Places: pl})
	if err != nil {
		return nil, nil, fmt.Errorf("field mapping: %w", err)
	}
	return func(body io.Reader, meta feeds.Meta) (feeds.Source, error) {
		src, err := open(body, meta)
		if err != nil {
			return nil, err
		}
		return &entitySource{Source: src, places: pl}, nil
	}, format.Pager, nil
}

// entitySource files the observations of a publisher's entity without an
// ISO code that the place catalogue's review says is a country (OWID_KOS,
// owid:macao) under the country's code. Where the file also gives the
// country under its code (OWID's "Macao" and "Macau"), a fact given by
// both must have one value: a second equal value is dropped, a different
// one is an error naming both, never a silent pick.
type entitySource struct {
	feeds.Source
	places *places.Catalogue
	// seen holds, for the countries entities map to, each fact's value and
	// the place code that gave it.
	seen map[entityFact]entityValue
	// The last place looked up: rows come grouped by place, so the two
	// catalogue lookups run once per place rather than once per value.
	lastFrom, lastGeo string
	lastIsCountry     bool
}

type entityFact struct {
	indicator, geo, dims string
	grain                observation.Grain
	start                int64
}

type entityValue struct {
	value float64
	from  string
}

// All yields the observations with entities mapped to their countries.
func (e *entitySource) All() iter.Seq2[observation.Observation, error] {
	return func(yield func(observation.Observation, error) bool) {
		for o, err := range e.Source.All() {
			if err != nil {
				yield(o, err)
				return
			}
			from := o.Geo
			if from != e.lastFrom || e.lastGeo == "" {
				e.lastFrom, e.lastGeo = from, from
				if country, ok := e.places.EntityCountry(from); ok {
					e.lastGeo = country
				}
				e.lastIsCountry = e.places.IsEntityCountry(e.lastGeo)
			}
			o.Geo = e.lastGeo
			if e.lastIsCountry {
				if e.seen == nil {
					e.seen = map[entityFact]entityValue{}
				}
				v := math.NaN()
				if o.Value != nil {
					v = *o.Value
				}
				k := entityFact{o.Indicator, o.Geo, o.Dims.Canonical(), o.Period.Grain, o.Period.Start.Unix()}
				if prev, dup := e.seen[k]; dup {
					if prev.value == v || math.IsNaN(prev.value) && math.IsNaN(v) {
						continue
					}
					yield(o, fmt.Errorf("%s %s %s: %s gives %v and %s gives %v, and the place catalogue files both under %s; review schemas/places/entities.yaml",
						o.Indicator, o.Geo, o.Period.Code(), prev.from, prev.value, from, v, o.Geo))
					return
				}
				e.seen[k] = entityValue{v, from}
			}
			if !yield(o, nil) {
				return
			}
		}
	}
}

// describe adds what a reader counted to a log event.
func describe(e *zerolog.Event, s feeds.Stats) {
	e.Int("missing_values", s.Missing)
	if s.Aggregates > 0 {
		e.Int("aggregate_observations", s.Aggregates)
	}
	if s.Intervals > 0 {
		e.Int("interval_observations", s.Intervals)
	}
	if len(s.Unmapped) > 0 {
		e.Int("unmapped", len(s.Unmapped)).Interface("unmapped_rows", s.Unmapped)
	}
	if len(s.UnknownPlaces) > 0 {
		// Counted, not silently dropped: the rows of these places were skipped.
		e.Interface("unknown_place_rows", s.UnknownPlaces)
	}
	if len(s.Uncoded) > 0 {
		e.Int("uncoded_entities", len(s.Uncoded)).Int("uncoded_rows", s.UncodedRows)
	}
	if len(s.Flags) > 0 {
		e.Interface("flags", s.Flags)
	}
	if !s.From.IsZero() {
		e.Time("from", s.From).Time("to", s.To)
	}
	for _, d := range s.Details {
		e.Interface(d.Name, d.Value)
	}
}
