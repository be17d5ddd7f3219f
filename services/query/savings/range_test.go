package savings_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/services/query/savings"
)

// TestDecodeRanges reads uncertain inputs: a triangular and a uniform range
// take their central value (the mode, the midpoint) for the point report,
// keep their ends, are written back as they were given, and are checked on
// both ends.
func TestDecodeRanges(t *testing.T) {
	body := edit(t, func(m map[string]any) {
		cba := m["cba"].(map[string]any)
		cba["attribution"] = map[string]any{"low": 0.5, "mode": 0.8, "high": 1}
		cba["discount"] = map[string]any{"low": 0.015, "high": 0.05}
		m["unit_costs"].([]any)[0].(map[string]any)["amount"] = map[string]any{"low": 400, "high": 700}
	})
	in, err := savings.Decode(bytes.NewReader(body))
	require.NoError(t, err)
	require.NoError(t, in.Validate())
	require.Equal(t, "0.8", in.CBA.Attribution.String(), "a triangular range's central value is its mode")
	r := in.CBA.Attribution.Range()
	require.NotNil(t, r)
	require.Equal(t, "0.5", r.Low.String())
	require.Equal(t, "1", r.High.String())
	require.Equal(t, "0.8", r.Mode.String())
	require.Equal(t, "550", in.UnitCosts[0].Amount.String(), "a uniform range's central value is its midpoint")
	require.Nil(t, in.UnitCosts[0].Amount.Range().Mode)
	require.Equal(t, "0.0325", in.CBA.Discount.Rate.String())

	b, err := json.Marshal(in)
	require.NoError(t, err)
	var back map[string]any
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, map[string]any{"low": 0.5, "mode": 0.8, "high": 1.0}, back["cba"].(map[string]any)["attribution"])
	require.Equal(t, map[string]any{"low": 0.015, "high": 0.05}, back["cba"].(map[string]any)["discount"])
	again, err := savings.Decode(bytes.NewReader(b))
	require.NoError(t, err)
	b2, err := json.Marshal(again)
	require.NoError(t, err)
	require.JSONEq(t, string(b), string(b2), "a document with ranges round-trips")
	var std savings.Initiative
	require.NoError(t, json.Unmarshal(b, &std), "encoding/json reads ranges too")
	b3, err := json.Marshal(std)
	require.NoError(t, err)
	require.JSONEq(t, string(b), string(b3))
}

func TestRangeErrors(t *testing.T) {
	invalid := savings.CodeInvalidInitiative
	cba := func(field string, v any) []byte {
		return edit(t, func(m map[string]any) { m["cba"].(map[string]any)[field] = v })
	}
	decodeErrors := []struct {
		name, field, contains string
		body                  []byte
	}{
		{"low not below high", "cba.attribution", "low 0.9 must be below high 0.5", cba("attribution", map[string]any{"low": 0.9, "high": 0.5})},
		{"equal ends", "cba.attribution", "low 0.5 must be below high 0.5", cba("attribution", map[string]any{"low": 0.5, "high": 0.5})},
		{"mode outside", "cba.attribution", "mode 0.2 must lie between low 0.5 and high 0.9", cba("attribution", map[string]any{"low": 0.5, "mode": 0.2, "high": 0.9})},
		{"high missing", "cba.attribution.high", "is required", cba("attribution", map[string]any{"low": 0.5})},
		{"unknown part", "cba.attribution.median", "unknown field", cba("attribution", map[string]any{"low": 0.5, "high": 0.9, "median": 0.7})},
		{"mode not a number", "cba.attribution.mode", "must be a number", cba("attribution", map[string]any{"low": 0.5, "mode": "x", "high": 0.9})},
		{"range of a count", "cohort.size", "must be a number, got an object", edit(t, func(m map[string]any) {
			m["cohort"].(map[string]any)["size"] = map[string]any{"low": 1, "high": 2}
		})},
	}
	for _, c := range decodeErrors {
		t.Run(c.name, func(t *testing.T) {
			_, err := savings.Decode(bytes.NewReader(c.body))
			requireInputError(t, err, invalid, c.field, c.contains)
		})
	}
	validateErrors := []struct {
		name, field, contains string
		body                  []byte
	}{
		{"share above 1", "cba.attribution.high", "must be between 0 and 1, got 1.2", cba("attribution", map[string]any{"low": 0.5, "high": 1.2})},
		{"negative amount", "unit_costs[0].amount.low", "must be between 0 and", edit(t, func(m map[string]any) {
			m["unit_costs"].([]any)[0].(map[string]any)["amount"] = map[string]any{"low": -1, "high": 700}
		})},
		{"rate of 1", "cba.discount.high", "below 1", cba("discount", map[string]any{"low": 0.01, "high": 1})},
		{"optimism bias above 10", "cba.ob_costs.high", "between 0 and 10", cba("ob_costs", map[string]any{"low": 0, "high": 11})},
	}
	for _, c := range validateErrors {
		t.Run(c.name, func(t *testing.T) {
			in, err := savings.Decode(bytes.NewReader(c.body))
			require.NoError(t, err)
			requireInputError(t, in.Validate(), invalid, c.field, c.contains)
		})
	}
}
