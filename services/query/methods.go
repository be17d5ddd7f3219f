package query

import (
	"context"
	"errors"
	"net/http"

	"github.com/ounce-data/ounce/pkg/httpapi"
	"github.com/ounce-data/ounce/services/query/savings"
)

// methodsParamNames are the parameters of GET …/savings/methods: those of
// the report but method, as every method is computed.
var methodsParamNames = map[string]bool{"pre_from": true, "as_of": true, "format": true}

// MethodsResponse is the body of GET /v1/initiatives/{id}/savings/methods:
// every method computed for one initiative, side by side, so that an
// analyst sees how much the answer depends on the method.
type MethodsResponse struct {
	Initiative string `json:"initiative"`
	Currency   string `json:"currency"`
	// Own is the initiative's own method, the one its report uses.
	Own     string          `json:"own"`
	Methods []MethodSummary `json:"methods"`
	// NPVRange is the lowest and highest NPV over the methods that apply;
	// absent when fewer than two apply.
	NPVRange *[2]savings.Money `json:"npv_range,omitempty"`
}

// MethodSummary is one method's answer, or why it does not apply.
type MethodSummary struct {
	Method  string `json:"method"`
	Applies bool   `json:"applies"`
	// Skipped says why the method does not apply: the error its report
	// answers (code, field, message).
	Skipped  *httpapi.Error    `json:"skipped,omitempty"`
	Years    []MethodYear      `json:"years,omitempty"`
	Totals   *savings.Totals   `json:"totals,omitempty"`
	Warnings []savings.Warning `json:"warnings,omitempty"`
}

// MethodYear is one year of a method: what the counterfactual said and the
// cases avoided.
type MethodYear struct {
	Year               int      `json:"year"`
	CalendarYear       int      `json:"calendar_year"`
	Observed           *float64 `json:"observed"`
	Counterfactual     *float64 `json:"counterfactual"`
	CounterfactualLow  *float64 `json:"counterfactual_low"`
	CounterfactualHigh *float64 `json:"counterfactual_high"`
	Avoided            *float64 `json:"avoided"`
	AvoidedLow         *float64 `json:"avoided_low"`
	AvoidedHigh        *float64 `json:"avoided_high"`
}

// savingsMethods answers GET /v1/initiatives/{id}/savings/methods.
func (s *Service) savingsMethods(w http.ResponseWriter, r *http.Request) {
	p, ok := savingsRequest(w, r, methodsParamNames, "pre_from, as_of and format")
	if !ok {
		return
	}
	id, cur, ok := s.currentInitiative(w, r)
	if !ok {
		return
	}
	in, ok := s.decodeStored(w, id, cur.Doc)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	resp := MethodsResponse{Initiative: in.ID, Own: in.Method, Methods: []MethodSummary{}}
	if resp.Own == "" {
		resp.Own = savings.DefaultMethod
	}
	var reps []savings.Report // for CSV, those that apply
	var lo, hi *savings.Money
	applied := 0
	for _, m := range savings.Methods {
		rep, err := s.report(ctx, in, m, p.pre, p.asOf)
		sum := MethodSummary{Method: m}
		var ie *savings.InputError
		switch {
		case errors.As(err, &ie):
			sum.Skipped = savingsError(err)
		case err != nil:
			s.reportError(w, r, err) // the store, not the method
			return
		default:
			sum.Applies = true
			reps = append(reps, rep)
			resp.Currency = rep.Currency
			t := rep.Totals
			sum.Totals = &t
			sum.Warnings = rep.Warnings
			for _, y := range rep.Years {
				sum.Years = append(sum.Years, MethodYear{Year: y.Year, CalendarYear: y.CalendarYear, Observed: y.Observed,
					Counterfactual: y.Counterfactual, CounterfactualLow: y.CounterfactualLow, CounterfactualHigh: y.CounterfactualHigh,
					Avoided: y.Avoided, AvoidedLow: y.AvoidedLow, AvoidedHigh: y.AvoidedHigh})
			}
			npv := t.NPV
			if lo == nil || npv.Rat().Cmp(lo.Rat()) < 0 {
				lo = &npv
			}
			if hi == nil || npv.Rat().Cmp(hi.Rat()) > 0 {
				hi = &npv
			}
			applied++
		}
		resp.Methods = append(resp.Methods, sum)
	}
	if applied >= 2 {
		resp.NPVRange = &[2]savings.Money{*lo, *hi}
	}
	if p.format == formatCSV {
		httpapi.WriteWithETag(w, r, httpapi.ContentTypeCSV, savingsCSV(reps))
		return
	}
	s.writeCached(w, r, resp)
}
