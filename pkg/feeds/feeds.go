// Package feeds holds what every feed format shares: the Format a format
// package exports, the Source its reader is, one Stats and one Error for
// all of them. Each format has its own package below (feeds/owid, …) that
// turns a publisher's bytes into observations; services/ingest lists the
// formats in one table, fetches, binds each feed to its format and
// publishes.
package feeds

import (
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"time"

	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/observation"
)

// Meta is what an adapter stamps on every observation of one retrieval.
type Meta struct {
	Source      string    // feed id: the observations' source
	URL         string    // where the data was fetched from
	Licence     string    // the feed's licence
	RetrievedAt time.Time // when the data was fetched
	Version     uint64    // source revision in Unix milliseconds (Last-Modified, or retrieval time)
}

// Stamp sets o's source, version and provenance from m.
func (m Meta) Stamp(o *observation.Observation) {
	o.Source = m.Source
	o.Version = m.Version
	o.Provenance = observation.Provenance{URL: m.URL, Licence: m.Licence, RetrievedAt: m.RetrievedAt}
}

// Column maps one source column of a wide table to an indicator.
type Column struct {
	Indicator string // catalogue code
	Unit      string
}

// Columns maps source column name to indicator for every entry of f that
// names a column. Two entries naming the same column are an error.
func Columns(f *indicators.File) (map[string]Column, error) {
	cols := map[string]Column{}
	var errs []error
	for _, ind := range f.Indicators {
		if ind.Column == "" {
			continue
		}
		if prev, dup := cols[ind.Column]; dup {
			errs = append(errs, fmt.Errorf("catalogue %s: column %q is mapped by both %s and %s", f.Name, ind.Column, prev.Indicator, ind.Code))
			continue
		}
		cols[ind.Column] = Column{Indicator: ind.Code, Unit: ind.Unit}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("catalogue %s: no indicator names a source column", f.Name)
	}
	return cols, nil
}

// Check reports whether observations stamped with m and mapped by cols
// could be valid, naming the column of each problem: it validates one probe
// observation per column with the observation's own rules, so that an
// adapter need only check what varies per row (place, period, value).
func Check(m Meta, cols map[string]Column) error {
	if len(cols) == 0 {
		return errors.New("check mapping: no columns are mapped")
	}
	var errs []error
	probe := func(col string, c Column) {
		o := observation.Observation{
			Indicator: c.Indicator,
			Geo:       "XXX",
			Period:    observation.Year(2000),
			Value:     observation.Float(0),
			Unit:      c.Unit,
		}
		m.Stamp(&o)
		if err := o.Validate(); err != nil {
			if col == "" {
				errs = append(errs, fmt.Errorf("check mapping: %w", err))
			} else {
				errs = append(errs, fmt.Errorf("check mapping of column %q: %w", col, err))
			}
		}
	}
	// Problems of the meta alone are reported once, not per column.
	metaOnly := Column{Indicator: "probe", Unit: "probe"}
	probe("", metaOnly)
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	for _, col := range slices.Sorted(maps.Keys(cols)) {
		probe(col, cols[col])
	}
	return errors.Join(errs...)
}

// Collect reads every observation of seq into memory; the first error ends
// it and is returned with no observations.
func Collect(seq iter.Seq2[observation.Observation, error]) ([]observation.Observation, error) {
	var out []observation.Observation
	for o, err := range seq {
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}
