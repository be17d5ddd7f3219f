package savings

import (
	"fmt"
	"strings"
)

// Code is the stable code of an InputError. Each code is listed in
// schemas/errors.yaml with the HTTP status a handler answers with.
type Code string

// Input error codes. Each maps to a code of schemas/errors.yaml (APICode;
// TestCodesAreInTheSchema holds them to it).
const (
	// CodeInvalidInitiative: the initiative document breaks a rule of
	// docs/savings.md: it is not one JSON object, a field has the wrong type, is
	// unknown, or is out of range (422). Field is its JSON path.
	CodeInvalidInitiative Code = "invalid_initiative"
	// CodeUnknownMethod: the method asked for is not modelled, its, did or synth;
	// answered as bad_request (400) naming the parameter "method".
	CodeUnknownMethod Code = "unknown_method"
	// CodeInsufficientData: the data held for the initiative's indicator and
	// places cannot support the method, e.g. fewer than 3 pre-period years (422).
	CodeInsufficientData Code = "insufficient_data"
	// CodeImplausibleValue: a stored value the report would use lies
	// outside its indicator's plausible range, or a figure of the report
	// would be too large to show exactly (422). Field names the input.
	CodeImplausibleValue Code = "implausible_value"
)

// Codes lists every code an InputError may carry.
func Codes() []Code {
	return []Code{CodeInvalidInitiative, CodeUnknownMethod, CodeInsufficientData, CodeImplausibleValue}
}

// APICode is the code of schemas/errors.yaml an HTTP handler answers with.
func (c Code) APICode() string {
	if c == CodeUnknownMethod {
		return "bad_request"
	}
	return string(c)
}

// Problem is one thing wrong with one field.
type Problem struct {
	Field   string `json:"field"`   // JSON path, e.g. "costs[2].year"; "" for the document as a whole
	Message string `json:"message"` // what is wrong and what to change
}

func (p Problem) String() string {
	if p.Field == "" {
		return p.Message
	}
	return p.Field + ": " + p.Message
}

// InputError is a client mistake: the handlers answer it with the 4xx status
// of its Code, naming Field, with Message. Problems lists every problem found
// (at least one); Field is the first one's field, and with several problems
// Message lists them all as "field: message; field: message".
type InputError struct {
	Code     Code
	Field    string
	Message  string
	Problems []Problem
	// Suggestions are known codes a mistyped one may have meant.
	Suggestions []string
	cause       error // e.g. a *NotEnoughDataError, for errors.As
}

// Unwrap returns the error the InputError was made from, if any.
func (e *InputError) Unwrap() error { return e.cause }

func (e *InputError) Error() string {
	if e.Field == "" || len(e.Problems) > 1 {
		return string(e.Code) + ": " + e.Message
	}
	return string(e.Code) + ": " + e.Field + ": " + e.Message
}

// inputError builds an InputError with one problem.
func inputError(code Code, field, format string, args ...any) *InputError {
	msg := fmt.Sprintf(format, args...)
	return &InputError{Code: code, Field: field, Message: msg, Problems: []Problem{{Field: field, Message: msg}}}
}

// problems collects every problem of a document before it is reported.
type problems []Problem

func (ps *problems) add(field, format string, args ...any) {
	*ps = append(*ps, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
}

// err is nil without problems, else one InputError holding them all.
func (ps problems) err(code Code) error {
	if len(ps) == 0 {
		return nil
	}
	return Problems(code, ps)
}

// Problems is one InputError holding every problem of ps (at least one).
func Problems(code Code, ps []Problem) *InputError {
	if len(ps) == 1 {
		return &InputError{Code: code, Field: ps[0].Field, Message: ps[0].Message, Problems: ps}
	}
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.String()
	}
	return &InputError{Code: code, Field: ps[0].Field, Message: strings.Join(parts, "; "), Problems: ps}
}
