package observation

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Grain is the length of a period.
type Grain string

// Grains of a period, from longest to shortest.
const (
	GrainYear     Grain = "year"
	GrainQuarter  Grain = "quarter"
	GrainMonth    Grain = "month"
	GrainDay      Grain = "day"
	GrainHalfHour Grain = "halfhour"
)

// Valid reports whether g is one of the known grains.
func (g Grain) Valid() bool {
	switch g {
	case GrainYear, GrainQuarter, GrainMonth, GrainDay, GrainHalfHour:
		return true
	}
	return false
}

// Period is the half-open interval [Start, End) an observation covers. Start is
// aligned to the grain and End is Start plus one grain, both in UTC.
type Period struct {
	Grain Grain
	Start time.Time
}

// Year returns the calendar year y as a period.
func Year(y int) Period {
	return Period{Grain: GrainYear, Start: time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC)}
}

// End is the first instant after the period.
func (p Period) End() time.Time {
	switch p.Grain {
	case GrainYear:
		return p.Start.AddDate(1, 0, 0)
	case GrainQuarter:
		return p.Start.AddDate(0, 3, 0)
	case GrainMonth:
		return p.Start.AddDate(0, 1, 0)
	case GrainDay:
		return p.Start.AddDate(0, 0, 1)
	case GrainHalfHour:
		return p.Start.Add(30 * time.Minute)
	}
	return p.Start
}

// Check reports why p is not a valid period, or nil.
func (p Period) Check() error {
	if !p.Grain.Valid() {
		return fmt.Errorf("grain %s is not one of year, quarter, month, day, halfhour", Quote(string(p.Grain)))
	}
	s := p.Start
	if s.IsZero() {
		return fmt.Errorf("start is missing")
	}
	if s.Location() != time.UTC {
		return fmt.Errorf("start must be in UTC")
	}
	if s.Year() < 1000 || s.Year() > 2999 {
		return fmt.Errorf("start year %d is outside 1000..2999", s.Year())
	}
	aligned := true
	switch p.Grain {
	case GrainYear:
		aligned = s.Month() == time.January && s.Day() == 1 && isMidnight(s)
	case GrainQuarter:
		aligned = (s.Month()-1)%3 == 0 && s.Day() == 1 && isMidnight(s)
	case GrainMonth:
		aligned = s.Day() == 1 && isMidnight(s)
	case GrainDay:
		aligned = isMidnight(s)
	case GrainHalfHour:
		aligned = (s.Minute() == 0 || s.Minute() == 30) && s.Second() == 0 && s.Nanosecond() == 0
	}
	if !aligned {
		return fmt.Errorf("start %s is not aligned to a %s", p.startString(), p.Grain)
	}
	return nil
}

func isMidnight(t time.Time) bool {
	return t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0
}

// Code is the short form of the period: 2018, 2018-Q1, 2018-03, 2018-03-05,
// or 2019-08-25T12:30Z for a half hour.
func (p Period) Code() string {
	s := p.Start
	switch p.Grain {
	case GrainYear:
		return strconv.Itoa(s.Year())
	case GrainQuarter:
		return fmt.Sprintf("%04d-Q%d", s.Year(), (int(s.Month())-1)/3+1)
	case GrainMonth:
		return s.Format("2006-01")
	case GrainDay:
		return s.Format("2006-01-02")
	default:
		return s.Format("2006-01-02T15:04Z")
	}
}

// String returns the period's code.
func (p Period) String() string { return p.Code() }

// ParsePeriod reads the short form written by Code.
func ParsePeriod(code string) (Period, error) {
	c := strings.TrimSpace(code)
	switch {
	case len(c) == 4:
		y, err := strconv.Atoi(c)
		if err != nil {
			return Period{}, fmt.Errorf("period %s: year is not a number", Quote(code))
		}
		return Year(y), nil
	case len(c) == 7 && (c[5] == 'Q' || c[5] == 'q'):
		y, err1 := strconv.Atoi(c[:4])
		q, err2 := strconv.Atoi(c[6:])
		if err1 != nil || err2 != nil || c[4] != '-' || q < 1 || q > 4 {
			return Period{}, fmt.Errorf("period %s: want a quarter like 2018-Q1", Quote(code))
		}
		return Period{Grain: GrainQuarter, Start: time.Date(y, time.Month(3*(q-1)+1), 1, 0, 0, 0, 0, time.UTC)}, nil
	case len(c) == 7:
		t, err := time.Parse("2006-01", c)
		if err != nil {
			return Period{}, fmt.Errorf("period %s: want a month like 2018-03", Quote(code))
		}
		return Period{Grain: GrainMonth, Start: t}, nil
	case len(c) == 10:
		t, err := time.Parse("2006-01-02", c)
		if err != nil {
			return Period{}, fmt.Errorf("period %s: want a day like 2018-03-05", Quote(code))
		}
		return Period{Grain: GrainDay, Start: t}, nil
	case len(c) > 10:
		t, err := parseInstant(c)
		if err != nil {
			return Period{}, fmt.Errorf("period %s: want a half hour like 2019-08-25T12:30Z", Quote(code))
		}
		return Period{Grain: GrainHalfHour, Start: t}, nil
	}
	return Period{}, fmt.Errorf("period %s: want 2018, 2018-Q1, 2018-03, 2018-03-05 or 2019-08-25T12:30Z", Quote(code))
}

func parseInstant(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00", "2006-01-02T15:04Z"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("time %s is not RFC 3339", Quote(s))
}

func (p Period) startString() string { return formatBound(p.Grain, p.Start) }

func formatBound(g Grain, t time.Time) string {
	if g == GrainHalfHour {
		return t.Format(time.RFC3339)
	}
	return t.Format("2006-01-02")
}

type periodJSON struct {
	Grain Grain  `json:"grain"`
	Start string `json:"start"`
	End   string `json:"end,omitempty"`
}

// MarshalJSON writes the period's code: "2018", "2018-Q1", "2018-03",
// "2018-03-05" or "2019-08-25T12:30Z". The code names the grain and the
// start, so it is the whole period in a fifth of the bytes of the object.
func (p Period) MarshalJSON() ([]byte, error) {
	return appendString(nil, p.Code()), nil
}

// UnmarshalJSON reads a code string as written by MarshalJSON, or the
// object {"grain":"year","start":"2018-01-01","end":"2019-01-01"} (end optional). An end, when given, must be start plus
// one grain.
func (p *Period) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var code string
		if err := json.Unmarshal(b, &code); err != nil {
			return err
		}
		q, err := ParsePeriod(code)
		if err != nil {
			return err
		}
		*p = q
		return nil
	}
	var raw periodJSON
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("period: %w", err)
	}
	q, err := raw.period()
	if err != nil {
		return err
	}
	*p = q
	return nil
}

func (raw periodJSON) period() (Period, error) {
	if !raw.Grain.Valid() {
		return Period{}, fmt.Errorf("period grain %s is not one of year, quarter, month, day, halfhour", Quote(string(raw.Grain)))
	}
	var start time.Time
	var err error
	if raw.Grain == GrainHalfHour {
		start, err = parseInstant(raw.Start)
	} else {
		start, err = time.Parse("2006-01-02", raw.Start)
	}
	if err != nil {
		return Period{}, fmt.Errorf("period start %s: want %s", Quote(raw.Start), boundLayoutHint(raw.Grain))
	}
	q := Period{Grain: raw.Grain, Start: start}
	if raw.End != "" && raw.End != formatBound(q.Grain, q.End()) {
		return Period{}, fmt.Errorf("period end %s: want %s (start plus one %s, exclusive)", Quote(raw.End), formatBound(q.Grain, q.End()), q.Grain)
	}
	return q, nil
}

func boundLayoutHint(g Grain) string {
	if g == GrainHalfHour {
		return "an RFC 3339 UTC time like 2019-08-25T12:30:00Z"
	}
	return "a date like 2018-01-01"
}
