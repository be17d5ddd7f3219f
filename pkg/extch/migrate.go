package extch

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/ounce-data/ounce/schemas"
)

// Migration is one numbered SQL file.
type Migration struct {
	Version    uint32
	Name       string
	Statements []string
}

// Migrations reads schemas/clickhouse/NNNN_name.sql in order.
func Migrations() ([]Migration, error) {
	return MigrationsFS(schemas.ClickHouseMigrations, "clickhouse")
}

// MigrationsFS reads NNNN_name.sql files under dir of fsys in version order.
func MigrationsFS(fsys fs.FS, dir string) ([]Migration, error) {
	names, err := fs.Glob(fsys, path.Join(dir, "*.sql"))
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	var out []Migration
	seen := map[uint32]string{}
	for _, name := range names {
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.ParseUint(num, 10, 32)
		if !ok || err != nil || v == 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive number and '_', e.g. 0003_initiatives.sql", base)
		}
		if prev, dup := seen[uint32(v)]; dup {
			return nil, fmt.Errorf("migrations %s and %s share version %d", prev, base, v)
		}
		seen[uint32(v)] = base
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", base, err)
		}
		out = append(out, Migration{Version: uint32(v), Name: base, Statements: splitStatements(string(data))})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// splitStatements splits SQL on ';' at line ends, dropping comment lines.
func splitStatements(sql string) []string {
	var (
		out []string
		cur strings.Builder
	)
	for _, line := range strings.Split(sql, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(trimmed, ";") {
			stmt := strings.TrimSuffix(strings.TrimSpace(cur.String()), ";")
			out = append(out, stmt)
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}

const migrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations
(
    version     UInt32,
    name        String,
    applied_at  DateTime
)
ENGINE = ReplacingMergeTree(applied_at)
ORDER BY version`

// Migrate applies every migration not yet recorded in schema_migrations and
// returns the versions it applied. Statements are idempotent (IF NOT EXISTS),
// so two services migrating at once do no harm.
func Migrate(ctx context.Context, conn driver.Conn) ([]uint32, error) {
	ms, err := Migrations()
	if err != nil {
		return nil, err
	}
	return Apply(ctx, conn, ms)
}

// Apply applies the given migrations; see Migrate.
func Apply(ctx context.Context, conn driver.Conn, ms []Migration) ([]uint32, error) {
	if err := conn.Exec(ctx, migrationsTable); err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	done := map[uint32]bool{}
	rows, err := conn.Query(ctx, "SELECT DISTINCT version FROM schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			_ = rows.Close()
			return nil, fmt.Errorf("read schema_migrations: %w", err)
		}
		done[v] = true
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	var applied []uint32
	for _, m := range ms {
		if done[m.Version] {
			continue
		}
		for i, stmt := range m.Statements {
			if err := conn.Exec(ctx, stmt); err != nil && !alreadyDone(m.Statements, i, err) {
				return applied, fmt.Errorf("apply migration %s statement %d: %w", m.Name, i+1, err)
			}
		}
		if err := record(ctx, conn, m); err != nil {
			return applied, fmt.Errorf("record migration %s: %w", m.Name, err)
		}
		applied = append(applied, m.Version)
	}
	return applied, nil
}

// ClickHouse error codes a migration may meet when an earlier run (or
// another service migrating at the same moment) did part of its work.
const (
	codeIllegalColumn = 44 // "Cannot add column x: column with this name already exists"
	codeUnknownTable  = 60
)

var (
	addColumnRE   = regexp.MustCompile(`(?is)^ALTER\s+TABLE\s+\S+\s+ADD\s+COLUMN\s`)
	copyFromRE    = regexp.MustCompile(`(?is)^INSERT\s+INTO\s.*\sFROM\s+(\w+)\s*$`)
	dropIfThereRE = regexp.MustCompile(`(?is)^DROP\s+TABLE\s+IF\s+EXISTS\s+(\w+)\s*$`)
)

// alreadyDone reports whether statement i of stmts failed only because its
// work is done: the two statements of a migration that ClickHouse 18.16
// cannot write idempotently. An ADD COLUMN (18.16 has no IF NOT EXISTS)
// whose column exists is done. An INSERT … SELECT … FROM t whose table t
// the same migration drops later, when t is gone, was done by the run that
// dropped it.
func alreadyDone(stmts []string, i int, err error) bool {
	var ex *clickhouse.Exception
	if !errors.As(err, &ex) {
		return false
	}
	stmt := stmts[i]
	switch {
	case ex.Code == codeIllegalColumn && addColumnRE.MatchString(stmt):
		return strings.Contains(ex.Message, "already exists")
	case ex.Code == codeUnknownTable:
		m := copyFromRE.FindStringSubmatch(stmt)
		if m == nil {
			return false
		}
		for _, later := range stmts[i+1:] {
			if d := dropIfThereRE.FindStringSubmatch(later); d != nil && d[1] == m[1] {
				return true
			}
		}
	}
	return false
}

// record notes m as applied. It goes through a prepared batch: on the native
// protocol an INSERT always sends its rows as a data block.
func record(ctx context.Context, conn driver.Conn, m Migration) error {
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO schema_migrations (version, name, applied_at)")
	if err != nil {
		return err
	}
	if err := batch.Append(m.Version, m.Name, time.Now().UTC().Truncate(time.Second)); err != nil {
		_ = batch.Abort()
		return err
	}
	return batch.Send()
}
