package query

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/ounce-data/ounce/pkg/places"
	"github.com/ounce-data/ounce/services/query/savings"
)

// donorPool is the default donor pool of method synth, for a document that
// names no comparison place (docs/savings.md, "The default donor pool"):
// every other catalogue place of the target's level and kind that holds
// the target's series, in the breakdown the comparison places are read
// in, in every pre-period year in which the target has a value; when more
// than savings.MaxComparisonGeo qualify, the ones closest to the target
// over those years.
type donorPool struct {
	savings.DonorPool
	candidates []string // the places of the target's level and kind, in code order

	// Read for the candidates: each one's series and rows (initiativeSeries).
	series map[string]savings.Series
	rows   map[string][]observationRow
}

// newDonorPool lists the candidates for a synthetic control of geo. A place
// outside the catalogue's tree (a publisher's aggregate, a partner's own
// area) has no level to draw donors from: the document must name them.
func newDonorPool(cat *places.Catalogue, geo string) (*donorPool, error) {
	p, ok := cat.Place(geo)
	if !ok || p.Level == places.Aggregate || p.Level == places.World {
		why := fmt.Sprintf("%s is not a place of the catalogue's tree", geo)
		if ok {
			why = fmt.Sprintf("%s is a place of level %s, which has no peers to draw donors from", geo, p.Level)
		}
		return nil, insufficientData("comparison_geos",
			fmt.Sprintf("method synth draws its donors from the places of the target's level when comparison_geos is empty, and %s: name the donor places in comparison_geos", why))
	}
	kind := placeKind(p)
	pool := &donorPool{DonorPool: savings.DonorPool{Rule: savings.DonorPoolDefault, Level: string(p.Level), Kind: kind, Limit: savings.MaxComparisonGeo}}
	for _, q := range cat.List(p.Level) {
		if q.Code != geo && placeKind(q) == kind {
			pool.candidates = append(pool.candidates, q.Code)
		}
	}
	slices.Sort(pool.candidates)
	pool.Candidates = len(pool.candidates)
	return pool, nil
}

// placeKind is what makes two places of one level peers: the level itself,
// except among subnational places, which are peers only within one scheme
// of codes (US states "US-", HHS regions "hhs:", counties "us-county:"), so
// that a state's donors are states, never counties.
func placeKind(p places.Place) string {
	if p.Level != places.Subnational {
		return string(p.Level)
	}
	if i := strings.IndexAny(p.Code, ":-"); i > 0 {
		return p.Code[:i+1]
	}
	return p.Code
}

// choose picks the donors from the candidates' series, already cut at
// preFrom, and writes them into the document as used (its comparison
// places, in code order), the data and the rows used.
func (p *donorPool) choose(in *savings.Initiative, data *savings.Data, used *reportRows, preFrom int) error {
	cut := make(map[string]savings.Series, len(p.candidates))
	for _, g := range p.candidates {
		s := p.series[g]
		if preFrom != 0 {
			s.Values = fromYear(s.Values, preFrom)
		}
		cut[g] = s
	}
	kept, qualified, pre := defaultDonors(data.Target, cut, p.candidates, in.StartYear, p.Limit)
	p.Qualified = qualified
	if len(kept) == 0 {
		return insufficientData("comparison_geos", fmt.Sprintf(
			"method synth draws its donors from the %d other %s places when comparison_geos is empty, and none holds %s in every pre-period year in which %s has one (%s): name the donor places in comparison_geos, or give a later pre_from",
			p.Candidates, p.label(), in.Indicator, in.Geo, yearSpan(pre)))
	}
	in.ComparisonGeos = kept
	data.Comparison = data.Comparison[:0]
	used.comparison = make(map[string][]observationRow, len(kept))
	for _, g := range kept {
		data.Comparison = append(data.Comparison, cut[g])
		used.comparison[g] = p.rows[g]
	}
	return nil
}

// label names the pool's places: "country", or "subnational (US-…)".
func (p *donorPool) label() string {
	if p.Kind == p.Level {
		return p.Level
	}
	return fmt.Sprintf("%s (%s…)", p.Level, p.Kind)
}

// defaultDonors keeps, of the candidates (in code order), those whose
// series has a value in every year before start in which the target's has
// one; when more than limit qualify, the limit of them closest to the
// target over those years (root mean squared difference; ties by code).
// It returns the donors kept in code order, how many qualified and the
// target's pre-period years.
func defaultDonors(target savings.Series, series map[string]savings.Series, candidates []string, start, limit int) (kept []string, qualified int, pre []int) {
	for y := range target.Values {
		if y < start {
			pre = append(pre, y)
		}
	}
	slices.Sort(pre)
	type donor struct {
		geo  string
		dist float64
	}
	var ok []donor
	for _, g := range candidates {
		vs := series[g].Values
		var ss float64
		holds := len(pre) > 0
		for _, y := range pre {
			v, has := vs[y]
			if !has {
				holds = false
				break
			}
			d := v - target.Values[y]
			ss += d * d
		}
		if holds {
			ok = append(ok, donor{g, math.Sqrt(ss / float64(len(pre)))})
		}
	}
	qualified = len(ok)
	if len(ok) > limit {
		slices.SortStableFunc(ok, func(a, b donor) int { return cmp.Compare(a.dist, b.dist) })
		ok = ok[:limit]
	}
	for _, d := range ok {
		kept = append(kept, d.geo)
	}
	slices.Sort(kept)
	return kept, qualified, pre
}
