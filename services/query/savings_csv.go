package query

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/ounce-data/ounce/services/query/savings"
)

// savingsCSVHeader are the columns of a savings report as CSV: one row a
// year and method, then the totals as rows labelled in figure, then the
// provenance of the data on every row. Numbers are unformatted: money to
// its minor unit, as in JSON.
var savingsCSVHeader = []string{"initiative", "method", "row", "year", "calendar_year",
	"observed", "counterfactual", "counterfactual_low", "counterfactual_high",
	"avoided", "avoided_low", "avoided_high", "benefit", "cost", "discount_factor",
	"pv_benefit", "pv_cost", "cumulative_net_pv",
	"figure", "value", "low", "high", "currency", "interval", "sources", "licences"}

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
		for _, f := range []struct {
			name            string
			value, low, hig string
		}{
			{"pv_benefits", tot.PVBenefits.String(), money(tot.PVBenefitsLow), money(tot.PVBenefitsHigh)},
			{"pv_costs", tot.PVCosts.String(), "", ""},
			{"npv", tot.NPV.String(), money(tot.NPVLow), money(tot.NPVHigh)},
			{"roi", formatFloat(tot.ROI), formatFloat(tot.ROILow), formatFloat(tot.ROIHigh)},
			{"net_roi", formatFloat(tot.NetROI), "", ""},
			{"payback_years", formatFloat(tot.PaybackYears), formatFloat(tot.PaybackYearsLow), formatFloat(tot.PaybackYearsHigh)},
			{"sroi_ratio", formatFloat(tot.SROIRatio), "", ""},
		} {
			row := make([]string, len(savingsCSVHeader))
			row[0], row[1], row[2] = rep.Initiative, rep.Method, "total"
			row[18], row[19], row[20], row[21], row[22], row[23], row[24], row[25] = f.name, f.value, f.low, f.hig, rep.Currency, tot.Interval, sources, licences
			t.row(row...)
		}
		for _, a := range slices.Sorted(maps.Keys(tot.PVBenefitsByAgency)) {
			row := make([]string, len(savingsCSVHeader))
			row[0], row[1], row[2] = rep.Initiative, rep.Method, "total"
			row[18], row[19], row[22], row[24], row[25] = "pv_benefits_by_agency:"+a, tot.PVBenefitsByAgency[a].String(), rep.Currency, sources, licences
			t.row(row...)
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
