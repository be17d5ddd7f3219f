package savings_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/ounce-data/ounce/services/query/savings"
)

// BenchmarkSynthPlacebo computes a synth report with 40 donors over 30
// years (20 before the start, 10 after): the fit and 40 placebo fits of
// 39 donors each. Reproduce with
//
//	cd services/query && go test ./savings -run '^$' -bench SynthPlacebo -benchtime 200x
func BenchmarkSynthPlacebo(b *testing.B) {
	r := rand.New(rand.NewPCG(61, 62))
	panel := map[string]map[int]float64{}
	for j := range 40 {
		level, slope := 20+40*r.Float64(), -0.5+r.Float64()
		s := map[int]float64{}
		for y := 1996; y < 2026; y++ {
			s[y] = level + slope*float64(y-1996) + 0.8*r.NormFloat64()
		}
		panel[fmt.Sprintf("D%02d", j)] = s
	}
	target := map[int]float64{}
	for y := 1996; y < 2026; y++ {
		target[y] = 0.4*panel["D03"][y] + 0.35*panel["D17"][y] + 0.25*panel["D29"][y] + 0.3*r.NormFloat64()
		if y >= 2016 {
			target[y] -= 3
		}
	}
	in, data := synthCase(b, target, panel)
	h := 9
	in.CBA.Horizon = &h
	b.SetBytes(int64(8 * 30 * 41))
	b.ReportAllocs()
	for b.Loop() {
		rep, err := savings.Compute(in, "synth", data)
		if err != nil {
			b.Fatal(err)
		}
		if len(rep.Synth.Placebos) != 40 || rep.Synth.PValue == nil {
			b.Fatal("no placebos")
		}
	}
}
