// Package backfill is `ounce backfill --feed X`: it runs one feed once, now,
// against the NATS of a running stack, whatever its schedule and without a
// conditional GET, under the feed's lease so no worker pulls it at the same
// time. Unchanged data publishes the same message ids as before and
// JetStream keeps one copy. It shows a progress bar on a terminal (log
// lines otherwise) and a summary at the end.
package backfill

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/ounce-data/ounce/pkg/envflag"
	"github.com/ounce-data/ounce/pkg/extnats"
	"github.com/ounce-data/ounce/pkg/feedcat"
	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/logging"
	"github.com/ounce-data/ounce/pkg/natsserver"
	"github.com/ounce-data/ounce/pkg/places"
	"github.com/ounce-data/ounce/services/ingest"
)

// DefaultLogEvery is how often progress is logged when stderr is not a terminal.
const DefaultLogEvery = 2 * time.Second

// Config of ounce backfill; every field is a flag with an OUNCE_* fallback.
type Config struct {
	Feed      string
	Mirror    string
	NATS      extnats.Client
	DataDir   string
	Progress  string
	LogEvery  time.Duration
	LogLevel  string
	LogFormat string
}

func parse(args []string, stderr io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("ounce backfill", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = envflag.Usage(fs, "BACKFILL")
	fs.StringVar(&c.Feed, "feed", "", "id of the feed to run (required), as in schemas/feeds/<id>.yaml")
	fs.StringVar(&c.Mirror, "mirror", "", "read the feed from this directory of recorded files instead of its URL")
	c.NATS.RegisterFlags(fs, extnats.DefaultURL, "NATS of the running stack")
	fs.StringVar(&c.DataDir, "data-dir", "./.ounce", "data directory of the ounce dev whose services nkey to use when no NATS credentials are given")
	fs.StringVar(&c.Progress, "progress", ProgressAuto, "auto (a bar on a terminal, log lines otherwise), bar, log or none")
	fs.DurationVar(&c.LogEvery, "log-every", DefaultLogEvery, "interval between progress log lines when not drawing a bar")
	logging.RegisterFlags(fs, &c.LogLevel, &c.LogFormat)
	if err := envflag.Parse(fs, "BACKFILL", args, append(extnats.Flags, "mirror", "data-dir")...); err != nil {
		return c, err
	}
	var errs []error
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments %q; give the feed with --feed", fs.Args()))
	}
	if c.Feed == "" {
		errs = append(errs, errors.New("--feed is required: the id of the feed to run"))
	}
	if !slices.Contains([]string{ProgressAuto, ProgressBar, ProgressLog, ProgressNone}, c.Progress) {
		errs = append(errs, fmt.Errorf("--progress %q: want auto, bar, log or none", c.Progress))
	}
	if c.LogEvery <= 0 {
		errs = append(errs, fmt.Errorf("--log-every %s: must be positive", c.LogEvery))
	}
	if c.Mirror != "" {
		if st, err := os.Stat(c.Mirror); err != nil || !st.IsDir() {
			errs = append(errs, fmt.Errorf("--mirror %s: not a directory", c.Mirror))
		}
	}
	c.NATS = c.NATS.OrSeedFile(filepath.Join(c.DataDir, natsserver.ServicesNKeyFile))
	errs = append(errs, c.NATS.Validate())
	return c, envflag.AsUsage(errors.Join(errs...))
}

// Run is `ounce backfill`. It returns the run's error; the summary and the
// progress go to stderr.
func Run(ctx context.Context, args []string, stderr io.Writer) error {
	c, err := parse(args, stderr)
	if err != nil {
		return err
	}
	log, err := logging.New(stderr, c.LogLevel, c.LogFormat)
	if err != nil {
		return envflag.AsUsage(err)
	}
	feeds, err := feedcat.Load()
	if err != nil {
		return fmt.Errorf("load feed catalogue: %w", err)
	}
	f, ok := feedcat.ByID(feeds, c.Feed)
	if !ok {
		ids := make([]string, 0, len(feeds))
		for _, f := range feeds {
			ids = append(ids, f.ID)
		}
		return envflag.Usagef("--feed %s: no such feed in the catalogue; the feeds are %s", c.Feed, strings.Join(ids, ", "))
	}
	cat, err := indicators.Load()
	if err != nil {
		return fmt.Errorf("load indicator catalogue: %w", err)
	}
	pl, err := places.Load()
	if err != nil {
		return fmt.Errorf("load place catalogue: %w", err)
	}
	mode := c.Progress
	if mode == ProgressAuto {
		mode = ProgressLog
		if logging.IsTerminal(stderr) {
			mode = ProgressBar
		}
	}
	d := newDisplay(mode, stderr, log, f.ID, c.LogEvery, time.Now)
	res, err := run(ctx, c, f, cat, pl, log, d)
	if err != nil {
		return err
	}
	// After the connection is closed, so the summary is the last line.
	summary(stderr, res, d.p)
	return nil
}

// run connects to NATS, runs feed f once under its lease and drains the
// connection.
func run(ctx context.Context, c Config, f feedcat.Feed, cat *indicators.Catalogue, pl *places.Catalogue, log zerolog.Logger, d *display) (res ingest.Result, err error) {
	nc, js, err := extnats.Connect(c.NATS, "ounce-backfill", log)
	if err != nil {
		return res, err
	}
	defer func() {
		if derr := extnats.Drain(nc, 10*time.Second); derr != nil {
			err = errors.Join(err, derr)
		}
	}()
	ectx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = extnats.Topology{}.Ensure(ectx, js)
	cancel()
	if err != nil {
		return res, err
	}
	in, err := ingest.New(ingest.Config{MirrorDir: c.Mirror}, js, []feedcat.Feed{f}, cat, pl, log, prometheus.NewRegistry())
	if err != nil {
		return res, err
	}
	res, err = in.RunFeedWith(ctx, f.ID, ingest.RunOptions{Unconditional: true, Lease: true, Progress: d.update})
	d.finish()
	return res, err
}

// summary writes what the run did, for a person.
func summary(w io.Writer, res ingest.Result, p ingest.Progress) {
	secs := res.Duration.Seconds()
	fresh := res.Messages - res.Duplicates
	fmt.Fprintf(w, "backfill %s: %d rows, %d observations in %d messages (%d new, %d already in the stream) from %s (%s), version %d, in %s",
		res.Feed, res.Rows, res.Observations, res.Messages, fresh, res.Duplicates, res.Source, byteSize(p.BytesTotal),
		res.Version, res.Duration.Round(time.Millisecond))
	if secs > 0 {
		fmt.Fprintf(w, " (%s obs/s)", count(int(float64(res.Observations)/secs)))
	}
	fmt.Fprintln(w)
}
