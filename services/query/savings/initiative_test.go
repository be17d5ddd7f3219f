package savings_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/ounce-data/ounce/schemas"
	"github.com/ounce-data/ounce/services/query/savings"
)

// example is docs/savings.md's initiative document, with real indicator codes.
func example(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/initiative.example.json")
	require.NoError(t, err)
	return b
}

func decodeExample(t testing.TB) savings.Initiative {
	t.Helper()
	in, err := savings.Decode(bytes.NewReader(example(t)))
	require.NoError(t, err)
	return in
}

// edit decodes the example as a generic map, lets f change it, and encodes
// it again.
func edit(t *testing.T, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(example(t), &m))
	f(m)
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

func requireInputError(t *testing.T, err error, code savings.Code, field, contains string) *savings.InputError {
	t.Helper()
	var ie *savings.InputError
	require.Truef(t, errors.As(err, &ie), "want an *InputError, got %v", err)
	require.Equal(t, code, ie.Code, ie.Error())
	found := false
	for _, p := range ie.Problems {
		if p.Field == field && strings.Contains(p.Message, contains) {
			found = true
		}
	}
	require.Truef(t, found, "no problem %s: …%s… in %v", field, contains, ie.Problems)
	return ie
}

func TestDecodeExample(t *testing.T) {
	in := decodeExample(t)
	require.Equal(t, "nhs-dpp-england", in.ID)
	require.Equal(t, 2016, in.StartYear)
	require.Nil(t, in.EndYear)
	require.Equal(t, []string{"FRA", "DEU"}, in.ComparisonGeos)
	require.Equal(t, "SP.POP.TOTL", in.Population.Indicator)
	require.Equal(t, "0.01", in.Scale.String())
	require.Equal(t, "566", in.UnitCosts[0].Amount.String())
	require.Equal(t, "0.25", in.CBA.DropOff.String())
	require.True(t, in.CBA.Discount.GreenBook)
	require.Equal(t, 10, *in.CBA.Horizon)
	require.NoError(t, in.Validate())

	// What Decode reads, json.Marshal writes back, and Decode reads the same.
	b, err := json.Marshal(in)
	require.NoError(t, err)
	again, err := savings.Decode(bytes.NewReader(b))
	require.NoError(t, err)
	b2, err := json.Marshal(again)
	require.NoError(t, err)
	require.JSONEq(t, string(b), string(b2))
	require.JSONEq(t, string(example(t)), string(b), "the document round-trips")

	// encoding/json reads what it writes, too.
	var std savings.Initiative
	require.NoError(t, json.Unmarshal(b, &std))
	b3, err := json.Marshal(std)
	require.NoError(t, err)
	require.JSONEq(t, string(b), string(b3))
}

func TestDecodeErrors(t *testing.T) {
	invalid := savings.CodeInvalidInitiative
	tests := []struct {
		name        string
		code        savings.Code
		body        []byte
		field       string
		errContains string
	}{
		{"empty", invalid, []byte(""), "", "body is empty"},
		{"not JSON", invalid, []byte("id=1"), "", "not valid JSON"},
		{"cut off", invalid, example(t)[:40], "", "ends early"},
		{"array", invalid, []byte(`[1]`), "", "must be a JSON object, got an array"},
		{"trailing object", invalid, append(example(t), []byte(` {}`)...), "", "trailing data"},
		{"trailing garbage", invalid, append(example(t), []byte(`x`)...), "", "trailing data"},
		{"too deep", invalid, []byte(`{"x":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`), "", "nests deeper"},
		{"unknown field", invalid, edit(t, func(m map[string]any) { m["budget"] = 1 }), "budget", "unknown field; the fields of an initiative are id, name"},
		{"unknown cba field", invalid, edit(t, func(m map[string]any) { m["cba"].(map[string]any)["dropoff"] = 0.1 }), "cba.dropoff", "unknown field; the fields of cba are deadweight"},
		{"unknown cost field", invalid, edit(t, func(m map[string]any) {
			m["costs"] = []any{map[string]any{"year": 2016, "amount": 1}, map[string]any{"year": 2017, "amount": 1, "note": "x"}}
		}), "costs[1].note", "unknown field"},
		{"string year", invalid, edit(t, func(m map[string]any) { m["start_year"] = "2016" }), "start_year", "must be a number, got a string"},
		{"fractional year", invalid, edit(t, func(m map[string]any) { m["start_year"] = 2016.5 }), "start_year", "must be a whole number, got 2016.5"},
		{"fractional lag", invalid, edit(t, func(m map[string]any) { m["cba"].(map[string]any)["lag"] = 1.5 }), "cba.lag", "whole number"},
		{"string drop-off", invalid, edit(t, func(m map[string]any) { m["cba"].(map[string]any)["drop_off"] = "25%" }), "cba.drop_off", "must be a number, or a range {\"low\", \"mode\", \"high\"} (triangular) or {\"low\", \"high\"} (uniform), got a string"},
		{"number geo", invalid, edit(t, func(m map[string]any) { m["comparison_geos"] = []any{"FRA", 3} }), "comparison_geos[1]", "must be a string, got a number"},
		{"object geos", invalid, edit(t, func(m map[string]any) { m["comparison_geos"] = map[string]any{} }), "comparison_geos", "must be an array, got an object"},
		{"array population", invalid, edit(t, func(m map[string]any) { m["population"] = []any{} }), "population", "must be an object, got an array"},
		{"bool amount", invalid, edit(t, func(m map[string]any) { m["unit_costs"].([]any)[0].(map[string]any)["amount"] = true }), "unit_costs[0].amount", "got true or false"},
		{"missing amount", invalid, edit(t, func(m map[string]any) { delete(m["unit_costs"].([]any)[0].(map[string]any), "amount") }), "unit_costs[0].amount", "is required"},
		{"missing cohort success", invalid, edit(t, func(m map[string]any) { delete(m["cohort"].(map[string]any), "success") }), "cohort.success", "is required"},
		{"discount word", invalid, edit(t, func(m map[string]any) { m["cba"].(map[string]any)["discount"] = "treasury" }), "cba.discount", `"green_book" or a flat rate`},
		{"discount bool", invalid, edit(t, func(m map[string]any) { m["cba"].(map[string]any)["discount"] = true }), "cba.discount", "got true or false"},
		{"huge exponent", invalid, []byte(`{"id":"x","scale":1e999}`), "scale", "exponent"},
		{"duplicate key", invalid, []byte(`{"id":"a","id":"b"}`), "id", "given twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := savings.Decode(bytes.NewReader(tt.body))
			requireInputError(t, err, tt.code, tt.field, tt.errContains)
		})
	}
}

func TestDecodeReportsEveryProblem(t *testing.T) {
	_, err := savings.Decode(strings.NewReader(`{"id": 1, "colour": "red", "cba": {"lag": "two"}}`))
	ie := requireInputError(t, err, savings.CodeInvalidInitiative, "id", "must be a string")
	require.Len(t, ie.Problems, 3)
	require.Equal(t, "id", ie.Field)
	require.Contains(t, ie.Message, "colour: unknown field")
	require.Contains(t, ie.Message, "cba.lag: must be a number")
}

func TestDecodeNullOptionals(t *testing.T) {
	in, err := savings.Decode(strings.NewReader(`{"id":"a","start_year":2016,"end_year":null,"population":null,"cohort":null,
		"cba":{"lag":null,"discount":0.035}}`))
	require.NoError(t, err)
	require.Nil(t, in.EndYear)
	require.Nil(t, in.Population)
	require.Nil(t, in.CBA.Lag)
	require.False(t, in.CBA.Discount.GreenBook)
	require.Equal(t, "0.035", in.CBA.Discount.Rate.String())
}

func TestWithDefaults(t *testing.T) {
	in, err := savings.Decode(strings.NewReader(`{"id":"a","start_year":2016,
		"unit_costs":[{"agency":"NHS","amount":1,"currency":"EUR","price_year":2016}],"costs":[{"year":2016,"amount":5}]}`))
	require.NoError(t, err)
	d := in.WithDefaults()
	require.Nil(t, in.CBA.Horizon, "the document itself is not changed")
	require.Equal(t, "", in.Costs[0].Currency)
	require.Equal(t, savings.DefaultMethod, d.Method)
	require.Equal(t, "0", d.CBA.Deadweight.String())
	require.Equal(t, "1", d.CBA.Attribution.String())
	require.Equal(t, "0", d.CBA.Displacement.String())
	require.Equal(t, "0", d.CBA.OBBenefits.String())
	require.Equal(t, "0", d.CBA.OBCosts.String())
	require.Equal(t, "0", d.CBA.DropOff.String())
	require.Equal(t, savings.DefaultLag, *d.CBA.Lag)
	require.Equal(t, savings.DefaultPersistence, *d.CBA.Persistence)
	require.Equal(t, savings.DefaultHorizon, *d.CBA.Horizon)
	require.True(t, d.CBA.Discount.GreenBook)
	require.Equal(t, "EUR", d.Costs[0].Currency)
	require.Nil(t, d.Scale, "scale comes from the indicator's unit when left out")
}

// TestValidate holds one case per rule: each edits the valid example and
// expects the problem at its field.
func TestValidate(t *testing.T) {
	cba := func(key string, v any) func(m map[string]any) {
		return func(m map[string]any) { m["cba"].(map[string]any)[key] = v }
	}
	set := func(key string, v any) func(m map[string]any) {
		return func(m map[string]any) { m[key] = v }
	}
	unitCost := func(key string, v any) func(m map[string]any) {
		return func(m map[string]any) { m["unit_costs"].([]any)[0].(map[string]any)[key] = v }
	}
	tests := []struct {
		name        string
		edit        func(m map[string]any)
		method      string // "" validates for the document's own method
		field       string
		errContains string
	}{
		{name: "no id", edit: func(m map[string]any) { delete(m, "id") }, field: "id", errContains: "is required"},
		{name: "bad id", edit: set("id", "nhs dpp"), field: "id", errContains: `"nhs dpp" must be 1-64 letters`},
		{name: "long id", edit: set("id", strings.Repeat("a", 65)), field: "id", errContains: "must be 1-64"},
		{name: "long name", edit: set("name", strings.Repeat("n", 201)), field: "name", errContains: "at most 200"},
		{name: "bad domain", edit: set("domain", "Health!"), field: "domain", errContains: "lower-case"},
		{name: "no indicator for its", edit: func(m map[string]any) { delete(m, "indicator") }, field: "indicator", errContains: "required for method its"},
		{name: "bad indicator", edit: set("indicator", "a b"), field: "indicator", errContains: "must be 1-128"},
		{name: "no geo for did", edit: func(m map[string]any) { delete(m, "geo") }, method: "did", field: "geo", errContains: "required for method did"},
		{name: "bad geo", edit: set("geo", "G B"), field: "geo", errContains: "must be 1-64"},
		{name: "no start year", edit: func(m map[string]any) { delete(m, "start_year") }, field: "start_year", errContains: "is required"},
		{name: "old start year", edit: set("start_year", 1200), field: "start_year", errContains: "between 1800 and 2200, got 1200"},
		{name: "end before start", edit: set("end_year", 2015), field: "end_year", errContains: "2015 is before start_year 2016"},
		{name: "end year out of range", edit: set("end_year", 3000), field: "end_year", errContains: "between 1800 and 2200"},
		{name: "bad method", edit: set("method", "rct"), field: "method", errContains: `must be one of modelled, its, did, synth, got "rct"`},
		{name: "no comparison for did", edit: func(m map[string]any) { delete(m, "comparison_geos") }, method: "did", field: "comparison_geos", errContains: "required for method did"},
		{name: "bad comparison geo", edit: set("comparison_geos", []any{"FRA", "D E"}), field: "comparison_geos[1]", errContains: "must be 1-64"},
		{name: "duplicate comparison geo", edit: set("comparison_geos", []any{"FRA", "DEU", "FRA"}), field: "comparison_geos[2]", errContains: "listed twice (also comparison_geos[0])"},
		{name: "own geo compared", edit: set("comparison_geos", []any{"GBR"}), field: "comparison_geos[0]", errContains: "initiative's own place"},
		{name: "too many comparison geos", edit: func(m map[string]any) {
			var gs []any
			for i := range 51 {
				gs = append(gs, "P"+strings.Repeat("X", i%5)+string(rune('A'+i%26))+string(rune('A'+i/26)))
			}
			m["comparison_geos"] = gs
		}, field: "comparison_geos", errContains: "at most 50"},
		{name: "no population for its", edit: func(m map[string]any) { delete(m, "population") }, field: "population", errContains: "required for methods its, did and synth"},
		{name: "both populations", edit: set("population", map[string]any{"indicator": "SP.POP.TOTL", "value": 5}), field: "population", errContains: "exactly one of indicator and value, not both"},
		{name: "empty population", edit: set("population", map[string]any{}), field: "population", errContains: "exactly one of indicator and value"},
		{name: "bad population indicator", edit: set("population", map[string]any{"indicator": "?"}), field: "population.indicator", errContains: "must be 1-128"},
		{name: "zero population", edit: set("population", map[string]any{"value": 0}), field: "population.value", errContains: "greater than 0"},
		{name: "negative scale", edit: set("scale", -0.01), field: "scale", errContains: "greater than 0"},
		{name: "no unit costs", edit: set("unit_costs", []any{}), field: "unit_costs", errContains: "at least one unit cost"},
		{name: "blank agency", edit: unitCost("agency", " "), field: "unit_costs[0].agency", errContains: "is required"},
		{name: "negative unit cost", edit: unitCost("amount", -1), field: "unit_costs[0].amount", errContains: "between 0 and 1e15, got -1"},
		{name: "lower-case currency", edit: unitCost("currency", "gbp"), field: "unit_costs[0].currency", errContains: "three capital letters"},
		{name: "unknown currency", edit: unitCost("currency", "ABC"), field: "unit_costs[0].currency", errContains: "not an ISO 4217 currency"},
		{name: "bad price year", edit: unitCost("price_year", 14), field: "unit_costs[0].price_year", errContains: "between 1800 and 2200, got 14"},
		{name: "mixed unit cost currencies", edit: func(m map[string]any) {
			m["unit_costs"] = append(m["unit_costs"].([]any), map[string]any{"agency": "DWP", "amount": 10, "currency": "EUR", "price_year": 2014})
		}, field: "unit_costs[1].currency", errContains: "EUR differs from GBP of unit_costs[0]"},
		{name: "cost before start", edit: set("costs", []any{map[string]any{"year": 2016, "amount": 1}, map[string]any{"year": 2016, "amount": 1}, map[string]any{"year": 1990, "amount": 1}}), field: "costs[2].year", errContains: "1990 is before start_year 2016"},
		{name: "cost after horizon", edit: set("costs", []any{map[string]any{"year": 2027, "amount": 1}}), field: "costs[0].year", errContains: "after 2026, the last year of the horizon"},
		{name: "negative cost", edit: set("costs", []any{map[string]any{"year": 2016, "amount": -5}}), field: "costs[0].amount", errContains: "between 0"},
		{name: "cost in another currency", edit: set("costs", []any{map[string]any{"year": 2016, "amount": 5, "currency": "USD"}}), field: "costs[0].currency", errContains: "USD differs from GBP"},
		{name: "no cohort for modelled", edit: func(m map[string]any) { delete(m, "cohort") }, method: "modelled", field: "cohort", errContains: "required for method modelled"},
		{name: "negative cohort", edit: func(m map[string]any) { m["cohort"].(map[string]any)["size"] = -1 }, field: "cohort.size", errContains: "between 0"},
		{name: "engagement above 1", edit: func(m map[string]any) { m["cohort"].(map[string]any)["engagement"] = 80 }, field: "cohort.engagement", errContains: "between 0 and 1, got 80"},
		{name: "deadweight", edit: cba("deadweight", 1.2), field: "cba.deadweight", errContains: "between 0 and 1, got 1.2"},
		{name: "attribution", edit: cba("attribution", -0.5), field: "cba.attribution", errContains: "between 0 and 1"},
		{name: "displacement", edit: cba("displacement", 2), field: "cba.displacement", errContains: "between 0 and 1"},
		{name: "ob benefits", edit: cba("ob_benefits", 1.01), field: "cba.ob_benefits", errContains: "between 0 and 1"},
		{name: "drop-off", edit: cba("drop_off", 1.5), field: "cba.drop_off", errContains: "must be between 0 and 1, got 1.5"},
		{name: "ob costs", edit: cba("ob_costs", -0.05), field: "cba.ob_costs", errContains: "between 0 and 10"},
		{name: "horizon 0", edit: cba("horizon", 0), field: "cba.horizon", errContains: "between 1 and 500 years, got 0"},
		{name: "horizon too long", edit: cba("horizon", 501), field: "cba.horizon", errContains: "between 1 and 500"},
		{name: "negative lag", edit: cba("lag", -1), field: "cba.lag", errContains: "between 0 and 100"},
		{name: "lag past horizon", edit: cba("lag", 10), field: "cba.lag", errContains: "start in year 11, after the last year of the horizon (10)"},
		{name: "persistence 0", edit: cba("persistence", 0), field: "cba.persistence", errContains: "between 1 and 500"},
		{name: "discount 1", edit: cba("discount", 1), field: "cba.discount", errContains: "below 1"},
		{name: "negative discount", edit: cba("discount", -0.01), field: "cba.discount", errContains: "at least 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := savings.Decode(bytes.NewReader(edit(t, tt.edit)))
			require.NoError(t, err)
			if tt.method == "" {
				err = in.Validate()
			} else {
				err = in.ValidateFor(tt.method)
			}
			requireInputError(t, err, savings.CodeInvalidInitiative, tt.field, tt.errContains)
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	in := decodeExample(t)
	in.CBA.DropOff = num(t, "1.5")
	in.Costs = append(in.Costs, savings.Cost{Year: 2016, Amount: *num(t, "1")}, savings.Cost{Year: 1990, Amount: *num(t, "1")})
	err := in.Validate()
	ie := requireInputError(t, err, savings.CodeInvalidInitiative, "cba.drop_off", "must be between 0 and 1, got 1.5")
	requireInputError(t, err, savings.CodeInvalidInitiative, "costs[2].year", "1990 is before start_year 2016")
	require.Len(t, ie.Problems, 2)
	require.Equal(t, "costs[2].year", ie.Field, "problems come in document order")
	require.Contains(t, ie.Message, "cba.drop_off: must be between 0 and 1, got 1.5")
}

func TestValidateForMethod(t *testing.T) {
	in := decodeExample(t)
	in.Cohort = nil
	require.NoError(t, in.ValidateFor("its"))
	requireInputError(t, in.ValidateFor("modelled"), savings.CodeInvalidInitiative, "cohort", "required for method modelled")
	requireInputError(t, in.ValidateFor("rct"), savings.CodeUnknownMethod, "method", `unknown method "rct"; use modelled, its, did`)
}

func num(t testing.TB, s string) *savings.Num {
	t.Helper()
	n, err := savings.ParseNum(s)
	require.NoError(t, err)
	return &n
}

// TestCodesAreInTheSchema: every code an InputError carries is in
// schemas/errors.yaml with a 4xx status, so the handlers can answer with it.
func TestCodesAreInTheSchema(t *testing.T) {
	var doc struct {
		Codes map[string]struct {
			Status int `yaml:"status"`
		} `yaml:"codes"`
	}
	require.NoError(t, yaml.Unmarshal(schemas.ErrorCodes, &doc))
	for _, c := range savings.Codes() {
		spec, ok := doc.Codes[c.APICode()]
		require.Truef(t, ok, "code %s is not in schemas/errors.yaml", c)
		require.GreaterOrEqualf(t, spec.Status, 400, "status of %s", c)
		require.Lessf(t, spec.Status, 500, "status of %s", c)
	}
}

func TestDiscountJSON(t *testing.T) {
	var d savings.Discount
	require.NoError(t, json.Unmarshal([]byte(`0.035`), &d))
	require.False(t, d.GreenBook)
	require.Equal(t, "0.035", d.Rate.String())
	b, err := json.Marshal(d)
	require.NoError(t, err)
	require.Equal(t, "0.035", string(b))
	require.NoError(t, json.Unmarshal([]byte(`"green_book"`), &d))
	require.True(t, d.GreenBook)
	require.ErrorContains(t, json.Unmarshal([]byte(`"treasury"`), &d), `give "green_book" or a flat rate`)
	require.ErrorContains(t, json.Unmarshal([]byte(`true`), &d), `give "green_book" or a flat rate`)
}
