package eurostat_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const header = `"TIME","GEO","UNIT","HAZARD","WASTE","WST_OPER","Value","Flag and Footnotes"` + "\n"

func row(time, geo, unit, oper, value, flag string) string {
	return `"` + strings.Join([]string{time, geo, unit, "Hazardous and non-hazardous - Total", "Total waste", oper, value, flag}, `","`) + `"` + "\n"
}

// Every malformed body fails with an error naming the feed, the line or
// row and the field, and what to change.
func TestMalformedBodies(t *testing.T) {
	m, data := setup(t)
	good := row("2016", "Denmark", "Tonne", "Waste treatment", "1,000", "")
	lines := bytes.SplitAfter(data, []byte("\n"))
	for _, tc := range []struct {
		name        string
		body        string
		errContains []string
	}{
		{"empty", "", []string{"feed eurostat-waste-treatment", "body is empty"}},
		{"html page with 200", "<!DOCTYPE html><html><body>Service unavailable</body></html>", []string{"feed eurostat-waste-treatment", "body is HTML"}},
		{"json instead of csv", `{"error":{"status":400,"label":"bad request"}}`, []string{"body is JSON, not CSV"}},
		{"truncated mid-row", string(bytes.Join(lines[:40], nil)) + string(lines[40][:30]),
			[]string{"feed eurostat-waste-treatment", "line 41 (data row 40)", "is not valid CSV"}},
		{"truncated at a field end", header + good + strings.TrimSuffix(row("2016", "Greece", "Tonne", "Waste treatment", "1,000", ""), "\n"),
			[]string{"line 3 (data row 2)", "without a line break", "cut short"}},
		{"renamed column", strings.Replace(header, "WST_OPER", "WST_OPERATION", 1) + good,
			[]string{"header (line 1)", `indicator column "WST_OPER" is missing`, `column "WST_OPERATION" is not in the feed's mapping`}},
		{"renamed value column", strings.Replace(header, `"Value"`, `"OBS_VALUE"`, 1) + good,
			[]string{`value column "Value" is missing`}},
		{"non-numeric value", header + good + row("2016", "Greece", "Tonne", "Waste treatment", "12 t", ""),
			[]string{"line 3 (data row 2)", `field Value`, `value "12 t"`, "is not a number"}},
		{"bad thousands separator", header + row("2016", "Greece", "Tonne", "Waste treatment", "1,00,000", ""),
			[]string{"line 2 (data row 1)", `field Value`, "thousands separators"}},
		{"unknown place label", header + good + row("2016", "Atlantis", "Tonne", "Waste treatment", "5", ""),
			[]string{"line 3 (data row 2)", `field GEO`, `value "Atlantis"`, "not a Eurostat geo label"}},
		{"not a year", header + row("2016-17", "Denmark", "Tonne", "Waste treatment", "5", ""),
			[]string{"line 2 (data row 1)", `field TIME`, "not a Eurostat time code"}},
		{"other unit", header + good + row("2016", "Greece", "Kilogram per capita", "Waste treatment", "5", ""),
			[]string{"line 3 (data row 2)", `field UNIT`, `must be "Tonne"`}},
		{"repeated row", header + good + good,
			[]string{"line 3 (data row 2)", "repeats", "place DNK", "line 2"}},
		{"flag too long", header + row("2016", "Denmark", "Tonne", "Waste treatment", "5", strings.Repeat("x", 300)),
			[]string{`field "Flag and Footnotes"`, "is not 1-8 flag letters"}},
		{"flag not letters", header + row("2016", "Denmark", "Tonne", "Waste treatment", "5", "p (see note 3)"),
			[]string{`field "Flag and Footnotes"`, `value "p (see note 3)"`, "is not 1-8 flag letters"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obs, _, err := readAll(t, []byte(tc.body), m)
			require.Error(t, err)
			for _, s := range tc.errContains {
				require.ErrorContains(t, err, s)
			}
			// Rows before the fault may have been yielded; the run fails as
			// a whole. None after it.
			require.LessOrEqual(t, len(obs), strings.Count(tc.body, "\n"))
		})
	}
}

// A label that no catalogue entry maps is counted, its row skipped.
func TestUnmappedLabelIsCounted(t *testing.T) {
	m, _ := setup(t)
	body := header + row("2016", "Denmark", "Tonne", "Waste treatment", "1", "") + row("2016", "Denmark", "Tonne", "Recovery - composting", "2", "")
	obs, stats, err := readAll(t, []byte(body), m)
	require.NoError(t, err)
	require.Len(t, obs, 1)
	require.Equal(t, map[string]int{"Recovery - composting": 1}, stats.Unmapped)
}

func TestFieldsCheck(t *testing.T) {
	for _, tc := range []struct {
		yaml, err string
	}{
		{"", "no mapping: block"},
		{"dims: {hazard: HAZARD}", "indicator is missing"},
		{"indicator: X\ndims: {Hazard: HAZARD}", `dims key "Hazard"`},
		{"indicator: X\nflag: flag", `field flag not found`}, // flags are the observation's attribute, never a dim
		{"indicator: X\nunits: Y", "field units not found"},
	} {
		_, err := eurostatFields(tc.yaml)
		require.ErrorContains(t, err, tc.err, tc.yaml)
	}
}
