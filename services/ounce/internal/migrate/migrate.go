// Package migrate is `ounce migrate`: it applies the ClickHouse migrations
// and writes the indicator and place catalogues (extch.Setup), then exits.
package migrate

import (
	"context"
	"flag"
	"io"

	"github.com/ounce-data/ounce/pkg/envflag"
	"github.com/ounce-data/ounce/pkg/extch"
	"github.com/ounce-data/ounce/pkg/logging"
)

// Run is `ounce migrate` with its arguments.
func Run(ctx context.Context, args []string, stderr io.Writer) error {
	var dsn, level, format string
	fs := flag.NewFlagSet("ounce migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&dsn, "clickhouse-dsn", extch.DefaultDSN, "ClickHouse to migrate (clickhouse://host:9000/db)")
	logging.RegisterFlags(fs, &level, &format)
	fs.Usage = envflag.Usage(fs, "")
	if err := envflag.Parse(fs, "", args); err != nil {
		return err
	}
	if err := envflag.NoArgs(fs); err != nil {
		return err
	}
	log, err := logging.New(stderr, level, format)
	if err != nil {
		return envflag.AsUsage(err)
	}
	ch, err := extch.Setup(ctx, dsn)
	if err != nil {
		return err
	}
	extch.LogReady(log, dsn, ch)
	return ch.Conn.Close()
}
