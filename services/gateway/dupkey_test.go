package gateway

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/observation"
)

// TestAppendKeyAgreesWithObservationKey: two observations share a push key
// exactly when they share observation.Key.
func TestAppendKeyAgreesWithObservationKey(t *testing.T) {
	y := func(n int) observation.Period { return observation.Year(n) }
	obs := []observation.Observation{
		{Indicator: "a", Geo: "GBR", Period: y(2020)},
		{Indicator: "a", Geo: "GBR", Period: y(2020), Dims: observation.Dims{}},
		{Indicator: "a", Geo: "GBR", Period: y(2021)},
		{Indicator: "a", Geo: "GBR", Period: observation.Period{Grain: observation.GrainDay, Start: y(2020).Start}},
		{Indicator: "aG", Geo: "BR", Period: y(2020)},
		{Indicator: "a", Geo: "GBR", Period: y(2020), Dims: observation.Dims{"sex": "f", "age": "0-4"}},
		{Indicator: "a", Geo: "GBR", Period: y(2020), Dims: observation.Dims{"age": "0-4", "sex": "f"}},
		{Indicator: "a", Geo: "GBR", Period: y(2020), Dims: observation.Dims{"a": "b=c"}},
		{Indicator: "a", Geo: "GBR", Period: y(2020), Dims: observation.Dims{"a=b": "c"}},
		{Indicator: "a", Geo: "GBR", Period: y(2020), Dims: observation.Dims{"a": "b", "c": "d"}},
		{Indicator: "a", Geo: "GBR", Period: y(2020), Dims: observation.Dims{"a": "b&c=d"}},
	}
	for i := range obs {
		for j := range obs {
			ki, _ := appendKey(nil, nil, &obs[i])
			kj, _ := appendKey(nil, nil, &obs[j])
			require.Equal(t, obs[i].Key() == obs[j].Key(), string(ki) == string(kj), "%d %d: %s / %s", i, j, ki, kj)
		}
	}
}
