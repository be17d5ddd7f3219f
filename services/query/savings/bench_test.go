package savings_test

import (
	"math"
	"testing"

	"github.com/ounce-data/ounce/services/query/savings"
)

// BenchmarkComputeITS30 computes an its report over a 30-year horizon with
// 20 pre-period years, Green Book discounting and a population series.
// Reproduce with
//
//	cd services/query && go test ./savings -run '^$' -bench ComputeITS30 -benchtime 2000x
func BenchmarkComputeITS30(b *testing.B) {
	in, data := itsCase(b)
	h := 30
	in.CBA.Horizon = &h
	in.CBA.Discount = &savings.GreenBook
	in.Population = &savings.Population{Indicator: "pop"}
	target := map[int]float64{}
	pop := map[int]float64{}
	for y := 1996; y <= 2046; y++ {
		target[y] = 50 - 0.7*float64(y-1996) + 1.3*math.Sin(float64(y))
		if y >= 2016 {
			target[y] -= 2
		}
		pop[y] = 6.5e7 + 3e5*float64(y-1996)
	}
	data.Target.Values = target
	data.Population = savings.Series{Indicator: "pop", Geo: "GBR", Values: pop}
	b.ReportAllocs()
	for b.Loop() {
		r, err := savings.Compute(in, "its", data)
		if err != nil {
			b.Fatal(err)
		}
		if len(r.Years) != 31 {
			b.Fatal(len(r.Years))
		}
	}
}
