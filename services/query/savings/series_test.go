package savings_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/services/query/savings"
)

// The fields that choose a series (dims, source, comparison_dims,
// comparison_source, population.dims, population.source) decode, survive
// a round trip and are checked for their form.
func TestSeriesChoiceFields(t *testing.T) {
	b := edit(t, func(m map[string]any) {
		m["dims"] = map[string]any{"sex": "SEX_BTSX", "agegroup": "AGEGROUP_YEARS30-69"}
		m["source"] = "who-ncd-mortality"
		m["comparison_dims"] = map[string]any{"sex": "SEX_BTSX"}
		m["comparison_source"] = "partner:nhs-digital"
		m["population"] = map[string]any{"indicator": "SP.POP.TOTL", "dims": map[string]any{"age": "total"}, "source": "worldbank"}
	})
	in, err := savings.Decode(bytes.NewReader(b))
	require.NoError(t, err)
	require.NoError(t, in.Validate())
	require.Equal(t, observation.Dims{"sex": "SEX_BTSX", "agegroup": "AGEGROUP_YEARS30-69"}, in.Dims)
	require.Equal(t, "who-ncd-mortality", in.Source)
	require.Equal(t, "sex=SEX_BTSX", in.CompareDims(in.Dims.Canonical()), "comparison_dims, not the target's")
	require.Equal(t, "partner:nhs-digital", in.CompareSource())
	require.Equal(t, observation.Dims{"age": "total"}, in.Population.Dims)
	require.True(t, in.NamesSeries())

	out, err := json.Marshal(in)
	require.NoError(t, err)
	again, err := savings.Decode(bytes.NewReader(out))
	require.NoError(t, err)
	require.Equal(t, in, again)

	plain := decodeExample(t)
	require.False(t, plain.NamesSeries())
	require.Equal(t, "sex=SEX_BTSX", plain.CompareDims("sex=SEX_BTSX"), "the comparison places follow the target")
	require.Empty(t, plain.CompareSource())
	require.True(t, savings.ReadsData(savings.MethodITS))
	require.False(t, savings.ReadsData(savings.MethodModelled))
}

func TestSeriesChoiceFieldsRefused(t *testing.T) {
	for name, tc := range map[string]struct {
		edit        func(m map[string]any)
		field       string
		errContains string
	}{
		"dims not an object":  {func(m map[string]any) { m["dims"] = "sex=SEX_BTSX" }, "dims", "must be an object of strings"},
		"dims value a number": {func(m map[string]any) { m["dims"] = map[string]any{"year": 2016} }, "dims.year", "must be a string"},
		"dims key upper case": {func(m map[string]any) { m["dims"] = map[string]any{"Sex": "SEX_BTSX"} }, "dims.Sex", "lower-case snake_case"},
		"dims value empty":    {func(m map[string]any) { m["dims"] = map[string]any{"sex": ""} }, "dims.sex", "1-128 characters"},
		"dims value control":  {func(m map[string]any) { m["dims"] = map[string]any{"sex": "a\x1bb"} }, "dims.sex", "control character"},
		"source not an id":    {func(m map[string]any) { m["source"] = "WHO GHO" }, "source", "is not a source id"},
		"dims without indicator": {func(m map[string]any) {
			delete(m, "indicator")
			m["method"] = "modelled"
			m["dims"] = map[string]any{"sex": "SEX_BTSX"}
		}, "dims", "give indicator too"},
		"comparison dims without places": {func(m map[string]any) {
			delete(m, "comparison_geos")
			m["comparison_dims"] = map[string]any{"sex": "SEX_BTSX"}
		}, "comparison_dims", "there are no comparison_geos"},
		"comparison source not an id": {func(m map[string]any) { m["comparison_source"] = "partner:" }, "comparison_source", "is not a source id"},
		"population dims with a value": {func(m map[string]any) {
			m["population"] = map[string]any{"value": 1000, "dims": map[string]any{"sex": "SEX_BTSX"}}
		}, "population.dims", "give population.indicator"},
		"population source not an id": {func(m map[string]any) {
			m["population"] = map[string]any{"indicator": "SP.POP.TOTL", "source": "World Bank"}
		}, "population.source", "is not a source id"},
	} {
		t.Run(name, func(t *testing.T) {
			in, err := savings.Decode(bytes.NewReader(edit(t, tc.edit)))
			if err == nil {
				err = in.Validate()
			}
			requireInputError(t, err, savings.CodeInvalidInitiative, tc.field, tc.errContains)
		})
	}

	// A key given twice is seen, though JSON objects usually hide it.
	_, err := savings.Decode(bytes.NewReader([]byte(`{"id": "x", "start_year": 2016, "dims": {"sex": "a", "sex": "b"}}`)))
	requireInputError(t, err, savings.CodeInvalidInitiative, "dims.sex", "given twice")
}
