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

	"github.com/ounce-data/ounce/pkg/catalogue"
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
	cat     *catalogue.Catalogue
	now     time.Time
	version uint64 // receive time in Unix milliseconds, for rows without one
	source  string // the partner's source, partner:<id>

	// periods holds the periods already read in this push, by their JSON:
	// a push repeats a few periods thousands of times.
	periods map[string]observation.Period
}

func newValidator(p *registry.Partner, cat *catalogue.Catalogue, now time.Time) *validator {
	return &validator{partner: p, cat: cat, now: now, version: uint64(now.UnixMilli()), source: p.Source(),
		periods: make(map[string]observation.Period)}
}

// check returns the observation of r, or the first problem found. A row
// naming another source is errForeignSource.
func (v *validator) check(r *row) (observation.Observation, *problem, error) {
	if r.bad != nil {
		return observation.Observation{}, r.bad, nil
	}
	if r.Source != "" && r.Source != v.source {
		return observation.Observation{}, nil, errForeignSource
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
	ind, ok := v.cat.Indicator(r.Indicator)
	if !ok {
		return observation.Observation{}, &problem{code: ConflictUnknownIndicator, field: "indicator",
			message: fmt.Sprintf("indicator %q is not in the catalogue; GET /v1/indicators on the query API lists the codes", r.Indicator)}, nil
	}
	if !v.partner.CanWriteIndicator(r.Indicator) {
		return observation.Observation{}, &problem{code: ConflictIndicatorNotGranted, field: "indicator",
			message: fmt.Sprintf("indicator %q is not granted to this key (granted: %s)", r.Indicator, strings.Join(v.partner.Indicators, ", "))}, nil
	}
	if !v.partner.CanWritePlace(r.Geo) {
		return observation.Observation{}, &problem{code: ConflictPlaceNotGranted, field: "geo",
			message: fmt.Sprintf("place %q is not granted to this key (granted: %s)", r.Geo, strings.Join(v.partner.Places, ", "))}, nil
	}
	value, p := parseValue(r.Value)
	if p != nil {
		return observation.Observation{}, p, nil
	}
	if lo, hi, ok := unitRange(ind.Unit); ok && (value < lo || value > hi) {
		return observation.Observation{}, &problem{code: ConflictValueOutOfRange, field: "value",
			message: fmt.Sprintf("indicator %s is in %q, so its value must be in %s", ind.Code, ind.Unit, rangeText(lo, hi))}, nil
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
			message: fmt.Sprintf("indicator %s is measured in %q, not %q; convert the value or leave the unit out", ind.Code, ind.Unit, unit)}, nil
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
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		shown := string(raw)
		if len(shown) > 40 {
			shown = shown[:40] + "…"
		}
		return 0, &problem{code: ConflictValueNotNumber, field: "value",
			message: fmt.Sprintf("value %s is not a finite number; write it with a '.' decimal point and no thousands separators or units", shown)}
	}
	return f, nil
}

// unitRange is what a unit allows: percentages lie in 0-100, counts of
// people are not negative. Other units are not bounded.
func unitRange(unit string) (lo, hi float64, ok bool) {
	switch {
	case strings.HasPrefix(unit, "%"):
		return 0, 100, true
	case unit == "people":
		return 0, math.Inf(1), true
	}
	return 0, 0, false
}

func rangeText(lo, hi float64) string {
	if math.IsInf(hi, 1) {
		return fmt.Sprintf("%g or more", lo)
	}
	return fmt.Sprintf("%g to %g", lo, hi)
}
