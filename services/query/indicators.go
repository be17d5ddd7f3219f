package query

import (
	"context"
	"net/http"
	"time"

	"github.com/ounce-data/ounce/pkg/httpapi"
	"github.com/ounce-data/ounce/pkg/indicators"
)

// IndicatorsResponse is the body of GET /v1/indicators.
type IndicatorsResponse struct {
	Indicators []IndicatorEntry `json:"indicators"`
	Count      int              `json:"count"`
}

// IndicatorEntry is one catalogue entry with what is stored for it.
type IndicatorEntry struct {
	Code        string              `json:"code"`
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
	Coverage    Coverage                `json:"coverage"`
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

// indicators answers GET /v1/indicators: every catalogue entry with its
// coverage.
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
	inds := s.cat.Indicators()
	resp := IndicatorsResponse{Indicators: make([]IndicatorEntry, 0, len(inds)), Count: len(inds)}
	for _, ind := range inds {
		resp.Indicators = append(resp.Indicators, indicatorEntry(ind, cov))
	}
	s.writeCached(w, r, resp)
}

// indicator answers GET /v1/indicators/{code}: one entry with its coverage.
func (s *Service) indicator(w http.ResponseWriter, r *http.Request) {
	if !s.noParams(w, r) {
		return
	}
	code := r.PathValue("code")
	ind, ok := s.cat.Indicator(code)
	if !ok {
		httpapi.WriteError(w, httpapi.Errorf(httpapi.CodeUnknownIndicator, "code",
			"indicator %q is not in the catalogue; GET /v1/indicators lists the codes", code))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	cov, err := s.store.coverage(ctx, ind.Code)
	if err != nil {
		httpapi.WriteError(w, s.storeError(r, err))
		return
	}
	s.writeCached(w, r, indicatorEntry(*ind, cov))
}

// indicatorEntry is a catalogue entry with its coverage in cov, if any.
func indicatorEntry(ind indicators.Indicator, cov map[string]coverageRow) IndicatorEntry {
	e := IndicatorEntry{
		Code: ind.Code, Name: ind.Name, Unit: ind.Unit, Polarity: ind.Polarity, Domain: ind.Domain,
		Description: ind.Description, Producer: ind.Producer, URL: ind.URL, Licence: ind.Licence, Cadence: ind.Cadence,
		Ratio: ind.Ratio, Aggregation: ind.Aggregation,
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
