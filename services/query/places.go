package query

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/ounce-data/ounce/pkg/httpapi"
	"github.com/ounce-data/ounce/pkg/places"
)

// LevelAggregate is the level of a publisher's own aggregate (a World Bank
// income group, an OWID continent total): it is a place one can ask for,
// but never a member of another place's roll-up, which would count its
// countries twice.
const LevelAggregate = "aggregate"

// Place is one entry of the place catalogue.
type Place struct {
	Code   string `json:"code"`
	Name   string `json:"name"`
	Level  string `json:"level"`
	Parent string `json:"parent"` // the next level up; "" at the top
	// Hierarchy is the named grouping the place belongs to under its
	// parent (aggregate's hierarchy=); absent for the default one.
	Hierarchy string `json:"hierarchy,omitempty"`
}

// PlacesResponse is the body of GET /v1/places.
type PlacesResponse struct {
	Places []Place `json:"places"`
	Count  int     `json:"count"`
}

var placesParamNames = map[string]bool{"level": true, "parent": true, "format": true}

// placeTree is the place catalogue with its hierarchy.
type placeTree struct {
	byCode   map[string]Place
	children map[string][]string
	list     []Place // sorted by code
}

// newPlaceTree indexes list, sorted by code, by code and parent.
func newPlaceTree(list []Place) *placeTree {
	t := &placeTree{byCode: map[string]Place{}, children: map[string][]string{}, list: list}
	for _, p := range list {
		t.byCode[p.Code] = p
		if p.Parent != "" {
			t.children[p.Parent] = append(t.children[p.Parent], p.Code)
		}
	}
	return t
}

// members are the places whose values make up code's roll-up along
// hierarchy, sorted and distinct. Walking down from code, the first
// descendant on each path that has data of its own (has) counts and stops
// the walk — so a country counts once even when the catalogue also holds
// its subdivisions (GBR and the Carbon Intensity regions). At each place
// the walk follows the children of the named hierarchy when it has some,
// else its default children: never both, so that Great Britain rolls up
// from its DNO regions or from its nations, not from the two sets.
// Publisher aggregates never count. When nothing below code holds data,
// code stands for itself.
func (t *placeTree) members(code string, has map[string]bool, hierarchy string) []string {
	var out []string
	seen := map[string]bool{code: true}
	stack := t.childrenIn(code, hierarchy)
	for len(stack) > 0 {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[c] {
			continue // a cycle in the catalogue must not hang a request
		}
		seen[c] = true
		if t.byCode[c].Level == LevelAggregate {
			continue
		}
		switch {
		case has[c]:
			out = append(out, c)
		case len(t.children[c]) > 0:
			stack = append(stack, t.childrenIn(c, hierarchy)...)
		}
	}
	if len(out) == 0 {
		// Nothing below holds data: the place's own values, if any.
		return []string{code}
	}
	sort.Strings(out)
	return out
}

// childrenIn are code's children in hierarchy when it has some there, else
// its default children.
func (t *placeTree) childrenIn(code, hierarchy string) []string {
	var named, plain []string
	for _, c := range t.children[code] {
		switch h := t.byCode[c].Hierarchy; {
		case h == "":
			plain = append(plain, c)
		case h == hierarchy:
			named = append(named, c)
		}
	}
	if hierarchy != "" && len(named) > 0 {
		return named
	}
	return plain
}

// hierarchies lists the named hierarchies of the tree, sorted.
func (t *placeTree) hierarchies() []string {
	seen := map[string]bool{}
	for _, p := range t.list {
		if p.Hierarchy != "" {
			seen[p.Hierarchy] = true
		}
	}
	out := make([]string, 0, len(seen))
	for h := range seen {
		out = append(out, h)
	}
	sort.Strings(out)
	return out
}

// levels lists the levels present, sorted.
func (t *placeTree) levels() []string {
	seen := map[string]bool{}
	for _, p := range t.list {
		seen[p.Level] = true
	}
	out := make([]string, 0, len(seen))
	for l := range seen {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// unknownLevel is the error for a level no place has, listing those there
// are, or saying that the catalogue is empty.
func (t *placeTree) unknownLevel(level string) *httpapi.Error {
	levels := t.levels()
	if len(levels) == 0 {
		return httpapi.BadRequest("level", "the place catalogue is empty, so no place has level %q; load places first, or aggregate named places with geo=", level)
	}
	return httpapi.BadRequest("level", "level %q has no places; the levels are %s", level, strings.Join(levels, ", "))
}

// places answers GET /v1/places: the place catalogue, filtered by level
// and parent.
func (s *Service) places(w http.ResponseWriter, r *http.Request) {
	q, perr := parseQuery(r.URL.RawQuery)
	if perr == nil {
		perr = checkParamNames(q, placesParamNames, "level, parent and format")
	}
	if perr != nil {
		httpapi.WriteError(w, perr)
		return
	}
	form, perr := negotiateFormat(r, q)
	if perr != nil {
		httpapi.WriteError(w, perr)
		return
	}
	level, parent := strings.TrimSpace(q.Get("level")), strings.TrimSpace(q.Get("parent"))
	tree, ok := s.loadPlaces(w, r)
	if !ok {
		return
	}
	if level != "" && !slices.Contains(tree.levels(), level) {
		httpapi.WriteError(w, tree.unknownLevel(level))
		return
	}
	if parent != "" {
		if _, known := tree.byCode[parent]; !known {
			httpapi.WriteError(w, unknownPlace(s.cfg.Places, "parent", parent))
			return
		}
	}
	resp := PlacesResponse{Places: []Place{}}
	for _, p := range tree.list {
		if (level == "" || p.Level == level) && (parent == "" || p.Parent == parent) {
			resp.Places = append(resp.Places, p)
		}
	}
	resp.Count = len(resp.Places)
	if form == formatCSV {
		t := newCSVTable("code", "name", "level", "parent")
		for _, p := range resp.Places {
			t.row(p.Code, p.Name, p.Level, p.Parent)
		}
		httpapi.WriteWithETag(w, r, httpapi.ContentTypeCSV, t.bytes())
		return
	}
	s.writeCached(w, r, resp)
}

// loadPlaces reads the place catalogue, answering the error itself when it
// cannot.
func (s *Service) loadPlaces(w http.ResponseWriter, r *http.Request) (*placeTree, bool) {
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	list, err := s.store.places(ctx)
	if err != nil {
		httpapi.WriteError(w, s.storeError(r, err))
		return nil, false
	}
	return newPlaceTree(list), true
}

// knownPlaces writes the 404 of the first of p's uncatalogued places at
// which no data is stored, and reports whether every place is known.
func (s *Service) knownPlaces(w http.ResponseWriter, r *http.Request, p seriesParams) bool {
	for _, g := range p.Uncatalogued {
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
		has, err := s.store.placeHasData(ctx, g)
		cancel()
		if err != nil {
			httpapi.WriteError(w, s.storeError(r, err))
			return false
		}
		if !has {
			httpapi.WriteError(w, unknownPlace(s.cfg.Places, "geo", g))
			return false
		}
	}
	return true
}

// unknownPlace is the 404 of a place code the catalogue does not hold, in
// parameter field, with the codes it may have meant.
func unknownPlace(pl *places.Catalogue, field, code string) *httpapi.Error {
	hint, codes := pl.DidYouMean(code)
	e := httpapi.Errorf(httpapi.CodeUnknownPlace, field, "place %q is not in the place catalogue%s GET /v1/places lists them", code, hint)
	if hint == "" {
		e.Message = fmt.Sprintf("place %q is not in the place catalogue; GET /v1/places lists them", code)
	}
	e.Suggestions = codes
	return e
}
