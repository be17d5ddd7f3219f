package query

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	chdriver "github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/ounce-data/ounce/pkg/catalogue"
	"github.com/ounce-data/ounce/pkg/extch"
	"github.com/ounce-data/ounce/pkg/httpapi"
	"github.com/ounce-data/ounce/services/query/savings"
)

var (
	savingsParamNames = map[string]bool{"method": true, "pre_from": true}
	compareParamNames = map[string]bool{"initiatives": true, "cost_indicator": true, "geo": true, "method": true, "pre_from": true}
)

// MaxCompared is the most initiatives one compare request may name.
const MaxCompared = 20

// yearlyRow is one stored yearly value read for a report.
type yearlyRow struct {
	Geo, Dims, Source, URL, Licence string
	PeriodStart                     int64
	Value                           float64
	RetrievedAt                     time.Time
}

const yearlySQL = `SELECT geo, dims, period_start, value, source, source_url, licence, retrieved_at
FROM observations FINAL
WHERE indicator = ? AND geo IN ? AND grain = 'year'
ORDER BY geo, dims, period_start, source
LIMIT ?`

// readYearly reads the yearly series of indicator in each of geos. A place
// with several breakdowns uses its total (no dims); one without a total
// but with exactly one breakdown uses that; any other mix is a client
// error, since the method needs one series per place.
func readYearly(ctx context.Context, conn chdriver.Conn, ind *catalogue.Indicator, geos []string, limit int) (map[string]savings.Series, error) {
	indicator, unit := ind.Code, ind.Unit
	rows, err := conn.Query(ctx, yearlySQL, indicator, extch.InList(geos), limit)
	if err != nil {
		return nil, fmt.Errorf("query yearly %s: %w", indicator, err)
	}
	byGeoDims := map[string]map[string][]yearlyRow{}
	for rows.Next() {
		var r yearlyRow
		if err := rows.Scan(&r.Geo, &r.Dims, &r.PeriodStart, &r.Value, &r.Source, &r.URL, &r.Licence, &r.RetrievedAt); err != nil {
			return nil, errors.Join(fmt.Errorf("scan yearly %s: %w", indicator, err), rows.Close())
		}
		if byGeoDims[r.Geo] == nil {
			byGeoDims[r.Geo] = map[string][]yearlyRow{}
		}
		byGeoDims[r.Geo][r.Dims] = append(byGeoDims[r.Geo][r.Dims], r)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("read yearly %s: %w", indicator, err)
	}
	out := map[string]savings.Series{}
	for _, geo := range geos {
		series := savings.Series{Indicator: indicator, Geo: geo, Unit: unit, Plausible: ind.Plausible(), Values: map[int]float64{}}
		dims := byGeoDims[geo]
		var chosen []yearlyRow
		switch {
		case len(dims) == 0:
		case dims[""] != nil:
			chosen = dims[""]
		case len(dims) == 1:
			for _, rs := range dims {
				chosen = rs
			}
		default:
			names := make([]string, 0, len(dims))
			for d := range dims {
				names = append(names, d)
			}
			sort.Strings(names)
			return nil, &savings.InputError{Code: savings.CodeInsufficientData, Field: "indicator",
				Message: fmt.Sprintf("%s in %s is stored only by breakdown (%s) with no total; a savings report needs one series per place",
					indicator, geo, strings.Join(names, ", "))}
		}
		sources := map[[3]string]time.Time{}
		for _, r := range chosen {
			if math.IsNaN(r.Value) || math.IsInf(r.Value, 0) {
				continue
			}
			series.Values[time.Unix(r.PeriodStart, 0).UTC().Year()] = r.Value
			k := [3]string{r.Source, r.URL, r.Licence}
			if r.RetrievedAt.After(sources[k]) {
				sources[k] = r.RetrievedAt
			}
		}
		for k, at := range sources {
			series.Sources = append(series.Sources, savings.Source{Source: k[0], URL: k[1], Licence: k[2], RetrievedAt: at.UTC()})
		}
		sort.Slice(series.Sources, func(i, j int) bool { return series.Sources[i].Source < series.Sources[j].Source })
		out[geo] = series
	}
	return out, nil
}

// report computes the savings report of one initiative by method ("" for
// its own), reading the data the method needs.
func (s *Service) report(ctx context.Context, in savings.Initiative, method string, preFrom int) (savings.Report, error) {
	if method == "" {
		method = in.Method
	}
	var data savings.Data
	if method != savings.MethodModelled && in.Indicator != "" && in.Geo != "" {
		ind, ok := s.cat.Indicator(in.Indicator)
		if !ok {
			return savings.Report{}, &savings.InputError{Code: savings.CodeInvalidInitiative, Field: "indicator",
				Message: fmt.Sprintf("indicator %q is no longer in the catalogue; PUT the initiative with another", in.Indicator)}
		}
		data.Polarity = ind.Polarity
		geos := []string{in.Geo}
		if method == savings.MethodDiD {
			geos = append(geos, in.ComparisonGeos...)
		}
		start := time.Now()
		series, err := readYearly(ctx, s.conn, ind, geos, s.cfg.MaxRows)
		s.chDuration.WithLabelValues("savings").Observe(time.Since(start).Seconds())
		if err != nil {
			return savings.Report{}, err
		}
		data.Target = series[in.Geo]
		if method == savings.MethodDiD {
			for _, g := range in.ComparisonGeos {
				data.Comparison = append(data.Comparison, series[g])
			}
		}
		if in.Population != nil && in.Population.Indicator != "" {
			pop, ok := s.cat.Indicator(in.Population.Indicator)
			if !ok {
				return savings.Report{}, &savings.InputError{Code: savings.CodeInvalidInitiative, Field: "population.indicator",
					Message: fmt.Sprintf("indicator %q is no longer in the catalogue", in.Population.Indicator)}
			}
			ps, err := readYearly(ctx, s.conn, pop, []string{in.Geo}, s.cfg.MaxRows)
			if err != nil {
				return savings.Report{}, err
			}
			data.Population = ps[in.Geo]
		}
	}
	if preFrom != 0 {
		if preFrom >= in.StartYear {
			return savings.Report{}, &savings.InputError{Code: savings.CodeInvalidInitiative, Field: "pre_from",
				Message: fmt.Sprintf("pre_from %d must be before the initiative's start_year %d", preFrom, in.StartYear)}
		}
		data.Target.Values = fromYear(data.Target.Values, preFrom)
		for i := range data.Comparison {
			data.Comparison[i].Values = fromYear(data.Comparison[i].Values, preFrom)
		}
	}
	rep, err := savings.Compute(in, method, data)
	if err == nil && preFrom != 0 {
		rep.Inputs.PreFrom = &preFrom
	}
	return rep, err
}

// fromYear is values without the years before first.
func fromYear(values map[int]float64, first int) map[int]float64 {
	out := make(map[int]float64, len(values))
	for y, v := range values {
		if y >= first {
			out[y] = v
		}
	}
	return out
}

// preFromParam reads the optional pre_from year: the first year of the
// pre-period the counterfactual learns from.
func preFromParam(q url.Values) (int, *httpapi.Error) {
	v := strings.TrimSpace(q.Get("pre_from"))
	if v == "" {
		return 0, nil
	}
	y, err := strconv.Atoi(v)
	if err != nil || y < savings.MinYear || y > savings.MaxYear {
		return 0, httpapi.BadRequest("pre_from", "pre_from %q must be a year between %d and %d, e.g. pre_from=2000", v, savings.MinYear, savings.MaxYear)
	}
	return y, nil
}

// reportError answers an error of report or compare: a client's mistake as
// its 4xx, a store failure as 503/500.
func (s *Service) reportError(w http.ResponseWriter, r *http.Request, err error) {
	var ie *savings.InputError
	if errors.As(err, &ie) {
		httpapi.WriteError(w, savingsError(err))
		return
	}
	httpapi.WriteError(w, s.storeError(r, err))
}

// methodParam reads the optional method parameter.
func methodParam(q url.Values) (string, *httpapi.Error) {
	m := strings.TrimSpace(q.Get("method"))
	switch m {
	case "", savings.MethodModelled, savings.MethodITS, savings.MethodDiD:
		return m, nil
	}
	return "", httpapi.BadRequest("method", "method %q is not known; use %s (or leave it out for the initiative's own)",
		m, strings.Join(savings.Methods, ", "))
}

func (s *Service) savingsReport(w http.ResponseWriter, r *http.Request) {
	q, perr := parseQuery(r.URL.RawQuery)
	if perr == nil {
		perr = checkParamNames(q, savingsParamNames, "method and pre_from")
	}
	var (
		method  string
		preFrom int
	)
	if perr == nil {
		method, perr = methodParam(q)
	}
	if perr == nil {
		preFrom, perr = preFromParam(q)
	}
	if perr != nil {
		httpapi.WriteError(w, perr)
		return
	}
	id, cur, ok := s.currentInitiative(w, r)
	if !ok {
		return
	}
	in, ok := s.decodeStored(w, id, cur.Doc)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	rep, err := s.report(ctx, in, method, preFrom)
	if err != nil {
		s.reportError(w, r, err)
		return
	}
	s.writeCached(w, r, rep)
}

// CompareResponse is the body of GET /v1/compare: each initiative's yearly
// savings beside the trend of one cost indicator.
type CompareResponse struct {
	CostIndicator IndicatorRef         `json:"cost_indicator"`
	Comparisons   []savings.Comparison `json:"comparisons"`
	Count         int                  `json:"count"`
}

func (s *Service) compare(w http.ResponseWriter, r *http.Request) {
	q, perr := parseQuery(r.URL.RawQuery)
	if perr == nil {
		perr = checkParamNames(q, compareParamNames, "initiatives, cost_indicator, geo, method and pre_from")
	}
	var (
		method  string
		preFrom int
	)
	if perr == nil {
		method, perr = methodParam(q)
	}
	if perr == nil {
		preFrom, perr = preFromParam(q)
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
	ind, ok := s.cat.Indicator(code)
	if !ok {
		httpapi.WriteError(w, httpapi.Errorf(httpapi.CodeUnknownIndicator, "cost_indicator",
			"indicator %q is not in the catalogue; GET /v1/indicators lists the codes", code))
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

	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	stored, _, err := s.timedInitiatives(ctx, "")
	if err != nil {
		httpapi.WriteError(w, s.storeError(r, err))
		return
	}
	resp := CompareResponse{
		CostIndicator: IndicatorRef{Code: ind.Code, Name: ind.Name, Unit: ind.Unit, Polarity: ind.Polarity},
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
		rep, err := s.report(ctx, in, method, preFrom)
		if err != nil {
			s.reportError(w, r, err)
			return
		}
		place := geo
		if place == "" {
			place = in.Geo
		}
		if place == "" {
			httpapi.WriteError(w, httpapi.BadRequest("geo", "initiative %s names no place; give geo= for the cost indicator", id))
			return
		}
		costs, err := readYearly(ctx, s.conn, ind, []string{place}, s.cfg.MaxRows)
		if err != nil {
			s.reportError(w, r, err)
			return
		}
		c, err := savings.Compare(rep, costs[place])
		if err != nil {
			s.reportError(w, r, err)
			return
		}
		resp.Comparisons = append(resp.Comparisons, c)
	}
	resp.Count = len(resp.Comparisons)
	s.writeCached(w, r, resp)
}
