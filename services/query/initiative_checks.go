package query

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ounce-data/ounce/pkg/feedcat"
	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/services/query/savings"
)

// checkInitiative checks a document written to /v1/initiatives against
// docs/savings.md and against what is stored, and returns every problem
// in one *savings.InputError (invalid_initiative): its form and values
// (Validate), indicators and places the catalogues lack, and the series
// it would read: a place or a comparison place that holds none of the
// indicator, a breakdown or a source that does not exist there, several
// breakdowns and none named. Another error is the store's, asked about
// the data; when the document has problems besides, they are the answer,
// for the client to fix first. pre are problems the caller found before.
//
// The series are checked when the document's method reads data (every
// method but modelled) or it names a breakdown or a source. An indicator
// nothing of which is stored yet (its feed has not run) leaves nothing to
// check them against: the document is taken as it is, and its report
// will say what is missing.
func (s *Service) checkInitiative(ctx context.Context, in savings.Initiative, pre ...savings.Problem) error {
	c := &docCheck{s: s, ctx: ctx, in: in, ps: pre}
	if err := in.Validate(); err != nil {
		var ie *savings.InputError
		if !errors.As(err, &ie) {
			return err
		}
		c.ps = append(c.ps, ie.Problems...)
	}
	storeErr := c.catalogues()
	if storeErr == nil {
		storeErr = c.series()
	}
	if len(c.ps) > 0 {
		slices.SortStableFunc(c.ps, func(a, b savings.Problem) int { return fieldRank(a.Field) - fieldRank(b.Field) })
		e := savings.Problems(savings.CodeInvalidInitiative, c.ps)
		e.Suggestions = c.suggestions
		return e
	}
	return storeErr
}

// docCheck collects the problems of one document.
type docCheck struct {
	s   *Service
	ctx context.Context
	in  savings.Initiative

	ps          []savings.Problem
	suggestions []string

	ind, pop *indicators.Indicator // the catalogue's, when known
	geoOK    bool                  // the place is well-formed and known
	compOK   []bool                // likewise each comparison place
}

func (c *docCheck) add(field, format string, args ...any) {
	c.ps = append(c.ps, savings.Problem{Field: field, Message: fmt.Sprintf(format, args...)})
}

// has reports whether a problem was found with field or inside it
// (field.key, field[i]).
func (c *docCheck) has(field string) bool {
	return slices.ContainsFunc(c.ps, func(p savings.Problem) bool {
		rest, ok := strings.CutPrefix(p.Field, field)
		return ok && (rest == "" || rest[0] == '.' || rest[0] == '[')
	})
}

// catalogues looks the indicators and places up: the indicator and the
// population indicator in the indicator catalogue, the place and every
// comparison place in the place catalogue or, for a partner's own area,
// among the places holding data.
func (c *docCheck) catalogues() error {
	in := c.in
	lookup := func(field, code string) *indicators.Indicator {
		if code == "" || c.has(field) {
			return nil
		}
		ind, ok := c.s.lookup(c.ctx).Indicator(code)
		if !ok {
			c.add(field, "indicator %q is not in the catalogue; GET /v1/indicators lists the codes", code)
			return nil
		}
		return ind
	}
	c.ind = lookup("indicator", in.Indicator)
	var err error
	if c.geoOK, err = c.place("geo", in.Geo); err != nil {
		return err
	}
	c.compOK = make([]bool, len(in.ComparisonGeos))
	for i, g := range in.ComparisonGeos {
		if c.compOK[i], err = c.place(fmt.Sprintf("comparison_geos[%d]", i), g); err != nil {
			return err
		}
	}
	if in.Population != nil {
		c.pop = lookup("population.indicator", in.Population.Indicator)
	}
	return nil
}

// place reports whether code, at field, is a well-formed place the
// catalogue holds or data is stored at; an unknown one is a problem with
// the codes it may mean.
func (c *docCheck) place(field, code string) (bool, error) {
	if code == "" || c.has(field) {
		return false, nil
	}
	if _, ok := c.s.cfg.Places.Place(code); ok {
		return true, nil
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.s.cfg.QueryTimeout)
	has, err := c.s.store.placeHasData(ctx, code)
	cancel()
	if err != nil || has {
		return has, err
	}
	hint, codes := c.s.cfg.Places.DidYouMean(code)
	if hint == "" {
		hint = ";"
	}
	c.add(field, "place %q is not in the place catalogue%s GET /v1/places lists them", code, hint)
	c.suggestions = append(c.suggestions, codes...)
	return false, nil
}

// series checks the series the document reads, when it reads any.
func (c *docCheck) series() error {
	method := c.in.Method
	if method == "" {
		method = savings.DefaultMethod
	}
	if !savings.ReadsData(method) && !c.in.NamesSeries() {
		return nil
	}
	if err := c.targetSeries(); err != nil {
		return err
	}
	if method == savings.MethodSynth && len(c.in.ComparisonGeos) == 0 && c.geoOK && !c.has("comparison_geos") {
		if _, err := newDonorPool(c.s.cfg.Places, c.in.Geo); err != nil {
			var ie *savings.InputError
			if errors.As(err, &ie) {
				c.ps = append(c.ps, ie.Problems...)
			}
		}
	}
	return c.populationSeries()
}

// coverage reads what is stored of ind in geos by place, or nil when
// nothing of it is stored anywhere.
func (c *docCheck) coverage(ind *indicators.Indicator, geos []string) (map[string][]seriesCoverage, error) {
	ctx, cancel := context.WithTimeout(c.ctx, c.s.cfg.QueryTimeout)
	defer cancel()
	cov, err := c.s.store.seriesCoverage(ctx, ind.Code, geos, c.s.cfg.MaxRows)
	if err != nil {
		return nil, err
	}
	if len(cov) == 0 {
		if has, err := c.s.store.indicatorHasData(ctx, ind.Code); err != nil || !has {
			return nil, err
		}
	}
	out := map[string][]seriesCoverage{}
	for _, v := range cov {
		out[v.geo] = append(out[v.geo], v)
	}
	return out, nil
}

// targetSeries checks the target's series in its place and the
// comparison places' in the breakdown the target is read in.
func (c *docCheck) targetSeries() error {
	in := c.in
	if c.ind == nil {
		return nil
	}
	var geos []string
	if c.geoOK {
		geos = append(geos, in.Geo)
	}
	for i, g := range in.ComparisonGeos {
		if c.compOK[i] {
			geos = append(geos, g)
		}
	}
	if len(geos) == 0 {
		return nil
	}
	byGeo, err := c.coverage(c.ind, geos)
	if err != nil || byGeo == nil {
		return err
	}
	chosen, found := "", false
	if c.geoOK {
		chosen, found = c.resolve(c.ind.Code, in.Geo, byGeo[in.Geo], "geo", targetChoice(in))
	}

	cc := comparisonChoice(in, chosen, found)
	if c.has("comparison_dims") || (len(in.ComparisonDims) == 0 && !found) {
		cc.named = false // the breakdown is unknown: only whether a place holds the indicator is checked
	}
	if c.has(cc.sourceField) || (in.ComparisonSource == "" && c.has("source")) {
		cc.source = ""
	}
	for i, g := range in.ComparisonGeos {
		if !c.compOK[i] {
			continue
		}
		field := fmt.Sprintf("comparison_geos[%d]", i)
		held := byGeo[g]
		if len(held) == 0 {
			c.add(field, "%s holds no yearly value of %s; a comparison place must hold the target's series: leave it out, or compare with places that do (GET /v1/series?indicator=%s)",
				g, c.ind.Code, c.ind.Code)
			continue
		}
		kept := held
		if cc.source != "" {
			kept = slices.DeleteFunc(slices.Clone(held), func(v seriesCoverage) bool { return v.source != cc.source })
			if len(kept) == 0 {
				c.add(field, "%s holds %s only from %s, not from %s: name the comparison places' source in comparison_source, or leave the place out",
					g, c.ind.Code, listSources(held), cc.source)
				continue
			}
		}
		if cc.named && !slices.ContainsFunc(kept, func(v seriesCoverage) bool { return v.dims == cc.dims }) {
			from := ""
			if cc.source != "" {
				from = " from " + cc.source
			}
			c.add(field, "%s holds no %s in the breakdown %s%s the comparison places are read in; it holds %s. Name the comparison places' breakdown in comparison_dims, or leave the place out",
				g, c.ind.Code, dimsJSON(cc.dims), from, listBreakdowns(breakdownsOf(kept)))
		}
	}
	return nil
}

// populationSeries checks the population indicator's series in the
// initiative's place.
func (c *docCheck) populationSeries() error {
	if c.pop == nil || !c.geoOK {
		return nil
	}
	byGeo, err := c.coverage(c.pop, []string{c.in.Geo})
	if err != nil || byGeo == nil {
		return err
	}
	c.resolve(c.pop.Code, c.in.Geo, byGeo[c.in.Geo], "population.indicator", populationChoice(c.in))
	return nil
}

// resolve checks that ch chooses one series of indicator in geo, whose
// coverage is held, and returns its breakdown (found false when it does
// not, each reason a problem). placeField names the place's series in a
// problem when geo holds none.
func (c *docCheck) resolve(indicator, geo string, held []seriesCoverage, placeField string, ch seriesChoice) (string, bool) {
	if len(held) == 0 {
		c.add(placeField, "%s holds no yearly value of %s; GET /v1/series?indicator=%s shows where it is stored", geo, indicator, indicator)
		return "", false
	}
	if ch.source != "" && !c.has(ch.sourceField) {
		kept := slices.DeleteFunc(slices.Clone(held), func(v seriesCoverage) bool { return v.source != ch.source })
		if len(kept) == 0 {
			c.add(ch.sourceField, "%s", noSuchSource(indicator, geo, ch.source, ch.sourceField, c.knownSource(ch.source), held))
		} else {
			held = kept
		}
	}
	bs := breakdownsOf(held)
	if ch.named && c.has(ch.dimsField) {
		return "", false // malformed; Validate said so
	}
	if dims, ok := ch.pick(bs); ok {
		return dims, true
	}
	if !ch.named {
		c.add(ch.dimsField, "%s", ch.noSuchBreakdown(indicator, geo, bs))
		return "", false
	}
	// Name what is wrong key by key: a key no breakdown has, a value no
	// breakdown has for its key; else the combination is not stored.
	values := map[string][]string{}
	for _, b := range bs {
		d, _ := observation.ParseDims(b.dims)
		for k, v := range d {
			if !slices.Contains(values[k], v) {
				values[k] = append(values[k], v)
			}
		}
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	named, _ := observation.ParseDims(ch.dims)
	wrong := false
	for _, k := range sortedKeys(named) {
		field := ch.dimsField + "." + k
		switch vs := values[k]; {
		case len(keys) == 0:
			c.add(field, "%s in %s is stored as a total only, without a breakdown by %s or any other: leave %s out", indicator, geo, k, ch.dimsField)
		case vs == nil:
			c.add(field, "%s in %s has no breakdown by %s; its breakdowns are by %s", indicator, geo, k, strings.Join(keys, ", "))
		case !slices.Contains(vs, named[k]):
			slices.Sort(vs)
			c.add(field, "%q is not a value of %s stored for %s in %s; the values stored are %s", named[k], k, indicator, geo, strings.Join(vs, ", "))
		default:
			continue
		}
		wrong = true
	}
	if !wrong {
		c.add(ch.dimsField, "%s", ch.noSuchBreakdown(indicator, geo, bs))
	}
	return "", false
}

// knownSource reports whether id is a feed of the catalogue or a partner.
func (c *docCheck) knownSource(id string) bool {
	if strings.HasPrefix(id, "partner:") {
		return true
	}
	return slices.ContainsFunc(c.s.cfg.Feeds, func(f feedcat.Feed) bool { return f.ID == id })
}

// sortedKeys are the keys of d, sorted.
func sortedKeys(d observation.Dims) []string {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// documentOrder is the order of an initiative's fields, which its
// problems are listed in.
var documentOrder = []string{"", "id", "name", "domain", "indicator", "geo", "dims", "source", "start_year", "end_year", "method",
	"comparison_geos", "comparison_dims", "comparison_source", "population", "scale", "unit_costs", "costs", "cohort", "cba"}

// fieldRank is the place in documentOrder of the field a path starts
// with; an unknown one comes last.
func fieldRank(path string) int {
	top, _, _ := strings.Cut(path, ".")
	top, _, _ = strings.Cut(top, "[")
	if i := slices.Index(documentOrder, top); i >= 0 {
		return i
	}
	return len(documentOrder)
}
