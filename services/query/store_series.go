package query

import (
	"context"
	"strings"
	"time"

	"github.com/ounce-data/ounce/pkg/extch"
	"github.com/ounce-data/ounce/pkg/observation"
)

// seriesColumns are the observations columns a series request reads.
var seriesColumns = []string{"geo", "dims", "grain", "period_start", "value", "unit", "source", "version", "source_url", "licence", "retrieved_at", "flag", "quality"}

// seriesQuery builds the SELECT for p, returning at most limit rows. Every
// value from the request is a bound parameter; the SQL text is fixed
// fragments only.
//
// With final, ClickHouse deduplicates (FINAL). Without, every stored version
// of a key is read, the versions of one key adjacent and ascending, for
// dedupeVersions to keep the newest: on ClickHouse 18.16 this reads the same
// rows in about half the time of FINAL, which merges them on one thread.
func seriesQuery(p seriesParams, limit int, final bool) (string, []any) {
	var (
		b    strings.Builder
		args []any
	)
	b.WriteString(selectFrom(p, seriesColumns, final))
	b.WriteString("\nWHERE indicator = ?")
	args = append(args, p.Indicator.Code)
	if len(p.Geos) > 0 {
		b.WriteString("\n  AND geo IN ?")
		args = append(args, extch.InList(p.Geos))
	}
	args = whereSelection(&b, args, p)
	b.WriteString("\nORDER BY geo, dims, period_start, grain, source, version\nLIMIT ?")
	args = append(args, limit)
	return b.String(), args
}

// series returns the newest version of each row of p, at most limit of
// them. It reads every version and keeps the newest; when that read reaches
// its limit, versions may have been cut off, so it reads again with FINAL.
func (st *store) series(ctx context.Context, p seriesParams, limit int) ([]observationRow, error) {
	start := time.Now()
	rows, err := st.selectSeries(ctx, p, limit, false)
	if err == nil && len(rows) >= limit && p.AsOf == nil {
		rows, err = st.selectSeries(ctx, p, limit, true)
	} else if err == nil && len(rows) < limit {
		rows = dedupeVersions(rows)
	}
	// An as_of read that reaches its limit is left whole, so that the
	// handler refuses it as over the limit rather than serve it cut short.
	st.observe(ctx, "series", start, err)
	return rows, err
}

func (st *store) selectSeries(ctx context.Context, p seriesParams, limit int, final bool) ([]observationRow, error) {
	sql, args := seriesQuery(p, limit, final)
	return selectObservations(ctx, st.conn, "series of "+p.Indicator.Code, sql, args, seriesColumns)
}

// dedupeVersions keeps, of each run of rows with one key (indicator, geo,
// dims, period_start, grain, source), the last: the
// highest version, as the rows come ordered by key then version. Between
// equal versions the choice is ClickHouse's, as with argMax.
func dedupeVersions(rows []observationRow) []observationRow {
	out := rows[:0]
	for i, r := range rows {
		if i+1 < len(rows) && sameSeriesKey(&r, &rows[i+1]) {
			continue
		}
		out = append(out, r)
	}
	return out
}

func sameSeriesKey(a, b *observationRow) bool {
	return a.Indicator == b.Indicator && a.Geo == b.Geo && a.Dims == b.Dims && a.PeriodStart == b.PeriodStart && a.Grain == b.Grain && a.Source == b.Source
}

// historyColumns are the columns of one version in the history.
var historyColumns = []string{"source", "version", "value", "unit", "source_url", "licence", "retrieved_at", "batch_id", "loaded_at", "flag", "quality"}

// historySQL lists every version of one fact as loaded, once each (a
// redelivered batch is stored twice), oldest load first.
var historySQL = "SELECT DISTINCT " + strings.Join(historyColumns, ", ") + `
FROM observation_versions
WHERE indicator = ? AND geo = ? AND grain = ? AND period_start = ? AND dims = ?
ORDER BY loaded_at, source, version
LIMIT 10000`

// history reads every version of the fact (indicator, geo, period, dims).
func (st *store) history(ctx context.Context, indicator, geo string, per observation.Period, dims string) ([]observationRow, error) {
	start := time.Now()
	rows, err := selectObservations(ctx, st.conn, "history of "+indicator, historySQL,
		[]any{indicator, geo, string(per.Grain), per.Start.Unix(), dims}, historyColumns)
	st.observe(ctx, "history", start, err)
	return rows, err
}
