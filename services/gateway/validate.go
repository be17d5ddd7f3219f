package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/services/gateway/registry"
)

// Conflict codes of an import summary, as listed under "conflicts" in
// schemas/errors.yaml.
const (
	ConflictMalformedRow        = "malformed_row"
	ConflictUnknownField        = "unknown_field"
	ConflictMissingField        = "missing_field"
	ConflictUnknownIndicator    = "unknown_indicator"
	ConflictIndicatorNotGranted = "indicator_not_granted"
	ConflictPlaceNotGranted     = "place_not_granted"
	ConflictValueNotNumber      = "value_not_number"
	ConflictValueOutOfRange     = "value_out_of_range"
	ConflictPeriodMalformed     = "period_malformed"
	ConflictPeriodInFuture      = "period_in_future"
	ConflictWrongUnit           = "wrong_unit"
	ConflictDuplicateKey        = "duplicate_key"
	ConflictInvalidField        = "invalid_field"
)

// ConflictCodes lists every conflict code.
var ConflictCodes = []string{
	ConflictMalformedRow, ConflictUnknownField, ConflictMissingField, ConflictUnknownIndicator,
	ConflictIndicatorNotGranted, ConflictPlaceNotGranted, ConflictValueNotNumber, ConflictValueOutOfRange,
	ConflictPeriodMalformed, ConflictPeriodInFuture, ConflictWrongUnit, ConflictDuplicateKey, ConflictInvalidField,
}

// errForeignSource is a push that writes as another source: 403.
var errForeignSource = errors.New("foreign source")

// validator turns rows into observations of one partner.
type validator struct {
	partner *registry.Partner
	// inds finds a row's indicator in the catalogue or among the user
	// indicators; found caches its answers for the push.
	inds    indicators.Lookup
	found   map[string]*indicators.Indicator
	now     time.Time
	version uint64 // receive time in Unix milliseconds, for rows without one
	source  string // the partner's source, partner:<id>

	// periods holds the periods already read in this push, by their JSON:
	// a push repeats a few periods thousands of times.
	periods map[string]observation.Period
}

func newValidator(p *registry.Partner, inds indicators.Lookup, now time.Time) *validator {
	return &validator{partner: p, inds: inds, found: map[string]*indicators.Indicator{}, now: now,
		version: uint64(now.UnixMilli()), source: p.Source(), periods: make(map[string]observation.Period)}
}

// indicator looks code up once per push: a push names a few indicators
// thousands of times.
func (v *validator) indicator(code string) (*indicators.Indicator, bool) {
	if ind, ok := v.found[code]; ok {
		return ind, ind != nil
	}
	ind, ok := v.inds.Indicator(code)
	if !ok {
		ind = nil
	}
	if len(v.found) < 1024 {
		v.found[code] = ind
	}
	return ind, ok
}

// check returns the observation of r, or the first problem found. A row
// naming another source is errForeignSource.
func (v *validator) check(r *row) (observation.Observation, *problem, error) {
	if r.bad != nil {
		return observation.Observation{}, r.bad, nil
	}
	r.Source = strings.TrimSpace(r.Source)
	if r.Source != "" && r.Source != v.source {
		return observation.Observation{}, nil, errForeignSource
	}
	// White space around a field is not part of it, in any format.
	r.Indicator, r.Geo = strings.TrimSpace(r.Indicator), strings.TrimSpace(r.Geo)
	r.Unit, r.Initiative = strings.TrimSpace(r.Unit), strings.TrimSpace(r.Initiative)
	for k, d := range r.Dims {
		if t := strings.TrimSpace(d); t != d {
			r.Dims[k] = t
		}
	}
	var missing []string
	if strings.TrimSpace(r.Indicator) == "" {
		missing = append(missing, "indicator")
	}
	if strings.TrimSpace(r.Geo) == "" {
		missing = append(missing, "geo")
	}
	if isNull(r.Period) {
		missing = append(missing, "period")
	}
	if isNull(r.Value) {
		missing = append(missing, "value")
	}
	if len(missing) > 0 {
		return observation.Observation{}, &problem{code: ConflictMissingField, field: missing[0],
			message: strings.Join(missing, ", ") + " missing; every row needs indicator, geo, period and value (leave out a row with no value, never send zero)"}, nil
	}
	ind, ok := v.indicator(r.Indicator)
	if !ok {
		msg := fmt.Sprintf("indicator %s is not in the catalogue; GET /v1/indicators on the query API lists the codes", observation.Quote(r.Indicator))
		if strings.HasPrefix(r.Indicator, indicators.UserPrefix) {
			msg = fmt.Sprintf("indicator %s is not a registered user indicator; POST /v1/indicators on the query API registers it, GET /v1/indicators lists the codes", observation.Quote(r.Indicator))
		}
		return observation.Observation{}, &problem{code: ConflictUnknownIndicator, field: "indicator", message: msg}, nil
	}
	if !v.partner.CanWriteIndicator(r.Indicator) {
		return observation.Observation{}, &problem{code: ConflictIndicatorNotGranted, field: "indicator",
			message: fmt.Sprintf("indicator %q is not granted to this key (granted: %s)", r.Indicator, strings.Join(v.partner.Indicators, ", "))}, nil
	}
	if !v.partner.CanWritePlace(r.Geo) {
		return observation.Observation{}, &problem{code: ConflictPlaceNotGranted, field: "geo",
			message: fmt.Sprintf("place %s is not granted to this key (granted: %s)", observation.Quote(r.Geo), strings.Join(v.partner.Places, ", "))}, nil
	}
	value, p := parseValue(r.Value)
	if p != nil {
		return observation.Observation{}, p, nil
	}
	if b := ind.Plausible(); !b.Contains(value) {
		return observation.Observation{}, &problem{code: ConflictValueOutOfRange, field: "value",
			message: fmt.Sprintf("indicator %s is in %q, and its plausible values are %s; check the unit and the scale of the value", ind.Code, ind.Unit, b)}, nil
	}
	period, p := v.period(r.Period)
	if p != nil {
		return observation.Observation{}, p, nil
	}
	if period.Start.After(v.now) {
		return observation.Observation{}, &problem{code: ConflictPeriodInFuture, field: "period",
			message: fmt.Sprintf("period %s starts after the push; send values only for periods that have begun", period.Code())}, nil
	}
	unit := r.Unit
	if unit == "" {
		unit = ind.Unit
	} else if unit != ind.Unit {
		return observation.Observation{}, &problem{code: ConflictWrongUnit, field: "unit",
			message: fmt.Sprintf("indicator %s is measured in %q, not %s; convert the value or leave the unit out", ind.Code, ind.Unit, observation.Quote(unit))}, nil
	}
	version := v.version
	if !isNull(r.Version) {
		ver, err := strconv.ParseUint(string(unquote(r.Version)), 10, 64)
		if err != nil || ver == 0 {
			return observation.Observation{}, &problem{code: ConflictInvalidField, field: "version",
				message: "version must be a positive integer (your revision of the value, e.g. Unix milliseconds of the last edit)"}, nil
		}
		version = ver
	}
	o := observation.Observation{
		Indicator: r.Indicator, Geo: r.Geo, Period: period, Dims: observation.Dims(r.Dims),
		Value: &value, Unit: unit, Source: v.source, Version: version,
		Provenance: observation.Provenance{URL: v.partner.URL, Licence: v.partner.Licence, RetrievedAt: v.now},
		Initiative: r.Initiative,
	}
	if err := o.Validate(); err != nil {
		var ve *observation.ValidationError
		if errors.As(err, &ve) && len(ve.Problems) > 0 {
			fp := ve.Problems[0]
			return observation.Observation{}, &problem{code: ConflictInvalidField, field: fp.Field, message: fp.Reason}, nil
		}
		return observation.Observation{}, &problem{code: ConflictInvalidField, message: err.Error()}, nil
	}
	return o, nil, nil
}

// period reads a row's period, or says what is wrong with it.
func (v *validator) period(raw json.RawMessage) (observation.Period, *problem) {
	if q, ok := v.periods[string(raw)]; ok {
		return q, nil
	}
	var q observation.Period
	var err error
	if n := len(raw); n >= 2 && raw[0] == '"' && bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		// A code without escapes: what UnmarshalJSON reads, without encoding/json.
		q, err = observation.ParsePeriod(string(raw[1 : n-1]))
	} else {
		err = q.UnmarshalJSON(raw)
	}
	if err != nil {
		return q, &problem{code: ConflictPeriodMalformed, field: "period",
			message: strings.TrimPrefix(err.Error(), "period ") + "; want a code like 2018, 2018-Q1, 2018-03, 2018-03-05 or 2019-08-25T12:30Z"}
	}
	if err := q.Check(); err != nil {
		return q, &problem{code: ConflictPeriodMalformed, field: "period", message: err.Error()}
	}
	if len(v.periods) < 4096 {
		v.periods[string(raw)] = q
	}
	return q, nil
}

func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null" || string(t) == `""`
}

func unquote(raw json.RawMessage) []byte {
	t := bytes.TrimSpace(raw)
	if len(t) >= 2 && t[0] == '"' {
		var s string
		if json.Unmarshal(t, &s) == nil {
			return []byte(strings.TrimSpace(s))
		}
	}
	return t
}

// parseValue reads a JSON number, or a string holding one (CSV cells and
// partners who quote their numbers).
func parseValue(raw json.RawMessage) (float64, *problem) {
	t := unquote(raw)
	f, err := strconv.ParseFloat(string(t), 64)
	if !plainNumber(t) || err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, &problem{code: ConflictValueNotNumber, field: "value",
			message: fmt.Sprintf("value %s is not a finite number in plain decimal (-12.5) or exponent (1.25e6) form; write it with a '.' decimal point and no thousands separators, units, hex or '_'",
				observation.Quote(string(t)))}
	}
	return f, nil
}

// plainNumber reports whether t is a number as JSON writes one, leniently
// for CSV cells: an optional '-', digits with an optional '.' and fraction
// (or '.' and digits), and an optional exponent. strconv.ParseFloat alone
// would also take "0x1p3", "1_0", "+5", "Inf" and "NaN".
func plainNumber(t []byte) bool {
	i := 0
	if i < len(t) && t[i] == '-' {
		i++
	}
	intDigits := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i, intDigits = i+1, intDigits+1
	}
	fracDigits := 0
	if i < len(t) && t[i] == '.' {
		i++
		for i < len(t) && t[i] >= '0' && t[i] <= '9' {
			i, fracDigits = i+1, fracDigits+1
		}
	}
	if intDigits+fracDigits == 0 {
		return false
	}
	if i < len(t) && (t[i] == 'e' || t[i] == 'E') {
		i++
		if i < len(t) && (t[i] == '+' || t[i] == '-') {
			i++
		}
		expDigits := 0
		for i < len(t) && t[i] >= '0' && t[i] <= '9' {
			i, expDigits = i+1, expDigits+1
		}
		if expDigits == 0 {
			return false
		}
	}
	return i == len(t)
}
