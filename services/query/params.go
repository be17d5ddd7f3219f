package query

import (
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ounce-data/ounce/pkg/httpapi"
	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/pkg/places"
)

// Shapes of request parameters; they match observation.Validate, so a value
// that could never have been stored is refused before ClickHouse is asked.
var (
	geoRE    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$`)
	dimKeyRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)
)

// seriesParamNames are the parameters GET /v1/series understands.
var seriesParamNames = map[string]bool{"indicator": true, "geo": true, "from": true, "to": true, "dims": true, "format": true, "max_rows": true,
	"source": true, "sources": true, "as_of": true}

// seriesParams is a parsed, valid GET /v1/series request.
type seriesParams struct {
	Indicator *indicators.Indicator
	Geos      []string // sorted, distinct; empty means every place
	From, To  *observation.Period
	// DimPairs are canonical "k=v" pairs (escaped as in observation.Dims)
	// every returned series' breakdown must contain.
	DimPairs []string
	// Source, when set (source=ID), selects the values of that one source;
	// AllSources (sources=all, series only) serves every source's value of
	// each fact, each labelled. Otherwise each fact is served once, from
	// the source its indicator prefers (preferSources).
	Source     string
	AllSources bool
	// AsOf, when set (as_of=), reads the data as it stood then: of each
	// fact, the newest version loaded by that time.
	AsOf *time.Time
	// Uncatalogued are the requested places the place catalogue does not
	// hold: a place is known when catalogued or when data is stored at it
	// (a partner's own area); knownPlaces refuses the others.
	Uncatalogued []string
}

// parseQuery reads a raw query string like url.ParseQuery, but reports the
// first problem as a bad_request naming the parameter, rather than silently
// dropping it as http.Request.URL.Query does (a ';' would otherwise turn
// geo=GBR;FRA into "every place").
func parseQuery(raw string) (url.Values, *httpapi.Error) {
	q := url.Values{}
	for piece := range strings.SplitSeq(raw, "&") {
		if piece == "" {
			continue
		}
		rawKey, rawValue, _ := strings.Cut(piece, "=")
		key, kerr := url.QueryUnescape(rawKey)
		if kerr != nil {
			key = rawKey
		}
		if strings.Contains(piece, ";") {
			return nil, httpapi.BadRequest(key, "parameter %q contains ';'; separate parameters with '&' and list places with ','", key)
		}
		value, verr := url.QueryUnescape(rawValue)
		if kerr != nil || verr != nil {
			return nil, httpapi.BadRequest(key, "parameter %q is not valid percent-encoding", key)
		}
		q[key] = append(q[key], value)
	}
	return q, nil
}

// parseSeriesParams reads the query string of GET /v1/series. It needs no
// server: every problem is a client mistake reported as a 4xx Error.
func parseSeriesParams(q url.Values, cat indicators.Lookup, pl *places.Catalogue, maxGeos int) (seriesParams, *httpapi.Error) {
	if err := checkParamNames(q, seriesParamNames, "indicator, geo, from, to, dims, source, sources, as_of, format and max_rows"); err != nil {
		return seriesParams{}, err
	}
	return parseSelection(q, cat, pl, maxGeos)
}

// parseSelection reads the indicator, geo, from, to and dims parameters
// shared by the data routes.
func parseSelection(q url.Values, cat indicators.Lookup, pl *places.Catalogue, maxGeos int) (seriesParams, *httpapi.Error) {
	var p seriesParams
	code := strings.TrimSpace(q.Get("indicator"))
	if code == "" {
		return p, httpapi.BadRequest("indicator", "indicator is missing; name one, e.g. indicator=owid.co2_per_capita (GET /v1/indicators lists them)")
	}
	ind, ok := cat.Indicator(code)
	if !ok {
		return p, httpapi.Errorf(httpapi.CodeUnknownIndicator, "indicator",
			"indicator %q is not in the catalogue; GET /v1/indicators lists the codes", code)
	}
	p.Indicator = ind

	seen := map[string]bool{}
	for _, v := range q["geo"] {
		for _, g := range strings.Split(v, ",") {
			g = strings.TrimSpace(g)
			if g == "" {
				continue
			}
			if !geoRE.MatchString(g) {
				return p, httpapi.BadRequest("geo", "place %q must be 1-64 letters, digits, '.', '_', ':' or '-', e.g. geo=GBR,FRA", g)
			}
			if _, ok := pl.Place(g); !ok {
				// Known only if data is stored there (a partner's local
				// area): the handler checks, and answers 404 otherwise.
				p.Uncatalogued = append(p.Uncatalogued, g)
			}
			if !seen[g] {
				seen[g] = true
				p.Geos = append(p.Geos, g)
			}
		}
	}
	if _, given := q["geo"]; given && len(p.Geos) == 0 {
		return p, httpapi.BadRequest("geo", "geo is empty; list places like geo=GBR,FRA or leave geo out for every place")
	}
	if len(p.Geos) > maxGeos {
		return p, httpapi.BadRequest("geo", "%d places requested; at most %d per request", len(p.Geos), maxGeos)
	}
	sort.Strings(p.Geos)

	for _, name := range []string{"from", "to"} {
		v, given := q[name]
		if !given {
			continue
		}
		per, err := observation.ParsePeriod(v[0])
		if err == nil {
			err = per.Check()
		}
		if err != nil {
			return p, httpapi.BadRequest(name, "%s: %v", name, err)
		}
		if name == "from" {
			p.From = &per
		} else {
			p.To = &per
		}
	}
	if p.From != nil && p.To != nil && !p.From.Start.Before(p.To.End()) {
		return p, httpapi.BadRequest("from", "from %s is after to %s; swap them", p.From.Code(), p.To.Code())
	}

	keys := map[string]bool{}
	for _, v := range q["dims"] {
		k, val, ok := strings.Cut(v, "=")
		k = strings.TrimSpace(k)
		if !ok || !dimKeyRE.MatchString(k) {
			return p, httpapi.BadRequest("dims", "dims %q: want key=value with a lower-case snake_case key, e.g. dims=sex=female", v)
		}
		if val == "" || len(val) > observation.MaxDimValueLen {
			return p, httpapi.BadRequest("dims", "dims %q: the value must be 1-%d characters", v, observation.MaxDimValueLen)
		}
		if keys[k] {
			return p, httpapi.BadRequest("dims", "dims key %q is given twice; give each key once", k)
		}
		if len(keys) >= observation.MaxDims {
			return p, httpapi.BadRequest("dims", "at most %d dims filters", observation.MaxDims)
		}
		keys[k] = true
		p.DimPairs = append(p.DimPairs, observation.Dims{k: val}.Canonical())
	}
	sort.Strings(p.DimPairs)

	if v, given := q["source"]; given {
		p.Source = strings.TrimSpace(v[0])
		if !observation.ValidSource(p.Source) {
			return p, httpapi.BadRequest("source", "source %q is not a source id: a feed id (GET /v1/feeds lists them) or partner:<id>", v[0])
		}
	}
	if v, given := q["as_of"]; given {
		at, err := parseAsOf(v[0])
		if err != nil {
			return p, err
		}
		p.AsOf = &at
	}
	if v, given := q["sources"]; given {
		if strings.TrimSpace(v[0]) != "all" {
			return p, httpapi.BadRequest("sources", "sources %q: the one value is sources=all (every source's value of each fact); leave it out for one value per fact", v[0])
		}
		if p.Source != "" {
			return p, httpapi.BadRequest("sources", "give source=ID (one source) or sources=all (every source), not both")
		}
		p.AllSources = true
	}
	return p, nil
}

// checkParamNames refuses the first parameter not in known, naming it and
// listing the accepted ones (say, e.g. "level, parent and format"), and any
// parameter given more than once unless it is a list.
func checkParamNames(q url.Values, known map[string]bool, say string) *httpapi.Error {
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !known[name] {
			return httpapi.BadRequest(name, "unknown parameter %q; use %s", name, say)
		}
		if len(q[name]) > 1 && !listParams[name] {
			return httpapi.BadRequest(name, "%s is given %d times; give it once", name, len(q[name]))
		}
	}
	return nil
}

// listParams may be repeated: their values add up.
var listParams = map[string]bool{"geo": true, "dims": true, "by": true, "initiatives": true, "cost_dims": true}

// rowLimit is the most rows a request may read: Config.MaxRows, or what
// max_rows asks for, up to Config.RowsCeiling.
func rowLimit(q url.Values, cfg Config) (int, *httpapi.Error) {
	v, given := q["max_rows"]
	if !given {
		return cfg.MaxRows, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v[0]))
	if err != nil || n < 1 {
		return 0, httpapi.BadRequest("max_rows", "max_rows %q must be a whole number of rows, 1 to %d", v[0], cfg.RowsCeiling)
	}
	if n > cfg.RowsCeiling {
		return 0, httpapi.BadRequest("max_rows", "max_rows %d is above this server's ceiling of %d rows; narrow the request instead", n, cfg.RowsCeiling)
	}
	return n, nil
}

// tooManyRows is the answer to a request over its row limit.
func tooManyRows(what string, limit int, cfg Config) *httpapi.Error {
	msg := fmt.Sprintf("%s more than %d rows; narrow it with from and to, fewer places or a dims filter", what, limit)
	if limit < cfg.RowsCeiling {
		msg += fmt.Sprintf(", or raise the limit with max_rows= (at most %d)", cfg.RowsCeiling)
	}
	return httpapi.Errorf(httpapi.CodeRangeTooLarge, "max_rows", "%s", msg)
}

// parseAsOf reads an as_of parameter: an RFC 3339 time or a date (its
// end of day, UTC). A time in the future is refused: the data of then is
// not known yet.
func parseAsOf(v string) (time.Time, *httpapi.Error) {
	v = strings.TrimSpace(v)
	at, err := time.Parse(time.RFC3339, v)
	if err != nil {
		d, derr := time.Parse(time.DateOnly, v)
		if derr != nil {
			return time.Time{}, httpapi.BadRequest("as_of", "as_of %q: want a time like 2026-11-30T12:00:00Z or a date like 2026-11-30 (its end, UTC)", v)
		}
		at = d.Add(24*time.Hour - time.Second)
	}
	at = at.UTC().Truncate(time.Second)
	if at.After(time.Now().Add(time.Minute)) {
		return time.Time{}, httpapi.BadRequest("as_of", "as_of %s is in the future; the data as it stands now is served without as_of", at.Format(time.RFC3339))
	}
	return at, nil
}
