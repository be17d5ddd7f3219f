// Package socrata reads the two JSON shapes Socrata open-data portals
// (data.cdc.gov and many city and state portals) publish a dataset in:
//
//   - SODA resource JSON, https://<host>/resource/<id>.json: an array of
//     flat objects, one per row, every value a string (numbers too), a
//     field that is null in a row left out of that row. Paged with
//     $limit/$offset (PageURL); a body may hold several pages one after
//     the other, each its own array.
//   - the views export, /api/views/<id>/rows.json?accessType=DOWNLOAD:
//     {"meta":{"view":{…,"columns":[…]}},"data":[[…],…]}, each row an array
//     keyed by position by meta.view.columns[].fieldName, eight system
//     columns (":sid", ":id", …) first.
//
// Both carry the same rows and are mapped by the same Fields, declared per
// feed (the mapping: block of the feed file): the value fields are the
// catalogue entries' column, Fields says where the place, the period and
// the breakdown are. A row yields one observation per value field it has;
// an absent or empty value is no observation (never zero). Confidence
// limits are checked (numbers, low ≤ high) and counted in Stats.Intervals;
// the observation model does not store them yet. A row with a footnote and
// no value is suppressed, counted in Stats.Flags by footnote.
//
// A place the code scheme does not know (a new territory, a misspelt
// state) is no error: the row is skipped and counted in Stats.UnknownPlaces
// by its text, and the adapter logs them. Everything else wrong in a row —
// a missing place, period or dims field, a value that is not a number, a
// confidence limit that is not one, two rows with the same key — is a
// *RecordError naming the row and the field; a body that is not whole JSON
// of the right shape (cut short, an HTML page, a Socrata error object) is
// an error before any observation.
package socrata

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"github.com/valyala/fastjson"

	"github.com/ounce-data/ounce/pkg/feeds"
	"github.com/ounce-data/ounce/pkg/observation"
)

// Shapes of a body, for errors and Stats.
const (
	ShapeSODA = "soda json"
	ShapeRows = "rows.json"
)

// Mapping says how to read one body.
type Mapping struct {
	feeds.Meta
	// Indicators maps a value field to its catalogue indicator and unit,
	// as feeds.Columns builds it from the catalogue entries' column field.
	Indicators map[string]feeds.Column
	// Fields is the feed's mapping: block.
	Fields Fields
}

// roleKind is what a field of the body is to the mapping.
type roleKind uint8

const (
	roleNone roleKind = iota // not used: skipped
	rolePlace
	rolePeriod
	roleDim
	roleValue
	roleLow
	roleHigh
	rolePair
	roleSymbol
	roleText
)

// role is one field's part in the mapping; slot is where its text goes.
type role struct {
	name string
	kind roleKind
	slot int
	col  *valueCol // roleValue, and the interval roles: the value field
	dim  int       // roleDim: index in Fields.Dims
}

// valueCol is one value field and how to read it.
type valueCol struct {
	field     string
	slot      int
	indicator string
	unit      string
	ind       uint32 // indicator number, for keys
	num       uint32 // the column's number in Reader.cols
	catalogue bool   // named by a catalogue column (not a columns rule)
	geo       string // from a columns rule; "" = the row's place
	geoID     uint32 // number of geo, when set
	dims      [][2]string
	low, high int // slots; -1 = none
	pair      int
	seen      bool
	lowField  string
	highField string
	pairField string
}

// Reader reads observations from one Socrata body. It is not safe for
// concurrent use and yields its observations once.
type Reader struct {
	m     Mapping
	shape string
	stats feeds.Stats
	// pages are the SODA arrays read, footnoted the observations with a
	// footnote kept in no dims entry, rowsUpdatedAt a rows.json export's
	// meta.view.rowsUpdatedAt.
	pages, footnoted int
	rowsUpdatedAt    int64

	roles   map[string]*role
	cols    []*valueCol // in order of discovery
	nslots  int
	texts   []string // the row's text per slot
	present []bool
	// keyRoles are the roles of the fields of the last SODA row in its
	// order: rows mostly repeat it, sparing a look-up by name.
	keyRoles []*role

	rows func(yield func(index int, row rowSource) bool) error
	// rowsHint is how many rows the body holds, when known before they
	// are read (0 = unknown); it sizes seen.
	rowsHint  int
	bodyLen   int
	periods   map[string]periodResult
	periodIDs map[periodKey]uint32
	places    map[string]placeResult
	inds      map[string]uint32
	geoIDs    map[string]uint32
	dimIDs    map[string]uint32
	dimSets   map[string]*dimSet
	dimMaps   map[uint32]observation.Dims
	noDims    *dimSet
	dimBuf    []byte
	seen      *feeds.KeySet    // keys whose numbers all fit in 16 bits, packed
	seenWide  map[obsKey]int32 // the other keys
	values    []float64        // backing store of the values yielded, filled in order
	used      bool

	// the slots of the place, period, footnote and dims fields; -1 = none
	placeSlot, periodSlot, symbolSlot, textSlot int
	dimSlots                                    []int

	fixedPlace    string
	fixedPlaceID  uint32
	fixedPeriod   observation.Period
	fixedPeriodID uint32
}

type placeResult struct {
	geo string
	id  uint32 // number of geo, when ok
	ok  bool
}

type periodResult struct {
	p  observation.Period
	id uint32
}

type periodKey struct {
	grain observation.Grain
	start int64
}

// dimSet is one breakdown: its pairs, its number, and its Dims, built once
// and shared by its observations (to be treated as read-only).
type dimSet struct {
	pairs  [][2]string
	id     uint32
	dims   observation.Dims
	byCols []*dimSet // with the dims of a column, by the column's number
}

// obsKey is what makes an observation unique in a body, every part
// numbered.
type obsKey struct {
	ind, geo, dims, period uint32
}

// rowSource visits the fields of one row.
type rowSource interface {
	visit(r *Reader, index int) error
}

func newReader(m Mapping, shape string) (*Reader, error) {
	if err := m.Fields.Check(); err != nil {
		return nil, err
	}
	if err := feeds.Check(m.Meta, m.Indicators); err != nil {
		return nil, fmt.Errorf("socrata %s: %w", shape, err)
	}
	r := &Reader{
		m: m, shape: shape,
		stats:     feeds.Stats{Flags: map[string]int{}, UnknownPlaces: map[string]int{}},
		roles:     map[string]*role{},
		periods:   map[string]periodResult{},
		periodIDs: map[periodKey]uint32{},
		places:    map[string]placeResult{},
		inds:      map[string]uint32{},
		geoIDs:    map[string]uint32{},
		dimIDs:    map[string]uint32{},
		dimSets:   map[string]*dimSet{},
		dimMaps:   map[uint32]observation.Dims{},
	}
	// No breakdown is a breakdown of its own, numbered like the others.
	r.noDims = &dimSet{id: number(r.dimIDs, "")}
	f := m.Fields
	if f.Place.Value != "" {
		r.fixedPlace = f.Place.Value
		r.fixedPlaceID = number(r.geoIDs, f.Place.Value)
	} else {
		r.fixed(f.Place.Field, rolePlace, 0)
	}
	if f.Period.Value != "" {
		p, err := observation.ParsePeriod(f.Period.Value)
		if err != nil {
			return nil, fmt.Errorf("socrata mapping: period.value: %w", err)
		}
		r.fixedPeriod = p
		r.fixedPeriodID = r.periodID(p)
	} else {
		r.fixed(f.Period.Field, rolePeriod, 0)
	}
	for i, d := range f.Dims {
		if _, dup := r.roles[d.Field]; dup {
			return nil, fmt.Errorf("socrata mapping: dims[%d].field: %s is already mapped", i, d.Field)
		}
		r.fixed(d.Field, roleDim, i)
	}
	if f.Footnote.Symbol != "" {
		r.fixed(f.Footnote.Symbol, roleSymbol, 0)
	}
	if f.Footnote.Text != "" {
		r.fixed(f.Footnote.Text, roleText, 0)
	}
	for _, field := range slices.Sorted(maps.Keys(m.Indicators)) {
		if ro, dup := r.roles[field]; dup && ro.kind != roleValue {
			return nil, fmt.Errorf("socrata mapping: catalogue column %s is also a place, period, dims or footnote field", field)
		}
		r.classify(field)
	}
	for i, c := range f.Columns {
		if _, ok := m.Indicators[c.Like]; !ok {
			return nil, fmt.Errorf("socrata mapping: columns[%d].like: %q is not the column of a catalogue entry", i, c.Like)
		}
	}
	r.placeSlot, r.periodSlot = r.slotOf(f.Place.Field), r.slotOf(f.Period.Field)
	r.symbolSlot, r.textSlot = r.slotOf(f.Footnote.Symbol), r.slotOf(f.Footnote.Text)
	for _, d := range f.Dims {
		r.dimSlots = append(r.dimSlots, r.slotOf(d.Field))
	}
	return r, nil
}

// slotOf returns the slot of a field the mapping names, -1 for none.
func (r *Reader) slotOf(field string) int {
	if ro, ok := r.roles[field]; ok && field != "" {
		return ro.slot
	}
	return -1
}

// fixed gives a field of the mapping its role and slot.
func (r *Reader) fixed(field string, kind roleKind, dim int) {
	r.roles[field] = &role{name: field, kind: kind, slot: r.newSlot(), dim: dim}
}

func (r *Reader) newSlot() int {
	r.nslots++
	r.texts = append(r.texts, "")
	r.present = append(r.present, false)
	return r.nslots - 1
}

// classify returns the role of a field name, deciding it the first time
// the name is met: a catalogue column, a confidence limit of a value
// field, a field of a columns rule, or nothing.
func (r *Reader) classify(name string) *role {
	if ro, ok := r.roles[name]; ok {
		return ro
	}
	ro := &role{name: name}
	r.roles[name] = ro // before recursing: a name is classified once
	if c, ok := r.m.Indicators[name]; ok {
		r.addValue(ro, name, c, "", nil, true)
		return ro
	}
	for _, iv := range r.m.Fields.Intervals {
		for _, p := range []struct {
			pattern string
			kind    roleKind
		}{{iv.Low, roleLow}, {iv.High, roleHigh}, {iv.Pair, rolePair}} {
			if p.pattern == "" {
				continue
			}
			star, ok := match(p.pattern, name)
			if !ok {
				continue
			}
			vf := iv.Value
			if strings.Contains(iv.Value, "*") {
				if !strings.Contains(p.pattern, "*") {
					continue
				}
				vf = fill(iv.Value, star)
			}
			vr := r.classify(vf)
			if vr.kind != roleValue {
				continue
			}
			ro.kind, ro.col, ro.slot = p.kind, vr.col, r.newSlot()
			switch p.kind {
			case roleLow:
				vr.col.low, vr.col.lowField = ro.slot, name
			case roleHigh:
				vr.col.high, vr.col.highField = ro.slot, name
			case rolePair:
				vr.col.pair, vr.col.pairField = ro.slot, name
			}
			return ro
		}
	}
	for _, c := range r.m.Fields.Columns {
		star, ok := match(c.Match, name)
		if !ok {
			continue
		}
		like := r.m.Indicators[c.Like]
		geo := ""
		if c.Place != "" {
			g, known := placeCode(c.Place, star)
			if !known || !observation.ValidGeo(g) {
				r.stats.UnknownPlaces[name]++
				return ro // counted once, then skipped
			}
			geo = g
		}
		var dims [][2]string
		for _, k := range slices.Sorted(maps.Keys(c.Dims)) {
			dims = append(dims, [2]string{k, fill(c.Dims[k], star)})
		}
		r.addValue(ro, name, like, geo, dims, false)
		return ro
	}
	return ro
}

func (r *Reader) addValue(ro *role, name string, c feeds.Column, geo string, dims [][2]string, catalogue bool) {
	col := &valueCol{
		field: name, slot: r.newSlot(), indicator: c.Indicator, unit: c.Unit,
		ind: number(r.inds, c.Indicator), num: uint32(len(r.cols)), catalogue: catalogue, geo: geo, dims: dims,
		low: -1, high: -1, pair: -1,
	}
	if geo != "" {
		col.geoID = number(r.geoIDs, geo)
	}
	ro.kind, ro.slot, ro.col = roleValue, col.slot, col
	r.cols = append(r.cols, col)
	// Name the confidence limits now, so that a limit met before its
	// value field in a row is known.
	for _, iv := range r.m.Fields.Intervals {
		star, ok := match(iv.Value, name)
		if !ok {
			continue
		}
		for _, p := range []string{iv.Low, iv.High, iv.Pair} {
			if p != "" {
				r.classify(fill(p, star))
			}
		}
		break
	}
}

// Stats returns what was read so far, complete once All has finished:
// Rows are the rows read; Missing the value fields of the catalogue absent
// from a row or empty, in rows without a footnote; Flags the rows without
// a value that carry a footnote, by footnote (text, else symbol);
// Intervals the observations with a confidence interval (checked, not
// stored); UnknownPlaces the rows skipped because the code scheme does not
// know their place; Unmapped the fields of the body the mapping does not
// use (0 rows: nothing is skipped). Details: shape; pages, the SODA arrays
// read (one per page fetched); footnoted_observations, those whose row
// carries a footnote the mapping keeps in no dims entry; rows_updated_at,
// meta.view.rowsUpdatedAt of a rows.json export (Unix seconds).
func (r *Reader) Stats() feeds.Stats {
	s := r.stats.Clone()
	for name, ro := range r.roles {
		if ro.kind == roleNone && !strings.HasPrefix(name, ":") {
			if _, unknown := r.stats.UnknownPlaces[name]; !unknown {
				feeds.Count(&s.Unmapped, name, 0)
			}
		}
	}
	s.SetDetail("shape", r.shape)
	if r.pages > 0 {
		s.SetDetail("pages", r.pages)
	}
	s.SetDetail("footnoted_observations", r.footnoted)
	if r.rowsUpdatedAt > 0 {
		s.SetDetail("rows_updated_at", r.rowsUpdatedAt)
	}
	return s
}

// All yields every observation of the body in row order. The first error
// ends the sequence; observations already yielded from a body that ends in
// an error are not to be trusted. All yields once; a second call yields
// only an error.
func (r *Reader) All() iter.Seq2[observation.Observation, error] {
	return func(yield func(observation.Observation, error) bool) {
		if r.used {
			yield(observation.Observation{}, fmt.Errorf("socrata %s: observations were already read", r.shape))
			return
		}
		r.used = true
		stopped := false
		var out []observation.Observation
		err := r.rows(func(index int, row rowSource) bool {
			clear(r.present)
			if err := row.visit(r, index); err != nil {
				stopped = true
				yield(observation.Observation{}, err)
				return false
			}
			r.stats.Rows++
			var err error
			out, err = r.observe(index, out[:0])
			if err != nil {
				stopped = true
				yield(observation.Observation{}, err)
				return false
			}
			for _, o := range out {
				if !yield(o, nil) {
					stopped = true
					return false
				}
			}
			return true
		})
		if stopped {
			return
		}
		if err == nil {
			err = r.checkSeen()
		}
		if err != nil {
			yield(observation.Observation{}, err)
		}
	}
}

// checkSeen reports catalogue columns that no row of a non-empty body
// had: a renamed field, not a sparse one.
func (r *Reader) checkSeen() error {
	if r.stats.Rows == 0 {
		return nil
	}
	var missing []string
	for _, c := range r.cols {
		if c.catalogue && !c.seen {
			missing = append(missing, c.field)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	unused := slices.Sorted(maps.Keys(r.Stats().Unmapped))
	return fmt.Errorf("socrata %s: no row has the value field %s of the catalogue; was it renamed? fields the mapping does not use: %s",
		r.shape, strings.Join(missing, ", "), strings.Join(unused, ", "))
}

// set records the text of a mapped field of the row being read.
func (r *Reader) set(ro *role, text string) {
	r.texts[ro.slot] = text
	r.present[ro.slot] = true
}

// fail is the error of row index (0 = first; for SODA bodies of several
// pages it counts across pages); field is empty when the whole row is at
// fault.
func (r *Reader) fail(index int, field, value, format string, args ...any) error {
	return &feeds.Error{Format: "socrata " + r.shape, At: "row " + strconv.Itoa(index), Record: index,
		Field: field, Value: value, Reason: fmt.Sprintf(format, args...)}
}

// text returns the text of slot, "" when absent.
func (r *Reader) text(slot int) (string, bool) {
	if !r.present[slot] {
		return "", false
	}
	return r.texts[slot], true
}

// observe maps the row just visited, appending its observations to out.
func (r *Reader) observe(index int, out []observation.Observation) ([]observation.Observation, error) {
	f := r.m.Fields
	place, placeID, placeKnown := r.fixedPlace, r.fixedPlaceID, true
	placeText := ""
	if place == "" {
		t, ok := r.text(r.placeSlot)
		if !ok || strings.TrimSpace(t) == "" {
			return out, r.fail(index, f.Place.Field, "", "is missing")
		}
		placeText = t
		pr, seen := r.places[t]
		if !seen {
			g, known := placeCode(f.Place.Codes, t)
			if known && !observation.ValidGeo(g) {
				return out, r.fail(index, f.Place.Field, t, "is not a place code: 1-64 letters, digits, '.', '_', ':' or '-', starting with a letter or digit")
			}
			pr = placeResult{geo: strings.Clone(g), ok: known}
			if known {
				pr.id = number(r.geoIDs, pr.geo)
			}
			r.places[strings.Clone(t)] = pr
		}
		place, placeID, placeKnown = pr.geo, pr.id, pr.ok
	}
	period, periodID := r.fixedPeriod, r.fixedPeriodID
	if f.Period.Value == "" {
		t, ok := r.text(r.periodSlot)
		if !ok || t == "" {
			return out, r.fail(index, f.Period.Field, "", "is missing")
		}
		pr, seen := r.periods[t]
		if !seen {
			p, err := parsePeriod(observation.Grain(f.Period.Grain), t)
			if err != nil {
				return out, r.fail(index, f.Period.Field, t, "%v", err)
			}
			pr = periodResult{p: p, id: r.periodID(p)}
			r.periods[strings.Clone(t)] = pr
		}
		period, periodID = pr.p, pr.id
	}
	ds, err := r.dimSet(index)
	if err != nil {
		return out, err
	}
	symbol, footnote := "", ""
	if r.symbolSlot >= 0 {
		symbol, _ = r.text(r.symbolSlot)
	}
	if r.textSlot >= 0 {
		footnote, _ = r.text(r.textSlot)
	}
	noted := symbol != "" || footnote != ""
	noteDim := noted && f.Footnote.Dim != "" && symbol != ""
	if r.seen == nil {
		r.seen, r.seenWide = feeds.NewKeySet(r.seenHint()), map[obsKey]int32{}
	}
	valued := false
	for _, c := range r.cols {
		t, ok := r.text(c.slot)
		if ok {
			c.seen = true
		}
		if !ok || t == "" {
			if c.catalogue && !noted {
				r.stats.Missing++
			}
			continue
		}
		valued = true
		geo, geoID := c.geo, c.geoID
		if geo == "" {
			if !placeKnown {
				r.stats.UnknownPlaces[r.intern(placeText)]++
				continue
			}
			geo, geoID = place, placeID
		}
		v, err := feeds.ParseNumber(t)
		if err != nil {
			return out, r.fail(index, c.field, t, "%v", err)
		}
		hasInterval, err := r.interval(index, c)
		if err != nil {
			return out, err
		}
		var dims observation.Dims
		key := obsKey{ind: c.ind, geo: geoID, dims: ds.id, period: periodID}
		switch {
		case noteDim:
			pairs := append(slices.Clip(ds.pairs), c.dims...)
			pairs = append(pairs, [2]string{f.Footnote.Dim, symbol})
			key.dims = number(r.dimIDs, canonical(pairs))
			dims = r.dimsOf(key.dims, pairs)
		case len(c.dims) > 0:
			cd := r.colDimSet(ds, c)
			key.dims, dims = cd.id, cd.dims
		case len(ds.pairs) > 0:
			dims = ds.dims
		}
		if prev, dup := r.claim(key, index); dup {
			return out, r.fail(index, c.field, t, "repeats the indicator %s, place %s, period %s and breakdown of row %d", c.indicator, geo, period.Code(), prev)
		}
		out = append(out, observation.Observation{Indicator: c.indicator, Geo: geo, Period: period, Value: r.value(v), Unit: c.unit, Dims: dims})
		r.m.Stamp(&out[len(out)-1])
		r.stats.Observations++
		if hasInterval {
			r.stats.Intervals++
		}
		if noted && f.Footnote.Dim == "" {
			r.footnoted++
		}
	}
	if noted && !valued {
		note := footnote
		if note == "" {
			note = symbol
		}
		r.stats.Flags[r.intern(note)]++
	}
	return out, nil
}

// interval checks the confidence limits of c in the row.
func (r *Reader) interval(index int, c *valueCol) (bool, error) {
	var lo, hi string
	var loField, hiField string
	switch {
	case c.pair >= 0:
		t, ok := r.text(c.pair)
		if !ok || t == "" {
			return false, nil
		}
		field := c.pairField
		inner, ok := strings.CutPrefix(strings.TrimSpace(t), "(")
		inner, ok2 := strings.CutSuffix(inner, ")")
		a, b, ok3 := strings.Cut(inner, ",")
		if !ok || !ok2 || !ok3 {
			return false, r.fail(index, field, t, `is not a confidence interval written "(low, high)"`)
		}
		lo, hi, loField, hiField = strings.TrimSpace(a), strings.TrimSpace(b), field, field
	case c.low >= 0 || c.high >= 0:
		if c.low >= 0 {
			lo, _ = r.text(c.low)
			loField = c.lowField
		}
		if c.high >= 0 {
			hi, _ = r.text(c.high)
			hiField = c.highField
		}
		if lo == "" && hi == "" {
			return false, nil
		}
	default:
		return false, nil
	}
	l, err := limit(lo)
	if err != nil {
		return false, r.fail(index, loField, lo, "confidence limit %v", err)
	}
	h, err := limit(hi)
	if err != nil {
		return false, r.fail(index, hiField, hi, "confidence limit %v", err)
	}
	if l > h {
		return false, r.fail(index, loField, lo, "the low confidence limit is above the high one (%s)", hi)
	}
	return true, nil
}

// dimSet returns the row's breakdown from the dims fields.
func (r *Reader) dimSet(index int) (*dimSet, error) {
	dims := r.m.Fields.Dims
	if len(dims) == 0 {
		return r.noDims, nil
	}
	b := r.dimBuf[:0]
	for i, d := range dims {
		t, ok := r.text(r.dimSlots[i])
		if !ok || t == "" {
			return nil, r.fail(index, d.Field, "", "is missing; it is the dims entry %s", d.Key)
		}
		b = append(b, t...)
		b = append(b, 0)
	}
	r.dimBuf = b
	if ds, ok := r.dimSets[string(b)]; ok {
		return ds, nil
	}
	ds := &dimSet{}
	for i, d := range dims {
		t, _ := r.text(r.dimSlots[i])
		if len(t) > observation.MaxDimValueLen {
			return nil, r.fail(index, d.Field, t, "is longer than %d bytes, too long for a dims value", observation.MaxDimValueLen)
		}
		ds.pairs = append(ds.pairs, [2]string{d.Key, strings.Clone(t)})
	}
	ds.id = number(r.dimIDs, canonical(ds.pairs))
	ds.dims = r.dimsOf(ds.id, ds.pairs)
	r.dimSets[string(b)] = ds
	return ds, nil
}

// colDimSet returns the breakdown of row breakdown ds with the dims of
// column c, built once per pair.
func (r *Reader) colDimSet(ds *dimSet, c *valueCol) *dimSet {
	if int(c.num) < len(ds.byCols) && ds.byCols[c.num] != nil {
		return ds.byCols[c.num]
	}
	pairs := append(slices.Clip(ds.pairs), c.dims...)
	cd := &dimSet{pairs: pairs, id: number(r.dimIDs, canonical(pairs))}
	cd.dims = r.dimsOf(cd.id, pairs)
	if int(c.num) >= len(ds.byCols) {
		ds.byCols = append(ds.byCols, make([]*dimSet, int(c.num)+1-len(ds.byCols))...)
	}
	ds.byCols[c.num] = cd
	return cd
}

// claim records that row index has key k, returning the row that had it
// first when one did.
func (r *Reader) claim(k obsKey, index int) (prev int32, dup bool) {
	const narrow = 1 << 16
	if k.ind < narrow && k.geo < narrow && k.dims < narrow && k.period < narrow {
		return r.seen.Claim(uint64(k.ind)<<48|uint64(k.geo)<<32|uint64(k.dims)<<16|uint64(k.period), int32(index))
	}
	if prev, dup := r.seenWide[k]; dup {
		return prev, true
	}
	r.seenWide[k] = int32(index)
	return 0, false
}

// periodID returns the number of period p.
func (r *Reader) periodID(p observation.Period) uint32 {
	k := periodKey{grain: p.Grain, start: p.Start.Unix()}
	id, ok := r.periodIDs[k]
	if !ok {
		id = uint32(len(r.periodIDs))
		r.periodIDs[k] = id
	}
	return id
}

// value returns a pointer to v kept in a block shared by the next values:
// one allocation per block, not per observation.
func (r *Reader) value(v float64) *float64 {
	if len(r.values) == cap(r.values) {
		r.values = make([]float64, 0, valueBlock)
	}
	r.values = append(r.values, v)
	return &r.values[len(r.values)-1]
}

const valueBlock = 512

// seenHint sizes the set of keys at the first row: one key a row, a
// bound no body exceeds by much in memory (a guess from the first row's
// values can: rows differ), the set growing from there.
func (r *Reader) seenHint() int {
	return min(r.rowsHint, r.bodyLen/16)
}

// dimsOf returns the Dims of breakdown id, built once: the observations of
// one breakdown share one map, to be treated as read-only.
func (r *Reader) dimsOf(id uint32, pairs [][2]string) observation.Dims {
	if d, ok := r.dimMaps[id]; ok {
		return d
	}
	d := make(observation.Dims, len(pairs))
	for _, p := range pairs {
		d[p[0]] = p[1]
	}
	r.dimMaps[id] = d
	return d
}

func canonical(pairs [][2]string) string {
	d := make(observation.Dims, len(pairs))
	for _, p := range pairs {
		d[p[0]] = p[1]
	}
	return d.Canonical()
}

func (r *Reader) intern(s string) string { return strings.Clone(s) }

// number returns the number of s in ids, giving it the next one when new.
func number(ids map[string]uint32, s string) uint32 {
	id, ok := ids[s]
	if !ok {
		id = uint32(len(ids))
		ids[s] = id
	}
	return id
}

// limit reads a confidence limit; one left out while the other is given
// is an error.
func limit(s string) (float64, error) {
	if s == "" {
		return 0, errors.New("is empty, but the other limit is given: give both or neither")
	}
	return feeds.ParseNumber(s)
}

// parsePeriod reads a period field of grain g: 2017; 2023 Q1, 2023-Q1 or
// 2023Q1; 2023-04; 2023-04-05; or a Socrata floating timestamp
// (2023-04-01T00:00:00.000) at the start of a month or day.
func parsePeriod(g observation.Grain, t string) (observation.Period, error) {
	s := strings.TrimSpace(t)
	var code string
	switch g {
	case observation.GrainYear:
		if len(s) != 4 || strings.Trim(s, "0123456789") != "" {
			return observation.Period{}, errors.New("is not a year like 2017")
		}
		code = s
	case observation.GrainQuarter:
		if len(s) < 6 || strings.Trim(s[:4], "0123456789") != "" {
			return observation.Period{}, errors.New("is not a quarter like 2023 Q1")
		}
		q := strings.TrimLeft(s[4:], " -")
		code = s[:4] + "-" + strings.ToUpper(q)
	case observation.GrainMonth, observation.GrainDay:
		day := s
		if i := strings.IndexByte(s, 'T'); i >= 0 {
			rest := strings.TrimRight(s[i+1:], "0:.Z")
			if rest != "" {
				return observation.Period{}, fmt.Errorf("is not at the start of a %s", g)
			}
			day = s[:i]
		}
		code = day
		if g == observation.GrainMonth && len(day) == 10 {
			if !strings.HasSuffix(day, "-01") {
				return observation.Period{}, errors.New("is not the first day of a month")
			}
			code = day[:7]
		}
	}
	p, err := observation.ParsePeriod(code)
	if err != nil || p.Grain != g {
		return observation.Period{}, fmt.Errorf("is not a %s", g)
	}
	if err := p.Check(); err != nil {
		return observation.Period{}, err
	}
	return p, nil
}

// PageURL returns the SODA resource URL base asking for the page of limit
// rows starting at offset: $limit and $offset set, and $order=:id unless
// the URL orders already (paging needs a stable order).
func PageURL(base string, offset, limit int) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("socrata page url: %w", err)
	}
	q := u.Query()
	q.Set("$limit", strconv.Itoa(limit))
	q.Set("$offset", strconv.Itoa(offset))
	if q.Get("$order") == "" {
		q.Set("$order", ":id")
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// sniff refuses bodies that are no JSON of the shape wanted (first byte
// want) before parsing: empty, HTML, a Socrata error object.
func sniff(shape string, body []byte, want byte) error {
	b := bytes.TrimLeft(bytes.TrimPrefix(body, []byte("\uFEFF")), " \t\r\n")
	switch {
	case len(b) == 0:
		return fmt.Errorf("socrata %s: body is empty", shape)
	case b[0] == '<':
		return fmt.Errorf("socrata %s: body is HTML or XML, not JSON: starts %q", shape, start(b, 60))
	case b[0] == '{' && want == '[':
		var e struct {
			Error   any    `json:"error"`
			Code    string `json:"code"`
			Message string `json:"message"`
		}
		if json.Unmarshal(b, &e) == nil && (e.Error != nil || e.Message != "") {
			return fmt.Errorf("socrata %s: the portal answered with an error: %s %s", shape, e.Code, e.Message)
		}
		return fmt.Errorf("socrata %s: body is a JSON object, not an array of rows", shape)
	case b[0] == '[' && want == '{':
		return fmt.Errorf("socrata %s: body is a JSON array, not a rows.json export (an object with meta and data); is this a /resource/ answer?", shape)
	case b[0] != want:
		return fmt.Errorf("socrata %s: body is not JSON: starts %q", shape, start(b, 60))
	}
	return nil
}

// syntax explains a body fastjson refused, with encoding/json's offset.
func syntax(shape string, body []byte, err error) error {
	d := json.NewDecoder(bytes.NewReader(body))
	for {
		var v json.RawMessage
		e := d.Decode(&v)
		if errors.Is(e, io.EOF) {
			break
		}
		if e != nil {
			if errors.Is(e, io.ErrUnexpectedEOF) {
				return fmt.Errorf("socrata %s: the body ends in the middle of a JSON value at byte %d; it was probably cut short", shape, len(body))
			}
			var se *json.SyntaxError
			if errors.As(e, &se) {
				return fmt.Errorf("socrata %s: malformed JSON at byte %d: %v", shape, se.Offset, e)
			}
			return fmt.Errorf("socrata %s: malformed JSON: %v", shape, e)
		}
	}
	return fmt.Errorf("socrata %s: malformed JSON: %v", shape, err)
}

func start(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "…"
}

// valueText is the text of a JSON value of a row: strings as they are,
// numbers as written, null as absent; ok2 is false for other types.
func valueText(v *fastjson.Value) (text string, present, ok bool) {
	switch v.Type() {
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		return unsafe.String(unsafe.SliceData(b), len(b)), true, true
	case fastjson.TypeNumber:
		return v.String(), true, true
	case fastjson.TypeNull:
		return "", false, true
	case fastjson.TypeTrue:
		return "true", true, true
	case fastjson.TypeFalse:
		return "false", true, true
	}
	return "", false, false
}

// required lists the fields every row needs, sorted: the place, period
// and dims fields and the catalogue's value fields.
func (r *Reader) required() []string {
	f := r.m.Fields
	var out []string
	if f.Place.Field != "" {
		out = append(out, f.Place.Field)
	}
	if f.Period.Field != "" {
		out = append(out, f.Period.Field)
	}
	for _, d := range f.Dims {
		out = append(out, d.Field)
	}
	out = append(out, slices.Collect(maps.Keys(r.m.Indicators))...)
	slices.Sort(out)
	return out
}
