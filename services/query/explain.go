package query

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/ounce-data/ounce/pkg/extch"
	"github.com/ounce-data/ounce/pkg/httpapi"
	"github.com/ounce-data/ounce/pkg/observation"
)

// explainParamNames are the aggregate's parameters and period, the cell's.
var explainParamNames = func() map[string]bool {
	m := map[string]bool{"period": true}
	for k := range aggregateParamNames {
		if k != "format" {
			m[k] = true
		}
	}
	return m
}()

// AggregateExplanation is the body of GET /v1/aggregate/explain: one cell
// of an aggregate, the formula that made it, and every stored observation
// that went in, with where each came from, so that it can be recomputed by
// hand.
type AggregateExplanation struct {
	Indicator    IndicatorRef           `json:"indicator"`
	Agg          string                 `json:"agg"`
	Method       string                 `json:"method"`
	Hierarchy    string                 `json:"hierarchy,omitempty"`
	Cell         AggregateGroup         `json:"cell"`
	Formula      string                 `json:"formula"`
	Observations []ExplainedObservation `json:"observations"`
}

// ExplainedObservation is one stored observation a figure was computed
// from.
type ExplainedObservation struct {
	Indicator  string           `json:"indicator"`
	Geo        string           `json:"geo"`
	Period     string           `json:"period"`
	Dims       observation.Dims `json:"dims"`
	Value      *float64         `json:"value"`
	Unit       string           `json:"unit"`
	Source     string           `json:"source"`
	Version    uint64           `json:"version"`
	Provenance Provenance       `json:"provenance"`
	Batch      string           `json:"batch"` // the loader batch: a feed run or a partner message
	Flag       string           `json:"flag,omitempty"`
	Quality    []string         `json:"quality,omitempty"`
}

// explainAggregate answers GET /v1/aggregate/explain: the parameters of
// GET /v1/aggregate naming one cell (period= sets from and to to it), the
// cell with its formula and its observations.
func (s *Service) explainAggregate(w http.ResponseWriter, r *http.Request) {
	q, perr := parseQuery(r.URL.RawQuery)
	if perr == nil {
		perr = checkParamNames(q, explainParamNames, "the parameters of GET /v1/aggregate, and period")
	}
	if perr != nil {
		httpapi.WriteError(w, perr)
		return
	}
	if v, given := q["period"]; given {
		if _, f := q["from"]; f {
			httpapi.WriteError(w, httpapi.BadRequest("period", "give period (the cell's) or from and to, not both"))
			return
		}
		if _, t := q["to"]; t {
			httpapi.WriteError(w, httpapi.BadRequest("period", "give period (the cell's) or from and to, not both"))
			return
		}
		q.Set("from", v[0])
		q.Set("to", v[0])
		q.Del("period")
	}
	agg := q
	delete(agg, "period")
	p, perr := parseAggregateParams(agg, s.lookup(r.Context()), s.cfg.Places, s.cfg.MaxGeos)
	if perr != nil {
		httpapi.WriteError(w, perr)
		return
	}
	resp, rows, ok := s.computeAggregate(w, r, agg, p)
	if !ok {
		return
	}
	switch len(resp.Groups) {
	case 0:
		httpapi.WriteError(w, httpapi.Errorf(httpapi.CodeNotFound, "period", "the aggregate has no cell here: no stored value matches; GET /v1/aggregate with the same parameters shows what there is"))
		return
	case 1:
	default:
		httpapi.WriteError(w, httpapi.BadRequest("period", "the aggregate has %d cells; name one: one place in geo (or by without geo), one period (period=), one breakdown (dims=)", len(resp.Groups)))
		return
	}
	cell := resp.Groups[0]
	ex := AggregateExplanation{Indicator: resp.Indicator, Agg: resp.Agg, Method: resp.Method, Hierarchy: resp.Hierarchy, Cell: cell,
		Observations: []ExplainedObservation{}}
	used := cellRows(p, cell, rows)
	for _, row := range used {
		ex.Observations = append(ex.Observations, explainedObservation(row))
	}
	ex.Formula = formula(p, cell, used)
	s.writeCached(w, r, ex)
}

// explainedObservation is row as an explanation lists it.
func explainedObservation(row observationRow) ExplainedObservation {
	dims, _ := observation.ParseDims(row.Dims)
	if dims == nil {
		dims = observation.Dims{}
	}
	o := ExplainedObservation{Indicator: row.Indicator, Geo: row.Geo, Period: periodOf(row.Grain, row.PeriodStart).Code(), Dims: dims,
		Unit: row.Unit, Source: row.Source, Version: row.Version, Batch: row.BatchID, Flag: row.Flag, Quality: extch.SplitQuality(row.Quality),
		Provenance: Provenance{URL: row.URL, Licence: row.Licence, RetrievedAt: row.RetrievedAt.UTC()}}
	if v := row.Value; !math.IsNaN(v) && !math.IsInf(v, 0) {
		o.Value = &v
	}
	return o
}

// cellRows are the rows that went into cell: of its members, its
// breakdown and (by period) its period; for a ratio, the places and
// periods that hold both parts.
func cellRows(p aggregateParams, cell AggregateGroup, rows []observationRow) []observationRow {
	dims := cell.Dims.Canonical()
	var out []observationRow
	type place struct {
		geo   string
		start int64
	}
	parts := map[place]int{}
	for _, row := range rows {
		if !slices.Contains(cell.Members, row.Geo) || row.Dims != dims {
			continue
		}
		if p.ByTime && periodOf(row.Grain, row.PeriodStart).Code() != cell.Period {
			continue
		}
		out = append(out, row)
		parts[place{row.Geo, row.PeriodStart}]++
	}
	if p.Indicator.Ratio != nil && p.Agg == AggAvg {
		both := out[:0]
		for _, row := range out {
			if parts[place{row.Geo, row.PeriodStart}] == 2 {
				both = append(both, row)
			}
		}
		out = both
	}
	return out
}

// formula says how cell's value was computed from rows, with the values
// (up to 24 of them written out; beyond, their sum and count).
func formula(p aggregateParams, cell AggregateGroup, rows []observationRow) string {
	result := "null (nothing to divide by)"
	if cell.Value != nil {
		result = strconv.FormatFloat(*cell.Value, 'g', -1, 64)
	}
	list := func(vs []float64) string {
		if len(vs) > 24 {
			sum := 0.0
			for _, v := range vs {
				sum += v
			}
			return fmt.Sprintf("Σ of the %d values listed below (%s)", len(vs), strconv.FormatFloat(sum, 'g', -1, 64))
		}
		parts := make([]string, len(vs))
		for i, v := range vs {
			parts[i] = strconv.FormatFloat(v, 'g', -1, 64)
		}
		return "(" + strings.Join(parts, " + ") + ")"
	}
	if ratio := p.Indicator.Ratio; ratio != nil && p.Agg == AggAvg {
		var num, den []float64
		for _, r := range rows {
			if r.Indicator == ratio.Numerator {
				num = append(num, r.Value)
			} else {
				den = append(den, r.Value)
			}
		}
		return fmt.Sprintf("Σ %s / Σ %s × %g = %s / %s × %g = %s %s", ratio.Numerator, ratio.Denominator, ratio.Scale,
			list(num), list(den), ratio.Scale, result, cell.Unit)
	}
	vs := make([]float64, len(rows))
	for i, r := range rows {
		vs[i] = r.Value
	}
	switch p.Agg {
	case AggAvg:
		return fmt.Sprintf("mean of %d values = %s / %d = %s %s", len(vs), list(vs), len(vs), result, cell.Unit)
	case AggSum:
		return fmt.Sprintf("sum of %d values = %s = %s %s", len(vs), list(vs), result, cell.Unit)
	case AggCount:
		return fmt.Sprintf("count of the values listed below = %s", result)
	}
	return fmt.Sprintf("%s of %d values %s = %s %s", p.Agg, len(vs), strings.ReplaceAll(list(vs), " + ", ", "), result, cell.Unit)
}
