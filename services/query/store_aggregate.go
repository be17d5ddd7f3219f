package query

import (
	"context"
	"strings"
	"time"

	"github.com/ounce-data/ounce/pkg/extch"
)

// geosWithDataSQL lists the places holding any value of some indicators.
const geosWithDataSQL = "SELECT DISTINCT geo FROM observations WHERE indicator IN ?"

// aggregateColumns are the observations columns an aggregate reads.
var aggregateColumns = []string{"indicator", "geo", "dims", "grain", "period_start", "value", "unit", "source", "version", "source_url", "licence", "retrieved_at", "batch_id", "flag", "quality"}

// geosWithData lists the places holding any value of the indicators codes.
func (st *store) geosWithData(ctx context.Context, codes []string) (map[string]bool, error) {
	start := time.Now()
	geos, err := selectRows(ctx, st.conn, "places with data", geosWithDataSQL, []any{extch.InList(codes)}, func(g *string) []any {
		return []any{g}
	})
	st.observe(ctx, "aggregate", start, err)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(geos))
	for _, g := range geos {
		out[g] = true
	}
	return out, nil
}

// aggregateRows reads the newest values of the indicators codes in geos
// within p's periods and dims, at most limit of them.
func (st *store) aggregateRows(ctx context.Context, codes, geos []string, p seriesParams, limit int) ([]observationRow, error) {
	if len(geos) == 0 {
		// A place whose children are all publisher aggregates has no
		// members; ClickHouse would refuse the empty IN ().
		return nil, nil
	}
	var (
		b    strings.Builder
		args []any
	)
	b.WriteString(selectFrom(p, aggregateColumns, true) + `
WHERE indicator IN ? AND geo IN ?`)
	args = append(args, extch.InList(codes), extch.InList(geos))
	args = whereSelection(&b, args, p)
	// Ordered, so that sums add up in the same order on every request and
	// the body, hence its ETag, only changes when the data does.
	b.WriteString("\nORDER BY geo, dims, period_start, grain, indicator, source, version\nLIMIT ?")
	args = append(args, limit)
	start := time.Now()
	rows, err := selectObservations(ctx, st.conn, "aggregate of "+strings.Join(codes, ", "), b.String(), args, aggregateColumns)
	st.observe(ctx, "aggregate", start, err)
	if err == nil && p.AsOf != nil && len(rows) < limit {
		rows = dedupeVersions(rows) // one reaching its limit is refused whole
	}
	return rows, err
}
