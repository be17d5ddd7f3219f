// Command ounce is the all-in-one Ounce command: `ounce dev` runs every
// service in one process on an embedded NATS and a ClickHouse it starts
// itself; `ounce migrate` applies the ClickHouse migrations and catalogue.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/ounce-data/ounce/pkg/envflag"
	"github.com/ounce-data/ounce/services/ounce/internal/backfill"
	"github.com/ounce-data/ounce/services/ounce/internal/dev"
	"github.com/ounce-data/ounce/services/ounce/internal/migrate"
	"github.com/ounce-data/ounce/services/ounce/internal/partners"
)

const usage = `usage: ounce <command> [flags]

commands:
  dev       run every service in one process (embedded NATS, managed ClickHouse)
  migrate   apply ClickHouse migrations and the indicator catalogue, then exit
  partners  register gateway partners and manage their keys (add, list, rotate, revoke)
  backfill  run one feed once now against a running stack's NATS, with a progress bar

Run "ounce <command> --help" for the flags of a command; every flag also
reads an OUNCE_* environment variable, shown in the help.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "dev":
		err = dev.Run(ctx, os.Args[2:], os.Stderr)
	case "migrate":
		err = migrate.Run(ctx, os.Args[2:], os.Stderr)
	case "partners":
		err = partners.Run(ctx, os.Args[2:], os.Stdout, os.Stderr)
	case "backfill":
		err = backfill.Run(ctx, os.Args[2:], os.Stderr)
	case "-h", "--help", "help":
		fmt.Fprint(os.Stdout, usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "ounce: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	os.Exit(envflag.ExitCode("ounce "+os.Args[1], err, os.Stderr))
}
