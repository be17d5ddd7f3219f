package socrata

import (
	"fmt"
	"io"
	"sync"

	"github.com/valyala/fastjson"

	"github.com/ounce-data/ounce/pkg/feeds"
)

// NewReader reads r whole as a SODA resource answer — one JSON array of row
// objects, or several one after the other (the pages of one fetch). An
// empty body, HTML and a Socrata error object are refused here; JSON that
// is cut short or malformed ends All with an error when the reader meets
// it, after the rows of the pages before it.
func NewReader(r io.Reader, m Mapping) (*Reader, error) {
	rd, err := newReader(m, ShapeSODA)
	if err != nil {
		return nil, err
	}
	body, err := feeds.ReadBody(r)
	if err != nil {
		return nil, fmt.Errorf("socrata %s: read body: %w", ShapeSODA, err)
	}
	if err := sniff(ShapeSODA, body, '['); err != nil {
		return nil, err
	}
	rd.rows = func(yield func(int, rowSource) bool) error {
		sc := scanners.Get().(*fastjson.Scanner)
		defer scanners.Put(sc)
		sc.InitBytes(body)
		index := 0
		for sc.Next() {
			rd.pages++
			page := sc.Value()
			if t := page.Type(); t != fastjson.TypeArray {
				return fmt.Errorf("socrata %s: page %d is a JSON %s, not an array of rows", ShapeSODA, rd.pages, t)
			}
			if rd.rowsHint == 0 {
				rd.rowsHint, rd.bodyLen = len(page.GetArray()), len(body)
			}
			for _, el := range page.GetArray() {
				if !yield(index, sodaRow{el}) {
					return nil
				}
				index++
			}
		}
		if err := sc.Error(); err != nil {
			return syntax(ShapeSODA, body, err)
		}
		return nil
	}
	return rd, nil
}

// scanners keep fastjson's value caches between bodies: a feed run reads
// its body twice (check, then publish), and the cache of a 2 MB body is
// tens of MB. Every string kept from a body is copied first.
var scanners = sync.Pool{New: func() any { return new(fastjson.Scanner) }}

// sodaRow is one element of a SODA array.
type sodaRow struct{ v *fastjson.Value }

func (s sodaRow) visit(r *Reader, index int) error {
	obj, err := s.v.Object()
	if err != nil {
		return r.fail(index, "", start([]byte(s.v.String()), 60), "is not a JSON object")
	}
	var bad error
	i := -1
	obj.Visit(func(key []byte, v *fastjson.Value) {
		if bad != nil {
			return
		}
		i++
		var ro *role
		if i < len(r.keyRoles) && r.keyRoles[i].name == string(key) {
			ro = r.keyRoles[i]
		} else {
			var ok bool
			ro, ok = r.roles[string(key)]
			if !ok {
				ro = r.classify(string(key))
			}
			if i < len(r.keyRoles) {
				r.keyRoles[i] = ro
			} else {
				r.keyRoles = append(r.keyRoles, ro)
			}
		}
		if ro.kind == roleNone {
			return
		}
		text, present, ok := valueText(v)
		if !ok {
			bad = r.fail(index, string(key), start([]byte(v.String()), 60), "is a JSON %s, not a string or number", v.Type())
			return
		}
		if present {
			r.set(ro, text)
		}
	})
	return bad
}

// CountRows returns how many rows one SODA page body holds, for the
// fetcher to tell the last page (shorter than $limit) from the others.
func CountRows(body []byte) (int, error) {
	if err := sniff(ShapeSODA, body, '['); err != nil {
		return 0, err
	}
	p := parsers.Get()
	defer parsers.Put(p)
	v, err := p.ParseBytes(body)
	if err != nil {
		return 0, syntax(ShapeSODA, body, err)
	}
	rows, err := v.Array()
	if err != nil {
		return 0, fmt.Errorf("socrata %s: a page is a JSON %s, not an array of rows", ShapeSODA, v.Type())
	}
	return len(rows), nil
}
