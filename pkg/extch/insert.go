package extch

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/ounce-data/ounce/pkg/observation"
)

// InsertObservationsSQL names every column the loader writes; 18.16 needs the
// explicit list on the native protocol.
const InsertObservationsSQL = `INSERT INTO observations (indicator, geo, grain, period_start, period_end, dims, source,
 value, unit, version, initiative, source_url, licence, retrieved_at, batch_id, flag, quality)`

// Columns holds observations column by column, ready for one INSERT.
type Columns struct {
	Indicator, Geo, Grain, Dims, Source, Unit, Initiative, URL, Licence, BatchID []string
	Flag, Quality                                                                []string // Quality: the codes as stored (JoinQuality)
	PeriodStart, PeriodEnd                                                       []int64
	Value                                                                        []float64
	Version                                                                      []uint64
	RetrievedAt                                                                  []int64 // Unix seconds: DateTime, and no pointers for the GC to scan
}

// Len is the number of rows.
func (c *Columns) Len() int { return len(c.Indicator) }

// Reset empties the columns, keeping their memory.
func (c *Columns) Reset() {
	c.Indicator, c.Geo, c.Grain, c.Dims, c.Source = c.Indicator[:0], c.Geo[:0], c.Grain[:0], c.Dims[:0], c.Source[:0]
	c.Unit, c.Initiative, c.URL, c.Licence, c.BatchID = c.Unit[:0], c.Initiative[:0], c.URL[:0], c.Licence[:0], c.BatchID[:0]
	c.Flag, c.Quality = c.Flag[:0], c.Quality[:0]
	c.PeriodStart, c.PeriodEnd, c.Value, c.Version, c.RetrievedAt = c.PeriodStart[:0], c.PeriodEnd[:0], c.Value[:0], c.Version[:0], c.RetrievedAt[:0]
}

// Add appends one valid observation. The caller has validated it.
func (c *Columns) Add(o *observation.Observation, batchID string) {
	c.Indicator = append(c.Indicator, o.Indicator)
	c.Geo = append(c.Geo, o.Geo)
	c.Grain = append(c.Grain, string(o.Period.Grain))
	c.PeriodStart = append(c.PeriodStart, o.Period.Start.Unix())
	c.PeriodEnd = append(c.PeriodEnd, o.Period.End().Unix())
	c.Dims = append(c.Dims, o.Dims.Canonical())
	c.Source = append(c.Source, o.Source)
	c.Value = append(c.Value, *o.Value)
	c.Unit = append(c.Unit, o.Unit)
	c.Version = append(c.Version, o.Version)
	c.Initiative = append(c.Initiative, o.Initiative)
	c.URL = append(c.URL, o.Provenance.URL)
	c.Licence = append(c.Licence, o.Provenance.Licence)
	c.RetrievedAt = append(c.RetrievedAt, o.Provenance.RetrievedAt.Unix())
	c.BatchID = append(c.BatchID, batchID)
	c.Flag = append(c.Flag, o.Flag)
	c.Quality = append(c.Quality, JoinQuality(o.Quality))
}

// JoinQuality is the stored form of quality codes: joined by ','.
func JoinQuality(q []string) string {
	switch len(q) {
	case 0:
		return ""
	case 1:
		return q[0]
	}
	return strings.Join(q, ",")
}

// SplitQuality reads the stored form back; nil when empty.
func SplitQuality(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// Insert writes the columns in one INSERT. The rows are in ClickHouse when it
// returns nil.
func (c *Columns) Insert(ctx context.Context, conn driver.Conn) error {
	if c.Len() == 0 {
		return nil
	}
	batch, err := conn.PrepareBatch(ctx, InsertObservationsSQL)
	if err != nil {
		return fmt.Errorf("prepare insert into observations: %w", err)
	}
	cols := []any{c.Indicator, c.Geo, c.Grain, c.PeriodStart, c.PeriodEnd, c.Dims, c.Source,
		c.Value, c.Unit, c.Version, c.Initiative, c.URL, c.Licence, c.RetrievedAt, c.BatchID, c.Flag, c.Quality}
	for i, col := range cols {
		if err := batch.Column(i).Append(col); err != nil {
			_ = batch.Abort()
			return fmt.Errorf("append column %d to observations batch: %w", i, err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("insert %d rows into observations: %w", c.Len(), err)
	}
	return nil
}

// Slice returns rows [from, to) as Columns sharing this one's memory.
func (c *Columns) Slice(from, to int) Columns {
	return Columns{
		Indicator: c.Indicator[from:to], Geo: c.Geo[from:to], Grain: c.Grain[from:to], Dims: c.Dims[from:to],
		Source: c.Source[from:to], Unit: c.Unit[from:to], Initiative: c.Initiative[from:to], URL: c.URL[from:to],
		Licence: c.Licence[from:to], BatchID: c.BatchID[from:to], PeriodStart: c.PeriodStart[from:to],
		PeriodEnd: c.PeriodEnd[from:to], Value: c.Value[from:to], Version: c.Version[from:to], RetrievedAt: c.RetrievedAt[from:to],
		Flag: c.Flag[from:to], Quality: c.Quality[from:to],
	}
}

// InList is the distinct values of vs as one bound parameter for
// "x IN ?": clickhouse-go writes it as a parenthesised list of quoted
// literals, never splicing the text itself into the SQL.
func InList(vs []string) clickhouse.GroupSet {
	set := slices.Clone(vs)
	slices.Sort(set)
	set = slices.Compact(set)
	out := make([]any, len(set))
	for i, v := range set {
		out[i] = v
	}
	return clickhouse.GroupSet{Value: out}
}
