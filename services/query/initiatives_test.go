package query_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/httpapi"
	"github.com/ounce-data/ounce/services/query"
)

const testAnalystToken = "analyst-token-for-tests-0123"

// initiativeDoc is the initiative document of docs/savings.md with real codes.
const initiativeDoc = `{
  "id": "nhs-dpp-england", "name": "Diabetes prevention programme",
  "domain": "health", "indicator": "SH.STA.OWAD.ZS", "geo": "GBR",
  "start_year": 2016, "end_year": null,
  "method": "its", "comparison_geos": ["FRA", "DEU"],
  "population": {"indicator": "SP.POP.TOTL"}, "scale": 0.01,
  "unit_costs": [{"agency": "NHS", "amount": 566, "currency": "GBP", "price_year": 2014}],
  "costs": [{"year": 2016, "amount": 150000}],
  "cohort": {"size": 100, "engagement": 0.8, "success": 0.25},
  "cba": {"deadweight": 0.2, "attribution": 1, "displacement": 0, "ob_benefits": 0.1, "ob_costs": 0.05,
          "lag": 0, "persistence": 2, "drop_off": 0.25, "horizon": 10, "discount": "green_book"}
}`

func (f *fixture) send(t testing.TB, method, target, body string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	return rec
}

func TestIntegrationInitiativesLifecycle(t *testing.T) {
	f := newFixture(t, query.Config{AnalystToken: testAnalystToken})
	auth := []string{"Authorization", "Bearer " + testAnalystToken}

	rec := f.send(t, http.MethodPost, "/v1/initiatives", initiativeDoc)
	require.Equal(t, http.StatusUnauthorized, rec.Code, "writes need the analyst token")

	rec = f.send(t, http.MethodPost, "/v1/initiatives", initiativeDoc, auth...)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	require.Equal(t, "/v1/initiatives/nhs-dpp-england", rec.Header().Get("Location"))
	created := rec.Header().Get("ETag")
	require.NotEmpty(t, created)

	rec = f.send(t, http.MethodPost, "/v1/initiatives", initiativeDoc, auth...)
	require.Equal(t, http.StatusConflict, rec.Code, "the id is taken")
	require.Equal(t, httpapi.CodeConflict, decode[httpapi.Envelope](t, rec).Error.Code)

	rec = f.get(t, "/v1/initiatives/nhs-dpp-england")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, created, rec.Header().Get("ETag"))
	require.Contains(t, rec.Body.String(), `"indicator":"SH.STA.OWAD.ZS"`)
	require.Equal(t, http.StatusNotModified, f.get(t, "/v1/initiatives/nhs-dpp-england", "If-None-Match", created).Code)

	list := decode[query.InitiativesResponse](t, f.get(t, "/v1/initiatives"))
	require.Equal(t, 1, list.Count)
	require.Equal(t, "nhs-dpp-england", list.Initiatives[0].ID)

	// PUT with a stale If-Match is refused; with the current one it replaces.
	changed := strings.Replace(initiativeDoc, `"name": "Diabetes prevention programme"`, `"name": "NHS DPP"`, 1)
	rec = f.send(t, http.MethodPut, "/v1/initiatives/nhs-dpp-england", changed, append(auth, "If-Match", `"v1"`)...)
	require.Equal(t, http.StatusPreconditionFailed, rec.Code, rec.Body.String())
	// A weak ETag never satisfies If-Match (RFC 9110's strong comparison);
	// If-None-Match: * on PUT creates only.
	rec = f.send(t, http.MethodPut, "/v1/initiatives/nhs-dpp-england", changed, append(auth, "If-Match", "W/"+created)...)
	require.Equal(t, http.StatusPreconditionFailed, rec.Code, rec.Body.String())
	require.Contains(t, rec.Body.String(), "never W/")
	rec = f.send(t, http.MethodPut, "/v1/initiatives/nhs-dpp-england", changed, append(auth, "If-None-Match", "*")...)
	require.Equal(t, http.StatusPreconditionFailed, rec.Code, rec.Body.String())
	require.Equal(t, "If-None-Match", decode[httpapi.Envelope](t, rec).Error.Field)
	rec = f.send(t, http.MethodPut, "/v1/initiatives/nhs-dpp-england", changed, append(auth, "If-Match", created)...)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	updated := rec.Header().Get("ETag")
	require.NotEqual(t, created, updated)
	require.Contains(t, f.get(t, "/v1/initiatives/nhs-dpp-england").Body.String(), `"name":"NHS DPP"`)

	// The path and the body must agree on the id.
	rec = f.send(t, http.MethodPut, "/v1/initiatives/other-id", changed, auth...)
	require.Equal(t, http.StatusUnprocessableEntity, rec.Code, rec.Body.String())
	require.Equal(t, "id", decode[httpapi.Envelope](t, rec).Error.Field)

	rec = f.send(t, http.MethodDelete, "/v1/initiatives/nhs-dpp-england", "", append(auth, "If-Match", created)...)
	require.Equal(t, http.StatusPreconditionFailed, rec.Code)
	rec = f.send(t, http.MethodDelete, "/v1/initiatives/nhs-dpp-england", "", auth...)
	require.Equal(t, http.StatusNoContent, rec.Code, rec.Body.String())
	require.Equal(t, http.StatusNotFound, f.get(t, "/v1/initiatives/nhs-dpp-england").Code)
	require.Equal(t, 0, decode[query.InitiativesResponse](t, f.get(t, "/v1/initiatives")).Count)

	require.Equal(t, http.StatusNotFound, f.send(t, http.MethodDelete, "/v1/initiatives/nhs-dpp-england", "", auth...).Code)

	// Once it is gone, If-None-Match: * lets the PUT create it again.
	rec = f.send(t, http.MethodPut, "/v1/initiatives/nhs-dpp-england", changed, append(auth, "If-None-Match", "*")...)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	require.Equal(t, http.StatusNoContent, f.send(t, http.MethodDelete, "/v1/initiatives/nhs-dpp-england", "", auth...).Code)

	// A deleted id can be registered again.
	rec = f.send(t, http.MethodPost, "/v1/initiatives", initiativeDoc, auth...)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
}

func TestIntegrationInitiativeBadInput(t *testing.T) {
	f := newFixture(t, query.Config{AnalystToken: testAnalystToken})
	auth := []string{"Authorization", "Bearer " + testAnalystToken}
	for name, tc := range map[string]struct {
		body   string
		status int
		code   httpapi.Code
		field  string
	}{
		"not json":           {`{"id": `, 422, httpapi.CodeInvalidInitiative, ""},
		"unknown field":      {strings.Replace(initiativeDoc, `"domain"`, `"colour": "red", "domain"`, 1), 422, httpapi.CodeInvalidInitiative, "colour"},
		"unknown indicator":  {strings.Replace(initiativeDoc, `"SH.STA.OWAD.ZS"`, `"NOPE.NOT.HERE"`, 1), 422, httpapi.CodeInvalidInitiative, "indicator"},
		"unknown population": {strings.Replace(initiativeDoc, `"SP.POP.TOTL"`, `"NOPE.POP"`, 1), 422, httpapi.CodeInvalidInitiative, "population.indicator"},
		"drop off above 1":   {strings.Replace(initiativeDoc, `"drop_off": 0.25`, `"drop_off": 1.5`, 1), 422, httpapi.CodeInvalidInitiative, "cba.drop_off"},
	} {
		t.Run(name, func(t *testing.T) {
			rec := f.send(t, http.MethodPost, "/v1/initiatives", tc.body, auth...)
			require.Equal(t, tc.status, rec.Code, rec.Body.String())
			env := decode[httpapi.Envelope](t, rec)
			require.Equal(t, tc.code, env.Error.Code, rec.Body.String())
			if tc.field != "" {
				require.Equal(t, tc.field, env.Error.Field, rec.Body.String())
			}
			require.NotEmpty(t, env.Error.Message)
		})
	}
	// Every unknown place at once, each with what it may mean.
	doc := strings.Replace(strings.Replace(initiativeDoc, `"geo": "GBR"`, `"geo": "UK"`, 1), `["FRA", "DEU"]`, `["FRA", "Germny"]`, 1)
	rec := f.send(t, http.MethodPost, "/v1/initiatives", doc, auth...)
	require.Equal(t, http.StatusUnprocessableEntity, rec.Code, rec.Body.String())
	env := decode[httpapi.Envelope](t, rec)
	require.Equal(t, httpapi.CodeInvalidInitiative, env.Error.Code)
	require.Equal(t, "geo", env.Error.Field)
	require.Contains(t, env.Error.Message, `place "UK" is not in the place catalogue; did you mean GBR`)
	require.Contains(t, env.Error.Message, `comparison_geos[1]: place "Germny" is not in the place catalogue; did you mean DEU (Germany)`)
	require.Equal(t, []string{"GBR", "DEU"}, env.Error.Suggestions)

	rec = f.send(t, http.MethodPost, "/v1/initiatives", initiativeDoc, append(auth, "Content-Type", "text/plain")...)
	require.Equal(t, http.StatusBadRequest, rec.Code)
	rec = f.send(t, http.MethodPost, "/v1/initiatives", "{"+strings.Repeat(" ", query.MaxInitiativeBytes)+"}", auth...)
	require.Equal(t, http.StatusRequestEntityTooLarge, rec.Code)
	env = decode[httpapi.Envelope](t, rec)
	require.Equal(t, httpapi.CodePayloadTooLarge, env.Error.Code)
	require.Contains(t, env.Error.Message, "larger than")
	require.Equal(t, 0, decode[query.InitiativesResponse](t, f.get(t, "/v1/initiatives")).Count, "nothing stored")
}
