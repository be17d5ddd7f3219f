package extch

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// RowChanges says how rows change what queries return, against what
// ClickHouse held before them.
type RowChanges struct {
	Imported int `json:"imported"` // a key ClickHouse did not hold
	Updated  int `json:"updated"`  // a new value for a stored key
	Ignored  int `json:"ignored"`  // the stored value again, or older than the stored version
}

// Classify compares rows [from, to) of c, all of one source, with the
// values ClickHouse holds for their keys from other batches than c's rows'
// own: a message loaded twice (redelivered after a crash) is classified the
// same both times, before or after its insert.
func Classify(ctx context.Context, conn driver.Conn, c *Columns, from, to int) (RowChanges, error) {
	var out RowChanges
	if from >= to {
		return out, nil
	}
	source, batchID := c.Source[from], c.BatchID[from]
	indicators := InList(c.Indicator[from:to])
	geos := InList(c.Geo[from:to])
	rows, err := conn.Query(ctx, `SELECT indicator, geo, grain, period_start, dims, argMax(value, version), max(version)
FROM observations
WHERE source = ? AND batch_id != ? AND indicator IN ? AND geo IN ?
GROUP BY indicator, geo, grain, period_start, dims`, source, batchID, indicators, geos)
	if err != nil {
		return out, fmt.Errorf("read stored values of %s: %w", source, err)
	}
	type stored struct {
		value   float64
		version uint64
	}
	held := map[string]stored{}
	for rows.Next() {
		var (
			ind, geo, grain, dims string
			start                 int64
			s                     stored
		)
		if err := rows.Scan(&ind, &geo, &grain, &start, &dims, &s.value, &s.version); err != nil {
			return out, errors.Join(fmt.Errorf("read stored values of %s: %w", source, err), rows.Close())
		}
		held[rowKey(ind, geo, grain, start, dims)] = s
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return out, fmt.Errorf("read stored values of %s: %w", source, err)
	}
	for i := from; i < to; i++ {
		s, ok := held[rowKey(c.Indicator[i], c.Geo[i], c.Grain[i], c.PeriodStart[i], c.Dims[i])]
		switch {
		case !ok:
			out.Imported++
		case s.version > c.Version[i] || s.value == c.Value[i]:
			out.Ignored++
		default:
			out.Updated++
		}
	}
	return out, nil
}

func rowKey(indicator, geo, grain string, start int64, dims string) string {
	return indicator + "\x00" + geo + "\x00" + grain + "\x00" + strconv.FormatInt(start, 10) + "\x00" + dims
}
