package query

import (
	"context"
	"math"
	"strings"
	"time"

	"github.com/ounce-data/ounce/pkg/extch"
)

// yearlyColumns are the observations columns a savings report reads: unit
// and batch_id for its explanation (GET /v1/initiatives/{id}/savings/explain),
// which names every observation behind a figure.
var yearlyColumns = []string{"geo", "dims", "period_start", "value", "unit", "source", "version", "source_url", "licence", "retrieved_at", "batch_id", "loaded_at", "flag", "quality"}

// yearlySQL reads the yearly values of one indicator in some places.
var yearlySQL = "SELECT " + strings.Join(yearlyColumns, ", ") + `
FROM observations FINAL
WHERE indicator = ? AND geo IN ? AND grain = 'year' AND period_start >= ? AND period_start < ?
ORDER BY geo, dims, period_start, source
LIMIT ?`

// yearlyAsOfSQL reads every version, loaded by a time, of the yearly
// values of one indicator in some places, for dedupeVersions.
var yearlyAsOfSQL = "SELECT DISTINCT " + strings.Join(yearlyColumns, ", ") + `
FROM observation_versions
WHERE indicator = ? AND geo IN ? AND grain = 'year' AND period_start >= ? AND period_start < ? AND loaded_at <= ?
ORDER BY geo, dims, period_start, source, version
LIMIT ?`

// yearly reads the newest yearly values of indicator in each of geos, at
// most limit of them, ordered by geo, dims and year; with asOf, the newest
// loaded by then.
func (st *store) yearly(ctx context.Context, indicator string, geos []string, limit int, asOf *time.Time) ([]observationRow, error) {
	return st.yearlyBetween(ctx, indicator, geos, 0, 0, limit, asOf)
}

// yearlyBetween is yearly for the years from to to (0: no bound).
func (st *store) yearlyBetween(ctx context.Context, indicator string, geos []string, from, to, limit int, asOf *time.Time) ([]observationRow, error) {
	since, until := int64(math.MinInt64), int64(math.MaxInt64)
	if from != 0 {
		since = time.Date(from, time.January, 1, 0, 0, 0, 0, time.UTC).Unix()
	}
	if to != 0 {
		until = time.Date(to+1, time.January, 1, 0, 0, 0, 0, time.UTC).Unix()
	}
	if asOf == nil {
		return selectObservations(ctx, st.conn, "yearly "+indicator, yearlySQL, []any{indicator, extch.InList(geos), since, until, limit}, yearlyColumns)
	}
	rows, err := selectObservations(ctx, st.conn, "yearly "+indicator+" as of", yearlyAsOfSQL, []any{indicator, extch.InList(geos), since, until, *asOf, limit}, yearlyColumns)
	if err != nil || len(rows) >= limit {
		return rows, err // one reaching its limit is left whole: its reader refuses it
	}
	return dedupeVersions(rows), nil
}

// methodYearly is yearlyBetween for the series a savings method learns from
// (the initiative's place and its comparison places), its duration
// recorded under the query "savings".
func (st *store) methodYearly(ctx context.Context, indicator string, geos []string, from, to, limit int, asOf *time.Time) ([]observationRow, error) {
	start := time.Now()
	rows, err := st.yearlyBetween(ctx, indicator, geos, from, to, limit, asOf)
	st.timed("savings", start)
	return rows, err
}

// seriesCoverageSQL sums up, by place, breakdown and source, the finite yearly
// values of one indicator in some places: what a document registered may
// choose among (docs/savings.md, "Choosing the series").
const seriesCoverageSQL = `SELECT geo, dims, source, min(period_start), max(period_start), count()
FROM observations FINAL
WHERE indicator = ? AND geo IN ? AND grain = 'year' AND isFinite(value)
GROUP BY geo, dims, source
ORDER BY geo, dims, source
LIMIT ?`

// seriesCoverage reads what is stored of indicator in each of geos, by
// breakdown and source, at most limit entries.
func (st *store) seriesCoverage(ctx context.Context, indicator string, geos []string, limit int) ([]seriesCoverage, error) {
	start := time.Now()
	type row struct {
		geo, dims, source string
		first, last       int64
		years             uint64
	}
	rows, err := selectRows(ctx, st.conn, "series coverage "+indicator, seriesCoverageSQL, []any{indicator, extch.InList(geos), limit}, func(r *row) []any {
		return []any{&r.geo, &r.dims, &r.source, &r.first, &r.last, &r.years}
	})
	st.observe(ctx, "initiative_check", start, err)
	out := make([]seriesCoverage, len(rows))
	for i, r := range rows {
		out[i] = seriesCoverage{geo: r.geo, dims: r.dims, source: r.source, first: yearOf(r.first), last: yearOf(r.last), years: int(r.years)}
	}
	return out, err
}

// indicatorHasDataSQL finds one yearly value of an indicator anywhere.
const indicatorHasDataSQL = "SELECT geo FROM observations WHERE indicator = ? AND grain = 'year' LIMIT 1"

// indicatorHasData reports whether any yearly value of indicator is stored.
func (st *store) indicatorHasData(ctx context.Context, indicator string) (bool, error) {
	start := time.Now()
	rows, err := selectRows(ctx, st.conn, "indicator "+indicator, indicatorHasDataSQL, []any{indicator}, func(g *string) []any { return []any{g} })
	st.observe(ctx, "initiative_check", start, err)
	return len(rows) > 0, err
}
