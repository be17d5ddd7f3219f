package savings_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/services/query/savings"
)

// FuzzCompute runs Decode, Validate, Compute and Compare on arbitrary
// documents and series, seeded from docs/savings.md's example. Nothing may
// panic; every error must be an *InputError; every report must marshal.
func FuzzCompute(f *testing.F) {
	ex := example(f)
	series := func(vs ...float64) []byte {
		var b []byte
		for _, v := range vs {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
		}
		return b
	}
	trend := series(10, 9.5, 9, 8.7, 8, 7.1, 7.5, 6, 6.2, 5.5, 5, 4, 4.4, 3, 2)
	for _, m := range []string{"modelled", "its", "did", "synth", "", "x"} {
		f.Add(ex, m, trend)
	}
	f.Add(bytes.ReplaceAll(ex, []byte(`"green_book"`), []byte(`0.035`)), "its", trend)
	f.Add(bytes.ReplaceAll(ex, []byte(`{"indicator": "SP.POP.TOTL"}`), []byte(`{"value": 1e6}`)), "did", trend)
	f.Add(bytes.ReplaceAll(ex, []byte(`"horizon": 10`), []byte(`"horizon": 500`)), "its", series(1, 2, 3, math.NaN(), math.Inf(1), 1e308, -1e308, 5e-324))
	f.Add(ex[:len(ex)/2], "its", trend)
	f.Add(bytes.ReplaceAll(ex, []byte(`"attribution": 1`), []byte(`"attribution": {"low": 0.2, "mode": 0.5, "high": 1}`)), "its", trend)
	f.Add(bytes.ReplaceAll(ex, []byte(`"amount": 566`), []byte(`"amount": {"low": 1, "high": 1e15}`)), "modelled", trend)
	f.Add([]byte(`{"id":"a","cba":{"lag":1e30}}`), "modelled", []byte{})
	f.Fuzz(func(t *testing.T, doc []byte, method string, raw []byte) {
		in, err := savings.Decode(bytes.NewReader(doc))
		if err != nil {
			requireInput(t, err)
			return
		}
		if err := in.Validate(); err != nil {
			requireInput(t, err)
		}
		// Target from the first values, comparison places and population
		// from the same bytes shifted, all starting in start_year − 8.
		var vals []float64
		for i := 0; i+8 <= len(raw) && len(vals) < 64; i += 8 {
			vals = append(vals, math.Float64frombits(binary.LittleEndian.Uint64(raw[i:])))
		}
		at := func(shift float64) map[int]float64 {
			m := map[int]float64{}
			for i, v := range vals {
				m[in.StartYear-8+i] = v + shift
			}
			return m
		}
		data := savings.Data{
			Target:     savings.Series{Indicator: in.Indicator, Geo: in.Geo, Unit: "%", Values: at(0)},
			Polarity:   indicators.LowerIsBetter,
			Population: savings.Series{Values: at(1000)},
		}
		for i, g := range in.ComparisonGeos {
			data.Comparison = append(data.Comparison, savings.Series{Geo: g, Values: at(float64(i + 1))})
		}
		r, err := savings.Compute(in, method, data)
		if err != nil {
			requireInput(t, err)
			return
		}
		_, err = json.Marshal(r)
		require.NoError(t, err)
		if err := r.Simulate(20, 1); err != nil {
			requireInput(t, err)
		} else {
			_, err = json.Marshal(r)
			require.NoError(t, err, "the simulation marshals")
		}
		c, err := savings.Compare(r, savings.Series{Values: at(-1)}, savings.CompareOptions{})
		if err != nil {
			requireInput(t, err)
			return
		}
		_, err = json.Marshal(c)
		require.NoError(t, err)
	})
}

func requireInput(t *testing.T, err error) {
	t.Helper()
	var ie *savings.InputError
	require.Truef(t, errors.As(err, &ie), "%T: %v", err, err)
	require.NotEmpty(t, ie.Code)
	require.NotEmpty(t, ie.Message)
	require.NotEmpty(t, ie.Problems)
}
