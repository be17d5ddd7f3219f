package savings

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strings"

	"github.com/ounce-data/ounce/pkg/observation"
)

// maxDepth bounds the nesting of a document; the initiative nests three
// levels deep.
const maxDepth = 16

// maxInt bounds whole numbers (years, counts of years) read from a document.
const maxInt = 1_000_000_000

// Decode reads one initiative document strictly: every field must be one of
// docs/savings.md's with the right JSON type, no field may be given twice, and
// nothing may follow the document. Every problem is reported at once in an
// *InputError with code invalid_initiative naming each field by its path,
// such as "cba.drop_off" or "costs[2].amount" ("" when the body is not one
// JSON object). Decode checks form only; Validate checks values.
func Decode(r io.Reader) (Initiative, error) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	root, err := readNode(dec, 0)
	if err != nil {
		return Initiative{}, inputError(CodeInvalidInitiative, "", "%s", describeSyntax(err, dec))
	}
	if tok, err := dec.Token(); !errors.Is(err, io.EOF) {
		what := "more data"
		if err == nil {
			what = fmt.Sprintf("%v", tok)
		}
		return Initiative{}, inputError(CodeInvalidInitiative, "", "trailing data after the initiative document (%s near byte %d): send exactly one JSON object", what, dec.InputOffset())
	}
	var rd reader
	in := rd.initiative(root)
	if err := rd.ps.err(CodeInvalidInitiative); err != nil {
		return Initiative{}, err
	}
	return in, nil
}

func describeSyntax(err error, dec *json.Decoder) string {
	var se *json.SyntaxError
	switch {
	case errors.Is(err, io.EOF):
		return "the body is empty: send the initiative as a JSON object"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON document ends early: it is cut off or a bracket is not closed"
	case errors.Is(err, errTooDeep):
		return err.Error()
	case errors.As(err, &se):
		return fmt.Sprintf("the body is not valid JSON: %s (at byte %d)", se.Error(), se.Offset)
	}
	return fmt.Sprintf("the body is not valid JSON: %s (near byte %d)", err, dec.InputOffset())
}

type kind int

const (
	kindNull kind = iota
	kindBool
	kindNumber
	kindString
	kindArray
	kindObject
)

func (k kind) String() string {
	return [...]string{"null", "true or false", "a number", "a string", "an array", "an object"}[k]
}

// node is one JSON value, with object members kept in document order so
// that repeated keys are seen.
type node struct {
	kind  kind
	text  string // a string's value, a number's literal
	items []*node
	keys  []string
	vals  []*node
}

var errTooDeep = fmt.Errorf("the document nests deeper than %d levels; an initiative nests 3", maxDepth)

// cutOff reports the end of the input inside a document as unexpected.
func cutOff(err error, inside bool) error {
	if inside && errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func readNode(dec *json.Decoder, depth int) (*node, error) {
	if depth > maxDepth {
		return nil, errTooDeep
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, cutOff(err, depth > 0)
	}
	switch t := tok.(type) {
	case json.Delim:
		n := &node{kind: kindArray}
		if t == '{' {
			n.kind = kindObject
		}
		for dec.More() {
			if n.kind == kindObject {
				k, err := dec.Token()
				if err != nil {
					return nil, cutOff(err, true)
				}
				n.keys = append(n.keys, k.(string))
			}
			v, err := readNode(dec, depth+1)
			if err != nil {
				return nil, err
			}
			if n.kind == kindObject {
				n.vals = append(n.vals, v)
			} else {
				n.items = append(n.items, v)
			}
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return nil, cutOff(err, true)
		}
		return n, nil
	case string:
		return &node{kind: kindString, text: t}, nil
	case json.Number:
		return &node{kind: kindNumber, text: string(t)}, nil
	case bool:
		return &node{kind: kindBool}, nil
	}
	return &node{kind: kindNull}, nil
}

// reader turns the node tree into an Initiative, collecting problems.
type reader struct{ ps problems }

// member reads one field of an object.
type member struct {
	name     string
	required bool
	read     func(path string, v *node)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (r *reader) object(path string, n *node, members []member) bool {
	if n.kind != kindObject {
		if path == "" {
			r.ps.add("", "the initiative must be a JSON object, got %s", n.kind)
		} else {
			r.ps.add(path, "must be an object, got %s", n.kind)
		}
		return false
	}
	names := make([]string, len(members))
	for i, m := range members {
		names[i] = m.name
	}
	seen := map[string]bool{}
	for i, k := range n.keys {
		p := join(path, k)
		if seen[k] {
			r.ps.add(p, "is given twice; give each field once")
			continue
		}
		seen[k] = true
		found := false
		for _, m := range members {
			if m.name == k {
				m.read(p, n.vals[i])
				found = true
				break
			}
		}
		if !found {
			where := "an initiative"
			if path != "" {
				where = path
			}
			r.ps.add(p, "unknown field; the fields of %s are %s", where, strings.Join(names, ", "))
		}
	}
	for _, m := range members {
		if m.required && !seen[m.name] {
			r.ps.add(join(path, m.name), "is required")
		}
	}
	return true
}

func (r *reader) str(path string, n *node, dst *string) {
	if n.kind != kindString {
		r.ps.add(path, "must be a string, got %s", n.kind)
		return
	}
	*dst = n.text
}

func (r *reader) num(path string, n *node, dst *Num) bool {
	if n.kind != kindNumber {
		r.ps.add(path, "must be a number, got %s", n.kind)
		return false
	}
	v, err := ParseNum(n.text)
	if err != nil {
		r.ps.add(path, "%s; give a plain decimal", err)
		return false
	}
	*dst = v
	return true
}

func (r *reader) integer(path string, n *node, dst *int) bool {
	var v Num
	if !r.num(path, n, &v) {
		return false
	}
	if !v.rat().IsInt() {
		r.ps.add(path, "must be a whole number, got %s", n.text)
		return false
	}
	if v.rat().Cmp(big.NewRat(maxInt, 1)) > 0 || v.rat().Cmp(big.NewRat(-maxInt, 1)) < 0 {
		r.ps.add(path, "%s is out of range", n.text)
		return false
	}
	*dst = int(v.rat().Num().Int64())
	return true
}

// uncertain reads an input of the cost-benefit model: a number, or a range
// {"low", "mode", "high"} (triangular) / {"low", "high"} (uniform).
func (r *reader) uncertain(path string, n *node, dst *Num) bool {
	if n.kind != kindObject {
		if n.kind != kindNumber {
			r.ps.add(path, "must be a number, or a range {\"low\", \"mode\", \"high\"} (triangular) or {\"low\", \"high\"} (uniform), got %s", n.kind)
			return false
		}
		return r.num(path, n, dst)
	}
	var low, high, mode Num
	var hasLow, hasHigh, hasMode bool
	if !r.object(path, n, []member{
		{name: "low", required: true, read: func(p string, v *node) { hasLow = r.num(p, v, &low) }},
		{name: "mode", read: func(p string, v *node) { hasMode = r.num(p, v, &mode) }},
		{name: "high", required: true, read: func(p string, v *node) { hasHigh = r.num(p, v, &high) }},
	}) || !hasLow || !hasHigh {
		return false
	}
	var m *Num
	if hasMode {
		m = &mode
	} else if slices.Contains(n.keys, "mode") {
		return false // its problem is recorded
	}
	v, err := NewRange(low, high, m)
	if err != nil {
		r.ps.add(path, "%s", err)
		return false
	}
	*dst = v
	return true
}

// optUncertain is uncertain for an input that may be null (left unset).
func (r *reader) optUncertain(path string, n *node, dst **Num) {
	if n.kind == kindNull {
		return
	}
	var v Num
	if r.uncertain(path, n, &v) {
		*dst = &v
	}
}

// optNum reads a number that may be null (left unset).
func (r *reader) optNum(path string, n *node, dst **Num) {
	if n.kind == kindNull {
		return
	}
	var v Num
	if r.num(path, n, &v) {
		*dst = &v
	}
}

func (r *reader) optInt(path string, n *node, dst **int) {
	if n.kind == kindNull {
		return
	}
	var v int
	if r.integer(path, n, &v) {
		*dst = &v
	}
}

func (r *reader) array(path string, n *node, each func(path string, v *node)) {
	if n.kind == kindNull {
		return
	}
	if n.kind != kindArray {
		r.ps.add(path, "must be an array, got %s", n.kind)
		return
	}
	for i, v := range n.items {
		each(fmt.Sprintf("%s[%d]", path, i), v)
	}
}

func (r *reader) initiative(n *node) Initiative {
	var in Initiative
	r.object("", n, []member{
		{name: "id", read: func(p string, v *node) { r.str(p, v, &in.ID) }},
		{name: "name", read: func(p string, v *node) { r.str(p, v, &in.Name) }},
		{name: "domain", read: func(p string, v *node) { r.str(p, v, &in.Domain) }},
		{name: "indicator", read: func(p string, v *node) { r.str(p, v, &in.Indicator) }},
		{name: "geo", read: func(p string, v *node) { r.str(p, v, &in.Geo) }},
		{name: "start_year", read: func(p string, v *node) { r.integer(p, v, &in.StartYear) }},
		{name: "end_year", read: func(p string, v *node) { r.optInt(p, v, &in.EndYear) }},
		{name: "method", read: func(p string, v *node) { r.str(p, v, &in.Method) }},
		{name: "comparison_geos", read: func(p string, v *node) {
			r.array(p, v, func(p string, v *node) {
				var g string
				r.str(p, v, &g)
				in.ComparisonGeos = append(in.ComparisonGeos, g)
			})
		}},
		{name: "donor_weights", read: func(p string, v *node) { r.weights(p, v, &in.DonorWeights) }},
		{name: "population", read: func(p string, v *node) {
			if v.kind == kindNull {
				return
			}
			var pop Population
			if r.object(p, v, []member{
				{name: "indicator", read: func(p string, v *node) { r.str(p, v, &pop.Indicator) }},
				{name: "value", read: func(p string, v *node) { r.optNum(p, v, &pop.Value) }},
				{name: "dims", read: func(p string, v *node) { r.dims(p, v, &pop.Dims) }},
				{name: "source", read: func(p string, v *node) { r.str(p, v, &pop.Source) }},
			}) {
				in.Population = &pop
			}
		}},
		{name: "dims", read: func(p string, v *node) { r.dims(p, v, &in.Dims) }},
		{name: "source", read: func(p string, v *node) { r.str(p, v, &in.Source) }},
		{name: "comparison_dims", read: func(p string, v *node) { r.dims(p, v, &in.ComparisonDims) }},
		{name: "comparison_source", read: func(p string, v *node) { r.str(p, v, &in.ComparisonSource) }},
		{name: "scale", read: func(p string, v *node) { r.optNum(p, v, &in.Scale) }},
		{name: "unit_costs", read: func(p string, v *node) {
			r.array(p, v, func(p string, v *node) {
				var u UnitCost
				r.object(p, v, []member{
					{name: "agency", required: true, read: func(p string, v *node) { r.str(p, v, &u.Agency) }},
					{name: "amount", required: true, read: func(p string, v *node) { r.uncertain(p, v, &u.Amount) }},
					{name: "currency", required: true, read: func(p string, v *node) { r.str(p, v, &u.Currency) }},
					{name: "price_year", required: true, read: func(p string, v *node) { r.integer(p, v, &u.PriceYear) }},
				})
				in.UnitCosts = append(in.UnitCosts, u)
			})
		}},
		{name: "costs", read: func(p string, v *node) {
			r.array(p, v, func(p string, v *node) {
				var c Cost
				r.object(p, v, []member{
					{name: "year", required: true, read: func(p string, v *node) { r.integer(p, v, &c.Year) }},
					{name: "amount", required: true, read: func(p string, v *node) { r.uncertain(p, v, &c.Amount) }},
					{name: "currency", read: func(p string, v *node) { r.str(p, v, &c.Currency) }},
				})
				in.Costs = append(in.Costs, c)
			})
		}},
		{name: "cohort", read: func(p string, v *node) {
			if v.kind == kindNull {
				return
			}
			var c Cohort
			if r.object(p, v, []member{
				{name: "size", required: true, read: func(p string, v *node) { r.num(p, v, &c.Size) }},
				{name: "engagement", required: true, read: func(p string, v *node) { r.uncertain(p, v, &c.Engagement) }},
				{name: "success", required: true, read: func(p string, v *node) { r.uncertain(p, v, &c.Success) }},
			}) {
				in.Cohort = &c
			}
		}},
		{name: "cba", read: func(p string, v *node) {
			if v.kind == kindNull {
				return
			}
			c := &in.CBA
			r.object(p, v, []member{
				{name: "deadweight", read: func(p string, v *node) { r.optUncertain(p, v, &c.Deadweight) }},
				{name: "attribution", read: func(p string, v *node) { r.optUncertain(p, v, &c.Attribution) }},
				{name: "displacement", read: func(p string, v *node) { r.optUncertain(p, v, &c.Displacement) }},
				{name: "ob_benefits", read: func(p string, v *node) { r.optUncertain(p, v, &c.OBBenefits) }},
				{name: "ob_costs", read: func(p string, v *node) { r.optUncertain(p, v, &c.OBCosts) }},
				{name: "lag", read: func(p string, v *node) { r.optInt(p, v, &c.Lag) }},
				{name: "persistence", read: func(p string, v *node) { r.optInt(p, v, &c.Persistence) }},
				{name: "drop_off", read: func(p string, v *node) { r.optUncertain(p, v, &c.DropOff) }},
				{name: "horizon", read: func(p string, v *node) { r.optInt(p, v, &c.Horizon) }},
				{name: "discount", read: func(p string, v *node) { r.discount(p, v, &c.Discount) }},
			})
		}},
	})
	return in
}

// dims reads a breakdown: an object of strings, such as {"sex": "SEX_BTSX"};
// null leaves it unset.
func (r *reader) dims(path string, n *node, dst *observation.Dims) {
	switch n.kind {
	case kindNull:
		return
	case kindObject:
	default:
		r.ps.add(path, "must be an object of strings, such as {\"sex\": \"SEX_BTSX\"}, got %s", n.kind)
		return
	}
	d := observation.Dims{}
	for i, k := range n.keys {
		p := join(path, k)
		if _, twice := d[k]; twice {
			r.ps.add(p, "is given twice; give each key once")
			continue
		}
		var v string
		r.str(p, n.vals[i], &v)
		d[k] = v
	}
	*dst = d
}

// weights reads an object of numbers, such as {"DEU": 0.3, "ITA": 0.7};
// null leaves it unset.
func (r *reader) weights(path string, n *node, dst *map[string]Num) {
	switch n.kind {
	case kindNull:
		return
	case kindObject:
	default:
		r.ps.add(path, "must be an object of place → weight, such as {\"DEU\": 0.3, \"ITA\": 0.7}, got %s", n.kind)
		return
	}
	m := make(map[string]Num, len(n.keys))
	for i, k := range n.keys {
		p := join(path, k)
		if _, twice := m[k]; twice {
			r.ps.add(p, "is given twice; give each place once")
			continue
		}
		var w Num
		if r.num(p, n.vals[i], &w) {
			m[k] = w
		}
	}
	*dst = m
}

func (r *reader) discount(path string, n *node, dst **Discount) {
	switch n.kind {
	case kindNull:
	case kindString:
		if n.text != "green_book" {
			r.ps.add(path, "must be \"green_book\" or a flat rate such as 0.035, got %q", n.text)
			return
		}
		d := GreenBook
		*dst = &d
	case kindNumber, kindObject:
		var rate Num
		if r.uncertain(path, n, &rate) {
			*dst = &Discount{Rate: rate}
		}
	default:
		r.ps.add(path, "must be \"green_book\", a flat rate such as 0.035, or a range of rates {\"low\", \"high\"}, got %s", n.kind)
	}
}
