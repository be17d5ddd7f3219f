package query

import "slices"

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
