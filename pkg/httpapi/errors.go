// Package httpapi holds what every Ounce HTTP API shares: the one JSON error
// envelope with its closed set of codes (kept in schemas/errors.yaml), JSON
// writing with strong ETags, liveness and readiness endpoints, per-route
// Prometheus metrics, request ids, and a server that shuts down gracefully.
package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/cespare/xxhash/v2"
)

// Code is a stable error code of the HTTP APIs. The set is closed: every
// code is listed in schemas/errors.yaml with its HTTP status, and a test
// keeps the two in step.
type Code string

// Error codes, as in schemas/errors.yaml.
const (
	CodeBadRequest       Code = "bad_request"
	CodeUnknownIndicator Code = "unknown_indicator"
	CodeNotFound         Code = "not_found"
	CodeMethodNotAllowed Code = "method_not_allowed"
	CodeRangeTooLarge    Code = "range_too_large"
	CodeUnavailable      Code = "unavailable"
	CodeInternal         Code = "internal"

	CodeUnknownPlace      Code = "unknown_place"
	CodeUnauthorized      Code = "unauthorized"
	CodeConflict          Code = "conflict"
	CodePreconditionFail  Code = "precondition_failed"
	CodeInvalidInitiative Code = "invalid_initiative"
	CodeInvalidIndicator  Code = "invalid_indicator"
	CodeInsufficientData  Code = "insufficient_data"
	CodeImplausibleValue  Code = "implausible_value"
	CodeNotAcceptable     Code = "not_acceptable"
	CodeNotComparable     Code = "not_comparable"

	CodeForbidden            Code = "forbidden"
	CodePayloadTooLarge      Code = "payload_too_large"
	CodeUnsupportedMediaType Code = "unsupported_media_type"
	CodeRateLimited          Code = "rate_limited"
	CodeIdempotencyKeyReused Code = "idempotency_key_reused"
	CodeIdempotencyKeyInUse  Code = "idempotency_key_in_use"
	CodeRequestTimeout       Code = "request_timeout"
)

var codeStatus = map[Code]int{
	CodeBadRequest:       http.StatusBadRequest,
	CodeUnknownIndicator: http.StatusNotFound,
	CodeNotFound:         http.StatusNotFound,
	CodeMethodNotAllowed: http.StatusMethodNotAllowed,
	CodeRangeTooLarge:    http.StatusUnprocessableEntity,
	CodeUnavailable:      http.StatusServiceUnavailable,
	CodeInternal:         http.StatusInternalServerError,

	CodeUnknownPlace:      http.StatusNotFound,
	CodeUnauthorized:      http.StatusUnauthorized,
	CodeConflict:          http.StatusConflict,
	CodePreconditionFail:  http.StatusPreconditionFailed,
	CodeInvalidInitiative: http.StatusUnprocessableEntity,
	CodeInvalidIndicator:  http.StatusUnprocessableEntity,
	CodeInsufficientData:  http.StatusUnprocessableEntity,
	CodeImplausibleValue:  http.StatusUnprocessableEntity,
	CodeNotAcceptable:     http.StatusNotAcceptable,
	CodeNotComparable:     http.StatusUnprocessableEntity,

	CodeForbidden:            http.StatusForbidden,
	CodePayloadTooLarge:      http.StatusRequestEntityTooLarge,
	CodeUnsupportedMediaType: http.StatusUnsupportedMediaType,
	CodeRateLimited:          http.StatusTooManyRequests,
	CodeIdempotencyKeyReused: http.StatusConflict,
	CodeIdempotencyKeyInUse:  http.StatusConflict,
	CodeRequestTimeout:       http.StatusRequestTimeout,
}

// Codes returns every error code, sorted.
func Codes() []Code {
	return slices.Sorted(maps.Keys(codeStatus))
}

// Status is the HTTP status a response with this code carries; 500 for a
// code outside the set.
func (c Code) Status() int {
	if s, ok := codeStatus[c]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Error is the body of an error response: what went wrong (Code), what to
// change (Message), which parameter it concerns (Field), if any, for an
// unknown code the known ones it may have meant (Suggestions), and, for a
// request body checked whole, every problem found (Errors).
type Error struct {
	Code        Code      `json:"code"`
	Message     string    `json:"message"`
	Field       string    `json:"field,omitempty"`
	Suggestions []string  `json:"suggestions,omitempty"`
	Errors      []Problem `json:"errors,omitempty"`
}

// Problem is one thing wrong with one field of a request body: its path
// (such as "dims.sex" or "comparison_geos[2]"; absent for the body as a
// whole) and what to change.
type Problem struct {
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// Error returns the message, prefixed by the field when there is one.
func (e *Error) Error() string {
	if e.Field != "" {
		return string(e.Code) + ": " + e.Field + ": " + e.Message
	}
	return string(e.Code) + ": " + e.Message
}

// Errorf builds an Error with a formatted message.
func Errorf(code Code, field, format string, args ...any) *Error {
	return &Error{Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// BadRequest builds a bad_request Error naming the field to change.
func BadRequest(field, format string, args ...any) *Error {
	return Errorf(CodeBadRequest, field, format, args...)
}

// Envelope is the JSON document of every error response:
// {"error":{"code":"...","message":"...","field":"..."}}.
type Envelope struct {
	Error *Error `json:"error"`
}

// WriteError writes e in the error envelope with the status of its code.
func WriteError(w http.ResponseWriter, e *Error) {
	if e == nil {
		e = &Error{Code: CodeInternal, Message: "an error was reported without details"}
	}
	// Marshalling a struct of strings cannot fail.
	body, _ := json.Marshal(Envelope{Error: e})
	h := w.Header()
	h.Del("ETag")
	h.Set("Cache-Control", "no-store")
	writeBody(w, e.Code.Status(), body)
}

// WriteJSON writes v as JSON with the given status. When v cannot be encoded
// it writes an internal error instead and returns the encoding error, for the
// caller to log.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	body, err := marshal(v)
	if err != nil {
		WriteError(w, &Error{Code: CodeInternal, Message: "the response could not be encoded; the server log has details"})
		return err
	}
	writeBody(w, status, body)
	return nil
}

// WriteJSONWithETag writes v as JSON with status 200 and a strong ETag
// computed from the body; when the request's If-None-Match names that ETag
// it answers 304 Not Modified without a body. Clients are asked to
// revalidate every time (Cache-Control: no-cache), so a polling dashboard
// pays for a body only when the data changed.
func WriteJSONWithETag(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := marshal(v)
	if err != nil {
		WriteError(w, &Error{Code: CodeInternal, Message: "the response could not be encoded; the server log has details"})
		return err
	}
	WriteWithETag(w, r, ContentTypeJSON, body)
	return nil
}

// WriteJSONWithETagPrefix is WriteJSONWithETag with prefix put inside the
// tag, before the body's digest ("v12-…"): a resource whose version a
// write checks (If-Match) tags its answer with the version and the body.
func WriteJSONWithETagPrefix(w http.ResponseWriter, r *http.Request, v any, prefix string) error {
	body, err := marshal(v)
	if err != nil {
		WriteError(w, &Error{Code: CodeInternal, Message: "the response could not be encoded; the server log has details"})
		return err
	}
	tag := `"` + prefix + strings.TrimPrefix(ETag(body), `"`)
	h := w.Header()
	h.Set("ETag", tag)
	h.Set("Cache-Control", "no-cache")
	if inm := r.Header.Get("If-None-Match"); inm != "" && ETagMatch(inm, tag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	writeTyped(w, http.StatusOK, ContentTypeJSON, body)
	return nil
}

// Media types the APIs answer with.
const (
	ContentTypeJSON = "application/json; charset=utf-8"
	ContentTypeCSV  = "text/csv; charset=utf-8"
)

// WriteWithETag writes body of the given media type with status 200 and a
// strong ETag computed from it, or 304 Not Modified without a body when the
// request's If-None-Match names that ETag.
func WriteWithETag(w http.ResponseWriter, r *http.Request, contentType string, body []byte) {
	tag := ETag(body)
	h := w.Header()
	h.Set("ETag", tag)
	h.Set("Cache-Control", "no-cache")
	if inm := r.Header.Get("If-None-Match"); inm != "" && ETagMatch(inm, tag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	writeTyped(w, http.StatusOK, contentType, body)
}

// ETag is the strong entity tag of body: a quoted 128-bit digest, two
// xxhash64 sums with different seeds. Tags only tell a client whether its
// copy is current, so a fast non-cryptographic hash serves: hashing a
// 200 kB series answer costs tens of microseconds rather than half a
// millisecond with SHA-256.
func ETag(body []byte) string {
	var sum [16]byte
	binary.LittleEndian.PutUint64(sum[:8], xxhash.Sum64(body))
	d := xxhash.NewWithSeed(etagSeed)
	_, _ = d.Write(body) // a Digest never fails to write
	binary.LittleEndian.PutUint64(sum[8:], d.Sum64())
	return `"` + base64.RawURLEncoding.EncodeToString(sum[:]) + `"`
}

// etagSeed seeds the second half of an ETag's digest.
const etagSeed = 0x6f756e6365 // "ounce"

// ETagMatch reports whether an If-None-Match header value matches tag, using
// the weak comparison RFC 9110 prescribes for If-None-Match.
func ETagMatch(ifNoneMatch, tag string) bool {
	tag = strings.TrimPrefix(tag, "W/")
	for _, c := range strings.Split(ifNoneMatch, ",") {
		c = strings.TrimSpace(c)
		if c == "*" || strings.TrimPrefix(c, "W/") == tag {
			return true
		}
	}
	return false
}

// IfMatch reports whether an If-Match header value matches tag, using the
// strong comparison RFC 9110 prescribes for If-Match: a weak candidate
// (W/"…") never matches, and "*" matches any current representation.
func IfMatch(ifMatch, tag string) bool {
	if strings.HasPrefix(tag, "W/") {
		return false
	}
	for _, c := range strings.Split(ifMatch, ",") {
		c = strings.TrimSpace(c)
		if c == "*" || c == tag {
			return true
		}
	}
	return false
}

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode json response: %w", err)
	}
	return buf.Bytes(), nil
}

func writeBody(w http.ResponseWriter, status int, body []byte) {
	if len(body) == 0 || body[len(body)-1] != '\n' {
		body = append(body, '\n')
	}
	writeTyped(w, status, ContentTypeJSON, body)
}

func writeTyped(w http.ResponseWriter, status int, contentType string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	// A failed write means the client went away; there is no one to tell.
	_, _ = w.Write(body)
}
