package query

import (
	"context"
	"fmt"
	"time"
)

// coverageSQL summarises what is stored for every indicator in one pass.
// FINAL deduplicates versions of a key, so rows counts facts, not inserts.
const coverageSQL = `SELECT indicator, uniqExact(geo), count(),
	min(period_start), argMin(grain, period_start),
	max(period_start), argMax(grain, period_start),
	max(loaded_at)
FROM observations FINAL
%s
GROUP BY indicator`

// coverageRow is one indicator's coverage as stored: a summary of its
// observations, not one of them, hence a row type of its own.
type coverageRow struct {
	Indicator             string
	Places, Rows          uint64
	FirstStart, LastStart int64
	FirstGrain, LastGrain string
	LastLoadedAt          time.Time
}

// coverage returns the coverage of every indicator with stored rows, by
// code, or of the one named by only.
func (st *store) coverage(ctx context.Context, only string) (map[string]coverageRow, error) {
	var (
		sql  = fmt.Sprintf(coverageSQL, "")
		args []any
	)
	if only != "" {
		sql = fmt.Sprintf(coverageSQL, "WHERE indicator = ?")
		args = append(args, only)
	}
	start := time.Now()
	rows, err := selectRows(ctx, st.conn, "coverage", sql, args, func(c *coverageRow) []any {
		return []any{&c.Indicator, &c.Places, &c.Rows, &c.FirstStart, &c.FirstGrain, &c.LastStart, &c.LastGrain, &c.LastLoadedAt}
	})
	st.observe(ctx, "coverage", start, err)
	if err != nil {
		return nil, err
	}
	out := make(map[string]coverageRow, len(rows))
	for _, c := range rows {
		out[c.Indicator] = c
	}
	return out, nil
}

// sourcesOfSQL counts the stored facts of one indicator by source.
const sourcesOfSQL = `SELECT source, count()
FROM observations FINAL
WHERE indicator = ?
GROUP BY source
ORDER BY source`

// sourceCount is how many facts of an indicator one source stored.
type sourceCount struct {
	Source string
	Rows   uint64
}

// sourcesOf counts the stored facts of indicator code by source; none
// when nothing is stored.
func (st *store) sourcesOf(ctx context.Context, code string) ([]sourceCount, error) {
	start := time.Now()
	rows, err := selectRows(ctx, st.conn, "indicator sources", sourcesOfSQL, []any{code}, func(c *sourceCount) []any {
		return []any{&c.Source, &c.Rows}
	})
	st.observe(ctx, "indicator_sources", start, err)
	return rows, err
}
