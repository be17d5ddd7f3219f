package query

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	chdriver "github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/ounce-data/ounce/pkg/extch"
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

// coverageRow is one indicator's coverage as stored.
type coverageRow struct {
	Places, Rows          uint64
	FirstStart, LastStart int64
	FirstGrain, LastGrain string
	LastLoadedAt          time.Time
}

// readCoverage returns the coverage of every indicator with stored rows,
// or of the one named by only.
func readCoverage(ctx context.Context, conn chdriver.Conn, only string) (map[string]coverageRow, error) {
	var (
		sql  = fmt.Sprintf(coverageSQL, "")
		args []any
	)
	if only != "" {
		sql = fmt.Sprintf(coverageSQL, "WHERE indicator = ?")
		args = append(args, only)
	}
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("query coverage: %w", err)
	}
	out := map[string]coverageRow{}
	for rows.Next() {
		var (
			code string
			c    coverageRow
		)
		if err := rows.Scan(&code, &c.Places, &c.Rows, &c.FirstStart, &c.FirstGrain,
			&c.LastStart, &c.LastGrain, &c.LastLoadedAt); err != nil {
			return nil, errors.Join(fmt.Errorf("scan coverage: %w", err), rows.Close())
		}
		out[code] = c
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("read coverage: %w", err)
	}
	return out, nil
}

// seriesRow is one stored observation of a series request.
type seriesRow struct {
	Geo, Dims, Grain, Unit, Source, URL, Licence string
	PeriodStart                                  int64
	Value                                        float64
	Version                                      uint64
	RetrievedAt                                  time.Time
}

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
	b.WriteString(`SELECT geo, dims, grain, period_start, value, unit, source, version, source_url, licence, retrieved_at
FROM observations`)
	if final {
		b.WriteString(" FINAL")
	}
	b.WriteString("\nWHERE indicator = ?")
	args = append(args, p.Indicator.Code)
	if len(p.Geos) > 0 {
		b.WriteString("\n  AND geo IN ?")
		args = append(args, extch.InList(p.Geos))
	}
	// A period is returned when it overlaps [from, to]: its end is after the
	// start of from and its start is before the end of to.
	if p.From != nil {
		b.WriteString("\n  AND period_end > ?")
		args = append(args, p.From.Start.Unix())
	}
	if p.To != nil {
		b.WriteString("\n  AND period_start < ?")
		args = append(args, p.To.End().Unix())
	}
	for _, pair := range p.DimPairs {
		b.WriteString("\n  AND has(splitByChar('&', dims), ?)")
		args = append(args, pair)
	}
	b.WriteString("\nORDER BY geo, dims, period_start, grain, source, version\nLIMIT ?")
	args = append(args, limit)
	return b.String(), args
}

// readSeries returns the newest version of each row of p, at most limit of
// them. It reads every version and keeps the newest; when that read reaches
// its limit, versions may have been cut off, so it reads again with FINAL.
func readSeries(ctx context.Context, conn chdriver.Conn, p seriesParams, limit int) ([]seriesRow, error) {
	rows, err := querySeries(ctx, conn, p, limit, false)
	if err != nil || len(rows) < limit {
		return dedupeVersions(rows), err
	}
	return querySeries(ctx, conn, p, limit, true)
}

func querySeries(ctx context.Context, conn chdriver.Conn, p seriesParams, limit int, final bool) ([]seriesRow, error) {
	sql, args := seriesQuery(p, limit, final)
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("query series of %s: %w", p.Indicator.Code, err)
	}
	var out []seriesRow
	for rows.Next() {
		var r seriesRow
		if err := rows.Scan(&r.Geo, &r.Dims, &r.Grain, &r.PeriodStart, &r.Value, &r.Unit, &r.Source,
			&r.Version, &r.URL, &r.Licence, &r.RetrievedAt); err != nil {
			return nil, errors.Join(fmt.Errorf("scan series of %s: %w", p.Indicator.Code, err), rows.Close())
		}
		out = append(out, r)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("read series of %s: %w", p.Indicator.Code, err)
	}
	return out, nil
}

// dedupeVersions keeps, of each run of rows with one key (geo, dims,
// period_start, grain, source; the indicator is the query's), the last: the
// highest version, as the rows come ordered by key then version. Between
// equal versions the choice is ClickHouse's, as with argMax.
func dedupeVersions(rows []seriesRow) []seriesRow {
	out := rows[:0]
	for i, r := range rows {
		if i+1 < len(rows) && sameSeriesKey(&r, &rows[i+1]) {
			continue
		}
		out = append(out, r)
	}
	return out
}

func sameSeriesKey(a, b *seriesRow) bool {
	return a.Geo == b.Geo && a.Dims == b.Dims && a.PeriodStart == b.PeriodStart && a.Grain == b.Grain && a.Source == b.Source
}

// ClickHouse server error codes that mean "busy or cut off; retry", not a bug.
var transientExceptionCodes = map[int32]bool{
	159: true, // TIMEOUT_EXCEEDED
	202: true, // TOO_MANY_SIMULTANEOUS_QUERIES
	209: true, // SOCKET_TIMEOUT
	210: true, // NETWORK_ERROR
	241: true, // MEMORY_LIMIT_EXCEEDED
	394: true, // QUERY_WAS_CANCELLED
}

// isTransient reports whether err from ClickHouse means it is unreachable,
// overloaded or too slow (answer 503, retry) rather than a bug in the query
// or the scan (answer 500).
func isTransient(err error) bool {
	var (
		ex    *clickhouse.Exception
		opErr *net.OpError
		nErr  net.Error
	)
	switch {
	case errors.As(err, &ex):
		return transientExceptionCodes[ex.Code]
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		errors.Is(err, clickhouse.ErrAcquireConnTimeout), errors.Is(err, clickhouse.ErrConnectionClosed),
		errors.Is(err, driver.ErrBadConn), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.As(err, &opErr), errors.As(err, &nErr):
		return true
	}
	return false
}
