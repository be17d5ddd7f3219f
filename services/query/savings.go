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

	"github.com/ounce-data/ounce/pkg/extch"
	"github.com/ounce-data/ounce/pkg/httpapi"
	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/services/query/savings"
)

var savingsParamNames = map[string]bool{"method": true, "pre_from": true, "as_of": true, "format": true}

// reportParamNames are those of the savings report itself (GET and the
// what-if POST): savingsParamNames and the Monte Carlo's simulate and seed.
var reportParamNames = func() map[string]bool {
	m := map[string]bool{"simulate": true, "seed": true}
	for k := range savingsParamNames {
		m[k] = true
	}
	return m
}()

// reportParamList lists reportParamNames in words, for an unknown one.
const reportParamList = "method, pre_from, as_of, format, simulate and seed"

// DefaultSeed is the Monte Carlo's seed when simulate is given without one.
const DefaultSeed = 1

// savingsParams are the parameters of GET /v1/initiatives/{id}/savings,
// which its explain takes too.
type savingsParams struct {
	method string     // "" for the initiative's own
	pre    prePeriod  // the pre-period asked for (zero: the default window)
	asOf   *time.Time // nil for the data as it stands
	format format     // of the answer, where the route offers CSV
	draws  int        // of the Monte Carlo; 0 for none
	seed   uint64     // of the Monte Carlo
}

// parseSavingsParams reads method, pre_from and as_of from q, whose
// parameter names the caller has checked.
func parseSavingsParams(q url.Values) (savingsParams, *httpapi.Error) {
	var p savingsParams
	if v, given := q["as_of"]; given {
		at, perr := parseAsOf(v[0])
		if perr != nil {
			return p, perr
		}
		p.asOf = &at
	}
	var perr *httpapi.Error
	if p.method, perr = methodParam(q); perr != nil {
		return p, perr
	}
	if p.pre, perr = preFromParam(q); perr != nil {
		return p, perr
	}
	if p.draws, p.seed, perr = simulateParams(q); perr != nil {
		return p, perr
	}
	return p, nil
}

// simulateParams reads simulate (the number of draws; given empty, the
// default) and seed (alone, it asks for the default draws); 0 draws when
// neither is given.
func simulateParams(q url.Values) (int, uint64, *httpapi.Error) {
	_, seeded := q["seed"]
	_, given := q["simulate"]
	if !given && !seeded {
		return 0, 0, nil
	}
	draws := savings.DefaultDraws
	if s := strings.TrimSpace(q.Get("simulate")); given && s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > savings.MaxDraws {
			return 0, 0, httpapi.BadRequest("simulate", "simulate %q must be a number of draws from 1 to %d (left empty, %d)", s, savings.MaxDraws, savings.DefaultDraws)
		}
		draws = n
	}
	seed := uint64(DefaultSeed)
	if s := strings.TrimSpace(q.Get("seed")); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, 0, httpapi.BadRequest("seed", "seed %q must be a whole number from 0 to %d", s, uint64(math.MaxUint64))
		}
		seed = n
	}
	return draws, seed, nil
}

// savingsReport answers GET /v1/initiatives/{id}/savings: the savings
// report of one initiative by a method.
func (s *Service) savingsReport(w http.ResponseWriter, r *http.Request) {
	p, ok := savingsRequest(w, r, reportParamNames, reportParamList)
	if !ok {
		return
	}
	_, rep, _, ok := s.initiativeReport(w, r, p, nil)
	if !ok {
		return
	}
	if p.format == formatCSV {
		httpapi.WriteWithETag(w, r, httpapi.ContentTypeCSV, savingsCSV([]savings.Report{rep}))
		return
	}
	s.writeCached(w, r, rep)
}

// savingsRequest reads the parameters of a savings request, which may be
// those of names (listed in words for the error), answering a bad one.
func savingsRequest(w http.ResponseWriter, r *http.Request, names map[string]bool, list string) (savingsParams, bool) {
	q, perr := parseQuery(r.URL.RawQuery)
	if perr == nil {
		perr = checkParamNames(q, names, list)
	}
	var p savingsParams
	if perr == nil {
		p, perr = parseSavingsParams(q)
	}
	if perr == nil {
		p.format, perr = negotiateFormat(r, q)
	}
	if perr != nil {
		httpapi.WriteError(w, perr)
		return p, false
	}
	return p, true
}

// initiativeReport reads the initiative the path names and computes its
// report by p, with the rows it was computed from, answering any error
// itself. check, when set, looks at the initiative as stored before the
// report is computed; an error it returns is the answer.
func (s *Service) initiativeReport(w http.ResponseWriter, r *http.Request, p savingsParams,
	check func(savings.Initiative) *httpapi.Error) (savings.Initiative, savings.Report, reportRows, bool) {
	id, cur, ok := s.currentInitiative(w, r)
	if !ok {
		return savings.Initiative{}, savings.Report{}, reportRows{}, false
	}
	in, ok := s.decodeStored(w, id, cur.Doc)
	if !ok {
		return in, savings.Report{}, reportRows{}, false
	}
	if check != nil {
		if perr := check(in); perr != nil {
			httpapi.WriteError(w, perr)
			return in, savings.Report{}, reportRows{}, false
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	rep, rows, err := s.reportWithRows(ctx, in, p.method, p.pre, p.asOf)
	if err == nil && p.draws > 0 {
		err = rep.Simulate(p.draws, p.seed)
	}
	if err != nil {
		s.reportError(w, r, err)
		return in, rep, rows, false
	}
	return in, rep, rows, true
}

// reportRows are the stored rows a report was computed from, as its series
// use them: of each place, one row a year of the series chosen
// (placeSeries: its breakdown, the preferred source) in year order, with
// any non-finite value the series leaves out: the target's every year
// held (before pre_from cuts the pre-period), the comparison places' from
// pre_from on.
type reportRows struct {
	target     []observationRow
	comparison map[string][]observationRow // by geo, for did and synth
	population []observationRow            // when the document names a population indicator
}

// report computes the savings report of one initiative by method ("" for
// its own), reading the data the method needs.
//
// With asOf, it reads the data as it stood then. The report says its
// as_of: asOf, or else the latest load among the values it read, so that
// the same request with that as_of gives the same report later.
func (s *Service) report(ctx context.Context, in savings.Initiative, method string, pre prePeriod, asOf *time.Time) (savings.Report, error) {
	rep, _, err := s.reportWithRows(ctx, in, method, pre, asOf)
	return rep, err
}

// reportWithRows is report with the rows it read (reportRows).
func (s *Service) reportWithRows(ctx context.Context, in savings.Initiative, method string, pre prePeriod, asOf *time.Time) (savings.Report, reportRows, error) {
	var used reportRows
	if method == "" {
		method = in.Method
	}
	var pool *donorPool // synth's default donors, when the document names none
	var (
		preFrom int    // the first year the counterfactual learns from; 0, every year
		rule    string // where preFrom came from
		preDone bool
	)
	var data savings.Data
	var latest time.Time
	noteLoads := func(rows []observationRow) {
		for _, r := range rows {
			if r.LoadedAt.After(latest) {
				latest = r.LoadedAt
			}
		}
	}
	if method != savings.MethodModelled && in.Indicator != "" && in.Geo != "" {
		ind, ok := s.lookup(ctx).Indicator(in.Indicator)
		if !ok {
			return savings.Report{}, used, &savings.InputError{Code: savings.CodeInvalidInitiative, Field: "indicator",
				Message: fmt.Sprintf("indicator %q is no longer in the catalogue; PUT the initiative with another", in.Indicator)}
		}
		data.Polarity = ind.Polarity
		var others []string // the comparison places, or synth's donor candidates
		switch {
		case method == savings.MethodSynth && len(in.ComparisonGeos) == 0:
			var err error
			if pool, err = newDonorPool(s.cfg.Places, in.Geo); err != nil {
				return savings.Report{}, used, err
			}
			others = pool.candidates
		case readsComparison(method):
			others = in.ComparisonGeos
		}
		// No year after the report's last is read; before the start, every
		// year of the target (the pre-period window depends on them) and,
		// of the other places, those of the window.
		last := in.StartYear + *in.WithDefaults().CBA.Horizon
		rows, err := s.store.methodYearly(ctx, ind.Code, []string{in.Geo}, 0, last, s.cfg.MaxRows, asOf)
		if err != nil {
			return savings.Report{}, used, err
		}
		noteLoads(rows)
		target, targetRows, dims, found, err := placeSeries(ind, in.Geo, rows, targetChoice(in))
		if err != nil {
			return savings.Report{}, used, err
		}
		data.Target, used.target = target, targetRows
		// The other places are read from the first year the counterfactual
		// learns from, which the target's years decide.
		if preFrom, rule, err = pre.first(in, method, data.Target.Values); err != nil {
			return savings.Report{}, used, err
		}
		preDone = true
		if len(others) > 0 {
			rows, err := s.store.methodYearly(ctx, ind.Code, others, preFrom, last, s.cfg.MaxRows, asOf)
			if err != nil {
				return savings.Report{}, used, err
			}
			noteLoads(rows)
			series, chosen, err := comparisonSeries(ind, in, dims, found, others, rows)
			if err != nil {
				return savings.Report{}, used, err
			}
			if pool != nil {
				pool.series, pool.rows = series, chosen
			} else {
				used.comparison = make(map[string][]observationRow, len(others))
				for _, g := range others {
					data.Comparison = append(data.Comparison, series[g])
					used.comparison[g] = chosen[g]
				}
			}
		}
		if in.Population != nil && in.Population.Indicator != "" {
			pop, ok := s.lookup(ctx).Indicator(in.Population.Indicator)
			if !ok {
				return savings.Report{}, used, &savings.InputError{Code: savings.CodeInvalidInitiative, Field: "population.indicator",
					Message: fmt.Sprintf("indicator %q is no longer in the catalogue", in.Population.Indicator)}
			}
			rows, err := s.store.yearly(ctx, pop.Code, []string{in.Geo}, s.cfg.MaxRows, asOf)
			if err != nil {
				return savings.Report{}, used, err
			}
			noteLoads(rows)
			ps, popRows, _, _, err := placeSeries(pop, in.Geo, rows, populationChoice(in))
			if err != nil {
				return savings.Report{}, used, err
			}
			data.Population = ps
			used.population = popRows
		}
	}
	if !preDone {
		var err error
		if preFrom, rule, err = pre.first(in, method, data.Target.Values); err != nil {
			return savings.Report{}, used, err
		}
	}
	if preFrom != 0 {
		data.Target.Values = fromYear(data.Target.Values, preFrom)
		for i := range data.Comparison {
			data.Comparison[i].Values = fromYear(data.Comparison[i].Values, preFrom)
		}
	}
	if pool != nil {
		if err := pool.choose(&in, &data, &used, preFrom); err != nil {
			return savings.Report{}, used, err
		}
	}
	rep, err := savings.Compute(in, method, data)
	if err == nil && rule != "" {
		rep.Inputs.PreFromRule = rule
		if preFrom != 0 {
			rep.Inputs.PreFrom = &preFrom
		}
	}
	if err == nil && pool != nil {
		rep.Inputs.DonorPool = &pool.DonorPool
	}
	if err == nil {
		rep.Warnings = append(rep.Warnings, s.flaggedValues(in, rep, used, preFrom)...)
	}
	switch {
	case err != nil:
	case asOf != nil:
		at := asOf.UTC()
		rep.AsOf = &at
	case !latest.IsZero():
		at := latest.UTC()
		rep.AsOf = &at
	}
	return rep, used, err
}

// flaggedValues warns of every value a report used, in its pre-period
// (from pre_from, before start_year) or its post-period (its years), that
// carries a publisher's flag or a data-quality code, in the order of the
// rows: target, comparison places, population.
func (s *Service) flaggedValues(in savings.Initiative, rep savings.Report, used reportRows, preFrom int) []savings.Warning {
	if len(rep.Years) == 0 {
		return nil
	}
	first, last := rep.Years[0].CalendarYear, rep.Years[len(rep.Years)-1].CalendarYear
	var out []savings.Warning
	note := func(indicator, role string, rows []observationRow) {
		for _, r := range rows {
			if r.Flag == "" && r.Quality == "" {
				continue
			}
			y := calendarYear(r)
			period := "post"
			switch {
			case y < in.StartYear && y >= preFrom:
				period = "pre"
			case y < first || y > last:
				continue
			}
			w := savings.Warning{Code: savings.WarningFlaggedValue, Indicator: indicator, Geo: r.Geo, Year: y, Period: period,
				Source: r.Source, Flag: r.Flag, Quality: extch.SplitQuality(r.Quality)}
			var what []string
			if r.Flag != "" {
				known, unknown := s.flags[r.Source].Meanings(r.Flag)
				for i := 0; i < len(r.Flag); i++ {
					if m, ok := known[r.Flag[i:i+1]]; ok {
						what = append(what, m)
					}
				}
				if len(unknown) > 0 {
					what = append(what, "flagged "+strings.Join(unknown, ""))
				}
			}
			for _, q := range w.Quality {
				what = append(what, "flagged "+q+" by the data-quality rules")
			}
			use := "in the post-period, where it is the observed value"
			switch {
			case role == "population":
				use = "in the " + period + "-period, where it turns the rate into cases"
			case period == "pre":
				use = "in the pre-period, which the counterfactual is fitted to"
			}
			w.Message = fmt.Sprintf("the %s value of %s in %d (%s, %s) is %s; it lies %s", role, r.Geo, y, indicator, r.Source,
				strings.Join(what, ", "), use)
			out = append(out, w)
		}
	}
	note(in.Indicator, "target", used.target)
	for _, g := range in.ComparisonGeos {
		note(in.Indicator, "comparison", used.comparison[g])
	}
	if in.Population != nil {
		note(in.Population.Indicator, "population", used.population)
	}
	return out
}

// yearly reads the yearly series of ind in geo that c chooses (see
// placeSeries).
func (s *Service) yearly(ctx context.Context, ind *indicators.Indicator, geo string, c seriesChoice) (savings.Series, error) {
	rows, err := s.store.yearly(ctx, ind.Code, []string{geo}, s.cfg.MaxRows, nil)
	if err != nil {
		return savings.Series{}, err
	}
	series, _, _, _, err := placeSeries(ind, geo, rows, c)
	return series, err
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

// readsComparison reports whether method reads the comparison places'
// series: did's comparison places, synth's donors.
func readsComparison(method string) bool {
	return method == savings.MethodDiD || method == savings.MethodSynth
}

// methodParam reads the optional method parameter.
func methodParam(q url.Values) (string, *httpapi.Error) {
	m := strings.TrimSpace(q.Get("method"))
	switch m {
	case "", savings.MethodModelled, savings.MethodITS, savings.MethodDiD, savings.MethodSynth:
		return m, nil
	}
	return "", httpapi.BadRequest("method", "method %q is not known; use %s (or leave it out for the initiative's own)",
		m, strings.Join(savings.Methods, ", "))
}

// prePeriod is the pre-period a request asks for: from a year (pre_from=YYYY),
// every year held (pre_from=all), or, as its zero value, the default window.
type prePeriod struct {
	from int
	all  bool
}

// The default pre-period window: the LongFitFactor × post-period years before
// the start year (the post-period being the horizon's years, start year
// included), at least DefaultPreMin and at most DefaultPreMax, reaching
// further back when it holds fewer than savings.MinPreYears values of the
// target. A line through every year since 1750 says little about the next ten.
const (
	DefaultPreMin = 10
	DefaultPreMax = 30
)

// Values of Inputs.PreFromRule: where the report's pre_from came from.
const (
	PreFromRequest = "request" // pre_from=YYYY
	PreFromAll     = "all"     // pre_from=all: every year held
	PreFromDefault = "default" // the default window (DefaultPreMin..DefaultPreMax)
)

// first is the first pre-period year of a report of in by method on the
// target's values (0 for every year), with where it came from; an error for
// a pre_from not before the start year. Modelled reports read no series.
func (p prePeriod) first(in savings.Initiative, method string, target map[int]float64) (int, string, error) {
	if method == "" {
		method = savings.DefaultMethod
	}
	switch {
	case method == savings.MethodModelled:
		return 0, "", nil
	case p.all:
		return 0, PreFromAll, nil
	case p.from != 0:
		if p.from >= in.StartYear {
			return 0, "", &savings.InputError{Code: savings.CodeInvalidInitiative, Field: "pre_from",
				Message: fmt.Sprintf("pre_from %d must be before the initiative's start_year %d", p.from, in.StartYear)}
		}
		return p.from, PreFromRequest, nil
	}
	post := savings.DefaultHorizon + 1
	if h := in.WithDefaults().CBA.Horizon; h != nil {
		post = *h + 1
	}
	window := min(max(savings.LongFitFactor*post, DefaultPreMin), DefaultPreMax)
	from := in.StartYear - window
	var pre []int // target years before the start, latest first
	for y := range target {
		if y < in.StartYear {
			pre = append(pre, y)
		}
	}
	sort.Sort(sort.Reverse(sort.IntSlice(pre)))
	if len(pre) >= savings.MinPreYears && pre[savings.MinPreYears-1] < from {
		from = pre[savings.MinPreYears-1]
	} else if len(pre) < savings.MinPreYears && len(pre) > 0 && pre[len(pre)-1] < from {
		from = pre[len(pre)-1]
	}
	return from, PreFromDefault, nil
}

// preFromParam reads the optional pre_from: the first year of the pre-period
// the counterfactual learns from, or "all" for every year held.
func preFromParam(q url.Values) (prePeriod, *httpapi.Error) {
	v := strings.TrimSpace(q.Get("pre_from"))
	switch v {
	case "":
		return prePeriod{}, nil
	case "all":
		return prePeriod{all: true}, nil
	}
	y, err := strconv.Atoi(v)
	if err != nil || y < savings.MinYear || y > savings.MaxYear {
		return prePeriod{}, httpapi.BadRequest("pre_from", "pre_from %q must be a year between %d and %d (e.g. pre_from=2000), or all for every year held; left out, the pre-period is the default window", v, savings.MinYear, savings.MaxYear)
	}
	return prePeriod{from: y}, nil
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

// savingsError maps an error of the savings package to the API's answer.
func savingsError(err error) *httpapi.Error {
	var ie *savings.InputError
	if !errors.As(err, &ie) {
		return httpapi.Errorf(httpapi.CodeInternal, "", "the initiative could not be processed; the log has details")
	}
	switch ie.Code {
	case savings.CodeUnknownMethod:
		return httpapi.BadRequest("method", "%s", ie.Message)
	case savings.CodeInsufficientData:
		return httpapi.Errorf(httpapi.CodeInsufficientData, ie.Field, "%s", ie.Message)
	case savings.CodeImplausibleValue:
		return httpapi.Errorf(httpapi.CodeImplausibleValue, ie.Field, "%s", ie.Message)
	}
	e := httpapi.Errorf(httpapi.CodeInvalidInitiative, ie.Field, "%s", ie.Message)
	e.Suggestions = ie.Suggestions
	e.Errors = apiProblems(ie.Problems)
	return e
}

// apiProblems are an InputError's problems as the error envelope lists them.
func apiProblems(ps []savings.Problem) []httpapi.Problem {
	if len(ps) == 0 {
		return nil
	}
	out := make([]httpapi.Problem, len(ps))
	for i, p := range ps {
		out[i] = httpapi.Problem{Field: p.Field, Message: p.Message}
	}
	return out
}
