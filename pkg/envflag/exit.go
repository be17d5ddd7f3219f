package envflag

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// UsageError is a mistake in how a command was called: an unknown flag, a
// value that does not parse, a stray argument, a bad OUNCE_* variable or a
// setting that fails validation. Commands exit 2 on it and 1 on any other
// failure, so scripts can tell "fix the command line" from "it broke".
type UsageError struct {
	Err error
	// printed is set when the flag package already wrote the message and
	// the usage to the flag set's output.
	printed bool
}

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef returns a UsageError with the formatted message.
func Usagef(format string, a ...any) error {
	return &UsageError{Err: fmt.Errorf(format, a...)}
}

// AsUsage marks err, when not nil, as a UsageError: for the error of a
// configuration's Validate, which is the caller's to fix.
func AsUsage(err error) error {
	if err == nil {
		return nil
	}
	var ue *UsageError
	if errors.As(err, &ue) {
		return err
	}
	return &UsageError{Err: err}
}

// Exit codes of every Ounce command.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
)

// ExitCode reports err on stderr as "name: err" and returns the command's
// exit code: 0 for nil or flag.ErrHelp (--help printed the command's own
// flags), 2 for a UsageError, 1 for anything else.
func ExitCode(name string, err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	var ue *UsageError
	if errors.As(err, &ue) {
		if !ue.printed {
			fmt.Fprintf(stderr, "%s: %v\nRun '%s --help' for its flags.\n", name, err, name)
		}
		return ExitUsage
	}
	fmt.Fprintf(stderr, "%s: %v\n", name, err)
	return ExitFailure
}
