package userindicators_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/userindicators"
)

// lookup is the catalogue with user indicators of its own.
type lookup struct {
	cat   *indicators.Catalogue
	users map[string]indicators.Indicator
}

func (l lookup) Indicator(code string) (*indicators.Indicator, bool) {
	if ind, ok := l.cat.Indicator(code); ok {
		return ind, true
	}
	ind, ok := l.users[code]
	return &ind, ok
}

func newLookup(t *testing.T, users ...userindicators.Document) lookup {
	t.Helper()
	cat, err := indicators.Load()
	require.NoError(t, err)
	l := lookup{cat: cat, users: map[string]indicators.Indicator{}}
	for _, d := range users {
		l.users[d.Code] = d.Indicator()
	}
	return l
}

const screeningRate = `{
  "code": "user.testcouncil.screening_rate", "name": "Bowel screening uptake (synthetic)",
  "description": "Share of the eligible residents screened in the year.",
  "unit": "% of eligible", "scale": 100, "polarity": "higher", "domain": "health",
  "aggregation": {"method": "ratio", "numerator": "user.testcouncil.screened", "denominator": "user.testcouncil.eligible"},
  "licence": "OGL-UK-3.0", "range": {"min": 0, "max": 100}}`

func parts() []userindicators.Document {
	return []userindicators.Document{
		{Code: "user.testcouncil.screened", Name: "Screened", Unit: "people", Polarity: indicators.HigherIsBetter, Domain: "health", Aggregation: userindicators.Aggregation{Method: "sum"}, Licence: "OGL-UK-3.0"},
		{Code: "user.testcouncil.eligible", Name: "Eligible", Unit: "people", Polarity: indicators.Neutral, Domain: "health", Aggregation: userindicators.Aggregation{Method: "sum"}, Licence: "OGL-UK-3.0"},
	}
}

func problemsOf(t *testing.T, err error) map[string]string {
	t.Helper()
	var ie *userindicators.InvalidError
	require.True(t, errors.As(err, &ie), "want an *InvalidError, got %v", err)
	out := map[string]string{}
	for _, p := range ie.Problems {
		_, dup := out[p.Field]
		require.False(t, dup, "field %s reported twice: %v", p.Field, ie.Problems)
		out[p.Field] = p.Message
	}
	return out
}

func TestDecodeAndCheckAValidDocument(t *testing.T) {
	d, err := userindicators.Decode([]byte(screeningRate))
	require.NoError(t, err)
	require.NoError(t, d.Check(newLookup(t, parts()...)))
	require.Equal(t, "testcouncil", d.Namespace())

	ind := d.Indicator()
	require.Equal(t, &indicators.Ratio{Numerator: "user.testcouncil.screened", Denominator: "user.testcouncil.eligible", Scale: 100}, ind.Ratio)
	require.Nil(t, ind.Aggregation)
	require.Equal(t, indicators.Bounds{Min: 0, Max: 100}, ind.Plausible())
	require.Equal(t, "testcouncil", ind.Producer)

	avg := userindicators.Document{Code: "user.x.level", Unit: "t", Aggregation: userindicators.Aggregation{Method: "avg"}}.Indicator()
	require.Equal(t, indicators.RollupAvg, avg.Aggregation.Rollup)
	require.Nil(t, avg.Ratio)
	sum := userindicators.Document{Code: "user.x.packs", Unit: "packs", Aggregation: userindicators.Aggregation{Method: "sum"}}.Indicator()
	require.Nil(t, sum.Aggregation)
	require.Nil(t, sum.Ratio)
}

// Every bad field is reported in one answer, each under its path.
func TestCheckReportsEveryProblemAtOnce(t *testing.T) {
	d, err := userindicators.Decode([]byte(`{"code": "user.Council.x", "name": " ", "unit": "",
	  "scale": 0, "polarity": "up", "domain": "partner",
	  "aggregation": {"method": "ratio", "numerator": "user.testcouncil.nothing", "denominator": "owid.co2_per_capita"},
	  "licence": "", "range": {"min": 5, "max": 1}}`))
	require.NoError(t, err, "the form is right; the values are not")
	got := problemsOf(t, d.Check(newLookup(t)))
	require.Len(t, got, 10, "%v", got)
	for field, contains := range map[string]string{
		"code":                    "lower-case letters",
		"name":                    "is required",
		"unit":                    "is required",
		"scale":                   "must not be 0",
		"polarity":                `"up" is not lower, higher or neutral`,
		"domain":                  `"partner" is not one of health, waste, carbon, cost`,
		"aggregation.numerator":   `"user.testcouncil.nothing" is neither an indicator of the catalogue nor a registered user indicator`,
		"aggregation.denominator": "owid.co2_per_capita is itself a ratio (owid.co2 / owid.population)",
		"licence":                 "is required",
		"range.min":               "5 must be below range.max 1",
	} {
		require.Contains(t, got, field)
		require.Contains(t, got[field], contains, field)
	}
}

func TestDecodeReportsEveryFormProblemAtOnce(t *testing.T) {
	_, err := userindicators.Decode([]byte(`{"code": 7, "name": "A", "name": "B", "colour": "red",
	  "scale": "100", "aggregation": {"method": "sum", "weights": [1]}, "range": [0, 1]}`))
	got := problemsOf(t, err)
	require.Equal(t, map[string]string{
		"code":                "must be a string, got a number",
		"name":                "is given twice; give each field once",
		"colour":              "is not a field of a user indicator; the fields are code, name, description, unit, scale, polarity, domain, aggregation, licence, range",
		"scale":               "must be a number, got a string",
		"aggregation.weights": "is not a field of aggregation; its fields are method, numerator and denominator",
		"range":               "must be an object, got an array",
	}, got)

	d, err := userindicators.Decode([]byte(`{"aggregation": {}}`))
	require.NoError(t, err)
	require.Contains(t, problemsOf(t, d.Check(newLookup(t))), "aggregation.method", "an empty aggregation lacks its method")

	for _, tc := range []struct{ name, body, errContains string }{
		{"empty", ``, "the body is empty"},
		{"array", `[]`, "the body must be one JSON object"},
		{"cut off", `{"code": "user.a.b"`, "ends early"},
		{"trailing", `{"code": "user.a.b"} {}`, "trailing data"},
		{"not json", `{code: 1}`, "not valid JSON"},
		{"huge number", `{"scale": 1e400}`, "must be a finite number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := userindicators.Decode([]byte(tc.body))
			require.ErrorContains(t, err, tc.errContains)
		})
	}
}

// A user indicator lives under user.: a catalogue code, or any other, is
// refused, saying so.
func TestCheckTheUserPrefix(t *testing.T) {
	l := newLookup(t)
	base := userindicators.Document{Name: "N", Unit: "packs", Polarity: indicators.Neutral, Domain: "health",
		Aggregation: userindicators.Aggregation{Method: "sum"}, Licence: "CC0"}
	for _, tc := range []struct{ code, errContains string }{
		{"owid.co2", `"owid.co2" is an indicator of the catalogue: a user indicator cannot replace it. Its code is user.<namespace>.<name>, such as user.my_council.owid_co2`},
		{"council.packs", `"council.packs" must start with "user."`},
		{"User.council.packs", `must start with "user."`},
		{"user.packs", "must be user.<namespace>.<name>"},
		{"user.council.", "must be user.<namespace>.<name>"},
		{"user.council.Packs", "lower-case letters"},
		{"user.council.packs-sold", "lower-case letters"},
		{"user._council.packs", "starting with a letter or digit"},
		{"", "is required"},
	} {
		t.Run(tc.code, func(t *testing.T) {
			d := base
			d.Code = tc.code
			got := problemsOf(t, d.Check(l))
			require.Len(t, got, 1, "%v", got)
			require.Contains(t, got["code"], tc.errContains)
		})
	}
	for _, code := range []string{"user.council.packs", "user.c0.packs_sold.2024", "user.1.2"} {
		d := base
		d.Code = code
		require.NoError(t, d.Check(l), code)
		require.True(t, userindicators.ValidCode(code))
	}
	require.False(t, userindicators.ValidCode("user.a."+string(make([]byte, 130))))
}

func TestCheckAggregation(t *testing.T) {
	l := newLookup(t, parts()...)
	base := userindicators.Document{Code: "user.testcouncil.r", Name: "R", Unit: "% of eligible", Polarity: indicators.HigherIsBetter,
		Domain: "health", Licence: "CC0"}
	ratioOf := func(num, den string) userindicators.Aggregation {
		return userindicators.Aggregation{Method: "ratio", Numerator: num, Denominator: den}
	}
	hundred := 100.0
	for _, tc := range []struct {
		name  string
		agg   userindicators.Aggregation
		scale *float64
		unit  string
		want  map[string]string // field -> part of its message; nil: valid
	}{
		{name: "ratio of user parts", agg: ratioOf("user.testcouncil.screened", "user.testcouncil.eligible"), scale: &hundred},
		{name: "ratio of catalogue parts", agg: ratioOf("owid.co2", "owid.population")},
		{name: "no aggregation", want: map[string]string{"aggregation": "is required"}},
		{name: "no method", agg: userindicators.Aggregation{Numerator: "owid.co2"}, want: map[string]string{"aggregation.method": "is required"}},
		{name: "unknown method", agg: userindicators.Aggregation{Method: "median"}, want: map[string]string{"aggregation.method": `"median" is not one of sum, avg, ratio`}},
		{name: "ratio without parts", agg: ratioOf("", ""), want: map[string]string{
			"aggregation.numerator": "is required for method ratio", "aggregation.denominator": "is required for method ratio"}},
		{name: "ratio of itself", agg: ratioOf("user.testcouncil.r", "user.testcouncil.eligible"), want: map[string]string{"aggregation.numerator": "names the indicator itself"}},
		{name: "same parts", agg: ratioOf("user.testcouncil.eligible", "user.testcouncil.eligible"), want: map[string]string{"aggregation.denominator": "equals the numerator"}},
		{name: "missing parts", agg: ratioOf("user.testcouncil.nope", "who.nothing"), want: map[string]string{
			"aggregation.numerator": `"user.testcouncil.nope" is neither`, "aggregation.denominator": `"who.nothing" is neither`}},
		{name: "parts on a sum", agg: userindicators.Aggregation{Method: "sum", Numerator: "owid.co2"}, unit: "t", want: map[string]string{"aggregation.numerator": "applies to a ratio only"}},
		{name: "scale on a sum", agg: userindicators.Aggregation{Method: "sum"}, unit: "t", scale: &hundred, want: map[string]string{"scale": "applies to a ratio only"}},
		{name: "sum of a rate", agg: userindicators.Aggregation{Method: "sum"}, unit: "deaths per 100,000", want: map[string]string{"aggregation.method": "reads as a rate"}},
		{name: "sum of a share", agg: userindicators.Aggregation{Method: "sum"}, unit: "% of adults", want: map[string]string{"aggregation.method": "is a share"}},
		{name: "avg of a rate", agg: userindicators.Aggregation{Method: "avg"}, unit: "deaths per 100,000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := base
			d.Aggregation, d.Scale = tc.agg, tc.scale
			if tc.unit != "" {
				d.Unit = tc.unit
			}
			err := d.Check(l)
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			got := problemsOf(t, err)
			require.Len(t, got, len(tc.want), "%v", got)
			for field, contains := range tc.want {
				require.Contains(t, got[field], contains, field)
			}
		})
	}
}

func TestDependents(t *testing.T) {
	rate, err := userindicators.Decode([]byte(screeningRate))
	require.NoError(t, err)
	all := []userindicators.Stored{{Document: rate}}
	for _, p := range parts() {
		all = append(all, userindicators.Stored{Document: p})
	}
	require.Equal(t, []string{"user.testcouncil.screening_rate"}, userindicators.Dependents("user.testcouncil.eligible", all))
	require.Empty(t, userindicators.Dependents("user.testcouncil.screening_rate", all))
}

// Decode never panics, and what it takes survives a round trip through
// the stored form.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(screeningRate))
	f.Add([]byte(`{"code": "user.a.b", "aggregation": {"method": "sum"}, "range": {"min": 0}}`))
	f.Add([]byte(`{"code": 1, "code": null, "x": [], "range": []}`))
	f.Add([]byte(`{"scale": 1e400}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := userindicators.Decode(data)
		if err != nil {
			var ie *userindicators.InvalidError
			require.True(t, errors.As(err, &ie), "%v", err)
			require.NotEmpty(t, ie.Problems)
			return
		}
		b, err := userindicators.Encode(d)
		require.NoError(t, err)
		again, err := userindicators.Decode(b)
		require.NoError(t, err, "%s", b)
		b2, err := userindicators.Encode(again)
		require.NoError(t, err)
		require.JSONEq(t, string(b), string(b2))
	})
}
