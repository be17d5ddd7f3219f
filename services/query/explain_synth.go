package query

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ounce-data/ounce/services/query/savings"
)

// synthWeights is the step of method synth's weights, fitted on the
// pre-period or pinned by donor_weights.
func (e *savingsExplainer) synthWeights() string {
	s := e.rep.Synth
	e.startAndPreFrom()
	from := FromData
	if s.Pinned {
		from = FromInitiative
	}
	var terms []string
	for i, w := range s.Weights {
		e.input(fmt.Sprintf("synth.weights[%d].weight", i), rawFloat(w.Weight), from)
		if w.Weight > 0 {
			terms = append(terms, fmt.Sprintf("%s %s", w.Geo, fnum(w.Weight)))
		}
	}
	e.input("synth.rmspe_pre", rawFloat(s.RMSPEPre), FromData)
	e.observeSynthPre()
	if s.Pinned {
		return fmt.Sprintf("synth.weights: pinned by donor_weights, not fitted: %s (every other donor 0); RMSPE_pre = √(mean over the %d pre-period years %s of (%s in %s − Σ_j w_j × value_j)²) = %s %s",
			strings.Join(terms, ", "), len(s.PreYears), yearSpan(s.PreYears), e.d.Indicator, e.d.Geo, fnum(s.RMSPEPre), e.rep.Inputs.Unit)
	}
	return fmt.Sprintf("synth.weights: w ≥ 0 with Σ w = 1 minimising Σ (%s in %s − Σ_j w_j × value_j)² over the n = %d pre-period years %s (before start_year %d, in which %s has a value), "+
		"over the %d donors of comparison_geos with a value in each of those years (Wolfe's minimum-norm-point algorithm, exact): %s, every other donor 0; RMSPE_pre = √(mean of the squared gaps) = %s %s",
		e.d.Indicator, e.d.Geo, len(s.PreYears), yearSpan(s.PreYears), e.d.StartYear, e.d.Geo, len(s.Weights), strings.Join(terms, ", "), fnum(s.RMSPEPre), e.rep.Inputs.Unit)
}

// observeSynthPre lists the pre-period values the weights (and the
// placebos) are fitted on: the target's and every donor's.
func (e *savingsExplainer) observeSynthPre() {
	for _, y := range e.rep.Synth.PreYears {
		if r, ok := e.targetAt[y]; ok {
			e.observe(e.d.Geo, r)
		}
		for _, w := range e.rep.Synth.Weights {
			if r, ok := e.comparison[w.Geo][y]; ok {
				e.observe(w.Geo, r)
			}
		}
	}
}

func (e *savingsExplainer) synthCounterfactual(t int) string {
	lb, cy := e.label("counterfactual", t), e.rep.Years[t].CalendarYear
	e.step("synth.weights", e.synthWeights)
	if e.rep.Years[t].Counterfactual == nil {
		return fmt.Sprintf("%s: null, as a donor of positive weight has no value of %s for %d", lb, e.d.Indicator, cy)
	}
	var terms []string
	for _, w := range e.rep.Synth.Weights {
		if w.Weight == 0 {
			continue
		}
		r := e.comparison[w.Geo][cy]
		e.observe(w.Geo, r)
		e.input(fmt.Sprintf("%s(%d)", w.Geo, cy), rawFloat(r.Value), FromData)
		terms = append(terms, fmt.Sprintf("%s × %s", fnum(w.Weight), paren(fnum(r.Value))))
	}
	return fmt.Sprintf("%s = Σ_j w_j × value_j(%d) over the donors of positive weight = %s = %s %s",
		lb, cy, sumOf(terms), e.shown("counterfactual", t), e.rep.Inputs.Unit)
}

// synthBound is a bound of synth's counterfactual: the counterfactual
// plus a percentile of the placebos' gaps that year.
func (e *savingsExplainer) synthBound(fig string, t int, cf string) string {
	lb, cy := e.label(fig, t), e.rep.Years[t].CalendarYear
	s := e.rep.Synth
	e.input("synth.rmspe_pre", rawFloat(s.RMSPEPre), FromData)
	var gaps []float64
	var geos []string
	for _, p := range s.Placebos {
		if !p.WithinFilter {
			continue
		}
		for _, g := range p.Gaps {
			if g.Year == cy {
				gaps = append(gaps, g.Gap)
				geos = append(geos, p.Geo)
			}
		}
	}
	filter := fmt.Sprintf("RMSPE_pre at most %g × the target's %s", s.FilterMultiple, fnum(s.RMSPEPre))
	if e.value(fig, t) == (*float64)(nil) {
		if s.IntervalPlacebos < savings.SynthMinIntervalPlacebos {
			return fmt.Sprintf("%s: null, as %d of the %d placebos have an %s; an interval needs at least %d", lb, s.IntervalPlacebos, len(s.Placebos), filter, savings.SynthMinIntervalPlacebos)
		}
		if len(gaps) < savings.SynthMinIntervalPlacebos {
			return fmt.Sprintf("%s: null, as %d placebos with an %s have a gap for %d; an interval needs at least %d", lb, len(gaps), filter, cy, savings.SynthMinIntervalPlacebos)
		}
		return fmt.Sprintf("%s: null, as the 2.5th and 97.5th percentiles of the %d placebo gaps for %d coincide: an interval of zero width is not shown", lb, len(gaps), cy)
	}
	p := savings.SynthLowPercentile
	if fig == "counterfactual_high" {
		p = savings.SynthHighPercentile
	}
	e.observeSynthPre()
	for _, g := range geos {
		if r, ok := e.comparison[g][cy]; ok {
			e.observe(g, r)
		}
	}
	sorted := slices.Clone(gaps)
	slices.Sort(sorted)
	q := savings.Percentile(sorted, p)
	e.input(fmt.Sprintf("synth_gap_p%g(%d)", p, cy), rawFloat(q), FromData)
	terms := make([]string, len(sorted))
	for i, g := range sorted {
		terms[i] = fnum(g)
	}
	return fmt.Sprintf("%s = counterfactual + P%g of the k = %d placebo gaps for %d = %s + %s = %s %s; the gaps are observed − synthetic of the placebos (%s), each donor fitted as the target on the other donors, "+
		"of those with an %s; sorted: %s; P_p = x[⌊h⌋] + (h − ⌊h⌋) × (x[⌊h⌋+1] − x[⌊h⌋]) with h = (k − 1) × p / 100, x counted from 0",
		lb, p, len(sorted), cy, cf, paren(fnum(q)), e.shown(fig, t), e.rep.Inputs.Unit, strings.Join(geos, ", "), filter, strings.Join(terms, ", "))
}
