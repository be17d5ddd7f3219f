package query

import "github.com/ounce-data/ounce/pkg/indicators"

// preferSources keeps one row per fact — (indicator, geo, dims, period,
// grain) — of rows ordered so that the rows of a fact are adjacent: the
// row of the source its indicator ranks first (indicators.SourceRank),
// then of the newer vintage, then of the lower source id. rank gives each
// row's indicator; rows of other facts keep their order.
func preferSources(rows []observationRow, indicator func(code string) indicators.Indicator) []observationRow {
	out := rows[:0]
	for i := 0; i < len(rows); {
		j := i + 1
		for j < len(rows) && sameFact(&rows[i], &rows[j]) {
			j++
		}
		best := i
		ind := indicator(rows[i].Indicator)
		for k := i + 1; k < j; k++ {
			if preferred(ind, &rows[k], &rows[best]) {
				best = k
			}
		}
		out = append(out, rows[best])
		i = j
	}
	return out
}

// preferred reports whether a is served before b, two values of one fact.
func preferred(ind indicators.Indicator, a, b *observationRow) bool {
	if ra, rb := ind.SourceRank(a.Source), ind.SourceRank(b.Source); ra != rb {
		return ra < rb
	}
	if a.Version != b.Version {
		return a.Version > b.Version
	}
	return a.Source < b.Source
}

// sameFact reports whether a and b are values of one fact.
func sameFact(a, b *observationRow) bool {
	return a.Indicator == b.Indicator && a.Geo == b.Geo && a.Dims == b.Dims && a.PeriodStart == b.PeriodStart && a.Grain == b.Grain
}
