package query

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/ounce-data/ounce/pkg/httpapi"
	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/userindicators"
)

// IndicatorsResponse is the body of GET /v1/indicators.
type IndicatorsResponse struct {
	Indicators []IndicatorEntry `json:"indicators"`
	Count      int              `json:"count"`
}

// IndicatorEntry is one indicator, of the catalogue or registered by a
// user, with what is stored for it.
type IndicatorEntry struct {
	Code string `json:"code"`
	// Origin is "catalogue" (schemas/catalogue) or "user" (registered with
	// POST /v1/indicators).
	Origin      string              `json:"origin"`
	Name        string              `json:"name"`
	Unit        string              `json:"unit"`
	Polarity    indicators.Polarity `json:"polarity"`
	Domain      string              `json:"domain"`
	Description string              `json:"description,omitempty"`
	Producer    string              `json:"producer"`
	URL         string              `json:"url"`
	Licence     string              `json:"licence"`
	Cadence     string              `json:"cadence"`
	Ratio       *indicators.Ratio   `json:"ratio,omitempty"`
	// Aggregation says how a rate without declared parts combines over
	// places, and why (absent for other indicators).
	Aggregation *indicators.Aggregation `json:"aggregation,omitempty"`
	// Range is the declared plausible range, when there is one.
	Range    *indicators.Range `json:"range,omitempty"`
	Coverage Coverage          `json:"coverage"`
}

// Coverage is what ClickHouse holds for one indicator. First, Last and
// LastLoadedAt are absent when nothing is stored.
type Coverage struct {
	Places       uint64     `json:"places"`
	Rows         uint64     `json:"rows"`
	First        string     `json:"first,omitempty"`
	Last         string     `json:"last,omitempty"`
	LastLoadedAt *time.Time `json:"last_loaded_at,omitempty"`
}

// IndicatorRef names the indicator of a series, aggregate or compare
// response.
type IndicatorRef struct {
	Code     string              `json:"code"`
	Name     string              `json:"name"`
	Unit     string              `json:"unit"`
	Polarity indicators.Polarity `json:"polarity"`
}

// indicatorRef is the reference to ind.
func indicatorRef(ind *indicators.Indicator) IndicatorRef {
	return IndicatorRef{Code: ind.Code, Name: ind.Name, Unit: ind.Unit, Polarity: ind.Polarity}
}

// indicators answers GET /v1/indicators: every catalogue entry and every
// user indicator, with its coverage.
func (s *Service) indicators(w http.ResponseWriter, r *http.Request) {
	if !s.noParams(w, r) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	cov, err := s.store.coverage(ctx, "")
	if err != nil {
		httpapi.WriteError(w, s.storeError(r, err))
		return
	}
	s.readUserIndicators(ctx)
	inds := s.inds.Indicators()
	resp := IndicatorsResponse{Indicators: make([]IndicatorEntry, 0, len(inds)), Count: len(inds)}
	for _, ind := range inds {
		resp.Indicators = append(resp.Indicators, indicatorEntry(ind, cov))
	}
	s.writeCached(w, r, resp)
}

// userListTimeout bounds reading the user indicators for a list while
// their watch has not read them: NATS away must not hold up the catalogue.
const userListTimeout = 2 * time.Second

// readUserIndicators fills the view of the user indicators from their
// bucket while the watch has not read it yet (NATS was away at start), so
// that a list is not silently short; when NATS does not answer either, the
// list has the catalogue and what the view holds.
func (s *Service) readUserIndicators(ctx context.Context) {
	if s.watch == nil || s.watch.Ready(ctx) == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, userListTimeout)
	defer cancel()
	all, err := s.users.List(ctx)
	if err != nil {
		s.log.Warn().Err(err).Msg("user indicators not read: NATS is not answering; listing the catalogue's")
		return
	}
	for _, st := range all {
		s.watch.Apply(st)
	}
}

// indicator answers GET /v1/indicators/{code}: one entry with its
// coverage. A user indicator's ETag also carries its revision,
// "v<revision>-<digest>", which If-Match on PUT and DELETE checks.
func (s *Service) indicator(w http.ResponseWriter, r *http.Request) {
	if !s.noParams(w, r) {
		return
	}
	code := r.PathValue("code")
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	ind, ok := s.lookup(ctx).Indicator(code)
	if !ok {
		msg := "indicator %q is not in the catalogue; GET /v1/indicators lists the codes"
		if userindicators.IsUser(code) {
			msg = "indicator %q is not a registered user indicator; GET /v1/indicators lists the codes, POST /v1/indicators registers one"
		}
		httpapi.WriteError(w, httpapi.Errorf(httpapi.CodeUnknownIndicator, "code", msg, code))
		return
	}
	var rev uint64
	if userindicators.IsUser(ind.Code) {
		st, ok := s.watch.Get(ind.Code)
		if !ok { // deleted since the lookup
			httpapi.WriteError(w, httpapi.Errorf(httpapi.CodeUnknownIndicator, "code", "indicator %q is not a registered user indicator; GET /v1/indicators lists the codes", code))
			return
		}
		rev = st.Revision
	}
	cov, err := s.store.coverage(ctx, ind.Code)
	if err != nil {
		httpapi.WriteError(w, s.storeError(r, err))
		return
	}
	entry := indicatorEntry(*ind, cov)
	if rev == 0 {
		s.writeCached(w, r, entry)
		return
	}
	if err := httpapi.WriteJSONWithETagPrefix(w, r, entry, "v"+strconv.FormatUint(rev, 10)+"-"); err != nil {
		s.log.Error().Err(err).Str("route", r.Pattern).Str("request_id", httpapi.RequestID(r.Context())).Msg("encode response")
	}
}

// indicatorEntry is an indicator with its coverage in cov, if any.
func indicatorEntry(ind indicators.Indicator, cov map[string]coverageRow) IndicatorEntry {
	e := IndicatorEntry{
		Code: ind.Code, Origin: userindicators.Origin(ind.Code), Name: ind.Name, Unit: ind.Unit, Polarity: ind.Polarity, Domain: ind.Domain,
		Description: ind.Description, Producer: ind.Producer, URL: ind.URL, Licence: ind.Licence, Cadence: ind.Cadence,
		Ratio: ind.Ratio, Aggregation: ind.Aggregation, Range: ind.Range,
	}
	if c, ok := cov[ind.Code]; ok {
		loaded := c.LastLoadedAt.UTC()
		e.Coverage = Coverage{
			Places:       c.Places,
			Rows:         c.Rows,
			First:        periodOf(c.FirstGrain, c.FirstStart).Code(),
			Last:         periodOf(c.LastGrain, c.LastStart).Code(),
			LastLoadedAt: &loaded,
		}
	}
	return e
}
