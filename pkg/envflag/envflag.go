// Package envflag binds command-line flags to environment variables: every
// flag --some-name of a service reads OUNCE_<PREFIX>_SOME_NAME (or
// OUNCE_SOME_NAME for shared flags) when it is not given on the command line.
package envflag

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
)

// EnvName is the environment variable of flag name under prefix:
// EnvName("LOADER", "batch-rows") = "OUNCE_LOADER_BATCH_ROWS".
func EnvName(prefix, name string) string {
	n := strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
	if prefix == "" {
		return "OUNCE_" + n
	}
	return "OUNCE_" + strings.ToUpper(prefix) + "_" + n
}

// Parse parses args into fs, then sets every flag not given on the command
// line from its environment variable. shared lists flags that read the
// unprefixed OUNCE_<NAME> (such as nats-url or clickhouse-dsn).
//
// It returns flag.ErrHelp for --help (fs's usage is printed), and a
// UsageError for an unknown flag, a value that does not parse or a bad
// environment variable. fs must use flag.ContinueOnError.
func Parse(fs *flag.FlagSet, prefix string, args []string, shared ...string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &UsageError{Err: err, printed: true}
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	isShared := map[string]bool{}
	for _, s := range shared {
		isShared[s] = true
	}
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || err != nil {
			return
		}
		names := []string{EnvName(prefix, f.Name)}
		if isShared[f.Name] && prefix != "" {
			names = append(names, EnvName("", f.Name))
		}
		for _, env := range names {
			if v, ok := os.LookupEnv(env); ok {
				if serr := f.Value.Set(v); serr != nil {
					err = Usagef("environment %s=%q for --%s: %w", env, v, f.Name, serr)
				}
				return
			}
		}
	})
	return err
}

// NoArgs returns a UsageError when fs was given arguments that are not
// flags: every setting of an Ounce command is a --flag.
func NoArgs(fs *flag.FlagSet) error {
	if fs.NArg() == 0 {
		return nil
	}
	return Usagef("unexpected arguments %q; every setting is a --flag (see --help)", fs.Args())
}

// Usage documents the environment fallbacks in fs's usage output.
func Usage(fs *flag.FlagSet, prefix string) func() {
	return func() {
		out := fs.Output()
		fmt.Fprintf(out, "Usage of %s:\n", fs.Name())
		fs.VisitAll(func(f *flag.Flag) {
			fmt.Fprintf(out, "  --%s (env %s)\n      %s", f.Name, EnvName(prefix, f.Name), f.Usage)
			if f.DefValue != "" {
				fmt.Fprintf(out, " (default %q)", f.DefValue)
			}
			fmt.Fprintln(out)
		})
	}
}
