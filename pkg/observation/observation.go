// Package observation is the one canonical event of Ounce: a value of an
// indicator for a place over a period, in a breakdown, according to a source,
// as of a version. Feeds and partners produce observations; the loader writes
// them to ClickHouse; the query service reads them back.
package observation

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Observation is one fact. Its natural key is (Indicator, Geo, Period, Dims,
// Source); the highest Version of a key wins.
type Observation struct {
	Indicator  string     `json:"indicator"`
	Geo        string     `json:"geo"`
	Period     Period     `json:"period"`
	Dims       Dims       `json:"dims,omitempty"`
	Value      *float64   `json:"value"`
	Unit       string     `json:"unit"`
	Source     string     `json:"source"`
	Version    uint64     `json:"version"`
	Provenance Provenance `json:"provenance"`
	Initiative string     `json:"initiative,omitempty"`
	// Flag is the publisher's status of the value, as the publisher writes
	// it (Eurostat's "p" provisional, "e" estimated, several letters for
	// several statuses); its feed's code list says what each letter means.
	// It is an attribute, not part of the key: a provisional value and its
	// final release are two versions of one fact.
	Flag string `json:"flag,omitempty"`
	// Quality lists what the data-quality rules found about the value
	// (pkg/quality), in the order of QualityCodes; empty when nothing.
	Quality []string `json:"quality,omitempty"`
}

// Quality codes: what a data-quality rule found about a value. Flagged
// values are stored and served with their codes, never dropped.
const (
	// QualityOutOfRange: the value lies outside the indicator's declared
	// range (or its unit's: a share between 0 and 100).
	QualityOutOfRange = "out_of_range"
	// QualityExceedsWhole: the value exceeds the value, for the same place,
	// period and breakdown, of the indicator the catalogue says it is part of.
	QualityExceedsWhole = "exceeds_whole"
	// QualityPeriodOutOfRange: the period lies outside the feed's declared
	// range of periods.
	QualityPeriodOutOfRange = "period_out_of_range"
	// QualityOutlier: the value is an outlier of its series by the modified
	// z-score of its deviation from the series' running median.
	QualityOutlier = "outlier"
)

// QualityCodes lists every quality code, in the order an observation lists
// them.
var QualityCodes = []string{QualityOutOfRange, QualityExceedsWhole, QualityPeriodOutOfRange, QualityOutlier}

// MaxFlagLen is the longest flag: a few status letters.
const MaxFlagLen = 8

// ValidFlag reports whether s is a well-formed flag: 1-8 ASCII letters.
func ValidFlag(s string) bool {
	if s == "" || len(s) > MaxFlagLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// Provenance says where a value came from.
type Provenance struct {
	URL         string    `json:"url,omitempty"`
	Licence     string    `json:"licence"`
	RetrievedAt time.Time `json:"retrieved_at"`
}

// Dims is a breakdown (sex, age band, fuel…) as key/value pairs.
type Dims map[string]string

// Canonical is the dims as sorted "k=v" pairs joined by "&", with keys and
// values query-escaped: the form stored in ClickHouse and used in the key.
func (d Dims) Canonical() string {
	if len(d) == 0 {
		return ""
	}
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(escapeDim(k))
		b.WriteByte('=')
		b.WriteString(escapeDim(d[k]))
	}
	return b.String()
}

// ParseDims reads the canonical form written by Canonical.
func ParseDims(s string) (Dims, error) {
	if s == "" {
		return nil, nil
	}
	d := Dims{}
	for _, pair := range strings.Split(s, "&") {
		k, v, ok := strings.Cut(pair, "=")
		if !ok {
			return nil, fmt.Errorf("dims %s: pair %s has no '='", Quote(s), Quote(pair))
		}
		uk, err1 := unescapeDim(k)
		uv, err2 := unescapeDim(v)
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("dims %s: %w", Quote(s), err)
		}
		d[uk] = uv
	}
	return d, nil
}

func escapeDim(s string) string {
	if !strings.ContainsAny(s, "%&=") {
		return s
	}
	r := strings.NewReplacer("%", "%25", "&", "%26", "=", "%3D")
	return r.Replace(s)
}

func unescapeDim(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	r := strings.NewReplacer("%25", "%", "%26", "&", "%3D", "=")
	return r.Replace(s), nil
}

// Key is the natural key of an observation as one comparable string.
func (o *Observation) Key() string {
	return o.Indicator + "|" + o.Geo + "|" + string(o.Period.Grain) + "|" +
		strconv.FormatInt(o.Period.Start.Unix(), 10) + "|" + o.Dims.Canonical() + "|" + o.Source
}

// FieldError is one problem with one field of one observation.
type FieldError struct {
	Field  string // JSON path inside the observation, e.g. "period.start"
	Reason string // what is wrong and what to change
}

func (e FieldError) Error() string { return e.Field + ": " + e.Reason }

// ValidationError lists every problem found in one observation.
type ValidationError struct {
	Problems []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Error()
	}
	return strings.Join(parts, "; ")
}

// Field patterns, kept equal to observation.schema.json (a test checks
// them against the schema's regular expressions).
var (
	indicatorRE  = newPattern(alnum, alnum+"._-", 128)
	geoRE        = newPattern(alnum, alnum+"._:-", 64)
	dimKeyRE     = newPattern(lower, lower+digits+"_", 32)
	initiativeRE = newPattern(alnum, alnum+"._-", 64)
	feedIDRE     = newPattern(lower+digits, lower+digits+"-", 64)
	sourceRE     = sourcePattern{}
)

const (
	lower  = "abcdefghijklmnopqrstuvwxyz"
	digits = "0123456789"
	alnum  = lower + "ABCDEFGHIJKLMNOPQRSTUVWXYZ" + digits
)

// pattern matches ^[first][rest]{0,max-1}$ over ASCII, a table lookup per
// byte: the loader checks several fields of every observation.
type pattern struct {
	first, rest [256]bool
	max         int
}

func newPattern(first, rest string, max int) *pattern {
	p := &pattern{max: max}
	for i := 0; i < len(first); i++ {
		p.first[first[i]] = true
	}
	for i := 0; i < len(rest); i++ {
		p.rest[rest[i]] = true
	}
	return p
}

func (p *pattern) MatchString(s string) bool {
	if len(s) == 0 || len(s) > p.max || !p.first[s[0]] {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !p.rest[s[i]] {
			return false
		}
	}
	return true
}

// sourcePattern matches a feed id or partner:<feed id>.
type sourcePattern struct{}

func (sourcePattern) MatchString(s string) bool {
	if id, ok := strings.CutPrefix(s, "partner:"); ok {
		return feedIDRE.MatchString(id)
	}
	return feedIDRE.MatchString(s)
}

// Limits on an observation's fields, kept equal to observation.schema.json.
const (
	MaxDims        = 16
	MaxDimValueLen = 128
	MaxUnitLen     = 64
	MaxLicenceLen  = 256
	MaxURLLen      = 2048
)

// Validate reports every problem with o, or nil. It checks shape only; whether
// the indicator is in the catalogue is the caller's question.
func (o *Observation) Validate() error {
	var ps []FieldError
	add := func(field, format string, args ...any) {
		ps = append(ps, FieldError{Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	if !indicatorRE.MatchString(o.Indicator) {
		if o.Indicator == "" {
			add("indicator", "is missing")
		} else {
			add("indicator", "%s must be 1-128 letters, digits, '.', '_' or '-'", Quote(o.Indicator))
		}
	}
	if !geoRE.MatchString(o.Geo) {
		if o.Geo == "" {
			add("geo", "is missing")
		} else {
			add("geo", "%s must be 1-64 letters, digits, '.', '_', ':' or '-'", Quote(o.Geo))
		}
	}
	if err := o.Period.Check(); err != nil {
		add("period", "%s", err)
	}
	if len(o.Dims) > MaxDims {
		add("dims", "has %d entries; at most %d", len(o.Dims), MaxDims)
	}
	for k, v := range o.Dims {
		field := "dims." + k
		if !dimKeyRE.MatchString(k) {
			if len(k) > 32 {
				field = "dims." + k[:32] + "…"
			}
			add(field, "key %s must be lower-case snake_case, 1-32 characters", Quote(k))
		}
		switch {
		case v == "" || len(v) > MaxDimValueLen:
			add(field, "value must be 1-%d characters", MaxDimValueLen)
		case !PlainText(v):
			add(field, "value %s holds a control character or is not UTF-8; send printable text", Quote(v))
		}
	}
	switch {
	case o.Value == nil:
		add("value", "is missing; leave out the observation when there is no value, never send zero")
	case math.IsNaN(*o.Value) || math.IsInf(*o.Value, 0):
		add("value", "must be a finite number")
	}
	if o.Unit == "" || len(o.Unit) > MaxUnitLen {
		add("unit", "must be 1-%d characters", MaxUnitLen)
	} else if !PlainText(o.Unit) {
		add("unit", "%s holds a control character or is not UTF-8", Quote(o.Unit))
	}
	if !sourceRE.MatchString(o.Source) {
		add("source", "%s must be a feed id (lower-case letters, digits, '-') or partner:<id>", Quote(o.Source))
	}
	if o.Version == 0 {
		add("version", "must be a positive integer (source revision or receive time in Unix milliseconds)")
	}
	if o.Provenance.Licence == "" || len(o.Provenance.Licence) > MaxLicenceLen {
		add("provenance.licence", "must be 1-%d characters", MaxLicenceLen)
	} else if !PlainText(o.Provenance.Licence) {
		add("provenance.licence", "%s holds a control character or is not UTF-8", Quote(o.Provenance.Licence))
	}
	if len(o.Provenance.URL) > MaxURLLen {
		add("provenance.url", "is longer than %d characters", MaxURLLen)
	} else if !PlainText(o.Provenance.URL) {
		add("provenance.url", "%s holds a control character or is not UTF-8", Quote(o.Provenance.URL))
	}
	if o.Provenance.RetrievedAt.IsZero() {
		add("provenance.retrieved_at", "is missing")
	}
	if o.Initiative != "" && !initiativeRE.MatchString(o.Initiative) {
		add("initiative", "%s must be 1-64 letters, digits, '.', '_' or '-'", Quote(o.Initiative))
	}
	if o.Flag != "" && !ValidFlag(o.Flag) {
		add("flag", "%s must be 1-%d letters (the publisher's status letters)", Quote(o.Flag), MaxFlagLen)
	}
	if len(o.Quality) > 0 {
		next := 0 // codes appear once each, in the order of QualityCodes
		for i, q := range o.Quality {
			j := slices.Index(QualityCodes[next:], q)
			if j < 0 {
				add(fmt.Sprintf("quality[%d]", i), "%s is not a quality code, or is out of order; the codes are %s, each once, in that order", Quote(q), strings.Join(QualityCodes, ", "))
				break
			}
			next += j + 1
		}
	}
	if len(ps) == 0 {
		return nil
	}
	return &ValidationError{Problems: ps}
}

// Float returns a pointer to v, for building observations.
func Float(v float64) *float64 { return &v }

// ValidGeo reports whether s is a well-formed place code
// (^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$), for adapters that build codes.
func ValidGeo(s string) bool { return geoRE.MatchString(s) }

// ValidSource reports whether s is a source id: a feed id (lower-case
// letters, digits, '-') or partner:<id>.
func ValidSource(s string) bool { return sourceRE.MatchString(s) }

// ValidDimKey reports whether s is a well-formed dims key (^[a-z][a-z0-9_]{0,31}$).
func ValidDimKey(s string) bool { return dimKeyRE.MatchString(s) }

// plainText reports whether s is valid UTF-8 without control characters
// (C0, DEL, C1): what a label, a unit or a breakdown value may hold. A NUL
// or an escape sequence in stored text would reach CSV exports, terminals
// and dashboards.
// PlainText reports whether s is valid UTF-8 without control characters:
// what a dims value, a unit, a licence or a URL must be.
func PlainText(s string) bool {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 {
			return false
		}
		if r < 0x20 || (r >= 0x7f && r <= 0x9f) {
			return false
		}
		i += size
	}
	return true
}
