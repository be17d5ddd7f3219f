package query

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ounce-data/ounce/pkg/extch"
	"github.com/ounce-data/ounce/pkg/httpapi"
	"github.com/ounce-data/ounce/pkg/observation"
)

var historyParamNames = map[string]bool{"indicator": true, "geo": true, "period": true, "dims": true}

// HistoryResponse is the body of GET /v1/series/history: every version of
// one fact as loaded, oldest first, and which one is served now.
type HistoryResponse struct {
	Indicator IndicatorRef     `json:"indicator"`
	Geo       string           `json:"geo"`
	Period    string           `json:"period"`
	Dims      observation.Dims `json:"dims"`
	Versions  []Version        `json:"versions"`
	Count     int              `json:"count"`
}

// Version is one stored version of a fact.
type Version struct {
	Source     string     `json:"source"`
	Version    uint64     `json:"version"`
	Value      *float64   `json:"value"`
	Unit       string     `json:"unit"`
	Provenance Provenance `json:"provenance"`
	Flag       string     `json:"flag,omitempty"`
	Quality    []string   `json:"quality,omitempty"`
	Batch      string     `json:"batch"`     // the loader batch (feed run or partner message) it came in
	LoadedAt   time.Time  `json:"loaded_at"` // when it was loaded into ClickHouse
	// Served marks the version GET /v1/series serves now: the newest
	// version of the source the indicator prefers.
	Served bool `json:"served"`
}

// seriesHistory answers GET /v1/series/history.
func (s *Service) seriesHistory(w http.ResponseWriter, r *http.Request) {
	q, perr := parseQuery(r.URL.RawQuery)
	if perr != nil {
		httpapi.WriteError(w, perr)
		return
	}
	p, per, perr := s.parseHistoryParams(r.Context(), q)
	if perr != nil {
		httpapi.WriteError(w, perr)
		return
	}
	if !s.knownPlaces(w, r, p) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	rows, err := s.store.history(ctx, p.Indicator.Code, p.Geos[0], per, canonicalDims(q))
	if err != nil {
		httpapi.WriteError(w, s.storeError(r, err))
		return
	}
	resp := HistoryResponse{Indicator: indicatorRef(p.Indicator), Geo: p.Geos[0], Period: per.Code(), Versions: []Version{}}
	resp.Dims, _ = observation.ParseDims(canonicalDims(q))
	if resp.Dims == nil {
		resp.Dims = observation.Dims{}
	}
	// The served version: the newest of each source, then the preferred source.
	newest := map[string]int{}
	for i, row := range rows {
		if j, ok := newest[row.Source]; !ok || row.Version >= rows[j].Version {
			newest[row.Source] = i
		}
	}
	served := -1
	for _, i := range newest {
		if served < 0 || preferred(*p.Indicator, &rows[i], &rows[served]) {
			served = i
		}
	}
	for i, row := range rows {
		v := Version{Source: row.Source, Version: row.Version, Unit: row.Unit, Batch: row.BatchID, LoadedAt: row.LoadedAt.UTC(),
			Flag: row.Flag, Quality: extch.SplitQuality(row.Quality),
			Provenance: Provenance{URL: row.URL, Licence: row.Licence, RetrievedAt: row.RetrievedAt.UTC()}, Served: i == served}
		if f := row.Value; f == f {
			v.Value = &f
		}
		resp.Versions = append(resp.Versions, v)
	}
	resp.Count = len(resp.Versions)
	s.writeCached(w, r, resp)
}

// parseHistoryParams reads indicator, geo (one place), period (one period
// code) and dims (the whole breakdown of the fact, as key=value pairs).
func (s *Service) parseHistoryParams(ctx context.Context, q url.Values) (seriesParams, observation.Period, *httpapi.Error) {
	if err := checkParamNames(q, historyParamNames, "indicator, geo, period and dims"); err != nil {
		return seriesParams{}, observation.Period{}, err
	}
	for _, name := range []string{"geo", "period"} {
		if strings.TrimSpace(q.Get(name)) == "" {
			return seriesParams{}, observation.Period{}, httpapi.BadRequest(name, "%s is missing: history is of one fact (indicator, geo, period, dims)", name)
		}
	}
	if strings.Contains(q.Get("geo"), ",") {
		return seriesParams{}, observation.Period{}, httpapi.BadRequest("geo", "history is of one place; give geo once, such as geo=FRA")
	}
	sel := url.Values{"indicator": q["indicator"], "geo": q["geo"], "dims": q["dims"]}
	p, err := parseSelection(sel, s.lookup(ctx), s.cfg.Places, 1)
	if err != nil {
		return p, observation.Period{}, err
	}
	per, perr := observation.ParsePeriod(strings.TrimSpace(q.Get("period")))
	if perr == nil {
		perr = per.Check()
	}
	if perr != nil {
		return p, per, httpapi.BadRequest("period", "period: %v", perr)
	}
	return p, per, nil
}

// canonicalDims is the dims parameters as the canonical breakdown of a
// fact ("" for none).
func canonicalDims(q url.Values) string {
	d := observation.Dims{}
	for _, v := range q["dims"] {
		if k, val, ok := strings.Cut(v, "="); ok {
			d[strings.TrimSpace(k)] = val
		}
	}
	return d.Canonical()
}
