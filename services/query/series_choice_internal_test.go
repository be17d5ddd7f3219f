package query

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/services/query/savings"
)

// row is one stored yearly value for placeSeries.
func row(dims observation.Dims, source string, year int, value float64) observationRow {
	return observationRow{Indicator: "ind", Geo: "GBR", Dims: dims.Canonical(), Grain: "year", Source: source,
		PeriodStart: time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC).Unix(), Value: value, Version: 1}
}

// TestPlaceSeriesChoosesOneSeries checks the rule of docs/savings.md,
// "Choosing the series", on rows in the store's order (dims, period,
// source): the breakdown named, else the total, else the only one; the
// source named, else one value a year by precedence.
func TestPlaceSeriesChoosesOneSeries(t *testing.T) {
	female := observation.Dims{"sex": "female"}
	male := observation.Dims{"sex": "male"}
	ind := &indicators.Indicator{Code: "ind", Unit: "%", Sources: []string{"feed-b"}}
	total := []observationRow{row(nil, "feed-a", 2000, 1), row(nil, "feed-b", 2000, 2), row(nil, "feed-a", 2001, 3)}
	bySex := []observationRow{row(female, "feed-a", 2000, 10), row(female, "feed-a", 2001, 11), row(female, "partner:p", 2001, 12),
		row(male, "feed-a", 2000, 20), row(male, "feed-a", 2001, math.NaN())}
	tests := map[string]struct {
		rows        []observationRow
		choice      seriesChoice
		want        map[int]float64
		wantDims    string
		errField    string
		errContains []string
	}{
		"the total, by precedence": {rows: append(append([]observationRow{}, total...), bySex...), choice: seriesChoice{},
			want: map[int]float64{2000: 2, 2001: 3}, wantDims: ""},
		"the only breakdown": {rows: bySex[3:], choice: seriesChoice{}, want: map[int]float64{2000: 20}, wantDims: "sex=male"},
		"the breakdown named": {rows: bySex, choice: choice(female, "", "dims", "source"),
			want: map[int]float64{2000: 10, 2001: 11}, wantDims: "sex=female"},
		"the source named": {rows: bySex, choice: choice(female, "partner:p", "dims", "source"),
			want: map[int]float64{2001: 12}, wantDims: "sex=female"},
		"a source holding one breakdown settles it": {rows: bySex, choice: choice(nil, "partner:p", "dims", "source"),
			want: map[int]float64{2001: 12}, wantDims: "sex=female"},
		"several breakdowns, none named": {rows: bySex, choice: choice(nil, "", "dims", "source"), errField: "dims",
			errContains: []string{"stored in 2 breakdowns and dims names none",
				`{"sex":"female"} (feed-a 2000-2001, 2 years; partner:p 2001, 1 year)`, `{"sex":"male"} (feed-a 2000, 1 year)`}},
		"the breakdown named is not stored": {rows: bySex, choice: choice(observation.Dims{"sex": "all"}, "", "cost_dims", "cost_source"),
			errField: "cost_dims", errContains: []string{`holds no breakdown {"sex":"all"}`, "copy one of those stored into cost_dims"}},
		"the source named holds none": {rows: total, choice: choice(nil, "feed-c", "dims", "source"), errField: "source",
			errContains: []string{"source feed-c holds no yearly value of ind in GBR", "feed-a (2000-2001), feed-b (2000)"}},
		"optional: absent is empty": {rows: bySex, choice: seriesChoice{dims: "sex=all", named: true, optional: true}, want: map[int]float64{}},
		"nothing stored":            {rows: nil, choice: choice(female, "", "dims", "source"), want: map[int]float64{}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			series, chosen, dims, found, err := placeSeries(ind, "GBR", tc.rows, tc.choice)
			if tc.errField != "" {
				var ie *savings.InputError
				require.ErrorAs(t, err, &ie)
				require.Equal(t, savings.CodeInsufficientData, ie.Code)
				require.Equal(t, tc.errField, ie.Field)
				for _, s := range tc.errContains {
					require.Contains(t, ie.Message, s)
				}
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, series.Values)
			require.Equal(t, len(tc.want) > 0, found)
			if found {
				require.Equal(t, tc.wantDims, dims)
				want, _ := observation.ParseDims(tc.wantDims)
				require.Equal(t, want, series.Dims)
				for _, r := range chosen {
					require.Equal(t, tc.wantDims, r.Dims)
				}
			}
		})
	}
}

// TestComparisonChoiceFollowsTheTarget: comparison places are read in the
// target's breakdown and source unless comparison_dims/comparison_source
// name others, and are optional.
func TestComparisonChoiceFollowsTheTarget(t *testing.T) {
	in := savings.Initiative{Source: "feed-a"}
	c := comparisonChoice(in, "sex=female", true)
	require.Equal(t, seriesChoice{dims: "sex=female", named: true, source: "feed-a", dimsField: "comparison_dims", sourceField: "comparison_source", optional: true}, c)

	in.ComparisonDims, in.ComparisonSource = observation.Dims{"sex": "all"}, "feed-b"
	c = comparisonChoice(in, "sex=female", true)
	require.Equal(t, "sex=all", c.dims)
	require.Equal(t, "feed-b", c.source)

	// The target not found: the breakdown named for it, else each place's own.
	c = comparisonChoice(savings.Initiative{Dims: observation.Dims{"sex": "male"}}, "", false)
	require.True(t, c.named)
	require.Equal(t, "sex=male", c.dims)
	c = comparisonChoice(savings.Initiative{}, "", false)
	require.False(t, c.named)
}
