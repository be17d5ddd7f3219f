package places

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// HintSuggestions is how many places DidYouMean names at most.
const HintSuggestions = 3

// alpha2Exceptions are two-letter codes people use that ISO 3166-1 does
// not give the country: the United Kingdom is GB, Greece GR.
var alpha2Exceptions = map[string]string{"UK": "GBR", "EL": "GRC"}

// Suggest returns at most n places a mistyped or foreign code q may mean,
// best first: the code in another case (fra → FRA), an ISO alpha-2 code
// (FR, and UK or EL as Eurostat writes them), a name or alias (France,
// "united kingdom"), then names and codes that start with q, contain it, or
// are within two edits of it. An empty answer means nothing is close.
func (c *Catalogue) Suggest(q string, n int) []Place {
	q = strings.TrimSpace(q)
	if q == "" || n <= 0 {
		return nil
	}
	lq := strings.ToLower(q)
	type scored struct {
		code  string
		score int
	}
	var found []scored
	seen := map[string]bool{}
	add := func(code string, score int) {
		if !seen[code] {
			seen[code] = true
			found = append(found, scored{code, score})
		}
	}
	if code, ok := alpha2Exceptions[strings.ToUpper(q)]; ok {
		add(code, 0)
	}
	for _, code := range c.order {
		p := c.byCode[code]
		lc, ln := strings.ToLower(p.Code), strings.ToLower(p.Name)
		switch {
		case lc == lq:
			add(code, 0)
		case p.Alpha2 != "" && strings.EqualFold(p.Alpha2, q):
			add(code, 1)
		case ln == lq:
			add(code, 1)
		case slices.ContainsFunc(p.Aliases, func(a string) bool {
			_, ac, _ := strings.Cut(a, ":")
			return strings.EqualFold(a, q) || strings.EqualFold(ac, q)
		}):
			add(code, 2)
		case len(lq) >= 3 && strings.HasPrefix(ln, lq):
			add(code, 3)
		case len(lq) >= 4 && strings.Contains(ln, lq):
			add(code, 4)
		case len(lq) >= 3 && (closeTo(lc, lq) || closeTo(ln, lq)):
			add(code, 5)
		}
	}
	slices.SortStableFunc(found, func(a, b scored) int { return a.score - b.score })
	out := make([]Place, 0, min(n, len(found)))
	for _, f := range found[:min(n, len(found))] {
		out = append(out, *c.byCode[f.code])
	}
	return out
}

// DidYouMean names the places Suggest gives for a code the catalogue does
// not hold, as "; did you mean FRA (France) or …?" to follow "place %q is
// not in the place catalogue", with their codes; both are empty when none
// is close. The API's unknown-place errors and `ounce partners add` build
// their messages with it, so that both suggest alike.
func (c *Catalogue) DidYouMean(code string) (hint string, codes []string) {
	ps := c.Suggest(code, HintSuggestions)
	if len(ps) == 0 {
		return "", nil
	}
	names := make([]string, len(ps))
	codes = make([]string, len(ps))
	for i, p := range ps {
		names[i] = fmt.Sprintf("%s (%s)", p.Code, p.Name)
		codes[i] = p.Code
	}
	return "; did you mean " + strings.Join(names, " or ") + "?", codes
}

// closeTo reports whether a typed b may mean a: one edit apart for
// short words (three-letter codes are all two edits from many others),
// two for longer ones.
func closeTo(a, b string) bool {
	if len(b) <= 4 {
		return withinEdits(a, b, 1)
	}
	return withinEdits(a, b, 2)
}

// withinEdits reports whether a and b are at most k insertions, deletions
// or substitutions apart (Levenshtein distance ≤ k).
func withinEdits(a, b string, k int) bool {
	ra, rb := []rune(a), []rune(b)
	if d := len(ra) - len(rb); d > k || d < -k || utf8.RuneCountInString(a) > 64 {
		return false
	}
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		best := cur[0]
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			best = min(best, cur[j])
		}
		if best > k {
			return false
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)] <= k
}
