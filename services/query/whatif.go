package query

import (
	"context"
	"net/http"

	"github.com/ounce-data/ounce/pkg/httpapi"
	"github.com/ounce-data/ounce/services/query/savings"
)

// whatIfSavings answers POST /v1/savings and POST
// /v1/initiatives/{id}/savings: the savings report of the initiative
// document in the body, validated as a registration is, computed and
// answered without storing anything — a what-if (attribution 0.5 rather
// than 0.7) needs no analyst token and changes no stored initiative. The
// report's parameters (method, pre_from, as_of, simulate, seed) are those of GET …/savings.
// Under /v1/initiatives/{id}, the body's id must be the path's (or be left
// out); the stored initiative, if any, is not read.
func (s *Service) whatIfSavings(w http.ResponseWriter, r *http.Request) {
	p, ok := savingsRequest(w, r, reportParamNames, reportParamList)
	if !ok {
		return
	}
	in, _, ok := s.readInitiativeBody(w, r, r.PathValue("id"))
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	rep, _, err := s.reportWithRows(ctx, in, p.method, p.pre, p.asOf)
	if err == nil && p.draws > 0 {
		err = rep.Simulate(p.draws, p.seed)
	}
	if err != nil {
		s.reportError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if p.format == formatCSV {
		w.Header().Set("Content-Type", httpapi.ContentTypeCSV)
		_, _ = w.Write(savingsCSV([]savings.Report{rep})) // the client went away: nothing to answer
		return
	}
	_ = httpapi.WriteJSON(w, http.StatusOK, rep) // the client went away: nothing to answer
}
