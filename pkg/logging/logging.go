// Package logging builds the one zerolog.Logger a process injects everywhere.
//
// Durations are logged in seconds, under keys that end in _seconds, so a
// log line reads the same whatever the collector makes of numbers.
package logging

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
)

// Format of log lines.
const (
	// FormatAuto is console lines on a terminal, JSON otherwise: a file or
	// a pipe never receives colour escape codes.
	FormatAuto    = "auto"
	FormatJSON    = "json"
	FormatConsole = "console"
)

func init() {
	// zerolog's Dur writes milliseconds by default; every duration key of
	// Ounce ends in _seconds.
	zerolog.DurationFieldUnit = time.Second
	zerolog.DurationFieldInteger = false
}

// RegisterFlags binds --log-level and --log-format to level and format,
// with the defaults every command shares.
func RegisterFlags(fs *flag.FlagSet, level, format *string) {
	fs.StringVar(level, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(format, "log-format", FormatAuto, "auto (console on a terminal, json otherwise), json or console")
}

// New returns a logger writing to w at level ("debug", "info", "warn",
// "error") in format ("auto", "json" or "console"). Console lines are
// coloured only when w is a terminal.
func New(w io.Writer, level, format string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		return zerolog.Nop(), fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	term := IsTerminal(w)
	switch format {
	case FormatAuto:
		if term {
			w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339}
		}
	case FormatJSON:
	case FormatConsole:
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339, NoColor: !term}
	default:
		return zerolog.Nop(), fmt.Errorf("--log-format %q: want auto, json or console", format)
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}

// Stderr is New on os.Stderr.
func Stderr(level, format string) (zerolog.Logger, error) { return New(os.Stderr, level, format) }

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}
