package query

import (
	"slices"
	"sync"
	"time"
)

// Routes returns, for tests, every pattern s registers on its mux with the
// sorted query parameters its handler understands (nil when none).
func (s *Service) Routes() map[string][]string {
	out := make(map[string][]string, len(s.routes))
	for _, rt := range s.routes {
		var names []string
		for name, ok := range rt.params {
			if ok {
				names = append(names, name)
			}
		}
		slices.Sort(names)
		out[rt.pattern] = names
	}
	return out
}

// SavingsYearFigures are, for tests, the figures of each year of a savings
// report that GET /v1/initiatives/{id}/savings/explain explains.
func SavingsYearFigures() []string { return slices.Clone(yearFigures) }

// SavingsTotalFigures are, for tests, the totals it explains.
func SavingsTotalFigures() []string { return slices.Clone(totalFigures) }

// IsWrite reports, for tests, whether the route of pattern changes data and
// so needs the analyst token.
func (s *Service) IsWrite(pattern string) bool {
	for _, rt := range s.routes {
		if rt.pattern == pattern {
			return rt.write
		}
	}
	return false
}

// SetClock makes s measure, for tests, the age of its data watermark by now
// instead of the wall clock. Call it before s serves.
func (s *Service) SetClock(now func() time.Time) {
	s.fresh.mu.Lock()
	defer s.fresh.mu.Unlock()
	s.fresh.now = now
}

// Clock is, for tests, a clock that moves only when told to.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock is a Clock at a fixed instant.
func NewClock() *Clock {
	return &Clock{now: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
}

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
