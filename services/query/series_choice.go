package query

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/services/query/savings"
)

// A savings report reads one series of an indicator in a place, while the
// store may hold several there: one per breakdown (dims such as sex and age
// group), each from one or more sources. docs/savings.md, "Choosing the
// series", gives the rule this file implements: the breakdown the document
// names, else the total, else the only breakdown; with several and none
// named, a 4xx that lists them with their years. Among sources, the one the
// document names, else one value a year in the catalogue's precedence.

// seriesChoice is how one series is chosen among those stored of its
// indicator in one place.
type seriesChoice struct {
	dims   string // canonical dims, when named
	named  bool   // false: the total, else the only breakdown
	source string // "" for one value a year by precedence (preferSources)
	// dimsField and sourceField name, in messages, what names the
	// breakdown and the source: a document field or a request parameter.
	dimsField, sourceField string
	// optional: a place without the series chosen has an empty one rather
	// than an error (a comparison place, left out as one without data).
	optional bool
}

// choice is the seriesChoice of a document's dims and source.
func choice(dims observation.Dims, source, dimsField, sourceField string) seriesChoice {
	return seriesChoice{dims: dims.Canonical(), named: len(dims) > 0, source: source, dimsField: dimsField, sourceField: sourceField}
}

// targetChoice is the choice of the initiative's own series.
func targetChoice(in savings.Initiative) seriesChoice {
	return choice(in.Dims, in.Source, "dims", "source")
}

// comparisonChoice is the choice of the comparison places' series: in
// comparison_dims, else in the breakdown the target was read in (chosen,
// when found), else in the one the document names, else each place's own
// total or only breakdown.
func comparisonChoice(in savings.Initiative, chosen string, found bool) seriesChoice {
	c := seriesChoice{source: in.CompareSource(), dimsField: "comparison_dims", sourceField: "comparison_source", optional: true}
	switch {
	case len(in.ComparisonDims) > 0 || found:
		c.dims, c.named = in.CompareDims(chosen), true
	case len(in.Dims) > 0:
		c.dims, c.named = in.Dims.Canonical(), true
	}
	return c
}

// populationChoice is the choice of the population indicator's series.
func populationChoice(in savings.Initiative) seriesChoice {
	if in.Population == nil {
		return seriesChoice{dimsField: "population.dims", sourceField: "population.source"}
	}
	return choice(in.Population.Dims, in.Population.Source, "population.dims", "population.source")
}

// seriesCoverage is what one source holds of one breakdown of an
// indicator in one place: its first and last year and how many years have
// a value.
type seriesCoverage struct {
	geo, dims, source  string
	first, last, years int
}

// coverageOf sums rows up (yearly values of one indicator, ordered by
// place, dims, period and source as the store reads them) by place,
// breakdown and source; non-finite values, which no series uses, are not
// counted.
func coverageOf(rows []observationRow) []seriesCoverage {
	var out []seriesCoverage
	at := map[[3]string]int{}
	for _, r := range rows {
		if math.IsNaN(r.Value) || math.IsInf(r.Value, 0) {
			continue
		}
		k := [3]string{r.Geo, r.Dims, r.Source}
		i, ok := at[k]
		if !ok {
			i = len(out)
			at[k] = i
			out = append(out, seriesCoverage{geo: r.Geo, dims: r.Dims, source: r.Source, first: math.MaxInt, last: math.MinInt})
		}
		y := calendarYear(r)
		c := &out[i]
		c.first, c.last = min(c.first, y), max(c.last, y)
		c.years++
	}
	return out
}

// yearOf is the calendar year of a period start in Unix seconds.
func yearOf(periodStart int64) int { return time.Unix(periodStart, 0).UTC().Year() }

// breakdown is one breakdown stored of an indicator in one place, with
// what each source holds of it.
type breakdown struct {
	dims    string // canonical
	sources []seriesCoverage
}

// breakdownsOf groups one place's coverage by breakdown, the total first
// and then by canonical dims, each breakdown's sources by id.
func breakdownsOf(cov []seriesCoverage) []breakdown {
	var out []breakdown
	for _, c := range cov {
		i := slices.IndexFunc(out, func(b breakdown) bool { return b.dims == c.dims })
		if i < 0 {
			i = len(out)
			out = append(out, breakdown{dims: c.dims})
		}
		out[i].sources = append(out[i].sources, c)
	}
	slices.SortFunc(out, func(a, b breakdown) int { return strings.Compare(a.dims, b.dims) })
	for _, b := range out {
		slices.SortFunc(b.sources, func(a, b seriesCoverage) int { return strings.Compare(a.source, b.source) })
	}
	return out
}

// dimsJSON writes canonical dims as the JSON object a document names
// them with ({} for the total), for an analyst to copy.
func dimsJSON(canonical string) string {
	d, err := observation.ParseDims(canonical)
	if err != nil {
		return strconv.Quote(canonical) // stored in a form no writer makes; shown as it is
	}
	if d == nil {
		d = observation.Dims{}
	}
	b, _ := json.Marshal(d) // a map of strings always encodes
	return string(b)
}

// String is the breakdown as an analyst copies it, with its coverage:
// {"sex":"SEX_BTSX"} (who-ncd-mortality 2000-2021, 22 years).
func (b breakdown) String() string {
	parts := make([]string, len(b.sources))
	for i, c := range b.sources {
		parts[i] = c.String()
	}
	s := dimsJSON(b.dims)
	if b.dims == "" {
		s += " (the total)"
	}
	return s + " (" + strings.Join(parts, "; ") + ")"
}

// String is what one source holds: who-ncd-mortality 2000-2021, 22 years.
func (c seriesCoverage) String() string {
	years := "years"
	if c.years == 1 {
		years = "year"
	}
	return fmt.Sprintf("%s %s, %d %s", c.source, yearsFromTo(c.first, c.last), c.years, years)
}

// yearsFromTo writes first-last, or the one year.
func yearsFromTo(first, last int) string {
	if first == last {
		return strconv.Itoa(first)
	}
	return fmt.Sprintf("%d-%d", first, last)
}

// listBreakdowns lists breakdowns for a message.
func listBreakdowns(bs []breakdown) string {
	parts := make([]string, len(bs))
	for i, b := range bs {
		parts[i] = b.String()
	}
	return strings.Join(parts, "; ")
}

// listSources lists what each source holds of an indicator in one place,
// over every breakdown, for a message.
func listSources(cov []seriesCoverage) string {
	type span struct{ first, last int }
	by := map[string]span{}
	var ids []string
	for _, c := range cov {
		s, ok := by[c.source]
		if !ok {
			ids = append(ids, c.source)
			s = span{c.first, c.last}
		}
		by[c.source] = span{min(s.first, c.first), max(s.last, c.last)}
	}
	slices.Sort(ids)
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprintf("%s (%s)", id, yearsFromTo(by[id].first, by[id].last))
	}
	return strings.Join(parts, ", ")
}

// pick is the breakdown of bs that c chooses: the named one, else the
// total, else the only one; ok is false when there is none such.
func (c seriesChoice) pick(bs []breakdown) (string, bool) {
	if c.named {
		i := slices.IndexFunc(bs, func(b breakdown) bool { return b.dims == c.dims })
		return c.dims, i >= 0
	}
	switch {
	case len(bs) == 1:
		return bs[0].dims, true
	case len(bs) > 1 && bs[0].dims == "": // sorted: the total comes first
		return "", true
	}
	return "", false
}

// noSuchBreakdown says why c chooses none of bs, the breakdowns of
// indicator in geo: several and none named, or the named one absent.
func (c seriesChoice) noSuchBreakdown(indicator, geo string, bs []breakdown) string {
	from := ""
	if c.source != "" {
		from = " from " + c.source
	}
	if !c.named {
		return fmt.Sprintf("%s in %s is stored%s in %d breakdowns and %s names none: copy one of them into %s. Stored: %s",
			indicator, geo, from, len(bs), c.dimsField, c.dimsField, listBreakdowns(bs))
	}
	return fmt.Sprintf("%s in %s holds no breakdown %s%s: copy one of those stored into %s. Stored: %s",
		indicator, geo, dimsJSON(c.dims), from, c.dimsField, listBreakdowns(bs))
}

// noSuchSource says that source holds nothing of indicator in geo, whose
// coverage (every source) is cov; known is whether the source is a feed of
// the catalogue or a partner.
func noSuchSource(indicator, geo, source, field string, known bool, cov []seriesCoverage) string {
	what := "holds no yearly value of"
	if !known {
		what = "is not a feed of the catalogue (GET /v1/feeds lists them) nor partner:<id>, and nothing is stored from it of"
	}
	return fmt.Sprintf("source %s %s %s in %s: name one of those that hold it in %s, or leave %s out for the catalogue's precedence. Held by: %s",
		source, what, indicator, geo, field, field, listSources(cov))
}

// rowsByGeo splits rows by place, keeping their order.
func rowsByGeo(rows []observationRow) map[string][]observationRow {
	out := map[string][]observationRow{}
	for _, r := range rows {
		out[r.Geo] = append(out[r.Geo], r)
	}
	return out
}

// placeSeries makes the series of ind in geo that c chooses of rows, the
// yearly values read there (every breakdown and source, in the store's
// order). It returns the series, the rows it was made of (one a year, of
// the preferred source) and the breakdown chosen, found false when none
// was. A place without any value has an empty series; one whose values do
// not hold the series chosen is an insufficient_data error, unless c is
// optional.
func placeSeries(ind *indicators.Indicator, geo string, rows []observationRow, c seriesChoice) (series savings.Series, chosen []observationRow, dims string, found bool, err error) {
	series = savings.Series{Indicator: ind.Code, Geo: geo, Unit: ind.Unit, Plausible: ind.Plausible(), Values: map[int]float64{}}
	cov := coverageOf(rows)
	if len(cov) == 0 {
		return series, nil, "", false, nil
	}
	if c.source != "" {
		kept := slices.DeleteFunc(slices.Clone(cov), func(v seriesCoverage) bool { return v.source != c.source })
		if len(kept) == 0 {
			if c.optional {
				return series, nil, "", false, nil
			}
			return series, nil, "", false, insufficientData(c.sourceField, noSuchSource(ind.Code, geo, c.source, c.sourceField, true, cov))
		}
		cov = kept
	}
	bs := breakdownsOf(cov)
	dims, ok := c.pick(bs)
	if !ok {
		if c.optional {
			return series, nil, "", false, nil
		}
		return series, nil, "", false, insufficientData(c.dimsField, c.noSuchBreakdown(ind.Code, geo, bs))
	}
	for _, r := range rows {
		if r.Dims == dims && (c.source == "" || r.Source == c.source) {
			chosen = append(chosen, r)
		}
	}
	// One value per year, from the source the catalogue prefers, as the
	// series and the aggregate serve it.
	chosen = preferSources(chosen, func(string) indicators.Indicator { return *ind })
	series.Dims, _ = observation.ParseDims(dims) // parsed before: pick chose among stored dims
	sources := map[[3]string]time.Time{}
	for _, r := range chosen {
		if math.IsNaN(r.Value) || math.IsInf(r.Value, 0) {
			continue
		}
		series.Values[calendarYear(r)] = r.Value
		k := [3]string{r.Source, r.URL, r.Licence}
		if r.RetrievedAt.After(sources[k]) {
			sources[k] = r.RetrievedAt
		}
	}
	for k, at := range sources {
		series.Sources = append(series.Sources, savings.Source{Source: k[0], URL: k[1], Licence: k[2], RetrievedAt: at.UTC()})
	}
	slices.SortFunc(series.Sources, func(a, b savings.Source) int { return strings.Compare(a.Source, b.Source) })
	return series, chosen, dims, true, nil
}

// comparisonSeries makes the series of ind in each of geos, the comparison
// places (or donor candidates) of in, read in the breakdown the target
// was (dims, found false when none was chosen): by place, the series and
// the rows it was made of. A place holding none of it has an empty series.
func comparisonSeries(ind *indicators.Indicator, in savings.Initiative, dims string, found bool, geos []string, rows []observationRow) (map[string]savings.Series, map[string][]observationRow, error) {
	byGeo := rowsByGeo(rows)
	out := make(map[string]savings.Series, len(geos))
	used := make(map[string][]observationRow, len(geos))
	cc := comparisonChoice(in, dims, found)
	for _, g := range geos {
		s, rs, _, _, err := placeSeries(ind, g, byGeo[g], cc)
		if err != nil {
			return nil, nil, err
		}
		out[g], used[g] = s, rs
	}
	return out, used, nil
}

// insufficientData is the insufficient_data error of one problem.
func insufficientData(field, message string) *savings.InputError {
	return savings.Problems(savings.CodeInsufficientData, []savings.Problem{{Field: field, Message: message}})
}
