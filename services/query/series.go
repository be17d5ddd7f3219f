package query

import (
	"cmp"
	"context"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ounce-data/ounce/pkg/extch"
	"github.com/ounce-data/ounce/pkg/httpapi"
	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/observation"
)

// SeriesResponse is the body of GET /v1/series.
type SeriesResponse struct {
	Indicator IndicatorRef `json:"indicator"`
	Series    []Series     `json:"series"`
	Count     int          `json:"count"` // points over all series
	// Flags says what each flag letter of the points means, per source.
	Flags []FlagMeaning `json:"flags,omitempty"`
}

// FlagMeaning is what one letter of a source's flags stands for, from the
// source's code list (schemas/flags); Meaning is empty for a letter the
// list lacks.
type FlagMeaning struct {
	Source  string `json:"source"`
	Flag    string `json:"flag"`
	Meaning string `json:"meaning"`
}

// flagLegend lists the meaning of every flag letter the points carry,
// by source then letter.
func (s *Service) flagLegend(resp SeriesResponse) []FlagMeaning {
	seen := map[[2]string]bool{}
	var out []FlagMeaning
	for _, se := range resp.Series {
		for _, pt := range se.Points {
			for i := 0; i < len(pt.Flag); i++ {
				k := [2]string{pt.Source, pt.Flag[i : i+1]}
				if seen[k] {
					continue
				}
				seen[k] = true
				out = append(out, FlagMeaning{Source: k[0], Flag: k[1], Meaning: s.flags[k[0]].Flags[k[1]]})
			}
		}
	}
	slices.SortFunc(out, func(a, b FlagMeaning) int {
		return cmp.Or(strings.Compare(a.Source, b.Source), strings.Compare(a.Flag, b.Flag))
	})
	return out
}

// Series is the points of one place and breakdown, in period order.
type Series struct {
	Geo    string           `json:"geo"`
	Dims   observation.Dims `json:"dims"`
	Points []Point          `json:"points"`
}

// Point is one value and where it came from.
type Point struct {
	Period     string     `json:"period"` // period code: 2018, 2018-Q1, 2018-03, 2018-03-05, 2019-08-25T12:30Z
	Start      string     `json:"start"`  // first day (or instant, for half hours) of the period
	Value      *float64   `json:"value"`
	Unit       string     `json:"unit"`
	Source     string     `json:"source"`
	Version    uint64     `json:"version"`
	Provenance Provenance `json:"provenance"`
	// Flag is the publisher's status letters (flags in the response says
	// what each means); Quality what the data-quality rules found.
	Flag    string   `json:"flag,omitempty"`
	Quality []string `json:"quality,omitempty"`
}

// Provenance says where a value came from.
type Provenance struct {
	URL         string    `json:"url"`
	Licence     string    `json:"licence"`
	RetrievedAt time.Time `json:"retrieved_at"`
}

// series answers GET /v1/series: the points of one indicator, grouped in
// series by place and breakdown.
func (s *Service) series(w http.ResponseWriter, r *http.Request) {
	q, perr := parseQuery(r.URL.RawQuery)
	if perr != nil {
		httpapi.WriteError(w, perr)
		return
	}
	p, perr := parseSeriesParams(q, s.lookup(r.Context()), s.cfg.Places, s.cfg.MaxGeos)
	if perr != nil {
		httpapi.WriteError(w, perr)
		return
	}
	if !s.knownPlaces(w, r, p) {
		return
	}
	limit, perr := rowLimit(q, s.cfg)
	if perr != nil {
		httpapi.WriteError(w, perr)
		return
	}
	form, perr := negotiateFormat(r, q)
	if perr != nil {
		httpapi.WriteError(w, perr)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	rows, err := s.store.series(ctx, p, limit+1)
	if err != nil {
		httpapi.WriteError(w, s.storeError(r, err))
		return
	}
	if len(rows) > limit {
		httpapi.WriteError(w, tooManyRows("the request matches", limit, s.cfg))
		return
	}
	if !p.AllSources {
		ind := *p.Indicator
		rows = preferSources(rows, func(string) indicators.Indicator { return ind })
	}
	resp := buildSeries(p, rows)
	resp.Flags = s.flagLegend(resp)
	if form == formatCSV {
		httpapi.WriteWithETag(w, r, httpapi.ContentTypeCSV, seriesCSV(resp))
		return
	}
	s.writeCached(w, r, resp)
}

// seriesCSV is a series response as one CSV row per point, provenance
// included, for spreadsheets.
func seriesCSV(resp SeriesResponse) []byte {
	t := newCSVTable("indicator", "geo", "dims", "period", "start", "value", "unit", "source", "version",
		"source_url", "licence", "retrieved_at", "flag", "quality")
	for _, se := range resp.Series {
		dims := se.Dims.Canonical()
		for _, pt := range se.Points {
			t.row(resp.Indicator.Code, se.Geo, dims, pt.Period, pt.Start, formatFloat(pt.Value), pt.Unit, pt.Source,
				strconv.FormatUint(pt.Version, 10), pt.Provenance.URL, pt.Provenance.Licence,
				pt.Provenance.RetrievedAt.Format(time.RFC3339), pt.Flag, extch.JoinQuality(pt.Quality))
		}
	}
	return t.bytes()
}

// buildSeries groups rows, ordered by geo, dims and period, into series.
func buildSeries(p seriesParams, rows []observationRow) SeriesResponse {
	resp := SeriesResponse{
		Indicator: indicatorRef(p.Indicator),
		Series:    []Series{},
		Count:     len(rows),
	}
	var cur *Series
	var curDims string
	for i := range rows {
		row := &rows[i]
		if cur == nil || row.Geo != cur.Geo || row.Dims != curDims {
			dims, err := observation.ParseDims(row.Dims)
			if err != nil || dims == nil {
				// Stored dims were canonical when written; show the raw form
				// rather than drop the series if that ever changes.
				dims = observation.Dims{}
				if err != nil {
					dims["_raw"] = row.Dims
				}
			}
			resp.Series = append(resp.Series, Series{Geo: row.Geo, Dims: dims})
			cur = &resp.Series[len(resp.Series)-1]
			curDims = row.Dims
		}
		per := periodOf(row.Grain, row.PeriodStart)
		pt := Point{
			Period:  per.Code(),
			Start:   startOf(per),
			Unit:    row.Unit,
			Source:  row.Source,
			Version: row.Version,
			Provenance: Provenance{
				URL:         row.URL,
				Licence:     row.Licence,
				RetrievedAt: row.RetrievedAt.UTC(),
			},
			Flag:    row.Flag,
			Quality: extch.SplitQuality(row.Quality),
		}
		if !math.IsNaN(row.Value) && !math.IsInf(row.Value, 0) {
			v := row.Value
			pt.Value = &v
		}
		cur.Points = append(cur.Points, pt)
	}
	return resp
}

// startOf is the start of p as a point's start shows it: the instant of a
// half hour, the first day of any longer period.
func startOf(p observation.Period) string {
	if p.Grain == observation.GrainHalfHour {
		return p.Start.Format(time.RFC3339)
	}
	return p.Start.Format(time.DateOnly)
}
