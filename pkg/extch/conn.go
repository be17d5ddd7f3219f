// Package extch extends clickhouse-go for Ounce: connecting (creating the
// database on first use), numbered migrations from schemas/clickhouse, the
// catalogue sync, and the columnar insert of observations.
package extch

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// DefaultDSN is the ClickHouse that ounce dev starts: native protocol on 19000.
const DefaultDSN = "clickhouse://127.0.0.1:19000/ounce"

// Open connects to the ClickHouse named by dsn (native protocol,
// clickhouse://host:port/database?…), creating the database when it does not
// exist, and checks that the server answers.
func Open(ctx context.Context, dsn string) (driver.Conn, error) {
	opts, err := clickhouse.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse clickhouse dsn: %w", err)
	}
	if opts.Protocol != clickhouse.Native {
		return nil, fmt.Errorf("clickhouse dsn %q: use the native protocol (clickhouse://host:9000/db); HTTP does not work with ClickHouse 18.16", dsn)
	}
	if opts.DialTimeout == 0 || opts.DialTimeout > 10*time.Second {
		opts.DialTimeout = 5 * time.Second
	}
	db := opts.Auth.Database
	if db == "" {
		db = "default"
	}
	if db != "default" {
		boot := *opts
		boot.Auth.Database = "default"
		conn, err := clickhouse.Open(&boot)
		if err != nil {
			return nil, fmt.Errorf("open clickhouse %v: %w", opts.Addr, err)
		}
		err = conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+quoteIdent(db))
		if cerr := conn.Close(); err == nil && cerr != nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("create database %s on %v: %w", db, opts.Addr, err)
		}
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("open clickhouse %v: %w", opts.Addr, err)
	}
	if err := conn.Ping(ctx); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("ping clickhouse %v: %w", opts.Addr, err)
	}
	return conn, nil
}

// quoteIdent quotes a ClickHouse identifier with backticks.
func quoteIdent(s string) string {
	out := make([]byte, 0, len(s)+2)
	out = append(out, '`')
	for i := 0; i < len(s); i++ {
		if s[i] == '`' || s[i] == '\\' {
			out = append(out, '\\')
		}
		out = append(out, s[i])
	}
	return string(append(out, '`'))
}

// RedactDSN is dsn with its password, if any, replaced, for logs and errors.
func RedactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return dsn
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
