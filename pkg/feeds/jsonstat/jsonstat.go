// Package jsonstat reads JSON-stat datasets (https://json-stat.org/format/)
// as Eurostat's Statistics API and the OECD serve them: version 2.0, class
// "dataset", id/size/dimension, each dimension's category index (an array
// of ids or an object of id → position, or absent for one category) and
// label, value as a dense array or as a sparse object keyed by the cell's
// flat index, and status as an array, an object or one string for every
// cell. It also reads the JSON-stat 1.x bundle of Eurostat's retired wdds
// API ({"<dataset>": {"dimension": {"id": …, "size": …}, "value": …,
// "status": {"value": […]}}}), counted in the stats detail jsonstat_1x.
//
// A JSON-stat document cannot be read as a stream: its dimensions may come
// after its values. The reader parses the whole body (bounded by the
// ingester's body limit) and yields the cells in flat-index order.
//
// Which cells are which indicator is declared, not coded: a catalogue
// entry's column is a selector, the categories of the dimensions that tell
// indicators apart ("na_item=B1GQ,unit=CP_MEUR"; "concept=UNR"). The feed's
// mapping: block (Fields) names the place and time dimensions, the prefix of
// aggregates, the dimensions kept as dims and the dims key of the status.
// Every other dimension must have one category, so that no breakdown is
// folded away unseen. A null or absent value is missing and yields nothing,
// never zero; a status letter (e estimated, p provisional, d definition
// differs…) is kept as a dims entry.
//
// Errors name the feed, the dataset, the cell (flat index and categories)
// or the dimension and category, and what is wrong.
package jsonstat

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"iter"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/valyala/fastjson"
	"go.yaml.in/yaml/v3"

	"github.com/ounce-data/ounce/pkg/feeds"
	"github.com/ounce-data/ounce/pkg/feeds/eurostat"
	"github.com/ounce-data/ounce/pkg/observation"
)

// Fields is a feed's mapping: block.
//
//	mapping:
//	  geo: geo              # the place dimension (default: role geo, else "geo")
//	  time: time            # the time dimension (default: role time, else "time")
//	  aggregates: "oecd:"   # prefix of codes that are no country (default "eurostat:")
//	  dims: [sex]           # dimensions kept as dims, keyed by their id
type Fields struct {
	Geo        string   `yaml:"geo"`
	Time       string   `yaml:"time"`
	Aggregates string   `yaml:"aggregates"`
	Dims       []string `yaml:"dims"`
}

// A cell's status (p provisional, e estimated…) is its observation's Flag,
// an attribute and not a dim, so that a value whose status changes between
// releases stays one fact with a new version; statuses are counted in
// Stats.Flags.

// ParseFields reads a mapping: block strictly (an empty block takes the
// defaults) and checks it.
func ParseFields(data []byte) (Fields, error) {
	var f Fields
	if len(bytes.TrimSpace(data)) > 0 {
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&f); err != nil {
			return f, fmt.Errorf("jsonstat mapping: %w", err)
		}
	}
	if f.Aggregates == "" {
		f.Aggregates = eurostat.EurostatPrefix
	}
	return f, f.Check()
}

// Check reports every problem with f.
func (f Fields) Check() error {
	var errs []error
	for _, d := range f.Dims {
		if !observation.ValidDimKey(d) {
			errs = append(errs, fmt.Errorf("dims entry %q is not a dims key (lower-case snake_case, 1-32 characters)", d))
		}
		if d == f.Geo || d == f.Time {
			errs = append(errs, fmt.Errorf("dims entry %q is also the geo or time", d))
		}
	}
	if len(f.Dims) > observation.MaxDims {
		errs = append(errs, fmt.Errorf("dims has %d entries; at most %d", len(f.Dims), observation.MaxDims))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("jsonstat mapping: %w", err)
	}
	return nil
}

// Mapping says which indicators the document holds and what to stamp.
type Mapping struct {
	feeds.Meta
	// Columns maps a selector (a catalogue entry's column) to the entry, as
	// feeds.Columns builds it.
	Columns map[string]feeds.Column
	Fields  Fields
	// Places resolves geo codes (eurostat.NewPlaces with Fields.Aggregates).
	Places *eurostat.Places
}

// dimension is one dimension of a dataset.
type dimension struct {
	id   string
	size int
	cats []string // category ids by position
}

// dataset is one JSON-stat dataset, bound to the mapping.
type dataset struct {
	name    string
	dims    []dimension
	strides []int
	cells   int
	value   *fastjson.Value
	status  []string // by cell; nil when the dataset has none

	geo, time int
	geos      []eurostat.Place
	periods   []observation.Period
	// selector dims, their strides into cols, and the column of each
	// combination of their categories (-1: no catalogue entry).
	sel       []int
	selStride []int
	cols      []int
	colList   []feeds.Column
	// kept dims.
	kept []int
}

// Reader reads observations from one JSON-stat body. It yields them once.
type Reader struct {
	m     Mapping
	sets  []*dataset
	stats feeds.Stats
	// datasets read, legacy for a 1.x bundle, unmapped cells no selector
	// picks, constant the one-category dimensions left out (id=category).
	datasets, unmapped int
	legacy             bool
	constant           []string
	used               bool
	// dims shared between cells with the same kept categories and status.
	dimsCache   map[dimsKey]observation.Dims
	statusNames map[string]string
	parser      *fastjson.Parser
	vals        []float64 // yielded values, in chunks
	// the status of the run of cells being counted, and its length so far
	// (not yet in stats.Flags)
	runStatus string
	runCount  int
}

type dimsKey struct {
	set, combo int
}

// NewReader reads and checks the whole document.
func NewReader(r io.Reader, m Mapping) (*Reader, error) {
	rd := &Reader{m: m, dimsCache: map[dimsKey]observation.Dims{}, statusNames: map[string]string{},
		stats: feeds.Stats{Flags: map[string]int{}}}
	if m.Places == nil {
		return nil, rd.fail(nil, -1, "", "", "no places to resolve geo codes")
	}
	if err := m.Fields.Check(); err != nil {
		return nil, err
	}
	if err := feeds.Check(m.Meta, m.Columns); err != nil {
		return nil, fmt.Errorf("jsonstat: %w", err)
	}
	var buf bytes.Buffer
	if br, ok := r.(interface{ Len() int }); ok {
		buf.Grow(br.Len() + bytes.MinRead)
	}
	_, err := buf.ReadFrom(r)
	data := buf.Bytes()
	if err != nil {
		return nil, rd.fail(nil, -1, "", "", "read body: %v", err)
	}
	if err := rd.sniff(data); err != nil {
		return nil, err
	}
	// The parser's memory is reused by later bodies once All has read this one.
	rd.parser = parsers.Get()
	doc, err := rd.parser.ParseBytes(data)
	if err != nil {
		rd.release()
		return nil, rd.fail(nil, -1, "", "", "body is not valid JSON (cut short?): %v", err)
	}
	if err := rd.load(doc); err != nil {
		rd.release()
		return nil, err
	}
	return rd, nil
}

// parsers are fastjson parsers, reused between bodies.
var parsers fastjson.ParserPool

// release gives the parser back once nothing refers to its values.
func (r *Reader) release() {
	if r.parser != nil {
		r.sets = nil
		parsers.Put(r.parser)
		r.parser = nil
	}
}

// sniff refuses what is plainly not a JSON document.
func (r *Reader) sniff(data []byte) error {
	head := bytes.TrimLeft(bytes.TrimPrefix(data, []byte("\uFEFF")), " \t\r\n")
	start := string(head[:min(len(head), 60)])
	switch {
	case len(head) == 0:
		return r.fail(nil, -1, "", "", "body is empty")
	case head[0] == '<':
		return r.fail(nil, -1, "", "", "body is HTML or XML, not JSON-stat: starts %q", start)
	case head[0] != '{':
		return r.fail(nil, -1, "", "", "body is not a JSON object, so not JSON-stat (CSV or text?): starts %q", start)
	}
	return nil
}

// load finds the datasets of doc: a 2.0 dataset, or a 1.x bundle.
func (r *Reader) load(doc *fastjson.Value) error {
	if e := doc.Get("error"); e != nil {
		return r.fail(nil, -1, "", "", "the server answered an error, not data: %s", feeds.Shorten(e.String(), 200))
	}
	if class := doc.Get("class"); class != nil {
		c := string(class.GetStringBytes())
		if c != "dataset" {
			return r.fail(nil, -1, "", "", "class is %q; this reader takes class \"dataset\" (ask the API for one dataset)", c)
		}
		if v := string(doc.GetStringBytes("version")); v != "" && v != "2.0" {
			return r.fail(nil, -1, "", "", "version is %q; this reader takes JSON-stat 2.0", v)
		}
		ds, err := r.dataset(doc, nameOf(doc, ""), false)
		if err != nil {
			return err
		}
		r.sets = append(r.sets, ds)
		r.datasets = 1
		return nil
	}
	// JSON-stat 1.x: a bundle of datasets by name, each with
	// dimension.id and dimension.size.
	obj, err := doc.Object()
	if err != nil || obj.Len() == 0 {
		return r.fail(nil, -1, "", "", "is neither a JSON-stat 2.0 dataset (no \"class\") nor a 1.x bundle")
	}
	var errs []error
	obj.Visit(func(key []byte, v *fastjson.Value) {
		if v.Type() != fastjson.TypeObject || v.Get("dimension") == nil {
			errs = append(errs, r.fail(nil, -1, "", "", "member %q is not a dataset: a JSON-stat 2.0 dataset has \"class\":\"dataset\"; a 1.x bundle holds datasets with dimension and value", feeds.Shorten(string(key), 40)))
			return
		}
		ds, err := r.dataset(v, nameOf(v, string(key)), true)
		if err != nil {
			errs = append(errs, err)
			return
		}
		r.sets = append(r.sets, ds)
	})
	if err := errors.Join(errs...); err != nil {
		return err
	}
	r.datasets = len(r.sets)
	r.legacy = true
	return nil
}

func nameOf(v *fastjson.Value, key string) string {
	for _, path := range [][]string{{"code"}, {"extension", "id"}} {
		if b := v.GetStringBytes(path...); len(b) > 0 {
			return feeds.Shorten(string(b), 60)
		}
	}
	if key != "" {
		return feeds.Shorten(key, 60)
	}
	return feeds.Shorten(string(v.GetStringBytes("label")), 60)
}

// dataset reads the structure of one dataset and binds it to the mapping.
func (r *Reader) dataset(v *fastjson.Value, name string, legacy bool) (*dataset, error) {
	ds := &dataset{name: name, geo: -1, time: -1}
	fail := func(format string, args ...any) error { return r.fail(ds, -1, "", "", format, args...) }
	dimv := v.Get("dimension")
	if dimv == nil || dimv.Type() != fastjson.TypeObject {
		return nil, fail("dimension is missing or not an object")
	}
	idv, sizev, rolev := v.Get("id"), v.Get("size"), v.Get("role")
	if legacy {
		idv, sizev, rolev = dimv.Get("id"), dimv.Get("size"), dimv.Get("role")
	}
	ids, err := strings1(idv)
	if err != nil {
		return nil, fail("id %s", err)
	}
	sizes, err := ints(sizev)
	if err != nil {
		return nil, fail("size %s", err)
	}
	if len(ids) != len(sizes) || len(ids) == 0 {
		return nil, fail("id has %d dimensions and size %d; they must match and not be empty", len(ids), len(sizes))
	}
	ds.cells = 1
	for i, id := range ids {
		if sizes[i] <= 0 {
			return nil, fail("dimension %q has size %d", id, sizes[i])
		}
		if ds.cells > math.MaxInt32/sizes[i] {
			return nil, fail("has more than %d cells", math.MaxInt32)
		}
		ds.cells *= sizes[i]
		cats, err := categories(dimv.Get(id), sizes[i])
		if err != nil {
			return nil, r.fail(ds, -1, "dimension "+strconv.Quote(id), "", "%s", err)
		}
		ds.dims = append(ds.dims, dimension{id: id, size: sizes[i], cats: cats})
	}
	ds.strides = make([]int, len(ds.dims))
	stride := 1
	for i := len(ds.dims) - 1; i >= 0; i-- {
		ds.strides[i] = stride
		stride *= ds.dims[i].size
	}
	ds.value = v.Get("value")
	switch {
	case ds.value == nil:
		return nil, fail("value is missing")
	case ds.value.Type() == fastjson.TypeArray:
		if n := len(ds.value.GetArray()); n != ds.cells {
			return nil, fail("value has %d cells, the dimensions' sizes make %d; the document is inconsistent or cut", n, ds.cells)
		}
	case ds.value.Type() != fastjson.TypeObject:
		return nil, fail("value is a %s, not an array or an object", ds.value.Type())
	}
	if err := r.statuses(ds, v.Get("status")); err != nil {
		return nil, err
	}
	if err := r.bind(ds, rolev); err != nil {
		return nil, err
	}
	return ds, nil
}

// bind finds the mapping's dimensions and the catalogue's selectors.
func (r *Reader) bind(ds *dataset, role *fastjson.Value) error {
	f := r.m.Fields
	index := map[string]int{}
	for i, d := range ds.dims {
		index[d.id] = i
	}
	pick := func(what, named string) (int, error) {
		if named == "" {
			if rs := role.GetArray(what); len(rs) == 1 {
				named = string(rs[0].GetStringBytes())
			} else {
				named = what
			}
		}
		i, ok := index[named]
		if !ok {
			return -1, r.fail(ds, -1, "", "", "has no %s dimension %q (dimensions: %s); name it in the feed's mapping (%s:)", what, named, strings.Join(dimIDs(ds), ", "), what)
		}
		return i, nil
	}
	var err error
	if ds.geo, err = pick("geo", f.Geo); err != nil {
		return err
	}
	if ds.time, err = pick("time", f.Time); err != nil {
		return err
	}
	var errs []error
	for _, code := range ds.dims[ds.geo].cats {
		p, ok := r.m.Places.Resolve(code)
		if !ok {
			errs = append(errs, r.fail(ds, -1, fmt.Sprintf("dimension %q, category %q", ds.dims[ds.geo].id, code), "",
				"is not a place code the place catalogue knows (Eurostat geo codes are ISO alpha-2, EL, UK, or an aggregate listed as %s<code> in schemas/places)", f.Aggregates))
		}
		ds.geos = append(ds.geos, p)
	}
	for _, code := range ds.dims[ds.time].cats {
		p, err := eurostat.Period(code)
		if err != nil {
			errs = append(errs, r.fail(ds, -1, fmt.Sprintf("dimension %q, category %q", ds.dims[ds.time].id, code), "", "%s", err))
		}
		ds.periods = append(ds.periods, p)
	}
	// Selectors.
	selDims := map[string]bool{}
	type selector struct {
		col  string
		cats map[string]string
	}
	var sels []selector
	for _, col := range slices.Sorted(maps.Keys(r.m.Columns)) {
		cats, err := parseSelector(col)
		if err != nil {
			errs = append(errs, r.fail(ds, -1, "", "", "catalogue column %q: %s", col, err))
			continue
		}
		for d := range cats {
			selDims[d] = true
		}
		sels = append(sels, selector{col, cats})
	}
	for _, d := range slices.Sorted(maps.Keys(selDims)) {
		i, ok := index[d]
		if !ok {
			errs = append(errs, r.fail(ds, -1, "", "", "catalogue selectors name dimension %q, which the dataset lacks (dimensions: %s)", d, strings.Join(dimIDs(ds), ", ")))
			continue
		}
		if i == ds.geo || i == ds.time {
			errs = append(errs, r.fail(ds, -1, "", "", "catalogue selectors name dimension %q, the place or time", d))
			continue
		}
		ds.sel = append(ds.sel, i)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	n := 1
	ds.selStride = make([]int, len(ds.sel))
	for k := len(ds.sel) - 1; k >= 0; k-- {
		ds.selStride[k] = n
		n *= ds.dims[ds.sel[k]].size
	}
	ds.cols = make([]int, n)
	for i := range ds.cols {
		ds.cols[i] = -1
	}
	for _, s := range sels {
		if len(s.cats) != len(ds.sel) {
			errs = append(errs, r.fail(ds, -1, "", "", "catalogue column %q names %d dimensions; every selector must name the same %d (%s)", s.col, len(s.cats), len(ds.sel), strings.Join(selNames(ds), ", ")))
			continue
		}
		combo, found := 0, true
		for k, di := range ds.sel {
			pos := slices.Index(ds.dims[di].cats, s.cats[ds.dims[di].id])
			if pos < 0 {
				found = false // the dataset does not hold this indicator
				break
			}
			combo += pos * ds.selStride[k]
		}
		if found {
			ds.cols[combo] = len(ds.colList)
			ds.colList = append(ds.colList, r.m.Columns[s.col])
		}
	}
	// Kept dims and one-category dims.
	for i, d := range ds.dims {
		if i == ds.geo || i == ds.time || slices.Contains(ds.sel, i) {
			continue
		}
		switch {
		case slices.Contains(f.Dims, d.id):
			ds.kept = append(ds.kept, i)
		case d.size == 1:
			r.constant = append(r.constant, d.id+"="+d.cats[0])
		default:
			errs = append(errs, r.fail(ds, -1, "", "", "dimension %q has %d categories but is neither the place, the time, in the catalogue's selectors nor in the feed's mapping dims: its breakdown would be lost", d.id, d.size))
		}
	}
	for _, d := range f.Dims {
		if _, ok := index[d]; !ok {
			errs = append(errs, r.fail(ds, -1, "", "", "the feed's mapping dims names dimension %q, which the dataset lacks (dimensions: %s)", d, strings.Join(dimIDs(ds), ", ")))
		}
	}
	return errors.Join(errs...)
}

func dimIDs(ds *dataset) []string {
	out := make([]string, len(ds.dims))
	for i, d := range ds.dims {
		out[i] = d.id
	}
	return out
}

func selNames(ds *dataset) []string {
	var out []string
	for _, i := range ds.sel {
		out = append(out, ds.dims[i].id)
	}
	return out
}

// parseSelector reads "dim=cat,dim=cat".
func parseSelector(s string) (map[string]string, error) {
	out := map[string]string{}
	for part := range strings.SplitSeq(s, ",") {
		d, c, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || d == "" || c == "" {
			return nil, fmt.Errorf("is not a selector dimension=category[,dimension=category] (na_item=B1GQ,unit=CP_MEUR)")
		}
		if _, dup := out[d]; dup {
			return nil, fmt.Errorf("names dimension %q twice", d)
		}
		out[d] = c
	}
	return out, nil
}

// categories returns the category ids of a dimension in position order.
func categories(d *fastjson.Value, size int) ([]string, error) {
	if d == nil {
		return nil, errors.New("is in id but not in dimension")
	}
	cat := d.Get("category")
	if cat == nil || cat.Type() != fastjson.TypeObject {
		return nil, errors.New("has no category object")
	}
	cats := make([]string, size)
	idx := cat.Get("index")
	switch {
	case idx == nil:
		labels := cat.GetObject("label")
		if size != 1 || labels == nil || labels.Len() != 1 {
			return nil, fmt.Errorf("has no category index and %d categories: their order is unknown", size)
		}
		labels.Visit(func(k []byte, _ *fastjson.Value) { cats[0] = string(k) })
	case idx.Type() == fastjson.TypeArray:
		arr := idx.GetArray()
		if len(arr) != size {
			return nil, fmt.Errorf("category index has %d categories, size says %d", len(arr), size)
		}
		for i, v := range arr {
			b, err := v.StringBytes()
			if err != nil || len(b) == 0 {
				return nil, fmt.Errorf("category index entry %d is not a category id", i)
			}
			cats[i] = string(b)
		}
	case idx.Type() == fastjson.TypeObject:
		o := idx.GetObject()
		if o.Len() != size {
			return nil, fmt.Errorf("category index has %d categories, size says %d", o.Len(), size)
		}
		var err error
		o.Visit(func(k []byte, v *fastjson.Value) {
			pos, e := v.Int()
			switch {
			case err != nil:
			case e != nil || pos < 0 || pos >= size:
				err = fmt.Errorf("category %q has position %s, not 0..%d", k, feeds.Shorten(v.String(), 20), size-1)
			case cats[pos] != "":
				err = fmt.Errorf("categories %q and %q share position %d", cats[pos], k, pos)
			default:
				cats[pos] = string(k)
			}
		})
		if err != nil {
			return nil, err
		}
	default:
		return nil, errors.New("category index is neither an array nor an object")
	}
	return cats, nil
}

func strings1(v *fastjson.Value) ([]string, error) {
	if v == nil {
		return nil, errors.New("is missing")
	}
	arr, err := v.Array()
	if err != nil {
		return nil, errors.New("is not an array of dimension ids")
	}
	out := make([]string, len(arr))
	for i, x := range arr {
		b, err := x.StringBytes()
		if err != nil || len(b) == 0 {
			return nil, fmt.Errorf("entry %d is not a dimension id", i)
		}
		out[i] = string(b)
	}
	return out, nil
}

func ints(v *fastjson.Value) ([]int, error) {
	if v == nil {
		return nil, errors.New("is missing")
	}
	arr, err := v.Array()
	if err != nil {
		return nil, errors.New("is not an array of sizes")
	}
	out := make([]int, len(arr))
	for i, x := range arr {
		n, err := x.Int()
		if err != nil {
			return nil, fmt.Errorf("entry %d is not a whole number", i)
		}
		out[i] = n
	}
	return out, nil
}

// Stats returns what was read so far, complete once All has finished:
// Rows are the cells visited (values present or null), Missing the null or
// absent values, Aggregates the observations of aggregates (EU27_2020…),
// Flags the observations and missing values per status. Details:
// datasets, the datasets read; jsonstat_1x, whether the body was a
// JSON-stat 1.x bundle; unmapped_cells, the cells no catalogue selector
// picks, skipped; constant_dimensions, the one-category dimensions left
// out of the observations ("freq=A").
func (r *Reader) Stats() feeds.Stats {
	s := r.stats.Clone()
	if r.runCount > 0 {
		feeds.Count(&s.Flags, r.runStatus, r.runCount)
	}
	s.SetDetail("datasets", r.datasets)
	s.SetDetail("jsonstat_1x", r.legacy)
	s.SetDetail("unmapped_cells", r.unmapped)
	if len(r.constant) > 0 {
		s.SetDetail("constant_dimensions", slices.Clone(r.constant))
	}
	return s
}

// countStatus counts a cell of status s (none when empty). Cells of one
// status come in runs: a run is counted whole, not cell by cell.
func (r *Reader) countStatus(s string) {
	if s == "" {
		return
	}
	if s == r.runStatus {
		r.runCount++
		return
	}
	if r.runCount > 0 {
		feeds.Count(&r.stats.Flags, r.runStatus, r.runCount)
	}
	r.runStatus, r.runCount = s, 1
}

// All yields every observation, dataset after dataset, cells in flat-index
// order (a sparse value object in its own order); the first error ends it.
func (r *Reader) All() iter.Seq2[observation.Observation, error] {
	return func(yield func(observation.Observation, error) bool) {
		if r.used {
			yield(observation.Observation{}, errors.New("jsonstat: observations were already read"))
			return
		}
		r.used = true
		defer r.release()
		for n, ds := range r.sets {
			if !r.cells(n, ds, yield) {
				return
			}
		}
	}
}

// cells yields the observations of one dataset; false when the sequence ends.
func (r *Reader) cells(n int, ds *dataset, yield func(observation.Observation, error) bool) bool {
	pos := make([]int, len(ds.dims)) // cell i's category in each dimension
	if ds.value.Type() == fastjson.TypeArray {
		for i, v := range ds.value.GetArray() {
			if !r.cell(n, ds, i, pos, v, yield) {
				return false
			}
			ds.advance(pos)
		}
		return true
	}
	ok := true
	ds.value.GetObject().Visit(func(k []byte, v *fastjson.Value) {
		if !ok {
			return
		}
		i, err := strconv.Atoi(string(k))
		if err != nil || i < 0 || i >= ds.cells {
			ok = false
			yield(observation.Observation{}, r.fail(ds, -1, "", strconv.Quote(feeds.Shorten(string(k), 40)), "value key is not a cell index 0..%d", ds.cells-1))
			return
		}
		ds.locate(i, pos)
		ok = r.cell(n, ds, i, pos, v, yield)
	})
	if ok {
		// Cells absent from a sparse object are missing.
		r.stats.Missing += ds.cells - ds.value.GetObject().Len()
	}
	return ok
}

// locate sets pos to cell i's category in each dimension.
func (ds *dataset) locate(i int, pos []int) {
	for k, d := range ds.dims {
		pos[k] = i / ds.strides[k] % d.size
	}
}

// advance moves pos from a cell's categories to the next cell's.
func (ds *dataset) advance(pos []int) {
	for k := len(pos) - 1; k >= 0; k-- {
		pos[k]++
		if pos[k] < ds.dims[k].size {
			return
		}
		pos[k] = 0
	}
}

// cell yields the observation of cell i, whose categories are pos; false
// when the sequence ends.
func (r *Reader) cell(n int, ds *dataset, i int, pos []int, v *fastjson.Value, yield func(observation.Observation, error) bool) bool {
	r.stats.Rows++
	combo := 0
	for k, di := range ds.sel {
		combo += pos[di] * ds.selStride[k]
	}
	col := ds.cols[combo]
	var status string
	if ds.status != nil {
		status = ds.status[i]
	}
	var val float64
	var err error
	switch v.Type() {
	case fastjson.TypeNull:
		r.stats.Missing++
		r.countStatus(status)
		return true
	case fastjson.TypeNumber:
		val, err = v.Float64()
		if err != nil || math.IsInf(val, 0) || math.IsNaN(val) {
			yield(observation.Observation{}, r.fail(ds, i, r.where(ds, i), feeds.Shorten(v.String(), 40), "is not a finite number"))
			return false
		}
	default:
		yield(observation.Observation{}, r.fail(ds, i, r.where(ds, i), feeds.Shorten(v.String(), 40), "is a %s, not a number or null", v.Type()))
		return false
	}
	if col < 0 {
		r.unmapped++
		return true
	}
	geo := ds.geos[pos[ds.geo]]
	if status != "" && !observation.ValidFlag(status) {
		yield(observation.Observation{}, r.fail(ds, i, r.where(ds, i), feeds.Shorten(status, 40), "status is not 1-%d status letters (e estimated, p provisional…)", observation.MaxFlagLen))
		return false
	}
	dims, err := r.dimsOf(n, ds, i, pos)
	if err != nil {
		yield(observation.Observation{}, err)
		return false
	}
	c := ds.colList[col]
	var o observation.Observation
	r.m.Stamp(&o)
	if len(r.vals) == cap(r.vals) {
		r.vals = make([]float64, 0, 256) // a full chunk is left to its observations
	}
	r.vals = append(r.vals, val)
	o.Indicator, o.Unit, o.Geo, o.Dims, o.Value = c.Indicator, c.Unit, geo.Geo, dims, &r.vals[len(r.vals)-1]
	o.Period = ds.periods[pos[ds.time]]
	o.Flag = status
	r.stats.Observations++
	if geo.Aggregate {
		r.stats.Aggregates++
	}
	r.countStatus(status)
	return yield(o, nil)
}

// statuses reads a dataset's status (an array, an object keyed by cell
// index, one string for every cell, or wdds 1.1's {"value": [...]}) into
// one string per cell.
func (r *Reader) statuses(ds *dataset, st *fastjson.Value) error {
	fail := func(format string, args ...any) error { return r.fail(ds, -1, "", "", format, args...) }
	if st == nil || st.Type() == fastjson.TypeNull {
		return nil
	}
	if st.Type() == fastjson.TypeObject {
		if inner := st.Get("value"); inner != nil && inner.Type() == fastjson.TypeArray {
			st = inner
		}
	}
	ds.status = make([]string, ds.cells)
	var errs []error
	last := "" // the status of the last cell with one: runs are common
	set := func(i int, s *fastjson.Value) {
		if s == nil || s.Type() == fastjson.TypeNull {
			return
		}
		b, err := s.StringBytes()
		if err != nil {
			errs = append(errs, r.fail(ds, i, r.where(ds, i), feeds.Shorten(s.String(), 40), "status is not a string"))
			return
		}
		if len(b) > observation.MaxDimValueLen {
			errs = append(errs, r.fail(ds, i, r.where(ds, i), feeds.Shorten(string(b), 40), "status is longer than %d characters", observation.MaxDimValueLen))
			return
		}
		if last != "" && string(b) == last {
			ds.status[i] = last
			return
		}
		name, ok := r.statusNames[string(b)]
		if !ok {
			name = string(b)
			r.statusNames[name] = name
		}
		ds.status[i], last = name, name
	}
	switch st.Type() {
	case fastjson.TypeString:
		for i := range ds.cells {
			set(i, st)
		}
	case fastjson.TypeArray:
		arr := st.GetArray()
		switch len(arr) {
		case 1:
			for i := range ds.cells {
				set(i, arr[0])
			}
		case ds.cells:
			for i, s := range arr {
				set(i, s)
			}
		default:
			return fail("status has %d cells, value %d", len(arr), ds.cells)
		}
	case fastjson.TypeObject:
		st.GetObject().Visit(func(k []byte, s *fastjson.Value) {
			i, err := strconv.Atoi(string(k))
			if err != nil || i < 0 || i >= ds.cells {
				errs = append(errs, r.fail(ds, -1, "", strconv.Quote(feeds.Shorten(string(k), 40)), "status key is not a cell index 0..%d", ds.cells-1))
				return
			}
			set(i, s)
		})
	default:
		return fail("status is a %s, not an array, object or string", st.Type())
	}
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// dimsOf returns the dims of cell i, shared between cells alike.
func (r *Reader) dimsOf(n int, ds *dataset, i int, pos []int) (observation.Dims, error) {
	combo := 0
	for _, di := range ds.kept {
		combo = combo*ds.dims[di].size + pos[di]
	}
	key := dimsKey{set: n, combo: combo}
	if d, ok := r.dimsCache[key]; ok {
		return d, nil
	}
	d := observation.Dims{}
	for _, di := range ds.kept {
		c := ds.dims[di].cats[pos[di]]
		if len(c) > observation.MaxDimValueLen {
			return nil, r.fail(ds, i, r.where(ds, i), "", "category %q is longer than %d characters", feeds.Shorten(c, 40), observation.MaxDimValueLen)
		}
		d[ds.dims[di].id] = c
	}
	if len(d) == 0 {
		d = nil
	}
	r.dimsCache[key] = d
	return d, nil
}

// where names cell i's categories: "unit=CP_MEUR, geo=DK, time=2023".
func (r *Reader) where(ds *dataset, i int) string {
	parts := make([]string, len(ds.dims))
	for k, d := range ds.dims {
		parts[k] = d.id + "=" + d.cats[i/ds.strides[k]%d.size]
	}
	return strings.Join(parts, ", ")
}

// fail is the error of cell (-1 when not about a cell) of dataset ds (nil
// when not about one); where is the cell's categories, or the dimension
// and category; value the offending JSON text.
func (r *Reader) fail(ds *dataset, cell int, where, value, format string, args ...any) error {
	var at []string
	if ds != nil && ds.name != "" {
		at = append(at, "dataset "+ds.name)
	}
	if cell >= 0 {
		at = append(at, "cell "+strconv.Itoa(cell))
	}
	a := strings.Join(at, ", ")
	if where != "" {
		a = strings.TrimPrefix(a+" ("+where+")", " ")
	}
	return &feeds.Error{Feed: r.m.Source, Format: "jsonstat", At: a, Record: cell, Value: value, JSON: true, Reason: fmt.Sprintf(format, args...)}
}
