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
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// store is every read and write the service makes of ClickHouse: the SQL
// is in the store_*.go files, and no other file of the package calls the
// connection. Each call is measured under the name of its query in the
// ounce_query_clickhouse_* metrics.
type store struct {
	conn chdriver.Conn

	duration *prometheus.HistogramVec
	failures *prometheus.CounterVec
	aborts   *prometheus.CounterVec
}

// newStore reads and writes through conn, registering its metrics with f.
func newStore(conn chdriver.Conn, f promauto.Factory) *store {
	return &store{
		conn: conn,
		duration: f.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "ounce",
			Subsystem: "query",
			Name:      "clickhouse_query_duration_seconds",
			Help:      "Time ClickHouse took to answer a query of the API, by query.",
			Buckets:   []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}, []string{"query"}),
		failures: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "ounce",
			Subsystem: "query",
			Name:      "clickhouse_errors_total",
			Help:      "ClickHouse queries of the API that failed, by query; a query stopped because its client went away is counted in client_aborts_total instead.",
		}, []string{"query"}),
		aborts: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "ounce",
			Subsystem: "query",
			Name:      "client_aborts_total",
			Help:      "ClickHouse queries of the API stopped because the client closed the request, by query.",
		}, []string{"query"}),
	}
}

// ping checks that ClickHouse answers, for /readyz.
func (st *store) ping(ctx context.Context) error {
	if err := st.conn.Ping(ctx); err != nil {
		return fmt.Errorf("ping clickhouse: %w", err)
	}
	return nil
}

// observe records a call of query that began at start: its duration and,
// when err is set, its failure (see countFailure).
func (st *store) observe(ctx context.Context, query string, start time.Time, err error) {
	st.timed(query, start)
	if err != nil {
		st.countFailure(ctx, query)
	}
}

// timed records the duration of a call of query that began at start.
func (st *store) timed(query string, start time.Time) {
	st.duration.WithLabelValues(query).Observe(time.Since(start).Seconds())
}

// countFailure counts a failed call of query: as a ClickHouse error, or
// as a client abort when ctx (the request's) was cancelled because the
// client went away — not ClickHouse's fault, and no reason to page anyone.
func (st *store) countFailure(ctx context.Context, query string) {
	if errors.Is(ctx.Err(), context.Canceled) {
		st.aborts.WithLabelValues(query).Inc()
		return
	}
	st.failures.WithLabelValues(query).Inc()
}

// selectRows runs sql and returns its rows as Ts. fields names, for one T,
// the destinations of the selected columns in order; every row is scanned
// into the same T and copied, so fields runs once per query. what names
// the read in errors.
func selectRows[T any](ctx context.Context, conn chdriver.Conn, what, sql string, args []any, fields func(*T) []any) ([]T, error) {
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", what, err)
	}
	var (
		out []T
		row T
	)
	dest := fields(&row)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, errors.Join(fmt.Errorf("scan %s: %w", what, err), rows.Close())
		}
		out = append(out, row)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	return out, nil
}

// observationRow is one row read from observations. A read selects the
// columns it needs (its column list, see fields); the others stay zero.
type observationRow struct {
	Indicator, Geo, Dims, Grain, Unit, Source, URL, Licence, BatchID string
	Flag, Quality                                                    string // Quality as stored: codes joined by ','

	PeriodStart           int64
	Value                 float64
	Version               uint64
	RetrievedAt, LoadedAt time.Time
}

// fields are the destinations in r of the observations columns cols, for
// selectRows. A column observationRow does not hold is a bug of the
// store's SQL and panics.
func (r *observationRow) fields(cols []string) []any {
	dest := make([]any, len(cols))
	for i, c := range cols {
		switch c {
		case "indicator":
			dest[i] = &r.Indicator
		case "geo":
			dest[i] = &r.Geo
		case "dims":
			dest[i] = &r.Dims
		case "grain":
			dest[i] = &r.Grain
		case "unit":
			dest[i] = &r.Unit
		case "source":
			dest[i] = &r.Source
		case "source_url":
			dest[i] = &r.URL
		case "licence":
			dest[i] = &r.Licence
		case "period_start":
			dest[i] = &r.PeriodStart
		case "value":
			dest[i] = &r.Value
		case "version":
			dest[i] = &r.Version
		case "retrieved_at":
			dest[i] = &r.RetrievedAt
		case "batch_id":
			dest[i] = &r.BatchID
		case "loaded_at":
			dest[i] = &r.LoadedAt
		case "flag":
			dest[i] = &r.Flag
		case "quality":
			dest[i] = &r.Quality
		default:
			panic(fmt.Sprintf("query store: observations column %q has no field in observationRow", c))
		}
	}
	return dest
}

// selectObservations runs sql, which selects cols of observations (in
// that order, as strings.Join(cols, ", ")), and returns its rows.
func selectObservations(ctx context.Context, conn chdriver.Conn, what, sql string, args []any, cols []string) ([]observationRow, error) {
	return selectRows(ctx, conn, what, sql, args, func(r *observationRow) []any { return r.fields(cols) })
}

// observationsFrom is the table a read of p selects from: the current
// observations (deduplicated by FINAL when final), or for an as_of read
// every version as loaded, for the caller to keep the newest of each key
// loaded by then (dedupeVersions).
func observationsFrom(p seriesParams, final bool) string {
	switch {
	case p.AsOf != nil:
		return "observation_versions"
	case final:
		return "observations FINAL"
	}
	return "observations"
}

// selectFrom starts the SELECT of cols for p: DISTINCT for an as_of read,
// as the history holds a redelivered batch twice.
func selectFrom(p seriesParams, cols []string, final bool) string {
	kw := "SELECT "
	if p.AsOf != nil {
		kw = "SELECT DISTINCT "
	}
	return kw + strings.Join(cols, ", ") + "\nFROM " + observationsFrom(p, final)
}

// whereSelection appends to b the conditions of p's from, to and dims, and
// to args their values, returning args. Every value is a bound parameter.
func whereSelection(b *strings.Builder, args []any, p seriesParams) []any {
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
	if p.Source != "" {
		b.WriteString("\n  AND source = ?")
		args = append(args, p.Source)
	}
	if p.AsOf != nil {
		b.WriteString("\n  AND loaded_at <= ?")
		args = append(args, *p.AsOf)
	}
	return args
}

// watermarkSQL reads, from ClickHouse's own metadata, the highest block
// number inserted into each table the API reads. Every INSERT takes a new
// block number; merges keep the highest of the parts they merge, so the
// mark moves when data is written and not when the server tidies up.
const watermarkSQL = `SELECT table, max(max_block_number)
FROM system.parts
WHERE database = currentDatabase() AND active AND table IN ('observations', 'places', 'initiatives', 'indicators')
GROUP BY table
ORDER BY table`

// partRow is one table's highest block number, from system.parts.
type partRow struct {
	Table string
	Block int64
}

// watermark is the data watermark of the tables the API reads, for
// freshness: "table:block;" for each, in table order.
func (st *store) watermark(ctx context.Context) (string, error) {
	parts, err := selectRows(ctx, st.conn, "data watermark", watermarkSQL, nil, func(p *partRow) []any {
		return []any{&p.Table, &p.Block}
	})
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, p := range parts {
		fmt.Fprintf(&b, "%s:%d;", p.Table, p.Block)
	}
	return b.String(), nil
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
