package extch

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/ext"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/ounce-data/ounce/pkg/batchstatus"
)

// Range is rows [From, To) of Columns: one message, all of one source and
// one batch.
type Range struct{ From, To int }

// Classify is ClassifyRanges of one range.
func Classify(ctx context.Context, conn driver.Conn, c *Columns, from, to int) (batchstatus.RowChanges, error) {
	out, err := ClassifyRanges(ctx, conn, c, []Range{{from, to}})
	if err != nil {
		return batchstatus.RowChanges{}, err
	}
	return out[0], nil
}

// classifyKeysTable is the external table that carries the keys looked up.
const classifyKeysTable = "classify_keys"

// ClassifyRanges compares the rows of each range with the values ClickHouse
// holds for the same keys (indicator, geo, period, dims and source) from
// other batches than the range's own: a message loaded twice (redelivered
// after a crash) is classified the same both times, before or after its
// insert.
//
// It reads only the stored versions of the ranges' own keys, sent to the
// server as an external table and matched on the table's sorting key, in
// one query for every range: its cost follows the rows classified, not
// how much the sources have stored.
func ClassifyRanges(ctx context.Context, conn driver.Conn, c *Columns, ranges []Range) ([]batchstatus.RowChanges, error) {
	out := make([]batchstatus.RowChanges, len(ranges))
	var (
		ind, geo, grain, dims, src []string
		start                      []int64
		seen                       = map[string]bool{}
	)
	for _, r := range ranges {
		for i := r.From; i < r.To; i++ {
			k := c.rowKey(i)
			if seen[k] {
				continue
			}
			seen[k] = true
			ind, geo, grain, dims, src = append(ind, c.Indicator[i]), append(geo, c.Geo[i]), append(grain, c.Grain[i]), append(dims, c.Dims[i]), append(src, c.Source[i])
			start = append(start, c.PeriodStart[i])
		}
	}
	if len(ind) == 0 {
		return out, nil
	}
	keys, err := ext.NewTable(classifyKeysTable,
		ext.Column("indicator", "String"), ext.Column("geo", "String"), ext.Column("grain", "String"),
		ext.Column("period_start", "Int64"), ext.Column("dims", "String"), ext.Column("source", "String"))
	if err != nil {
		return nil, fmt.Errorf("classify rows: %w", err)
	}
	for i, col := range []any{ind, geo, grain, start, dims, src} {
		if _, err := keys.Block().Columns[i].Append(col); err != nil {
			return nil, fmt.Errorf("classify rows: keys column %d: %w", i, err)
		}
	}
	qctx := clickhouse.Context(ctx, clickhouse.WithExternalTable(keys))
	rows, err := conn.Query(qctx, `SELECT indicator, geo, grain, period_start, dims, source, batch_id, value, version
FROM observations
WHERE (indicator, geo, grain, period_start, dims, source) IN
      (SELECT indicator, geo, grain, period_start, dims, source FROM `+classifyKeysTable+`)`)
	if err != nil {
		return nil, fmt.Errorf("read stored values of %d keys: %w", len(ind), err)
	}
	type stored struct {
		batchID string
		value   float64
		version uint64
	}
	held := make(map[string][]stored, len(ind))
	for rows.Next() {
		var (
			s                   stored
			periodStart         int64
			i, g, gr, d, source string
		)
		if err := rows.Scan(&i, &g, &gr, &periodStart, &d, &source, &s.batchID, &s.value, &s.version); err != nil {
			return nil, errors.Join(fmt.Errorf("read stored values: %w", err), rows.Close())
		}
		key := naturalKey(i, g, gr, periodStart, d, source)
		held[key] = append(held[key], s)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("read stored values: %w", err)
	}
	for n, r := range ranges {
		for i := r.From; i < r.To; i++ {
			// The newest stored version from another batch than the row's own.
			var (
				best  stored
				found bool
			)
			for _, s := range held[c.rowKey(i)] {
				if s.batchID != c.BatchID[i] && (!found || s.version > best.version) {
					best, found = s, true
				}
			}
			switch {
			case !found:
				out[n].Imported++
			case best.version > c.Version[i] || best.value == c.Value[i]:
				out[n].Ignored++
			default:
				out[n].Updated++
			}
		}
	}
	return out, nil
}

// rowKey is the natural key of row i: what tells one fact from another.
func (c *Columns) rowKey(i int) string {
	return naturalKey(c.Indicator[i], c.Geo[i], c.Grain[i], c.PeriodStart[i], c.Dims[i], c.Source[i])
}

func naturalKey(indicator, geo, grain string, periodStart int64, dims, source string) string {
	return indicator + "\x00" + geo + "\x00" + grain + "\x00" + strconv.FormatInt(periodStart, 10) + "\x00" + dims + "\x00" + source
}
