package query

import (
	"context"
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
WHERE indicator = ? AND geo IN ? AND grain = 'year'
ORDER BY geo, dims, period_start, source
LIMIT ?`

// yearlyAsOfSQL reads every version, loaded by a time, of the yearly
// values of one indicator in some places, for dedupeVersions.
var yearlyAsOfSQL = "SELECT DISTINCT " + strings.Join(yearlyColumns, ", ") + `
FROM observation_versions
WHERE indicator = ? AND geo IN ? AND grain = 'year' AND loaded_at <= ?
ORDER BY geo, dims, period_start, source, version
LIMIT ?`

// yearly reads the newest yearly values of indicator in each of geos, at
// most limit of them, ordered by geo, dims and year; with asOf, the newest
// loaded by then.
func (st *store) yearly(ctx context.Context, indicator string, geos []string, limit int, asOf *time.Time) ([]observationRow, error) {
	if asOf == nil {
		return selectObservations(ctx, st.conn, "yearly "+indicator, yearlySQL, []any{indicator, extch.InList(geos), limit}, yearlyColumns)
	}
	rows, err := selectObservations(ctx, st.conn, "yearly "+indicator+" as of", yearlyAsOfSQL, []any{indicator, extch.InList(geos), *asOf, limit}, yearlyColumns)
	if err != nil || len(rows) >= limit {
		return rows, err // one reaching its limit is left whole: its reader refuses it
	}
	return dedupeVersions(rows), nil
}

// methodYearly is yearly for the series a savings method learns from (the
// initiative's place and its comparison places), its duration recorded
// under the query "savings".
func (st *store) methodYearly(ctx context.Context, indicator string, geos []string, limit int, asOf *time.Time) ([]observationRow, error) {
	start := time.Now()
	rows, err := st.yearly(ctx, indicator, geos, limit, asOf)
	st.timed("savings", start)
	return rows, err
}
