package query

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/ounce-data/ounce/pkg/httpapi"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/services/query/savings"
)

var compareParamNames = map[string]bool{"initiatives": true, "cost_indicator": true, "cost_dims": true, "cost_source": true,
	"geo": true, "method": true, "pre_from": true, "fit_from": true, "fit_to": true, "allow_other_geo": true, "allow_other_domain": true, "format": true}

// MaxCompared is the most initiatives one compare request may name.
const MaxCompared = 20

// CompareResponse is the body of GET /v1/compare: each initiative's yearly
// savings beside the trend of one cost indicator.
type CompareResponse struct {
	CostIndicator IndicatorRef         `json:"cost_indicator"`
	Comparisons   []savings.Comparison `json:"comparisons"`
	Count         int                  `json:"count"`
}

// compare answers GET /v1/compare: each named initiative's savings beside
// the trend of a cost indicator in one place.
func (s *Service) compare(w http.ResponseWriter, r *http.Request) {
	q, perr := parseQuery(r.URL.RawQuery)
	if perr == nil {
		perr = checkParamNames(q, compareParamNames, "initiatives, cost_indicator, cost_dims, cost_source, geo, method, pre_from, fit_from, fit_to, allow_other_geo, allow_other_domain and format")
	}
	var (
		method string
		pre    prePeriod
		cost   seriesChoice
	)
	if perr == nil {
		method, perr = methodParam(q)
	}
	if perr == nil {
		cost, perr = costChoice(q)
	}
	if perr == nil {
		pre, perr = preFromParam(q)
	}
	var fmtWanted format
	if perr == nil {
		fmtWanted, perr = negotiateFormat(r, q)
	}
	var opt savings.CompareOptions
	var otherGeo, otherDomain bool
	if perr == nil {
		opt.FitFrom, opt.FitTo, perr = fitParams(q)
	}
	if perr == nil {
		otherGeo, perr = boolParam(q, "allow_other_geo")
	}
	if perr == nil {
		otherDomain, perr = boolParam(q, "allow_other_domain")
	}
	if perr != nil {
		httpapi.WriteError(w, perr)
		return
	}
	var ids []string
	seen := map[string]bool{}
	for _, v := range q["initiatives"] {
		for _, id := range strings.Split(v, ",") {
			if id = strings.TrimSpace(id); id != "" && !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	switch {
	case len(ids) == 0:
		httpapi.WriteError(w, httpapi.BadRequest("initiatives", "name the initiatives to compare, e.g. initiatives=nhs-dpp-england,sugar-levy"))
		return
	case len(ids) > MaxCompared:
		httpapi.WriteError(w, httpapi.BadRequest("initiatives", "%d initiatives named; at most %d per request", len(ids), MaxCompared))
		return
	}
	code := strings.TrimSpace(q.Get("cost_indicator"))
	if code == "" {
		httpapi.WriteError(w, httpapi.BadRequest("cost_indicator", "name the cost indicator, e.g. cost_indicator=SH.XPD.CHEX.GD.ZS (health spending, %% of GDP)"))
		return
	}
	ind, ok := s.lookup(r.Context()).Indicator(code)
	if !ok {
		httpapi.WriteError(w, httpapi.Errorf(httpapi.CodeUnknownIndicator, "cost_indicator",
			"indicator %q is not in the catalogue; GET /v1/indicators lists the codes", code))
		return
	}
	if ind.Domain != "cost" && !otherDomain {
		httpapi.WriteError(w, httpapi.Errorf(httpapi.CodeNotComparable, "cost_indicator",
			"%s is an indicator of domain %q, not a cost: compare with a cost indicator (GET /v1/indicators?domain=cost), or give allow_other_domain=true to compare with it anyway", code, ind.Domain))
		return
	}
	geo := strings.TrimSpace(q.Get("geo"))
	if len(q["geo"]) > 1 || strings.Contains(geo, ",") {
		httpapi.WriteError(w, httpapi.BadRequest("geo", "compare reads the cost series of one place: give geo once, such as geo=GBR, not %q",
			strings.Join(q["geo"], "&geo=")))
		return
	}
	if geo != "" && !geoRE.MatchString(geo) {
		httpapi.WriteError(w, httpapi.BadRequest("geo", "place %q must be 1-64 letters, digits, '.', '_', ':' or '-'", geo))
		return
	}
	if _, ok := s.cfg.Places.Place(geo); geo != "" && !ok {
		httpapi.WriteError(w, unknownPlace(s.cfg.Places, "geo", geo))
		return
	}

	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	stored, _, err := s.store.initiatives(ctx, "")
	if err != nil {
		httpapi.WriteError(w, s.storeError(r, err))
		return
	}
	resp := CompareResponse{
		CostIndicator: indicatorRef(ind),
		Comparisons:   []savings.Comparison{},
	}
	for _, id := range ids {
		cur, ok := stored[id]
		if !ok || cur.Deleted {
			httpapi.WriteError(w, httpapi.Errorf(httpapi.CodeNotFound, "initiatives", "no initiative %q; GET /v1/initiatives lists them", id))
			return
		}
		in, ok := s.decodeStored(w, id, cur.Doc)
		if !ok {
			return
		}
		rep, err := s.report(ctx, in, method, pre, nil)
		if err != nil {
			s.reportError(w, r, err)
			return
		}
		place := geo
		if place == "" {
			place = in.Geo
		}
		switch {
		case place == "":
			httpapi.WriteError(w, httpapi.BadRequest("geo", "initiative %s names no place; give geo= for the cost indicator", id))
			return
		case in.Geo != "" && place != in.Geo && !otherGeo:
			httpapi.WriteError(w, httpapi.Errorf(httpapi.CodeNotComparable, "geo",
				"initiative %s is in %s, and geo=%s would set another place's cost beside its savings: leave geo out, or give allow_other_geo=true to compare with %s anyway", id, in.Geo, place, place))
			return
		}
		costs, err := s.yearly(ctx, ind, place, cost)
		if err != nil {
			s.reportError(w, r, err)
			return
		}
		o := opt
		if o.Conversion, err = s.costConversion(ctx, ind, place, rep.Currency); err != nil {
			s.reportError(w, r, err)
			return
		}
		c, err := savings.Compare(rep, costs, o)
		if err != nil {
			s.reportError(w, r, err)
			return
		}
		resp.Comparisons = append(resp.Comparisons, c)
	}
	resp.Count = len(resp.Comparisons)
	if fmtWanted == formatCSV {
		httpapi.WriteWithETag(w, r, httpapi.ContentTypeCSV, compareCSV(resp.Comparisons))
		return
	}
	s.writeCached(w, r, resp)
}

// costChoice reads the cost series' breakdown (cost_dims=key=value, once
// per key) and source (cost_source=ID); without them the cost series is
// the total, or the only breakdown, in the catalogue's precedence.
func costChoice(q url.Values) (seriesChoice, *httpapi.Error) {
	dims := observation.Dims{}
	for _, v := range q["cost_dims"] {
		k, val, ok := strings.Cut(v, "=")
		k = strings.TrimSpace(k)
		switch {
		case !ok || !dimKeyRE.MatchString(k):
			return seriesChoice{}, httpapi.BadRequest("cost_dims", "cost_dims %q: want key=value with a lower-case snake_case key, e.g. cost_dims=sex=SEX_BTSX", v)
		case val == "" || len(val) > observation.MaxDimValueLen || !observation.PlainText(val):
			return seriesChoice{}, httpapi.BadRequest("cost_dims", "cost_dims %q: the value must be 1-%d characters of printable text", v, observation.MaxDimValueLen)
		}
		if _, twice := dims[k]; twice {
			return seriesChoice{}, httpapi.BadRequest("cost_dims", "cost_dims key %q is given twice; give each key once", k)
		}
		if len(dims) >= observation.MaxDims {
			return seriesChoice{}, httpapi.BadRequest("cost_dims", "at most %d cost_dims keys", observation.MaxDims)
		}
		dims[k] = val
	}
	source := ""
	if v, given := q["cost_source"]; given {
		source = strings.TrimSpace(v[0])
		if len(v) > 1 || !observation.ValidSource(source) {
			return seriesChoice{}, httpapi.BadRequest("cost_source", "cost_source %q: give one source id, a feed id (GET /v1/feeds lists them) or partner:<id>", strings.Join(v, "&cost_source="))
		}
	}
	return choice(dims, source, "cost_dims", "cost_source"), nil
}

// fitParams reads fit_from and fit_to, the years the cost trend is fitted
// on (0 when absent).
func fitParams(q url.Values) (from, to int, perr *httpapi.Error) {
	read := func(name string) int {
		v := strings.TrimSpace(q.Get(name))
		if v == "" || perr != nil {
			return 0
		}
		y, err := strconv.Atoi(v)
		if err != nil || y < savings.MinYear || y > savings.MaxYear {
			perr = httpapi.BadRequest(name, "%s %q must be a year between %d and %d; left out, the trend is fitted on every year before the start year", name, v, savings.MinYear, savings.MaxYear)
		}
		return y
	}
	from, to = read("fit_from"), read("fit_to")
	if perr == nil && from != 0 && to != 0 && from > to {
		perr = httpapi.BadRequest("fit_from", "fit_from %d is after fit_to %d", from, to)
	}
	return from, to, perr
}

// boolParam reads an optional true/false parameter.
func boolParam(q url.Values, name string) (bool, *httpapi.Error) {
	switch v := strings.TrimSpace(q.Get(name)); v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	default:
		return false, httpapi.BadRequest(name, "%s %q must be true or false", name, v)
	}
}
