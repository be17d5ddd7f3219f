package query_test

import (
	"context"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/extch"
	"github.com/ounce-data/ounce/pkg/httpapi"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/pkg/testenv"
	"github.com/ounce-data/ounce/schemas"
	"github.com/ounce-data/ounce/services/query"
)

// Synthetic documents of a test council: its own counts, not open data.
const (
	screenedDoc = `{"code": "user.testcouncil.screened", "name": "Residents screened (synthetic)", "unit": "people",
	  "polarity": "higher", "domain": "health", "aggregation": {"method": "sum"}, "licence": "OGL-UK-3.0"}`
	eligibleDoc = `{"code": "user.testcouncil.eligible", "name": "Residents eligible (synthetic)", "unit": "people",
	  "polarity": "neutral", "domain": "health", "aggregation": {"method": "sum"}, "licence": "OGL-UK-3.0"}`
	screeningRateDoc = `{"code": "user.testcouncil.screening_rate", "name": "Screening uptake (synthetic)",
	  "unit": "% of eligible", "scale": 100, "polarity": "higher", "domain": "health",
	  "aggregation": {"method": "ratio", "numerator": "user.testcouncil.screened", "denominator": "user.testcouncil.eligible"},
	  "licence": "OGL-UK-3.0", "range": {"min": 0, "max": 100}}`
)

// userFixture is the query service on a real ClickHouse and an embedded
// NATS, with the watch of the user indicators running.
func userFixture(t *testing.T) (*fixture, *testenv.NATS) {
	t.Helper()
	ns := testenv.StartNATS(t)
	f := newFixture(t, query.Config{JetStream: ns.JS, AnalystToken: testAnalystToken})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.svc.RunUserIndicators(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	return f, ns
}

// The lifecycle of a user indicator over the API, every answer checked
// against the OpenAPI document: registered with every problem reported at
// once, listed beside the catalogue, changed under If-Match, mirrored into
// ClickHouse, read as a series, targeted by an initiative, kept while in
// use and deleted once not.
func TestIntegrationUserIndicatorLifecycle(t *testing.T) {
	f, _ := userFixture(t)
	doc := loadOpenAPI(t, schemas.QueryOpenAPI)
	auth := []string{"Authorization", "Bearer " + testAnalystToken}
	call := func(method, target, body string, header ...string) *httptest.ResponseRecorder {
		t.Helper()
		rec := f.send(t, method, target, body, append(slices.Clone(auth), header...)...)
		path, _, _ := strings.Cut(target, "?")
		doc.checkResponse(t, doc.operation(t, method, path), rec)
		return rec
	}

	rec := f.send(t, http.MethodPost, "/v1/indicators", screenedDoc)
	require.Equal(t, http.StatusUnauthorized, rec.Code, "writes need the analyst token")

	// Every problem at once, each under its path.
	rec = call(http.MethodPost, "/v1/indicators", `{"code": "owid.co2", "name": "", "unit": "t", "polarity": "up", "domain": "health",
	  "aggregation": {"method": "ratio", "numerator": "user.testcouncil.screened", "denominator": "owid.population"},
	  "licence": "CC0", "range": {"min": 1, "max": 0}, "colour": "red"}`)
	require.Equal(t, http.StatusUnprocessableEntity, rec.Code, rec.Body.String())
	env := decode[httpapi.Envelope](t, rec).Error
	require.Equal(t, httpapi.CodeInvalidIndicator, env.Code)
	fields := map[string]string{}
	for _, p := range env.Errors {
		fields[p.Field] = p.Message
	}
	require.Equal(t, []string{"colour"}, slices.Collect(maps.Keys(fields)), "form first: an unknown field stops the value checks")
	rec = call(http.MethodPost, "/v1/indicators", `{"code": "owid.co2", "name": "", "unit": "t", "polarity": "up", "domain": "health",
	  "aggregation": {"method": "ratio", "numerator": "user.testcouncil.screened", "denominator": "owid.population"},
	  "licence": "CC0", "range": {"min": 1, "max": 0}}`)
	require.Equal(t, http.StatusUnprocessableEntity, rec.Code, rec.Body.String())
	env = decode[httpapi.Envelope](t, rec).Error
	var got []string
	for _, p := range env.Errors {
		got = append(got, p.Field)
	}
	require.Equal(t, []string{"code", "name", "polarity", "aggregation.numerator", "range.min"}, got, env.Message)
	require.Equal(t, "code", env.Field)
	require.Contains(t, env.Errors[0].Message, `"owid.co2" is an indicator of the catalogue`)
	require.Contains(t, env.Errors[3].Message, `"user.testcouncil.screened" is neither an indicator of the catalogue nor a registered user indicator`)

	// The parts first, then the ratio of them.
	require.Equal(t, http.StatusCreated, call(http.MethodPost, "/v1/indicators", screenedDoc).Code)
	require.Equal(t, http.StatusCreated, call(http.MethodPost, "/v1/indicators", eligibleDoc).Code)
	rec = call(http.MethodPost, "/v1/indicators", screeningRateDoc)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	require.Regexp(t, regexp.MustCompile(`^"v[0-9]+"$`), rec.Header().Get("ETag"))
	require.Equal(t, "/v1/indicators/user.testcouncil.screening_rate", rec.Header().Get("Location"))
	rec = call(http.MethodPost, "/v1/indicators", screeningRateDoc)
	require.Equal(t, http.StatusConflict, rec.Code)
	require.Contains(t, rec.Body.String(), "is registered already")

	// Listed beside the catalogue, told apart by origin.
	list := decode[query.IndicatorsResponse](t, call(http.MethodGet, "/v1/indicators", ""))
	origins := map[string]string{}
	for _, e := range list.Indicators {
		origins[e.Code] = e.Origin
	}
	require.Equal(t, "user", origins["user.testcouncil.screening_rate"])
	require.Equal(t, "catalogue", origins["owid.co2"])
	require.Equal(t, list.Count, len(list.Indicators))

	rec = call(http.MethodGet, "/v1/indicators/user.testcouncil.screening_rate", "")
	require.Equal(t, http.StatusOK, rec.Code)
	entry := decode[query.IndicatorEntry](t, rec)
	require.Equal(t, "user", entry.Origin)
	require.Equal(t, "testcouncil", entry.Producer)
	require.Equal(t, "user.testcouncil.eligible", entry.Ratio.Denominator)
	require.Equal(t, 100.0, entry.Ratio.Scale)
	require.Equal(t, 100.0, *entry.Range.Max)
	tag := rec.Header().Get("ETag")
	require.Regexp(t, regexp.MustCompile(`^"v[0-9]+-[A-Za-z0-9_-]+"$`), tag)
	require.Equal(t, http.StatusNotModified, call(http.MethodGet, "/v1/indicators/user.testcouncil.screening_rate", "", "If-None-Match", tag).Code)

	// Changed under If-Match: a stale tag is refused, GET's tag is taken.
	renamed := strings.Replace(screeningRateDoc, "Screening uptake (synthetic)", "Screening uptake, aged 60-74 (synthetic)", 1)
	rec = call(http.MethodPut, "/v1/indicators/user.testcouncil.screening_rate", renamed, "If-Match", `"v1"`)
	require.Equal(t, http.StatusPreconditionFailed, rec.Code)
	rec = call(http.MethodPut, "/v1/indicators/user.testcouncil.screening_rate", renamed, "If-None-Match", "*")
	require.Equal(t, http.StatusPreconditionFailed, rec.Code)
	rec = call(http.MethodPut, "/v1/indicators/user.testcouncil.screening_rate", renamed, "If-Match", tag)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	newTag := rec.Header().Get("ETag")
	rec = call(http.MethodPut, "/v1/indicators/user.testcouncil.screening_rate", renamed, "If-Match", tag)
	require.Equal(t, http.StatusPreconditionFailed, rec.Code, "the tag of the revision before is stale now")
	rec = call(http.MethodGet, "/v1/indicators/user.testcouncil.screening_rate", "")
	require.Equal(t, "Screening uptake, aged 60-74 (synthetic)", decode[query.IndicatorEntry](t, rec).Name, "this replica reads its own write at once")
	require.True(t, strings.HasPrefix(rec.Header().Get("ETag"), strings.TrimSuffix(newTag, `"`)+"-"))
	rec = call(http.MethodPut, "/v1/indicators/user.testcouncil.other", renamed)
	require.Equal(t, http.StatusUnprocessableEntity, rec.Code, "the body's code must be the path's")
	require.Equal(t, "code", decode[httpapi.Envelope](t, rec).Error.Field)

	// A part of a ratio cannot become a ratio.
	rec = call(http.MethodPut, "/v1/indicators/user.testcouncil.screened", `{"name": "Screened", "unit": "people", "polarity": "higher",
	  "domain": "health", "aggregation": {"method": "ratio", "numerator": "owid.co2", "denominator": "owid.population"}, "licence": "CC0"}`)
	require.Equal(t, http.StatusUnprocessableEntity, rec.Code)
	require.Contains(t, decode[httpapi.Envelope](t, rec).Error.Message, "is a part of the ratio user.testcouncil.screening_rate")

	// Mirrored into ClickHouse beside the catalogue.
	ctx := context.Background()
	require.Eventually(t, func() bool {
		known, err := extch.KnownIndicators(ctx, f.ch.Conn)
		return err == nil && known["user.testcouncil.screening_rate"] && known["user.testcouncil.eligible"] && known["owid.co2"]
	}, 30*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool {
		var name string
		err := f.ch.Conn.QueryRow(ctx, "SELECT name FROM indicators FINAL WHERE code = 'user.testcouncil.screening_rate' AND origin = 'user'").Scan(&name)
		return err == nil && name == "Screening uptake, aged 60-74 (synthetic)"
	}, 30*time.Second, 20*time.Millisecond, "the mirror follows a change")

	// Stored values are served like any indicator's, and an initiative may
	// target it.
	var rows []observation.Observation
	for i, v := range []float64{52, 53.5, 54, 55.5, 56, 58, 59.5, 61} {
		rows = append(rows, observation.Observation{Indicator: "user.testcouncil.screening_rate", Geo: "GB-MAN",
			Period: observation.Year(2015 + i), Value: observation.Float(v), Unit: "% of eligible", Source: "partner:testcouncil", Version: 1,
			Provenance: observation.Provenance{URL: "https://example.invalid/testcouncil", Licence: "OGL-UK-3.0", RetrievedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}})
	}
	insert(t, f.ch, rows...)
	series := decode[query.SeriesResponse](t, call(http.MethodGet, "/v1/series?indicator=user.testcouncil.screening_rate&geo=GB-MAN", ""))
	require.Len(t, series.Series, 1)
	require.Len(t, series.Series[0].Points, 8)
	require.Equal(t, "Screening uptake, aged 60-74 (synthetic)", series.Indicator.Name)
	initiative := `{"id": "testcouncil-screening", "name": "Screening reminders (synthetic)", "indicator": "user.testcouncil.screening_rate",
	  "geo": "GB-MAN", "start_year": 2019, "method": "its", "population": {"value": 1000}, "scale": 0.01,
	  "unit_costs": [{"agency": "NHS", "amount": 100, "currency": "GBP", "price_year": 2020}],
	  "costs": [{"year": 2019, "amount": 1000}], "cba": {"horizon": 3, "discount": 0.035}}`
	rec = call(http.MethodPost, "/v1/initiatives", initiative)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	rec = call(http.MethodGet, "/v1/initiatives/testcouncil-screening/savings", "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())

	// In use, it stays, every use named.
	rec = call(http.MethodDelete, "/v1/indicators/user.testcouncil.screening_rate", "")
	require.Equal(t, http.StatusConflict, rec.Code)
	msg := decode[httpapi.Envelope](t, rec).Error.Message
	require.Contains(t, msg, "observations are stored (8 from partner:testcouncil)")
	require.Contains(t, msg, "initiatives testcouncil-screening use it")
	rec = call(http.MethodDelete, "/v1/indicators/user.testcouncil.eligible", "")
	require.Equal(t, http.StatusConflict, rec.Code)
	require.Contains(t, decode[httpapi.Envelope](t, rec).Error.Message, "user indicators user.testcouncil.screening_rate are ratios of it")
	rec = call(http.MethodPut, "/v1/indicators/user.testcouncil.screening_rate", strings.Replace(renamed, `"% of eligible"`, `"per 1,000 eligible"`, 1))
	require.Equal(t, http.StatusConflict, rec.Code, "the unit cannot change under stored values")
	require.Equal(t, "unit", decode[httpapi.Envelope](t, rec).Error.Field)
	rec = call(http.MethodDelete, "/v1/indicators/owid.co2", "")
	require.Equal(t, http.StatusConflict, rec.Code)
	require.Contains(t, rec.Body.String(), "is an indicator of the catalogue")

	// avg declared, sum refused.
	require.Equal(t, http.StatusCreated, call(http.MethodPost, "/v1/indicators", `{"code": "user.testcouncil.waiting_weeks",
	  "name": "Weeks waited (synthetic)", "unit": "weeks", "polarity": "lower", "domain": "health", "aggregation": {"method": "avg"}, "licence": "CC0"}`).Code)
	rec = call(http.MethodGet, "/v1/aggregate?indicator=user.testcouncil.waiting_weeks&geo=GB-MAN&agg=sum", "")
	require.Equal(t, http.StatusBadRequest, rec.Code)
	require.Contains(t, rec.Body.String(), "averages over places but does not add up")

	// Not in use: deleted, under If-Match.
	rec = call(http.MethodGet, "/v1/indicators/user.testcouncil.waiting_weeks", "")
	tag = rec.Header().Get("ETag")
	require.Equal(t, http.StatusPreconditionFailed, call(http.MethodDelete, "/v1/indicators/user.testcouncil.waiting_weeks", "", "If-Match", `"v1"`).Code)
	require.Equal(t, http.StatusNoContent, call(http.MethodDelete, "/v1/indicators/user.testcouncil.waiting_weeks", "", "If-Match", tag).Code)
	require.Equal(t, http.StatusNotFound, call(http.MethodGet, "/v1/indicators/user.testcouncil.waiting_weeks", "").Code)
	require.Equal(t, http.StatusNotFound, call(http.MethodDelete, "/v1/indicators/user.testcouncil.waiting_weeks", "").Code)
	require.Equal(t, http.StatusNotFound, call(http.MethodGet, "/v1/series?indicator=user.testcouncil.waiting_weeks", "").Code)
	require.Eventually(t, func() bool {
		known, err := extch.KnownIndicators(ctx, f.ch.Conn)
		return err == nil && !known["user.testcouncil.waiting_weeks"] && known["user.testcouncil.screened"]
	}, 30*time.Second, 20*time.Millisecond, "the deletion reaches the mirror")
	require.Equal(t, http.StatusCreated, call(http.MethodPut, "/v1/indicators/user.testcouncil.waiting_weeks", `{"name": "Weeks waited (synthetic)",
	  "unit": "weeks", "polarity": "lower", "domain": "health", "aggregation": {"method": "avg"}, "licence": "CC0"}`).Code, "a deleted code may be registered again")
	require.Eventually(t, func() bool {
		known, err := extch.KnownIndicators(ctx, f.ch.Conn)
		return err == nil && known["user.testcouncil.waiting_weeks"]
	}, 30*time.Second, 20*time.Millisecond, "and is mirrored again")
	require.Positive(t, mirrored(t, f))
}

// mirrored is the service's count of rows mirrored into ClickHouse.
func mirrored(t *testing.T, f *fixture) float64 {
	t.Helper()
	mfs, err := f.reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == "ounce_query_user_indicator_mirror_rows_total" {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatal("no ounce_query_user_indicator_mirror_rows_total")
	return 0
}

// A second replica, which did not make the write, serves a user indicator
// registered through the first at once (its watch, or reading through).
func TestIntegrationUserIndicatorOnAnotherReplica(t *testing.T) {
	f, ns := userFixture(t)
	other := newFixture(t, query.Config{JetStream: ns.JS})
	rec := f.send(t, http.MethodPost, "/v1/indicators", screenedDoc, "Authorization", "Bearer "+testAnalystToken)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	rec = other.get(t, "/v1/indicators/user.testcouncil.screened")
	require.Equal(t, http.StatusOK, rec.Code, "not watched there, but read through: %s", rec.Body.String())
	require.Equal(t, "user", decode[query.IndicatorEntry](t, rec).Origin)
	require.Equal(t, http.StatusOK, other.get(t, "/v1/series?indicator=user.testcouncil.screened").Code)
}
