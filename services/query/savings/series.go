package savings

import (
	"slices"

	"github.com/ounce-data/ounce/pkg/observation"
)

// ReadsData reports whether method reads stored series: every method but
// modelled does.
func ReadsData(method string) bool { return method != MethodModelled }

// NamesSeries reports whether the document names the breakdown or the
// source of a series it reads: the target's, the comparison places' or the
// population's.
func (in Initiative) NamesSeries() bool {
	return len(in.Dims) > 0 || in.Source != "" || len(in.ComparisonDims) > 0 || in.ComparisonSource != "" ||
		(in.Population != nil && (len(in.Population.Dims) > 0 || in.Population.Source != ""))
}

// CompareDims is the breakdown the comparison places are read in when the
// target's is chosen: comparison_dims, else the target's (chosen, the
// canonical dims of the series the target was read from).
func (in Initiative) CompareDims(chosen string) string {
	if len(in.ComparisonDims) > 0 {
		return in.ComparisonDims.Canonical()
	}
	return chosen
}

// CompareSource is the source the comparison places are read from:
// comparison_source, else the target's source ("" for precedence).
func (in Initiative) CompareSource() string {
	if in.ComparisonSource != "" {
		return in.ComparisonSource
	}
	return in.Source
}

// validateSeries checks the form of the fields that choose a series:
// whether the breakdowns and sources exist is the store's question, asked
// when the document is registered.
func (in Initiative) validateSeries(ps *problems, method string) {
	if (len(in.Dims) > 0 || in.Source != "") && in.Indicator == "" {
		field := "dims"
		if len(in.Dims) == 0 {
			field = "source"
		}
		ps.add(field, "chooses a series of the indicator, and the document names none: give indicator too")
	}
	CheckDims(ps.add, "dims", in.Dims)
	CheckSource(ps.add, "source", in.Source)
	if len(in.ComparisonGeos) == 0 && method != MethodSynth { // synth's default donors are read like comparison places
		switch {
		case len(in.ComparisonDims) > 0:
			ps.add("comparison_dims", "names the comparison places' breakdown, and there are no comparison_geos: add them or leave comparison_dims out")
		case in.ComparisonSource != "":
			ps.add("comparison_source", "names the comparison places' source, and there are no comparison_geos: add them or leave comparison_source out")
		}
	}
	CheckDims(ps.add, "comparison_dims", in.ComparisonDims)
	CheckSource(ps.add, "comparison_source", in.ComparisonSource)
	if p := in.Population; p != nil {
		if p.Indicator == "" && (len(p.Dims) > 0 || p.Source != "") {
			field := "population.dims"
			if len(p.Dims) == 0 {
				field = "population.source"
			}
			ps.add(field, "chooses a series of a population indicator, and population names none: give population.indicator, or leave %s out with population.value", field)
		}
		CheckDims(ps.add, "population.dims", p.Dims)
		CheckSource(ps.add, "population.source", p.Source)
	}
}

// CheckDims reports, through add, what is malformed in d, a breakdown a
// request names at field: too many keys, a key that is not lower-case
// snake_case, a value that is empty, too long or not printable text (the
// rules of a stored observation's dims). Keys are checked in sorted order.
func CheckDims(add func(field, format string, args ...any), field string, d observation.Dims) {
	if len(d) > observation.MaxDims {
		add(field, "has %d keys; at most %d (a breakdown as stored, such as {\"sex\": \"SEX_BTSX\"})", len(d), observation.MaxDims)
		return
	}
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		f := field + "." + k
		if !observation.ValidDimKey(k) {
			if len(k) > 64 {
				f = field
			}
			add(f, "key %s must be lower-case snake_case of 1-32 characters, as the stored breakdowns' keys (such as sex)", observation.Quote(k))
			continue
		}
		switch v := d[k]; {
		case v == "" || len(v) > observation.MaxDimValueLen:
			add(f, "the value must be 1-%d characters", observation.MaxDimValueLen)
		case !observation.PlainText(v):
			add(f, "the value %s holds a control character or is not UTF-8", observation.Quote(v))
		}
	}
}

// CheckSource reports, through add, a source at field that is not a
// source id: a feed id or partner:<id>.
func CheckSource(add func(field, format string, args ...any), field, s string) {
	if s != "" && !observation.ValidSource(s) {
		add(field, "%s is not a source id: give a feed id (GET /v1/feeds lists them) or partner:<id>", observation.Quote(s))
	}
}
