package query

import (
	"context"
	"math"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ounce-data/ounce/pkg/httpapi"
	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/pkg/places"
)

// Aggregations GET /v1/aggregate computes.
const (
	AggAvg    = "avg"
	AggSum    = "sum"
	AggMin    = "min"
	AggMax    = "max"
	AggCount  = "count"
	AggMedian = "median"
)

var aggregations = []string{AggAvg, AggSum, AggMin, AggMax, AggCount, AggMedian}

// Methods an aggregate response reports.
const (
	MethodValues      = "values"        // the aggregation over the stored values
	MethodRatioOfSums = "ratio_of_sums" // Σ numerator / Σ denominator × scale
)

var aggregateParamNames = map[string]bool{
	"indicator": true, "geo": true, "level": true, "from": true, "to": true, "dims": true,
	"by": true, "agg": true, "format": true, "max_rows": true, "source": true, "hierarchy": true, "as_of": true,
}

// aggregateParams is a parsed GET /v1/aggregate request.
type aggregateParams struct {
	seriesParams
	Level  string
	ByGeo  bool
	ByTime bool
	Agg    string
	// Hierarchy is the named grouping places roll up along ("" the
	// default one).
	Hierarchy string
}

func parseAggregateParams(q url.Values, cat indicators.Lookup, pl *places.Catalogue, maxGeos int) (aggregateParams, *httpapi.Error) {
	var p aggregateParams
	if err := checkParamNames(q, aggregateParamNames, "indicator, geo or level, hierarchy, from, to, dims, by, agg, source, as_of, format and max_rows"); err != nil {
		return p, err
	}
	sel, err := parseSelection(q, cat, pl, maxGeos)
	if err != nil {
		return p, err
	}
	p.seriesParams = sel
	p.Level = strings.TrimSpace(q.Get("level"))
	p.Hierarchy = strings.TrimSpace(q.Get("hierarchy"))
	switch {
	case len(p.Geos) == 0 && p.Level == "":
		return p, httpapi.BadRequest("geo", "name the places to aggregate: geo=GBR,FRA (each rolled up from its members) or level=country (every place at that level)")
	case len(p.Geos) > 0 && p.Level != "":
		return p, httpapi.BadRequest("level", "give geo or level, not both")
	}
	for _, v := range q["by"] {
		for _, b := range strings.Split(v, ",") {
			switch strings.TrimSpace(b) {
			case "geo":
				p.ByGeo = true
			case "period":
				p.ByTime = true
			case "":
			default:
				return p, httpapi.BadRequest("by", "by %q is not known; group by geo, period or both (by=geo,period)", b)
			}
		}
	}
	p.Agg = AggAvg
	if v := strings.TrimSpace(q.Get("agg")); v != "" {
		if !slices.Contains(aggregations, v) {
			return p, httpapi.BadRequest("agg", "agg %q is not known; use one of %s", v, strings.Join(aggregations, ", "))
		}
		p.Agg = v
	}
	if p.Indicator.Ratio != nil && p.Agg == AggSum {
		return p, httpapi.BadRequest("agg", "%s is a ratio (%s / %s); a sum of ratios means nothing: use agg=avg, which gives Σ %s / Σ %s",
			p.Indicator.Code, p.Indicator.Ratio.Numerator, p.Indicator.Ratio.Denominator, p.Indicator.Ratio.Numerator, p.Indicator.Ratio.Denominator)
	}
	if a := p.Indicator.Aggregation; a != nil && a.Rollup == indicators.RollupAvg && p.Agg == AggSum {
		return p, httpapi.BadRequest("agg", "%s (%s) averages over places but does not add up: %s; ask for agg=avg, min, max, median or count",
			p.Indicator.Code, p.Indicator.Unit, a.Reason)
	}
	if a := p.Indicator.Aggregation; a != nil && a.Rollup == indicators.RollupNone && (p.Agg == AggAvg || p.Agg == AggSum) {
		return p, httpapi.BadRequest("agg", "%s (%s) does not combine over places: %s; ask for agg=min, max, median or count, or for the places themselves with GET /v1/series",
			p.Indicator.Code, p.Indicator.Unit, a.Reason)
	}
	return p, nil
}

// AggregateResponse is the body of GET /v1/aggregate.
type AggregateResponse struct {
	Indicator IndicatorRef `json:"indicator"`
	Agg       string       `json:"agg"`
	// Method is "values" (agg over the stored values) or "ratio_of_sums"
	// (a ratio indicator averaged as Σ numerator / Σ denominator × scale).
	Method string `json:"method"`
	// Hierarchy is the named grouping places were rolled up along; absent
	// for the default one.
	Hierarchy  string            `json:"hierarchy,omitempty"`
	Ratio      *indicators.Ratio `json:"ratio,omitempty"`
	By         []string          `json:"by"`
	Groups     []AggregateGroup  `json:"groups"`
	Count      int               `json:"count"` // groups
	Provenance []SourceRef       `json:"provenance"`
}

// AggregateGroup is one value of an aggregate: for a place (when grouped by
// geo), a period (when grouped by period) and a breakdown.
type AggregateGroup struct {
	Geo     string           `json:"geo,omitempty"`
	Period  string           `json:"period,omitempty"`
	Dims    observation.Dims `json:"dims"`
	Value   *float64         `json:"value"`
	Unit    string           `json:"unit"`
	Values  int              `json:"values"`  // stored values that went in
	Members []string         `json:"members"` // places whose values went in
}

// SourceRef is where the values of a response came from.
type SourceRef struct {
	Indicator   string    `json:"indicator"`
	Source      string    `json:"source"`
	URL         string    `json:"url"`
	Licence     string    `json:"licence"`
	RetrievedAt time.Time `json:"retrieved_at"` // the latest retrieval among them
}

// aggregate answers GET /v1/aggregate: one indicator aggregated over
// places and periods.
func (s *Service) aggregate(w http.ResponseWriter, r *http.Request) {
	q, perr := parseQuery(r.URL.RawQuery)
	if perr != nil {
		httpapi.WriteError(w, perr)
		return
	}
	p, perr := parseAggregateParams(q, s.lookup(r.Context()), s.cfg.Places, s.cfg.MaxGeos)
	if perr != nil {
		httpapi.WriteError(w, perr)
		return
	}
	form, perr := negotiateFormat(r, q)
	if perr != nil {
		httpapi.WriteError(w, perr)
		return
	}
	resp, _, ok := s.computeAggregate(w, r, q, p)
	if !ok {
		return
	}
	if form == formatCSV {
		t := newCSVTable("indicator", "agg", "method", "geo", "period", "dims", "value", "unit", "values", "members")
		for _, g := range resp.Groups {
			t.row(resp.Indicator.Code, resp.Agg, resp.Method, g.Geo, g.Period, g.Dims.Canonical(), formatFloat(g.Value),
				g.Unit, strconv.Itoa(g.Values), strings.Join(g.Members, " "))
		}
		httpapi.WriteWithETag(w, r, httpapi.ContentTypeCSV, t.bytes())
		return
	}
	s.writeCached(w, r, resp)
}

// computeAggregate reads and computes the aggregate p, returning it with
// the stored rows it was computed from (one per fact); on an error it has
// written the answer and ok is false.
func (s *Service) computeAggregate(w http.ResponseWriter, r *http.Request, q url.Values, p aggregateParams) (resp AggregateResponse, rows []observationRow, ok bool) {
	if !s.knownPlaces(w, r, p.seriesParams) {
		return resp, nil, false
	}
	limit, perr := rowLimit(q, s.cfg)
	if perr != nil {
		httpapi.WriteError(w, perr)
		return resp, nil, false
	}
	tree, ok := s.loadPlaces(w, r)
	if !ok {
		return resp, nil, false
	}
	codes := []string{p.Indicator.Code}
	if p.Indicator.Ratio != nil && p.Agg == AggAvg {
		codes = []string{p.Indicator.Ratio.Numerator, p.Indicator.Ratio.Denominator}
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	has, err := s.store.geosWithData(ctx, codes)
	if err != nil {
		httpapi.WriteError(w, s.storeError(r, err))
		return resp, nil, false
	}
	groups, perr := aggregateGroups(p, tree, has)
	if perr != nil {
		httpapi.WriteError(w, perr)
		return resp, nil, false
	}
	var members []string
	seen := map[string]bool{}
	for _, g := range groups {
		for _, m := range g.members {
			if !seen[m] {
				seen[m] = true
				members = append(members, m)
			}
		}
	}
	sort.Strings(members)

	rows, err = s.store.aggregateRows(ctx, codes, members, p.seriesParams, limit+1)
	if err != nil {
		httpapi.WriteError(w, s.storeError(r, err))
		return resp, nil, false
	}
	if len(rows) > limit {
		httpapi.WriteError(w, tooManyRows("the aggregate reads", limit, s.cfg))
		return resp, nil, false
	}
	// One value per fact, so that a place is counted once and only the
	// sources used reach the provenance.
	rows = preferSources(rows, func(code string) indicators.Indicator {
		if ind, ok := s.lookup(ctx).Indicator(code); ok {
			return *ind
		}
		return indicators.Indicator{Code: code}
	})
	return buildAggregate(p, groups, rows), rows, true
}

// aggGroup is one requested place and the members that make it up.
type aggGroup struct {
	geo     string
	members []string
}

// aggregateGroups resolves geo= or level= against the place catalogue.
// A geo the catalogue does not know stands for itself when it has data of
// its own, so feeds whose places are not catalogued yet still aggregate.
func aggregateGroups(p aggregateParams, tree *placeTree, has map[string]bool) ([]aggGroup, *httpapi.Error) {
	if p.Hierarchy != "" && !slices.Contains(tree.hierarchies(), p.Hierarchy) {
		return nil, httpapi.BadRequest("hierarchy", "hierarchy %q is not in the place catalogue; the named ones are %s (leave it out for the default roll-up)",
			p.Hierarchy, strings.Join(tree.hierarchies(), ", "))
	}
	var out []aggGroup
	if p.Level != "" {
		for _, pl := range tree.list {
			if pl.Level == p.Level {
				out = append(out, aggGroup{geo: pl.Code, members: tree.members(pl.Code, has, p.Hierarchy)})
			}
		}
		if len(out) == 0 {
			return nil, tree.unknownLevel(p.Level)
		}
		return out, nil
	}
	for _, g := range p.Geos {
		out = append(out, aggGroup{geo: g, members: tree.members(g, has, p.Hierarchy)})
	}
	return out, nil
}

// buildAggregate computes the groups from the stored rows.
func buildAggregate(p aggregateParams, groups []aggGroup, rows []observationRow) AggregateResponse {
	ind := p.Indicator
	resp := AggregateResponse{
		Indicator: indicatorRef(ind),
		Agg:       p.Agg,
		Method:    MethodValues,
		Hierarchy: p.Hierarchy,
		By:        []string{},
		Groups:    []AggregateGroup{},
	}
	ratio := ind.Ratio != nil && p.Agg == AggAvg
	if ratio {
		resp.Method = MethodRatioOfSums
		resp.Ratio = ind.Ratio
	}
	if p.ByGeo {
		resp.By = append(resp.By, "geo")
	}
	if p.ByTime {
		resp.By = append(resp.By, "period")
	}
	unit := ind.Unit
	if p.Agg == AggCount {
		unit = "values"
	}

	// cell is one (place, period, breakdown): its value, or for a ratio its
	// numerator and denominator.
	type cellKey struct {
		geo, dims, grain string
		start            int64
	}
	type cell struct {
		v, num, den    float64
		hasNum, hasDen bool
	}
	cells := map[cellKey]*cell{}
	byGeo := map[string][]cellKey{}
	prov := map[[3]string]time.Time{}
	for _, r := range rows {
		k := cellKey{r.Geo, r.Dims, r.Grain, r.PeriodStart}
		c := cells[k]
		if c == nil {
			c = &cell{}
			cells[k] = c
			byGeo[r.Geo] = append(byGeo[r.Geo], k)
		}
		switch {
		case !ratio:
			c.v = r.Value
		case r.Indicator == ind.Ratio.Numerator:
			c.num, c.hasNum = r.Value, true
		default:
			c.den, c.hasDen = r.Value, true
		}
		pk := [3]string{r.Indicator, r.Source, r.URL + "\x00" + r.Licence}
		if r.RetrievedAt.After(prov[pk]) {
			prov[pk] = r.RetrievedAt
		}
	}

	type outKey struct{ geo, period, dims string }
	type acc struct {
		vals     []float64
		num, den float64
		members  map[string]bool
		start    int64
		grain    string
	}
	accs := map[outKey]*acc{}
	var order []outKey
	add := func(group string, k cellKey, c *cell) {
		if ratio && !(c.hasNum && c.hasDen) {
			return // a ratio needs both parts for the same place and period
		}
		ok := outKey{dims: k.dims}
		if p.ByGeo {
			ok.geo = group
		}
		if p.ByTime {
			ok.period = periodOf(k.grain, k.start).Code()
		}
		a := accs[ok]
		if a == nil {
			a = &acc{members: map[string]bool{}, start: k.start, grain: k.grain}
			accs[ok] = a
			order = append(order, ok)
		}
		a.members[k.geo] = true
		if ratio {
			a.num += c.num
			a.den += c.den
			a.vals = append(a.vals, 0) // counts the pairs
			return
		}
		a.vals = append(a.vals, c.v)
	}
	counted := map[cellKey]bool{}
	for _, g := range groups {
		for _, m := range g.members {
			for _, k := range byGeo[m] {
				if !p.ByGeo {
					// Without by=geo every place counts once, even when two
					// requested places share it.
					if counted[k] {
						continue
					}
					counted[k] = true
				}
				add(g.geo, k, cells[k])
			}
		}
	}
	sort.Slice(order, func(i, j int) bool {
		a, b := order[i], order[j]
		if a.geo != b.geo {
			return a.geo < b.geo
		}
		if a.dims != b.dims {
			return a.dims < b.dims
		}
		if accs[a].start != accs[b].start {
			return accs[a].start < accs[b].start
		}
		return accs[a].grain < accs[b].grain
	})
	for _, k := range order {
		a := accs[k]
		dims, err := observation.ParseDims(k.dims)
		if err != nil || dims == nil {
			dims = observation.Dims{}
		}
		g := AggregateGroup{Geo: k.geo, Period: k.period, Dims: dims, Unit: unit, Values: len(a.vals), Members: []string{}}
		for m := range a.members {
			g.Members = append(g.Members, m)
		}
		sort.Strings(g.Members)
		var v float64
		if ratio {
			if a.den == 0 {
				resp.Groups = append(resp.Groups, g) // value null: nothing to divide by
				continue
			}
			v = a.num / a.den * ind.Ratio.Scale
		} else {
			v = reduce(p.Agg, a.vals)
		}
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			g.Value = &v
		}
		resp.Groups = append(resp.Groups, g)
	}
	resp.Count = len(resp.Groups)
	resp.Provenance = []SourceRef{}
	for k, at := range prov {
		url, licence, _ := strings.Cut(k[2], "\x00")
		resp.Provenance = append(resp.Provenance, SourceRef{Indicator: k[0], Source: k[1], URL: url, Licence: licence, RetrievedAt: at.UTC()})
	}
	sort.Slice(resp.Provenance, func(i, j int) bool {
		a, b := resp.Provenance[i], resp.Provenance[j]
		if a.Indicator != b.Indicator {
			return a.Indicator < b.Indicator
		}
		if a.Source != b.Source {
			return a.Source < b.Source
		}
		return a.URL < b.URL
	})
	return resp
}

// reduce applies agg to vs (never empty). Sums add in order of size so that
// the result does not depend on the order ClickHouse returned the rows in.
func reduce(agg string, vs []float64) float64 {
	switch agg {
	case AggCount:
		return float64(len(vs))
	case AggMin:
		return slices.Min(vs)
	case AggMax:
		return slices.Max(vs)
	case AggMedian:
		s := slices.Clone(vs)
		slices.Sort(s)
		n := len(s)
		if n%2 == 1 {
			return s[n/2]
		}
		return (s[n/2-1] + s[n/2]) / 2
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	var sum float64
	for _, v := range s {
		sum += v
	}
	if agg == AggSum {
		return sum
	}
	return sum / float64(len(s))
}
