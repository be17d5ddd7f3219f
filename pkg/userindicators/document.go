// Package userindicators holds the indicators users define beside the
// catalogue: a council's local screening rate, the packs of cigarettes a
// charity's shops sold. Each is a Document registered under
// user.<namespace>.<name> (POST /v1/indicators on the query service) and
// kept in the JetStream key-value bucket extnats.BucketUserIndicators, the
// one source every service reads: the query service writes it (Store), and
// the query service, the gateway and the loader keep a live view of it
// (Watcher) that, with the catalogue, is one lookup (Union).
package userindicators

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/observation"
)

// Prefix starts every user indicator's code, and no catalogue code
// (indicators.LoadFS refuses it there).
const Prefix = indicators.UserPrefix

// Aggregation methods: how the values of several places combine.
const (
	// MethodSum: the values add up (a count, a quantity sold).
	MethodSum = "sum"
	// MethodAvg: the values average but do not add up (a level, a share
	// whose parts are not held).
	MethodAvg = "avg"
	// MethodRatio: the value is numerator / denominator × scale of two
	// other indicators, and aggregates as Σ numerator / Σ denominator.
	MethodRatio = "ratio"
)

// Methods lists the aggregation methods.
var Methods = []string{MethodSum, MethodAvg, MethodRatio}

// Domains a user indicator may belong to: the observation domains but
// partner, which names where data comes from rather than what it is about.
var Domains = slices.DeleteFunc(slices.Clone(observation.Domains), func(d string) bool { return d == "partner" })

// Limits of a document's text fields and of a code.
const (
	MaxCodeLen        = 128
	MaxNameLen        = 200
	MaxDescriptionLen = 2000
	MaxUnitLen        = observation.MaxUnitLen
	MaxLicenceLen     = observation.MaxLicenceLen
	// MaxDocumentBytes bounds an encoded document; one is a few hundred bytes.
	MaxDocumentBytes = 64 << 10
)

// Document is a user indicator as its registrant wrote it: the body of
// POST /v1/indicators and what the bucket holds under its code.
type Document struct {
	// Code is user.<namespace>.<name>: lower-case letters, digits and '_'
	// in each part, the name also '.'.
	Code        string `json:"code"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Unit        string `json:"unit"`
	// Scale multiplies numerator / denominator of a ratio into the unit
	// (100 for a percentage); only with aggregation ratio; 1 when absent.
	Scale       *float64            `json:"scale,omitempty"`
	Polarity    indicators.Polarity `json:"polarity"`
	Domain      string              `json:"domain"`
	Aggregation Aggregation         `json:"aggregation"`
	// Licence is the licence of the indicator's data.
	Licence string `json:"licence"`
	// Range is where values are plausible beyond what the unit says; the
	// gateway refuses a partner's value outside it.
	Range *indicators.Range `json:"range,omitempty"`

	// aggregationGiven: Decode read an aggregation object, so a missing
	// method is reported as aggregation.method rather than aggregation.
	aggregationGiven bool
}

// Aggregation says how a user indicator's values combine over places:
// Method sum, avg or ratio; a ratio names its Numerator and Denominator,
// each a catalogue or user indicator.
type Aggregation struct {
	Method      string `json:"method"`
	Numerator   string `json:"numerator,omitempty"`
	Denominator string `json:"denominator,omitempty"`
}

// Namespace is the namespace part of the code (user.<namespace>.<name>),
// or "" when the code has none.
func (d Document) Namespace() string {
	rest, ok := strings.CutPrefix(d.Code, Prefix)
	if !ok {
		return ""
	}
	ns, _, _ := strings.Cut(rest, ".")
	return ns
}

// Indicator is the document as an entry of the indicator catalogue, as
// every service looks indicators up: aggregation ratio becomes Ratio, avg an
// Aggregation with rollup avg, sum neither (values add, as a catalogue
// count's do). The producer is the namespace.
func (d Document) Indicator() indicators.Indicator {
	ind := indicators.Indicator{
		Code: d.Code, Name: d.Name, Unit: d.Unit, Polarity: d.Polarity, Domain: d.Domain,
		Description: d.Description, Producer: d.Namespace(), Licence: d.Licence,
	}
	if d.Range != nil {
		r := *d.Range
		ind.Range = &r
	}
	switch d.Aggregation.Method {
	case MethodRatio:
		scale := 1.0
		if d.Scale != nil {
			scale = *d.Scale
		}
		ind.Ratio = &indicators.Ratio{Numerator: d.Aggregation.Numerator, Denominator: d.Aggregation.Denominator, Scale: scale}
	case MethodAvg:
		ind.Aggregation = &indicators.Aggregation{Rollup: indicators.RollupAvg,
			Reason: "its registrant declared aggregation avg: its values average over places and do not add up"}
	}
	return ind
}

// ValidCode reports whether code can be a user indicator's code:
// user.<namespace>.<name>, each part of lower-case letters, digits and '_'
// starting with a letter or digit, the name possibly in several parts
// joined by '.'; at most MaxCodeLen characters. Such a code is also a valid
// observation indicator and a valid key of the bucket.
func ValidCode(code string) bool {
	rest, ok := strings.CutPrefix(code, Prefix)
	if !ok || len(code) > MaxCodeLen {
		return false
	}
	parts := strings.Split(rest, ".")
	if len(parts) < 2 {
		return false
	}
	for _, p := range parts {
		if p == "" || p[0] == '_' {
			return false
		}
		for i := 0; i < len(p); i++ {
			c := p[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
				return false
			}
		}
	}
	return true
}

// Problem is one thing wrong with one field of a document: its JSON path
// ("aggregation.numerator", "range.min"; "" for the document as a whole)
// and what to change.
type Problem struct {
	Field   string
	Message string
}

func (p Problem) String() string {
	if p.Field == "" {
		return p.Message
	}
	return p.Field + ": " + p.Message
}

// InvalidError is a document that breaks a rule: every problem found.
type InvalidError struct {
	Problems []Problem
}

func (e *InvalidError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.String()
	}
	return "invalid user indicator: " + strings.Join(parts, "; ")
}

// problems collects a document's problems.
type problems []Problem

func (ps *problems) add(field, format string, args ...any) {
	*ps = append(*ps, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (ps problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	return &InvalidError{Problems: ps}
}

// Fields of the document, in the order errors list them.
var fieldOrder = []string{"code", "name", "description", "unit", "scale", "polarity", "domain", "aggregation", "licence", "range"}

// Decode reads one document strictly: a JSON object whose members are
// fields of Document with the right JSON types, each given once, and
// nothing after it. Every problem is reported at once in an
// *InvalidError; null stands for a field left out. Decode checks form
// only; Check checks values.
func Decode(data []byte) (Document, error) {
	var (
		d  Document
		ps problems
	)
	members, ok := readObject(data, "", &ps, true)
	if !ok {
		return d, ps.err()
	}
	for _, m := range members {
		switch m.key {
		case "code":
			readString(m, &d.Code, &ps)
		case "name":
			readString(m, &d.Name, &ps)
		case "description":
			readString(m, &d.Description, &ps)
		case "unit":
			readString(m, &d.Unit, &ps)
		case "scale":
			d.Scale = readNumber(m, &ps)
		case "polarity":
			var s string
			readString(m, &s, &ps)
			d.Polarity = indicators.Polarity(s)
		case "domain":
			readString(m, &d.Domain, &ps)
		case "licence":
			readString(m, &d.Licence, &ps)
		case "aggregation":
			if isNull(m.raw) {
				continue
			}
			sub, ok := readObject(m.raw, m.path, &ps, false)
			if !ok {
				continue
			}
			d.aggregationGiven = true
			for _, s := range sub {
				switch s.key {
				case "method":
					readString(s, &d.Aggregation.Method, &ps)
				case "numerator":
					readString(s, &d.Aggregation.Numerator, &ps)
				case "denominator":
					readString(s, &d.Aggregation.Denominator, &ps)
				default:
					ps.add(s.path, "is not a field of aggregation; its fields are method, numerator and denominator")
				}
			}
		case "range":
			if isNull(m.raw) {
				continue
			}
			sub, ok := readObject(m.raw, m.path, &ps, false)
			if !ok {
				continue
			}
			r := indicators.Range{}
			for _, s := range sub {
				switch s.key {
				case "min":
					r.Min = readNumber(s, &ps)
				case "max":
					r.Max = readNumber(s, &ps)
				default:
					ps.add(s.path, "is not a field of range; its fields are min and max")
				}
			}
			d.Range = &r
		default:
			ps.add(m.path, "is not a field of a user indicator; the fields are %s", strings.Join(fieldOrder, ", "))
		}
	}
	return d, ps.err()
}

// member is one member of a JSON object, in document order.
type member struct {
	key, path string
	raw       json.RawMessage
}

// readObject reads raw as one JSON object, noting each member given twice;
// top says raw is the whole body, after which nothing may follow.
func readObject(raw []byte, at string, ps *problems, top bool) ([]member, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		ps.add(at, "%s", syntaxProblem(err, top && len(bytes.TrimSpace(raw)) == 0))
		return nil, false
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		if top {
			ps.add(at, "the body must be one JSON object (the user indicator document), not %s", kindOf(raw))
		} else {
			ps.add(at, "must be an object, got %s", kindOf(raw))
		}
		return nil, false
	}
	var out []member
	seen := map[string]bool{}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			ps.add(at, "%s", syntaxProblem(err, false))
			return nil, false
		}
		key, _ := kt.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			ps.add(at, "%s", syntaxProblem(err, false))
			return nil, false
		}
		path := key
		if at != "" {
			path = at + "." + key
		}
		if seen[key] {
			ps.add(path, "is given twice; give each field once")
			continue
		}
		seen[key] = true
		out = append(out, member{key: key, path: path, raw: v})
	}
	if _, err := dec.Token(); err != nil {
		ps.add(at, "%s", syntaxProblem(err, false))
		return nil, false
	}
	if top {
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			ps.add("", "trailing data after the document (near byte %d): send exactly one JSON object", dec.InputOffset())
			return nil, false
		}
	}
	return out, true
}

// syntaxProblem says what is wrong with a body that is not JSON; empty
// says nothing was sent.
func syntaxProblem(err error, empty bool) string {
	var se *json.SyntaxError
	switch {
	case errors.Is(err, io.EOF) && empty:
		return "the body is empty: send the user indicator as a JSON object"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON document ends early: it is cut off or a bracket is not closed"
	case errors.As(err, &se):
		return fmt.Sprintf("the body is not valid JSON: %s (at byte %d)", se.Error(), se.Offset)
	}
	return fmt.Sprintf("the body is not valid JSON: %v", err)
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// kindOf names the JSON type of raw for a message.
func kindOf(raw []byte) string {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return "nothing"
	}
	switch t[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "true or false"
	case 'n':
		return "null"
	}
	return "a number"
}

func readString(m member, dst *string, ps *problems) {
	if isNull(m.raw) {
		return
	}
	if err := json.Unmarshal(m.raw, dst); err != nil {
		ps.add(m.path, "must be a string, got %s", kindOf(m.raw))
	}
}

func readNumber(m member, ps *problems) *float64 {
	if isNull(m.raw) {
		return nil
	}
	if kindOf(m.raw) != "a number" {
		ps.add(m.path, "must be a number, got %s", kindOf(m.raw))
		return nil
	}
	var f float64
	if err := json.Unmarshal(m.raw, &f); err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		ps.add(m.path, "must be a finite number, got %s", bytes.TrimSpace(m.raw))
		return nil
	}
	return &f
}

// Check reports every problem with d's values at once, as an
// *InvalidError (nil when there is none): a code of the user namespace
// (not a catalogue code), the required text fields, polarity, domain, the
// aggregation (a ratio's parts found by lookup, catalogue or user, and not
// ratios themselves), scale and range. Whether the code is already
// registered is the store's answer (ErrExists).
func (d Document) Check(lookup indicators.Lookup) error {
	var ps problems
	switch {
	case d.Code == "":
		ps.add("code", "is required: user.<namespace>.<name>, such as user.my_council.screening_rate")
	case !strings.HasPrefix(d.Code, Prefix):
		if ind, ok := lookup.Indicator(d.Code); ok && !strings.HasPrefix(ind.Code, Prefix) {
			ps.add("code", "%q is an indicator of the catalogue: a user indicator cannot replace it. Its code is user.<namespace>.<name>, such as user.my_council.%s", d.Code, suggestName(d.Code))
		} else {
			ps.add("code", "%q must start with %q: a user indicator's code is user.<namespace>.<name> (the catalogue never uses that prefix), such as user.my_council.%s", d.Code, Prefix, suggestName(d.Code))
		}
	case !ValidCode(d.Code):
		ps.add("code", "%q must be user.<namespace>.<name> with each part of lower-case letters, digits and '_' (starting with a letter or digit; the name may have further parts after '.'), at most %d characters", d.Code, MaxCodeLen)
	}
	text := func(field, v string, required bool, max int, newlines bool, what string) {
		switch {
		case strings.TrimSpace(v) == "":
			if required {
				ps.add(field, "is required: %s", what)
			}
		case utf8.RuneCountInString(v) > max:
			ps.add(field, "is %d characters; at most %d", utf8.RuneCountInString(v), max)
		case !plain(v, newlines):
			ps.add(field, "must be UTF-8 text without control characters")
		}
	}
	text("name", d.Name, true, MaxNameLen, false, "what the indicator measures, for people (\"Bowel cancer screening uptake\")")
	text("description", d.Description, false, MaxDescriptionLen, true, "")
	text("unit", d.Unit, true, MaxUnitLen, false, "the unit of every value, as partners write it (\"% of eligible\", \"packs\")")
	switch d.Polarity {
	case indicators.LowerIsBetter, indicators.HigherIsBetter, indicators.Neutral:
	case "":
		ps.add("polarity", "is required: lower, higher or neutral (which direction is better)")
	default:
		ps.add("polarity", "%q is not lower, higher or neutral", d.Polarity)
	}
	switch {
	case d.Domain == "":
		ps.add("domain", "is required: one of %s", strings.Join(Domains, ", "))
	case !slices.Contains(Domains, d.Domain):
		ps.add("domain", "%q is not one of %s", d.Domain, strings.Join(Domains, ", "))
	}
	d.checkAggregation(lookup, &ps)
	if d.Scale != nil {
		switch {
		case d.Aggregation.Method != MethodRatio:
			ps.add("scale", "applies to a ratio only (value = numerator / denominator × scale); leave it out, or use aggregation method ratio")
		case *d.Scale == 0:
			ps.add("scale", "must not be 0 (1 when numerator / denominator is already in the unit, 100 for a percentage)")
		}
	}
	text("licence", d.Licence, true, MaxLicenceLen, false, "the licence of the indicator's data (\"OGL-UK-3.0\", \"CC BY 4.0\")")
	if r := d.Range; r != nil {
		switch {
		case r.Min == nil && r.Max == nil:
			ps.add("range", "gives neither min nor max; give one or both, or leave range out")
		case r.Min != nil && r.Max != nil && *r.Min >= *r.Max:
			ps.add("range.min", "%v must be below range.max %v", *r.Min, *r.Max)
		}
	}
	return ps.err()
}

func (d Document) checkAggregation(lookup indicators.Lookup, ps *problems) {
	a := d.Aggregation
	switch {
	case a.Method == "" && !d.aggregationGiven && a == Aggregation{}:
		ps.add("aggregation", `is required: {"method": "sum"} (values add up over places), {"method": "avg"} (they average) or {"method": "ratio", "numerator": …, "denominator": …}`)
		return
	case a.Method == "":
		ps.add("aggregation.method", "is required: sum (values add up over places), avg (they average) or ratio (of a numerator and a denominator indicator)")
		return
	}
	switch a.Method {
	case MethodSum, MethodAvg, MethodRatio:
	default:
		ps.add("aggregation.method", "%q is not one of %s", a.Method, strings.Join(Methods, ", "))
		return
	}
	if a.Method != MethodRatio {
		for _, p := range []struct{ field, code string }{{"aggregation.numerator", a.Numerator}, {"aggregation.denominator", a.Denominator}} {
			if p.code != "" {
				ps.add(p.field, "applies to a ratio only; leave it out, or use method ratio")
			}
		}
		switch unit := strings.TrimSpace(d.Unit); {
		case a.Method != MethodSum || unit == "":
		case strings.HasPrefix(unit, "%"):
			ps.add("aggregation.method", "sum: unit %q is a share, and shares do not add up over places; use avg, or ratio of its numerator and denominator", d.Unit)
		case (indicators.Indicator{Code: d.Code, Unit: d.Unit}).IsRate():
			ps.add("aggregation.method", "sum: unit %q reads as a rate, and rates do not add up over places; use avg, or ratio of its numerator and denominator", d.Unit)
		}
		return
	}
	for _, p := range []struct{ field, role, code string }{
		{"aggregation.numerator", "numerator", a.Numerator}, {"aggregation.denominator", "denominator", a.Denominator},
	} {
		switch {
		case p.code == "":
			ps.add(p.field, "is required for method ratio: the code of the %s indicator (catalogue or user)", p.role)
			continue
		case p.code == d.Code:
			ps.add(p.field, "names the indicator itself; a ratio is of two other indicators")
			continue
		}
		ind, ok := lookup.Indicator(p.code)
		switch {
		case !ok:
			ps.add(p.field, "%q is neither an indicator of the catalogue nor a registered user indicator; GET /v1/indicators lists them (register a user part first)", p.code)
		case ind.Ratio != nil:
			ps.add(p.field, "%s is itself a ratio (%s / %s); name its parts instead", p.code, ind.Ratio.Numerator, ind.Ratio.Denominator)
		}
	}
	if a.Numerator != "" && a.Numerator == a.Denominator {
		ps.add("aggregation.denominator", "equals the numerator; a ratio is of two different indicators")
	}
}

// suggestName turns a code into a name part for an example code.
func suggestName(code string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(code) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0:
			b.WriteByte('_')
		}
	}
	s := strings.Trim(b.String(), "_")
	if s == "" {
		return "my_indicator"
	}
	return s
}

// plain reports whether s is UTF-8 text without control characters, line
// breaks and tabs allowed when newlines.
func plain(s string, newlines bool) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if newlines && (r == '\n' || r == '\t' || r == '\r') {
			continue
		}
		if r < 0x20 || (r >= 0x7f && r <= 0x9f) {
			return false
		}
	}
	return true
}

// Dependents are the codes of the user indicators in all whose ratio
// names code as a part, sorted.
func Dependents(code string, all []Stored) []string {
	var out []string
	for _, s := range all {
		if a := s.Aggregation; a.Method == MethodRatio && (a.Numerator == code || a.Denominator == code) && s.Code != code {
			out = append(out, s.Code)
		}
	}
	slices.Sort(out)
	return out
}
