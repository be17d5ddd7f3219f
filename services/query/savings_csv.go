package query

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/ounce-data/ounce/services/query/savings"
)

// savingsCSVHeader are the columns of a savings report as CSV: one row a
// year and method, then the totals, the simulation's percentiles (when
// asked for) and the sensitivity (tornado ends and switching values) as
// rows labelled in row and figure, then the provenance of the data on
// every row. Numbers are unformatted: money to
// its minor unit, as in JSON.
var savingsCSVHeader = []string{"initiative", "method", "row", "year", "calendar_year",
	"observed", "counterfactual", "counterfactual_low", "counterfactual_high",
	"avoided", "avoided_low", "avoided_high", "benefit", "cost", "discount_factor",
	"pv_benefit", "pv_cost", "cumulative_net_pv",
	"figure", "value", "low", "high", "currency", "interval", "sources", "licences"}

// savingsCSVColumn is the index of each column of savingsCSVHeader.
var savingsCSVColumn = func() map[string]int {
	m := make(map[string]int, len(savingsCSVHeader))
	for i, c := range savingsCSVHeader {
		m[c] = i
	}
	return m
}()

// formatNumber writes a number unformatted.
func formatNumber(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// savingsCSV writes reports (one a method) in the columns of
// savingsCSVHeader.
func savingsCSV(reps []savings.Report) []byte {
	t := newCSVTable(savingsCSVHeader...)
	for _, rep := range reps {
		sources, licences := provenanceCells(rep.Provenance)
		for _, y := range rep.Years {
			t.row(rep.Initiative, rep.Method, "year", strconv.Itoa(y.Year), strconv.Itoa(y.CalendarYear),
				formatFloat(y.Observed), formatFloat(y.Counterfactual), formatFloat(y.CounterfactualLow), formatFloat(y.CounterfactualHigh),
				formatFloat(y.Avoided), formatFloat(y.AvoidedLow), formatFloat(y.AvoidedHigh), y.Benefit.String(), y.Cost.String(),
				strconv.FormatFloat(y.DiscountFactor, 'g', -1, 64), y.PVBenefit.String(), y.PVCost.String(), y.CumulativeNetPV.String(),
				"", "", "", "", rep.Currency, "", sources, licences)
		}
		tot := rep.Totals
		money := func(m *savings.Money) string {
			if m == nil {
				return ""
			}
			return m.String()
		}
		// figure writes a labelled row: kind (total, simulation,
		// sensitivity), the figure's name, its value and its range.
		figure := func(kind, name, value, low, high, interval string) {
			row := make([]string, len(savingsCSVHeader))
			for col, v := range map[string]string{"initiative": rep.Initiative, "method": rep.Method, "row": kind,
				"figure": name, "value": value, "low": low, "high": high, "currency": rep.Currency, "interval": interval,
				"sources": sources, "licences": licences} {
				row[savingsCSVColumn[col]] = v
			}
			t.row(row...)
		}
		for _, f := range []struct{ name, value, low, high string }{
			{"pv_benefits", tot.PVBenefits.String(), money(tot.PVBenefitsLow), money(tot.PVBenefitsHigh)},
			{"pv_costs", tot.PVCosts.String(), "", ""},
			{"npv", tot.NPV.String(), money(tot.NPVLow), money(tot.NPVHigh)},
			{"roi", formatFloat(tot.ROI), formatFloat(tot.ROILow), formatFloat(tot.ROIHigh)},
			{"net_roi", formatFloat(tot.NetROI), "", ""},
			{"payback_years", formatFloat(tot.PaybackYears), formatFloat(tot.PaybackYearsLow), formatFloat(tot.PaybackYearsHigh)},
			{"sroi_ratio", formatFloat(tot.SROIRatio), "", ""},
		} {
			figure("total", f.name, f.value, f.low, f.high, tot.Interval)
		}
		for _, a := range slices.Sorted(maps.Keys(tot.PVBenefitsByAgency)) {
			figure("total", "pv_benefits_by_agency:"+a, tot.PVBenefitsByAgency[a].String(), "", "", "")
		}
		if sim := rep.Simulation; sim != nil {
			interval := fmt.Sprintf("simulation_p5_p95: %d draws, seed %d", sim.Draws, sim.Seed)
			pct := func(name string, p *savings.Percentiles) {
				if p != nil {
					figure("simulation", name+"_p50", formatNumber(p.P50), formatNumber(p.P5), formatNumber(p.P95), interval)
				}
			}
			pct("pv_benefits", &sim.PVBenefits)
			pct("pv_costs", &sim.PVCosts)
			pct("npv", &sim.NPV)
			pct("roi", sim.ROI)
			figure("simulation", "p_npv_positive", formatNumber(sim.PNPVPositive), "", "", interval)
		}
		if sens := rep.Sensitivity; sens != nil {
			for _, b := range sens.Tornado {
				figure("sensitivity", "npv_swing:"+b.Input, "", formatNumber(b.NPVAtLow), formatNumber(b.NPVAtHigh), "npv with the input at its low and high end")
			}
			for _, v := range sens.SwitchingValues {
				note := v.Note
				if note == "" {
					note = "the value at which npv crosses zero"
				}
				figure("sensitivity", "switching_value:"+v.Input, formatFloat(v.Value), formatNumber(v.Searched[0]), formatNumber(v.Searched[1]), note)
			}
		}
	}
	return t.bytes()
}

// provenanceCells are a report's sources and licences, each once, joined
// by "; " (role:indicator:geo=source for the sources).
func provenanceCells(ps []savings.ProvenanceEntry) (sources, licences string) {
	var ss, ls []string
	for _, p := range ps {
		s := p.Role + ":" + p.Indicator + ":" + p.Geo + "=" + p.Source.Source
		if !slices.Contains(ss, s) {
			ss = append(ss, s)
		}
		if p.Licence != "" && !slices.Contains(ls, p.Licence) {
			ls = append(ls, p.Licence)
		}
	}
	return strings.Join(ss, "; "), strings.Join(ls, "; ")
}

// compareCSVHeader are the columns of GET /v1/compare as CSV: one row per
// initiative and year, the conversion and fit window on every row, then
// the provenance. Numbers are unformatted.
var compareCSVHeader = []string{"initiative", "method", "currency", "cost_indicator", "geo", "cost_unit",
	"year", "calendar_year", "savings", "pv_savings",
	"cost_observed", "cost_projected", "cost_projected_low", "cost_projected_high", "projected_rise_unit",
	"cost_observed_money", "cost_projected_money", "cost_projected_money_low", "cost_projected_money_high",
	"projected_rise", "savings_in_cost_unit", "share_offset", "note",
	"conversion", "conversion_formula", "conversion_reason", "fit_from", "fit_to", "sources", "licences"}

// compareCSV writes comparisons in the columns of compareCSVHeader.
func compareCSV(cs []savings.Comparison) []byte {
	t := newCSVTable(compareCSVHeader...)
	for _, c := range cs {
		sources, licences := provenanceCells(c.Provenance)
		for _, y := range c.Years {
			t.row(c.Initiative, c.Method, c.Currency, c.CostIndicator.Indicator, c.CostIndicator.Geo, c.CostIndicator.Unit,
				strconv.Itoa(y.Year), strconv.Itoa(y.CalendarYear), y.Savings.String(), y.PVSavings.String(),
				formatFloat(y.CostObserved), formatNumber(y.CostProjected), formatNumber(y.CostProjectedLow), formatNumber(y.CostProjectedHigh),
				formatNumber(y.ProjectedRiseUnit),
				formatFloat(y.CostObservedMoney), formatFloat(y.CostProjectedMoney), formatFloat(y.CostProjectedMoneyLow), formatFloat(y.CostProjectedMoneyHigh),
				formatFloat(y.ProjectedRise), formatFloat(y.SavingsInCostUnit), formatFloat(y.ShareOffset), y.Note,
				c.Conversion.Kind, c.Conversion.Formula, c.Conversion.Reason, strconv.Itoa(c.Fit.From), strconv.Itoa(c.Fit.To), sources, licences)
		}
	}
	return t.bytes()
}
