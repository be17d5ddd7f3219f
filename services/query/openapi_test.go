package query_test

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/big"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/ounce-data/ounce/pkg/httpapi"
	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/pkg/userindicators"
	"github.com/ounce-data/ounce/schemas"
	"github.com/ounce-data/ounce/services/query"
	"github.com/ounce-data/ounce/services/query/savings"
)

// The tests below keep schemas/openapi/query.yaml and the service in step:
// the routes, the query parameters, the error codes and the JSON shapes.

const errorEnvelopeRef = "#/components/schemas/ErrorEnvelope"

// TestOpenAPIRoutes checks that the document lists exactly the routes the
// service registers, and that the mux answers each one it lists.
func TestOpenAPIRoutes(t *testing.T) {
	doc := loadOpenAPI(t, schemas.QueryOpenAPI)
	require.Equal(t, "3.0.3", doc.root["openapi"])
	svc, h := newOfflineService(t)

	var documented []string
	for _, op := range doc.operations(t) {
		documented = append(documented, op.pattern())
	}
	slices.Sort(documented)
	registered := slices.Sorted(maps.Keys(svc.Routes()))
	require.Equal(t, registered, documented, "routes the service registers vs. operations in schemas/openapi/query.yaml")

	// The envelope check below must see the mux's own answers.
	rec := do(h, http.MethodGet, "/v1/undocumented")
	require.Equal(t, httpapi.CodeNotFound, envelopeCode(rec))

	for _, op := range doc.operations(t) {
		t.Run(op.pattern(), func(t *testing.T) {
			path := doc.examplePath(t, op)
			rec := doc.call(t, h, op, path)
			require.NotContains(t, []httpapi.Code{httpapi.CodeNotFound, httpapi.CodeMethodNotAllowed}, envelopeCode(rec),
				"the mux does not answer %s: %s", op.pattern(), rec.Body.String())
			require.NotEqual(t, http.StatusUnauthorized, rec.Code, "the token the document asks for is enough: %s", rec.Body.String())
			doc.checkResponse(t, op, rec)

			if doc.needsAnalyst(t, op) {
				// Without the analyst token a write is refused, as documented.
				rec := do(h, op.method, path)
				require.Equal(t, http.StatusUnauthorized, rec.Code, rec.Body.String())
				doc.checkResponse(t, op, rec)
			}

			// Every method a path answers is documented: another one is 405,
			// with Allow naming exactly the documented ones.
			var methods []string
			for _, other := range doc.operations(t) {
				if other.path == op.path {
					methods = append(methods, other.method)
					if other.method == http.MethodGet {
						methods = append(methods, http.MethodHead)
					}
				}
			}
			i := slices.IndexFunc([]string{http.MethodPost, http.MethodPatch}, func(m string) bool { return !slices.Contains(methods, m) })
			rec = do(h, []string{http.MethodPost, http.MethodPatch}[i], path)
			require.Equal(t, httpapi.CodeMethodNotAllowed, envelopeCode(rec), rec.Body.String())
			allow := strings.Split(rec.Header().Get("Allow"), ", ")
			require.ElementsMatch(t, methods, allow, "Allow of %s vs. the document", op.path)
		})
	}
}

// TestOpenAPIParameters checks that the query parameters each operation
// documents are the ones its handler understands, that the /v1/ handlers
// refuse any other, and that every documented example is accepted.
func TestOpenAPIParameters(t *testing.T) {
	doc := loadOpenAPI(t, schemas.QueryOpenAPI)
	svc, h := newOfflineService(t)
	routes := svc.Routes()

	for _, op := range doc.operations(t) {
		t.Run(op.pattern(), func(t *testing.T) {
			params := doc.parameters(t, op)
			var documented []string
			for _, p := range params {
				if p["in"] == "query" {
					documented = append(documented, p["name"].(string))
				}
			}
			slices.Sort(documented)
			require.Equal(t, routes[op.pattern()], documented,
				"query parameters the handler understands vs. the document")

			// The reads that write an ETag take it back in If-None-Match
			// (304); a write that takes If-None-Match answers 412.
			responses := doc.responses(t, op)
			_, revalidates := responses["304"]
			hasINM := slices.ContainsFunc(params, func(p map[string]any) bool {
				return p["in"] == "header" && p["name"] == "If-None-Match"
			})
			if op.method == http.MethodGet {
				require.Equal(t, revalidates, hasINM, "a read answering 304 documents If-None-Match and vice versa")
			} else if hasINM {
				require.Contains(t, responses, "412", "a write taking If-None-Match documents its 412")
			}

			if !strings.HasPrefix(op.path, "/v1/") {
				return
			}
			// x-exactly-one-of lists parameters of which a request gives
			// exactly one (geo or level); the base request gives the first.
			oneOf := listOf(op.node["x-exactly-one-of"])
			base := url.Values{}
			for _, p := range params {
				if p["in"] == "query" && (p["required"] == true || len(oneOf) > 0 && p["name"] == oneOf[0]) {
					ex := examples(p)
					require.NotEmptyf(t, ex, "required parameter %s needs an example", p["name"])
					addParam(doc, t, base, p, ex[slices.Sorted(maps.Keys(ex))[0]])
				}
			}
			path := doc.examplePath(t, op)
			target := func(q url.Values) string {
				if len(q) == 0 {
					return path
				}
				return path + "?" + q.Encode()
			}
			if len(oneOf) > 0 {
				// Giving none of them, or two, is refused naming one of them.
				q := cloneValues(base)
				for _, name := range oneOf {
					q.Del(name)
				}
				rec := doc.call(t, h, op, target(q))
				require.Equal(t, http.StatusBadRequest, rec.Code, rec.Body.String())
				require.Contains(t, oneOf, decode[httpapi.Envelope](t, rec).Error.Field)
				for _, p := range params {
					if name, _ := p["name"].(string); p["in"] == "query" && slices.Contains(oneOf[1:], name) {
						q := cloneValues(base)
						ex := examples(p)
						addParam(doc, t, q, p, ex[slices.Sorted(maps.Keys(ex))[0]])
						rec := doc.call(t, h, op, target(q))
						require.Equal(t, http.StatusBadRequest, rec.Code, "%s with %s: %s", oneOf[0], name, rec.Body.String())
						require.Contains(t, oneOf, decode[httpapi.Envelope](t, rec).Error.Field)
					}
				}
			}

			// An undocumented parameter is refused, naming it.
			q := cloneValues(base)
			q.Set("undocumented", "1")
			rec := doc.call(t, h, op, target(q))
			require.Equal(t, http.StatusBadRequest, rec.Code, rec.Body.String())
			env := decode[httpapi.Envelope](t, rec)
			require.Equal(t, httpapi.CodeBadRequest, env.Error.Code)
			require.Equal(t, "undocumented", env.Error.Field)
			doc.checkResponse(t, op, rec)

			for _, p := range params {
				if p["in"] == "path" {
					// examplePath put the example in; the requests above
					// reached the handler with it.
					require.Equal(t, true, p["required"], "path parameter %s is required", p["name"])
					ex := examples(p)
					require.NotEmptyf(t, ex, "path parameter %s needs an example", p["name"])
					for exName, v := range ex {
						require.Emptyf(t, doc.validate(t, p["schema"], v, p["name"].(string)), "example %s of %s", exName, p["name"])
					}
					continue
				}
				if p["in"] != "query" {
					continue
				}
				name := p["name"].(string)
				if p["required"] == true {
					// Leaving out a required parameter is refused, naming it.
					q := cloneValues(base)
					q.Del(name)
					rec := doc.call(t, h, op, target(q))
					require.Equal(t, http.StatusBadRequest, rec.Code, rec.Body.String())
					require.Equal(t, name, decode[httpapi.Envelope](t, rec).Error.Field)
				}
				exs := examples(p)
				require.NotEmptyf(t, exs, "parameter %s needs an example or examples", name)
				for exName, ex := range exs {
					// The example fits the documented schema…
					require.Emptyf(t, doc.validate(t, p["schema"], toJSON(t, ex), name), "example %s of %s", exName, name)
					// …and the handler takes it: with ClickHouse away the
					// answer is 503, never a 4xx about the parameter.
					q := cloneValues(base)
					q.Del(name)
					if slices.Contains(oneOf, name) {
						for _, other := range oneOf {
							q.Del(other)
						}
					}
					addParam(doc, t, q, p, ex)
					rec := doc.call(t, h, op, target(q))
					require.NotEqualf(t, http.StatusBadRequest, rec.Code, "%s example %s (%s): %s", name, exName, target(q), rec.Body.String())
					doc.checkResponse(t, op, rec)
				}
			}
		})
	}
}

// TestOpenAPIErrorCodes checks the error envelope's code enum against
// schemas/errors.yaml, and each documented error response against the
// statuses of its codes.
func TestOpenAPIErrorCodes(t *testing.T) {
	doc := loadOpenAPI(t, schemas.QueryOpenAPI)
	var spec struct {
		Codes map[string]struct {
			Status int `yaml:"status"`
		} `yaml:"codes"`
	}
	require.NoError(t, yaml.Unmarshal(schemas.ErrorCodes, &spec))
	require.NotEmpty(t, spec.Codes)

	errSchema := doc.schema(t, doc.schema(t, map[string]any{"$ref": errorEnvelopeRef})["properties"].(map[string]any)["error"])
	code := doc.schema(t, errSchema["properties"].(map[string]any)["code"])
	var enum []string
	for _, v := range code["enum"].([]any) {
		enum = append(enum, v.(string))
	}
	require.ElementsMatch(t, slices.Collect(maps.Keys(spec.Codes)), enum, "Error.code enum vs. schemas/errors.yaml")
	require.Len(t, enum, len(spec.Codes), "no code listed twice")

	statuses := map[int]bool{}
	for _, c := range spec.Codes {
		statuses[c.Status] = true
	}
	for _, op := range doc.operations(t) {
		for status, resp := range doc.responses(t, op) {
			n, err := strconv.Atoi(status)
			require.NoError(t, err, "%s: response %q", op.pattern(), status)
			media := mediaOf(resp, "application/json")
			isEnvelope := media != nil && media["schema"].(map[string]any)["$ref"] == errorEnvelopeRef
			if n >= 400 && n < 500 {
				require.True(t, isEnvelope, "%s %s: a 4xx is the error envelope", op.pattern(), status)
			}
			if !isEnvelope {
				continue
			}
			require.Truef(t, statuses[n], "%s: no code in schemas/errors.yaml has status %s", op.pattern(), status)
			exs, _ := media["examples"].(map[string]any)
			require.NotEmptyf(t, exs, "%s %s: give the error an example", op.pattern(), status)
			for name, ex := range exs {
				v := doc.resolve(t, ex)["value"]
				require.Emptyf(t, doc.validate(t, media["schema"], toJSON(t, v), "example"), "%s %s example %s", op.pattern(), status, name)
				c := v.(map[string]any)["error"].(map[string]any)["code"].(string)
				require.Equalf(t, n, spec.Codes[c].Status, "%s %s example %s: code %s has status %d in schemas/errors.yaml", op.pattern(), status, name, c, spec.Codes[c].Status)
			}
		}
	}
}

// TestOpenAPIResponseSchemas checks every JSON response schema against the
// Go type the handler encodes: the property names are the json names of the
// struct fields, recursively, the required ones those without omitempty,
// and the types agree.
func TestOpenAPIResponseSchemas(t *testing.T) {
	doc := loadOpenAPI(t, schemas.QueryOpenAPI)
	goTypes := map[string]reflect.Type{
		"GET /v1/indicators 200":                       reflect.TypeFor[query.IndicatorsResponse](),
		"GET /v1/series 200":                           reflect.TypeFor[query.SeriesResponse](),
		"GET /v1/series/history 200":                   reflect.TypeFor[query.HistoryResponse](),
		"GET /v1/indicators/{code} 200":                reflect.TypeFor[query.IndicatorEntry](),
		"GET /v1/places 200":                           reflect.TypeFor[query.PlacesResponse](),
		"GET /v1/aggregate 200":                        reflect.TypeFor[query.AggregateResponse](),
		"GET /v1/aggregate/explain 200":                reflect.TypeFor[query.AggregateExplanation](),
		"GET /v1/feeds 200":                            reflect.TypeFor[query.FeedsResponse](),
		"GET /v1/initiatives 200":                      reflect.TypeFor[query.InitiativesResponse](),
		"POST /v1/initiatives 201":                     reflect.TypeFor[savings.Initiative](),
		"POST /v1/savings 200":                         reflect.TypeFor[savings.Report](),
		"POST /v1/initiatives/{id}/savings 200":        reflect.TypeFor[savings.Report](),
		"GET /v1/initiatives/{id} 200":                 reflect.TypeFor[savings.Initiative](),
		"PUT /v1/initiatives/{id} 200":                 reflect.TypeFor[savings.Initiative](),
		"PUT /v1/initiatives/{id} 201":                 reflect.TypeFor[savings.Initiative](),
		"POST /v1/indicators 201":                      reflect.TypeFor[userindicators.Document](),
		"PUT /v1/indicators/{code} 200":                reflect.TypeFor[userindicators.Document](),
		"PUT /v1/indicators/{code} 201":                reflect.TypeFor[userindicators.Document](),
		"GET /v1/initiatives/{id}/savings 200":         reflect.TypeFor[savings.Report](),
		"GET /v1/initiatives/{id}/savings/explain 200": reflect.TypeFor[query.SavingsExplanation](),
		"GET /v1/initiatives/{id}/savings/methods 200": reflect.TypeFor[query.MethodsResponse](),
		"GET /v1/compare 200":                          reflect.TypeFor[query.CompareResponse](),
		"GET /readyz 200":                              reflect.TypeFor[httpapi.Readiness](),
		"GET /readyz 503":                              reflect.TypeFor[httpapi.Readiness](),
	}
	// Bodies written from a map rather than a type; the live responses
	// checked by TestOpenAPIRoutes cover them.
	untyped := map[string]bool{"GET /healthz 200": true}

	seen := map[string]bool{}
	for _, op := range doc.operations(t) {
		for status, resp := range doc.responses(t, op) {
			media := mediaOf(resp, "application/json")
			if media == nil {
				continue
			}
			key := op.pattern() + " " + status
			typ, ok := goTypes[key]
			switch {
			case ok:
				seen[key] = true
			case media["schema"].(map[string]any)["$ref"] == errorEnvelopeRef:
				typ = reflect.TypeFor[httpapi.Envelope]()
			case untyped[key]:
				continue
			default:
				t.Errorf("%s: no Go type to check the schema against; add it to goTypes", key)
				continue
			}
			t.Run(key, func(t *testing.T) {
				doc.compareGo(t, media["schema"], typ, typ.String(), false)
			})
		}
	}
	require.Equal(t, slices.Sorted(maps.Keys(goTypes)), slices.Sorted(maps.Keys(seen)), "every Go type is documented")
}

// TestOpenAPIRequestBodies checks every request body against the Go type
// the handler decodes and against the handler itself: each example is
// accepted, leaving out any property the schema requires (at any depth)
// is refused naming its path, and so is a property the schema does not
// list or another media type.
func TestOpenAPIRequestBodies(t *testing.T) {
	doc := loadOpenAPI(t, schemas.QueryOpenAPI)
	_, h := newOfflineService(t)
	goTypes := map[string]reflect.Type{
		"POST /v1/initiatives":              reflect.TypeFor[savings.Initiative](),
		"POST /v1/savings":                  reflect.TypeFor[savings.Initiative](),
		"POST /v1/initiatives/{id}/savings": reflect.TypeFor[savings.Initiative](),
		"PUT /v1/initiatives/{id}":          reflect.TypeFor[savings.Initiative](),
		"POST /v1/indicators":               reflect.TypeFor[userindicators.Document](),
		"PUT /v1/indicators/{code}":         reflect.TypeFor[userindicators.Document](),
	}
	// The code of a body that breaks a rule, by the path it is written to.
	invalid := func(path string) httpapi.Code {
		if strings.HasPrefix(path, "/v1/indicators") {
			return httpapi.CodeInvalidIndicator
		}
		return httpapi.CodeInvalidInitiative
	}
	var withBody []string
	for _, op := range doc.operations(t) {
		rb, ok := op.node["requestBody"]
		if !ok {
			continue
		}
		withBody = append(withBody, op.pattern())
		t.Run(op.pattern(), func(t *testing.T) {
			body := doc.resolve(t, rb)
			require.Equal(t, true, body["required"], "the handler needs a body")
			content, _ := body["content"].(map[string]any)
			require.Equal(t, []string{"application/json"}, slices.Sorted(maps.Keys(content)))
			media := content["application/json"].(map[string]any)
			typ, ok := goTypes[op.pattern()]
			require.True(t, ok, "no Go type to check the body against; add it to goTypes")
			doc.compareGo(t, media["schema"], typ, typ.String(), true)

			path := doc.examplePath(t, op)
			exs := doc.requestExamples(t, op)
			require.NotEmpty(t, exs, "give the body examples")
			for name, ex := range exs {
				require.Emptyf(t, doc.validate(t, media["schema"], ex, "body"), "example %s", name)
				rec := doc.callWith(t, h, op, path, ex)
				// Accepted: with ClickHouse away the handler answers 503 once
				// the body has passed every check; a what-if of a modelled
				// document needs no data and answers its report.
				if strings.HasSuffix(op.path, "/savings") && rec.Code == http.StatusOK {
					doc.checkResponse(t, op, rec)
					continue
				}
				require.Equalf(t, http.StatusServiceUnavailable, rec.Code, "example %s: %s", name, rec.Body.String())
				doc.checkResponse(t, op, rec)
			}

			first := exs[slices.Sorted(maps.Keys(exs))[0]]
			var removed []string
			doc.withoutEach(t, media["schema"], first, "", func(field string, v any) {
				removed = append(removed, field)
				rec := doc.callWith(t, h, op, path, v)
				require.Equal(t, http.StatusUnprocessableEntity, rec.Code, "without %s: %s", field, rec.Body.String())
				env := decode[httpapi.Envelope](t, rec)
				require.Equal(t, invalid(op.path), env.Error.Code)
				require.Equal(t, field, env.Error.Field, env.Error.Message)
				doc.checkResponse(t, op, rec)
			})
			require.NotEmpty(t, removed, "the first example gives the required properties")

			extra := maps.Clone(first.(map[string]any))
			extra["undocumented"] = 1
			require.NotEmpty(t, doc.validate(t, media["schema"], extra, "body"))
			rec := doc.callWith(t, h, op, path, extra)
			require.Equal(t, http.StatusUnprocessableEntity, rec.Code, rec.Body.String())
			require.Equal(t, "undocumented", decode[httpapi.Envelope](t, rec).Error.Field)
			doc.checkResponse(t, op, rec)

			b, err := json.Marshal(first)
			require.NoError(t, err)
			rec = doBody(h, op.method, path, b, "Content-Type", "text/plain", "Authorization", "Bearer "+offlineAnalystToken)
			require.Equal(t, http.StatusBadRequest, rec.Code, rec.Body.String())
			require.Equal(t, "Content-Type", decode[httpapi.Envelope](t, rec).Error.Field)
			doc.checkResponse(t, op, rec)
		})
	}
	slices.Sort(withBody)
	require.Equal(t, slices.Sorted(maps.Keys(goTypes)), withBody, "every Go body type is documented")
}

// TestOpenAPISecurity checks the security of every operation against a
// server that sets both tokens: the reads the document guards with the
// read token refuse a request without one and take either token, the
// writes take the analyst token only, and the open routes need none.
func TestOpenAPISecurity(t *testing.T) {
	doc := loadOpenAPI(t, schemas.QueryOpenAPI)
	schemes := doc.root["components"].(map[string]any)["securitySchemes"].(map[string]any)
	require.ElementsMatch(t, []string{"analystToken", "readToken"}, slices.Collect(maps.Keys(schemes)))
	for name, sc := range schemes {
		sc := sc.(map[string]any)
		require.Equal(t, "http", sc["type"], name)
		require.Equal(t, "bearer", sc["scheme"], name)
	}
	const readToken = "read-token-for-tests-0123456"
	svc, h := newOfflineServiceWith(t, query.Config{AnalystToken: offlineAnalystToken, ReadToken: readToken})
	for _, op := range doc.operations(t) {
		t.Run(op.pattern(), func(t *testing.T) {
			names := doc.securityNames(t, op)
			path := doc.examplePath(t, op)
			body := doc.firstRequestExample(t, op)
			send := func(token string) *httptest.ResponseRecorder {
				t.Helper()
				var header []string
				if token != "" {
					header = []string{"Authorization", "Bearer " + token}
				}
				rec := doRequest(t, h, op.method, path, body, header...)
				doc.checkResponse(t, op, rec)
				return rec
			}
			switch {
			case len(names) == 0:
				require.False(t, strings.HasPrefix(op.path, "/v1/"), "every /v1/ route is guarded")
				require.NotEqual(t, http.StatusUnauthorized, send("").Code)
			case slices.Equal(names, []string{"analystToken"}):
				require.True(t, svc.IsWrite(op.pattern()), "only writes need the analyst token")
				require.Equal(t, http.StatusUnauthorized, send("").Code)
				require.Equal(t, http.StatusUnauthorized, send(readToken).Code)
				require.Equal(t, http.StatusUnauthorized, send("not-the-token-0123456789").Code)
				require.NotEqual(t, http.StatusUnauthorized, send(offlineAnalystToken).Code)
			case slices.Equal(names, []string{"analystToken", "readToken"}):
				require.False(t, svc.IsWrite(op.pattern()))
				require.True(t, doc.anonymousAllowed(t, op), "reads stay open when the server sets no read token")
				require.Equal(t, http.StatusUnauthorized, send("").Code)
				require.Equal(t, http.StatusUnauthorized, send("not-the-token-0123456789").Code)
				require.NotEqual(t, http.StatusUnauthorized, send(readToken).Code)
				require.NotEqual(t, http.StatusUnauthorized, send(offlineAnalystToken).Code)
			default:
				t.Fatalf("security %v is neither open, reads nor writes", names)
			}
		})
	}
}

// TestOpenAPIServed checks GET /openapi.yaml: the embedded document, as
// YAML, with a strong ETag and 304 on revalidation.
func TestOpenAPIServed(t *testing.T) {
	_, h := newOfflineService(t)
	rec := do(h, http.MethodGet, "/openapi.yaml")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "application/yaml", rec.Header().Get("Content-Type"))
	require.Equal(t, "no-cache", rec.Header().Get("Cache-Control"))
	require.Equal(t, schemas.QueryOpenAPI, rec.Body.Bytes())
	tag := rec.Header().Get("ETag")
	require.Equal(t, httpapi.ETag(schemas.QueryOpenAPI), tag)
	require.NotEmpty(t, rec.Header().Get(httpapi.RequestIDHeader))
	var v map[string]any
	require.NoError(t, yaml.Unmarshal(rec.Body.Bytes(), &v))

	rec = do(h, http.MethodGet, "/openapi.yaml", "If-None-Match", tag)
	require.Equal(t, http.StatusNotModified, rec.Code)
	require.Empty(t, rec.Body.Bytes())
	require.Equal(t, tag, rec.Header().Get("ETag"))

	rec = do(h, http.MethodGet, "/openapi.yaml", "If-None-Match", `"stale"`)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, schemas.QueryOpenAPI, rec.Body.Bytes())
}

// TestIntegrationOpenAPIResponses validates real answers, data included,
// against the document: status, media type, headers and body schema.
func TestIntegrationOpenAPIResponses(t *testing.T) {
	f := newFixture(t, query.Config{MaxRows: 6})
	seedSeries(t, f.ch)
	insert(t, f.ch, obs("owid.co2", "GBR", observation.Period{Grain: observation.GrainHalfHour,
		Start: time.Date(2019, 8, 25, 12, 30, 0, 0, time.UTC)}, 7, 1, observation.Dims{"fuel": "coal"}))
	seedPlaces(t, f.ch)
	insert(t, f.ch,
		obs("owid.co2", "FRA", observation.Year(2017), 350, 1, nil),
		obs("owid.population", "FRA", observation.Year(2017), 65e6, 1, nil),
		obs("owid.population", "GBR", observation.Year(2017), 0, 1, nil))
	doc := loadOpenAPI(t, schemas.QueryOpenAPI)

	tests := []struct {
		target     string
		wantStatus int
	}{
		{target: "/v1/indicators", wantStatus: http.StatusOK},
		{target: "/v1/series?indicator=owid.co2_per_capita&geo=GBR,FRA", wantStatus: http.StatusOK},
		{target: "/v1/series?indicator=owid.co2&dims=fuel=coal&from=2019-08-25T12:30Z", wantStatus: http.StatusOK},
		{target: "/v1/series?indicator=owid.co2&geo=ATA", wantStatus: http.StatusOK},
		{target: "/v1/series?indicator=owid.co2_per_capita", wantStatus: http.StatusUnprocessableEntity},
		{target: "/v1/series?indicator=who.nothing", wantStatus: http.StatusNotFound},
		{target: "/v1/series?indicator=owid.co2&from=2018-Q5", wantStatus: http.StatusBadRequest},
		{target: "/v1/indicators/owid.co2_per_capita", wantStatus: http.StatusOK},
		{target: "/v1/indicators/owid.population", wantStatus: http.StatusOK},
		{target: "/v1/indicators/who.nothing", wantStatus: http.StatusNotFound},
		{target: "/v1/indicators/owid.co2?geo=GBR", wantStatus: http.StatusBadRequest},
		{target: "/v1/places", wantStatus: http.StatusOK},
		{target: "/v1/places?level=country&parent=ECS&format=csv", wantStatus: http.StatusOK},
		{target: "/v1/places?parent=ATLANTIS", wantStatus: http.StatusNotFound},
		{target: "/v1/places?level=planet", wantStatus: http.StatusBadRequest},
		{target: "/v1/aggregate?indicator=owid.co2_per_capita&geo=ECS&by=geo,period", wantStatus: http.StatusOK},
		{target: "/v1/aggregate?indicator=owid.co2_per_capita&geo=GBR&from=2017&to=2017", wantStatus: http.StatusOK},
		{target: "/v1/aggregate?indicator=owid.co2_per_capita&level=country&by=geo&agg=median&from=2017&to=2017", wantStatus: http.StatusOK},
		{target: "/v1/aggregate?indicator=owid.co2&geo=WLD&agg=count&format=csv", wantStatus: http.StatusOK},
		{target: "/v1/aggregate?indicator=owid.co2_per_capita&level=country&agg=max", wantStatus: http.StatusUnprocessableEntity},
		{target: "/v1/aggregate?indicator=owid.co2_per_capita&geo=ECS&agg=sum", wantStatus: http.StatusBadRequest},
		{target: "/v1/aggregate?indicator=who.nothing&geo=ECS", wantStatus: http.StatusNotFound},
		{target: "/openapi.yaml", wantStatus: http.StatusOK},
		{target: "/metrics", wantStatus: http.StatusOK},
		{target: "/healthz", wantStatus: http.StatusOK},
		{target: "/readyz", wantStatus: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			u, err := url.Parse(tt.target)
			require.NoError(t, err)
			op := doc.operation(t, http.MethodGet, u.Path)
			rec := f.get(t, tt.target)
			require.Equal(t, tt.wantStatus, rec.Code, rec.Body.String())
			doc.checkResponse(t, op, rec)
			if tag := rec.Header().Get("ETag"); tag != "" {
				rec = f.get(t, tt.target, "If-None-Match", tag)
				require.Equal(t, http.StatusNotModified, rec.Code)
				doc.checkResponse(t, op, rec)
			}
		})
	}
}

// TestIntegrationOpenAPIInitiatives validates real answers of the
// initiative routes against the document, from the World Bank recordings:
// every write and read of an initiative, its savings report by each method
// and the cost comparison, and their errors.
func TestIntegrationOpenAPIInitiatives(t *testing.T) {
	f, _, _ := newWorldBankFixture(t)
	doc := loadOpenAPI(t, schemas.QueryOpenAPI)
	auth := []string{"Authorization", "Bearer " + testAnalystToken}

	const body = `{"id": "fra-obesity", "name": "Obesity prevention", "indicator": "SH.STA.OWAD.ZS", "geo": "FRA",
	  "start_year": 2012, "end_year": null, "method": "its", "comparison_geos": ["DEU", "ITA"],
	  "population": {"value": 1000000}, "scale": 0.01,
	  "unit_costs": [{"agency": "CNAM", "amount": 1000.5, "currency": "EUR", "price_year": 2015}],
	  "costs": [{"year": 2012, "amount": 5000000}],
	  "cohort": {"size": 1000, "engagement": 0.5, "success": 0.2},
	  "cba": {"lag": 0, "persistence": 1, "horizon": 5, "discount": 0.035}}`
	tests := []struct {
		method, target, body string
		header               []string
		wantStatus           int
	}{
		{http.MethodPost, "/v1/initiatives", body, nil, http.StatusUnauthorized},
		{http.MethodPost, "/v1/initiatives", body, auth, http.StatusCreated},
		{http.MethodPost, "/v1/initiatives", body, auth, http.StatusConflict},
		{http.MethodPost, "/v1/initiatives", `{"id": "x", "start_year": "2012"}`, auth, http.StatusUnprocessableEntity},
		{http.MethodPost, "/v1/initiatives", `{"id": "x"`, auth, http.StatusUnprocessableEntity},
		{http.MethodPut, "/v1/initiatives/fra-obesity", body, append(slices.Clone(auth), "If-Match", `"v1"`), http.StatusPreconditionFailed},
		{http.MethodPut, "/v1/initiatives/fra-obesity", body, auth, http.StatusOK},
		{http.MethodPut, "/v1/initiatives/other", strings.Replace(body, `"fra-obesity"`, `"other"`, 1), auth, http.StatusCreated},
		{http.MethodGet, "/v1/initiatives", "", nil, http.StatusOK},
		{http.MethodGet, "/v1/initiatives/fra-obesity", "", nil, http.StatusOK},
		{http.MethodGet, "/v1/initiatives/nope", "", nil, http.StatusNotFound},
		{http.MethodGet, "/v1/initiatives/fra-obesity/savings", "", nil, http.StatusOK},
		{http.MethodGet, "/v1/initiatives/fra-obesity/savings?method=did", "", nil, http.StatusOK},
		{http.MethodGet, "/v1/initiatives/fra-obesity/savings?method=synth", "", nil, http.StatusOK},
		{http.MethodGet, "/v1/initiatives/fra-obesity/savings/explain?figure=counterfactual_low&year=2&method=synth", "", nil, http.StatusOK},
		{http.MethodGet, "/v1/initiatives/fra-obesity/savings?method=modelled", "", nil, http.StatusOK},
		{http.MethodGet, "/v1/initiatives/fra-obesity/savings?method=guess", "", nil, http.StatusBadRequest},
		{http.MethodGet, "/v1/initiatives/nope/savings", "", nil, http.StatusNotFound},
		{http.MethodGet, "/v1/initiatives/fra-obesity/savings/explain?figure=npv", "", nil, http.StatusOK},
		{http.MethodGet, "/v1/initiatives/fra-obesity/savings/explain?figure=counterfactual_low&year=2&method=did", "", nil, http.StatusOK},
		{http.MethodGet, "/v1/initiatives/fra-obesity/savings/explain?figure=benefit&year=1&method=modelled", "", nil, http.StatusOK},
		{http.MethodGet, "/v1/initiatives/fra-obesity/savings/explain?figure=benefit", "", nil, http.StatusBadRequest},
		{http.MethodGet, "/v1/initiatives/fra-obesity/savings/explain?figure=benefit&year=6", "", nil, http.StatusNotFound},
		{http.MethodGet, "/v1/initiatives/fra-obesity/savings/explain?figure=npv&pre_from=2013", "", nil, http.StatusUnprocessableEntity},
		{http.MethodGet, "/v1/initiatives/nope/savings/explain?figure=npv", "", nil, http.StatusNotFound},
		{http.MethodGet, "/v1/initiatives/fra-obesity/savings/methods", "", nil, http.StatusOK},
		{http.MethodGet, "/v1/initiatives/fra-obesity/savings/methods?method=its", "", nil, http.StatusBadRequest},
		{http.MethodGet, "/v1/initiatives/nope/savings/methods", "", nil, http.StatusNotFound},
		{http.MethodGet, "/v1/compare?initiatives=fra-obesity,other&cost_indicator=SH.XPD.CHEX.GD.ZS", "", nil, http.StatusOK},
		{http.MethodGet, "/v1/compare?initiatives=fra-obesity&cost_indicator=SH.XPD.CHEX.GD.ZS&geo=ATA", "", nil, http.StatusUnprocessableEntity},
		{http.MethodGet, "/v1/compare?initiatives=nope&cost_indicator=SH.XPD.CHEX.GD.ZS", "", nil, http.StatusNotFound},
		{http.MethodGet, "/v1/compare?initiatives=fra-obesity&cost_indicator=who.nothing", "", nil, http.StatusNotFound},
		{http.MethodDelete, "/v1/initiatives/other", "", append(slices.Clone(auth), "If-Match", `"v1"`), http.StatusPreconditionFailed},
		{http.MethodDelete, "/v1/initiatives/other", "", auth, http.StatusNoContent},
		{http.MethodDelete, "/v1/initiatives/other", "", auth, http.StatusNotFound},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprintf("%d %s %s", i, tt.method, tt.target), func(t *testing.T) {
			u, err := url.Parse(tt.target)
			require.NoError(t, err)
			op := doc.operation(t, tt.method, u.Path)
			rec := f.send(t, tt.method, tt.target, tt.body, tt.header...)
			require.Equal(t, tt.wantStatus, rec.Code, rec.Body.String())
			doc.checkResponse(t, op, rec)
			if tag := rec.Header().Get("ETag"); tag != "" && tt.method == http.MethodGet {
				rec = f.get(t, tt.target, "If-None-Match", tag)
				require.Equal(t, http.StatusNotModified, rec.Code)
				doc.checkResponse(t, op, rec)
			}
		})
	}
}

// newOfflineService builds the service on a ClickHouse address where nothing
// listens: every route answers, those that need data with 503.
func newOfflineService(t *testing.T) (*query.Service, http.Handler) {
	t.Helper()
	return newOfflineServiceWith(t, query.Config{AnalystToken: offlineAnalystToken})
}

// newOfflineServiceWith is newOfflineService with cfg.
func newOfflineServiceWith(t *testing.T, cfg query.Config) (*query.Service, http.Handler) {
	t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{"127.0.0.1:1"}, DialTimeout: time.Second})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, conn.Close()) })
	cat, err := indicators.Load()
	require.NoError(t, err)
	svc, err := query.New(cfg, conn, cat, zerolog.Nop(), prometheus.NewRegistry())
	require.NoError(t, err)
	return svc, svc.Handler()
}

// offlineAnalystToken is the analyst token of newOfflineService, so that
// writes reach their handlers; reads stay open.
const offlineAnalystToken = "offline-analyst-token-0123"

// call sends op's method to target as the document says a client does:
// with the analyst token when op needs it, and with the first example of
// its request body, if any.
func (d *openAPI) call(t *testing.T, h http.Handler, op operation, target string) *httptest.ResponseRecorder {
	t.Helper()
	return d.callWith(t, h, op, target, d.firstRequestExample(t, op))
}

// callWith is call with body (a decoded JSON value; nil sends none).
func (d *openAPI) callWith(t *testing.T, h http.Handler, op operation, target string, body any) *httptest.ResponseRecorder {
	t.Helper()
	var header []string
	if d.needsAnalyst(t, op) {
		header = []string{"Authorization", "Bearer " + offlineAnalystToken}
	}
	return doRequest(t, h, op.method, target, body, header...)
}

// doRequest sends body, when not nil, as JSON.
func doRequest(t *testing.T, h http.Handler, method, target string, body any, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	if body == nil {
		return do(h, method, target, header...)
	}
	b, err := json.Marshal(body)
	require.NoError(t, err)
	return doBody(h, method, target, b, append([]string{"Content-Type", "application/json"}, header...)...)
}

func doBody(h http.Handler, method, target string, body []byte, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// security is the security requirement of op: its own, else the document's.
func (d *openAPI) security(t *testing.T, op operation) []any {
	t.Helper()
	sec, ok := op.node["security"]
	if !ok {
		sec = d.root["security"]
	}
	if sec == nil {
		return nil
	}
	l, ok := sec.([]any)
	require.Truef(t, ok, "%s: security is a list", op.pattern())
	return l
}

// securityNames are the schemes op's security names, sorted.
func (d *openAPI) securityNames(t *testing.T, op operation) []string {
	t.Helper()
	var names []string
	for _, req := range d.security(t, op) {
		for name := range req.(map[string]any) {
			if !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
	}
	slices.Sort(names)
	return names
}

// anonymousAllowed reports whether op's security has the empty alternative.
func (d *openAPI) anonymousAllowed(t *testing.T, op operation) bool {
	t.Helper()
	return slices.ContainsFunc(d.security(t, op), func(req any) bool { return len(req.(map[string]any)) == 0 })
}

// needsAnalyst reports whether only the analyst token opens op.
func (d *openAPI) needsAnalyst(t *testing.T, op operation) bool {
	t.Helper()
	return slices.Equal(d.securityNames(t, op), []string{"analystToken"}) && !d.anonymousAllowed(t, op)
}

// requestExamples are the examples of op's JSON request body by name, as
// encoding/json decodes them; nil when op takes no body.
func (d *openAPI) requestExamples(t *testing.T, op operation) map[string]any {
	t.Helper()
	rb, ok := op.node["requestBody"]
	if !ok {
		return nil
	}
	media := d.resolve(t, rb)["content"].(map[string]any)["application/json"].(map[string]any)
	out := map[string]any{}
	if ex, ok := media["example"]; ok {
		out["example"] = toJSON(t, ex)
	}
	exs, _ := media["examples"].(map[string]any)
	for name, ex := range exs {
		out[name] = toJSON(t, d.resolve(t, ex)["value"])
	}
	return out
}

// firstRequestExample is the first example of op's body by name, or nil.
func (d *openAPI) firstRequestExample(t *testing.T, op operation) any {
	t.Helper()
	exs := d.requestExamples(t, op)
	if len(exs) == 0 {
		return nil
	}
	return exs[slices.Sorted(maps.Keys(exs))[0]]
}

// withoutEach calls f, for every property the schema n requires of every
// object in v, with the JSON path of the property ("unit_costs[0].agency")
// and a copy of v without it.
func (d *openAPI) withoutEach(t *testing.T, n any, v any, path string, f func(field string, v any)) {
	t.Helper()
	s := d.schema(t, n)
	switch v := v.(type) {
	case map[string]any:
		for _, r := range listOf(s["required"]) {
			if _, ok := v[r]; ok {
				c := maps.Clone(v)
				delete(c, r)
				f(joinPath(path, r), c)
			}
		}
		props, _ := s["properties"].(map[string]any)
		for _, k := range slices.Sorted(maps.Keys(v)) {
			if ps, ok := props[k]; ok {
				d.withoutEach(t, ps, v[k], joinPath(path, k), func(field string, sub any) {
					c := maps.Clone(v)
					c[k] = sub
					f(field, c)
				})
			}
		}
	case []any:
		for i, e := range v {
			d.withoutEach(t, s["items"], e, fmt.Sprintf("%s[%d]", path, i), func(field string, sub any) {
				c := slices.Clone(v)
				c[i] = sub
				f(field, c)
			})
		}
	}
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// envelopeCode is the code of an error envelope response, or "".
func envelopeCode(rec *httptest.ResponseRecorder) httpapi.Code {
	var env httpapi.Envelope
	if json.Unmarshal(rec.Body.Bytes(), &env) != nil || env.Error == nil {
		return ""
	}
	return env.Error.Code
}

func cloneValues(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = slices.Clone(v)
	}
	return out
}

// examples are a parameter's example values by name.
func examples(p map[string]any) map[string]any {
	out := map[string]any{}
	if ex, ok := p["example"]; ok {
		out["example"] = ex
	}
	if exs, ok := p["examples"].(map[string]any); ok {
		for name, ex := range exs {
			out[name] = ex.(map[string]any)["value"]
		}
	}
	return out
}

// addParam serialises value into q as the parameter's style says: arrays
// comma-joined (explode: false) or repeated (explode: true, the default).
func addParam(doc *openAPI, t *testing.T, q url.Values, p map[string]any, value any) {
	t.Helper()
	name := p["name"].(string)
	if doc.schema(t, p["schema"])["type"] != "array" {
		q.Add(name, fmt.Sprint(value))
		return
	}
	var items []string
	for _, v := range value.([]any) {
		items = append(items, fmt.Sprint(v))
	}
	if explode, ok := p["explode"].(bool); ok && !explode {
		q.Add(name, strings.Join(items, ","))
		return
	}
	for _, v := range items {
		q.Add(name, v)
	}
}

// mediaOf is the media type object of a response, or nil.
func mediaOf(resp map[string]any, mediaType string) map[string]any {
	content, _ := resp["content"].(map[string]any)
	media, _ := content[mediaType].(map[string]any)
	return media
}

// toJSON gives a YAML value the types encoding/json would decode it to.
func toJSON(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	var out any
	require.NoError(t, json.Unmarshal(b, &out))
	return out
}

// openAPI is a parsed OpenAPI 3.0 document, read generically.
type openAPI struct {
	root map[string]any
}

type operation struct {
	method string // GET
	path   string // /v1/series
	node   map[string]any
	params []any // path-level parameters
}

func (o operation) pattern() string { return o.method + " " + o.path }

func loadOpenAPI(t *testing.T, src []byte) *openAPI {
	t.Helper()
	var root map[string]any
	require.NoError(t, yaml.Unmarshal(src, &root))
	d := &openAPI{root: root}
	// Every $ref resolves.
	var walk func(n any, at string)
	walk = func(n any, at string) {
		switch n := n.(type) {
		case map[string]any:
			if ref, ok := n["$ref"].(string); ok {
				_, err := d.lookup(ref)
				require.NoError(t, err, "at %s", at)
			}
			for k, v := range n {
				walk(v, at+"/"+k)
			}
		case []any:
			for i, v := range n {
				walk(v, at+"/"+strconv.Itoa(i))
			}
		}
	}
	walk(root, "#")
	return d
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// operations are the document's operations, ordered by path and method.
func (d *openAPI) operations(t *testing.T) []operation {
	t.Helper()
	paths, ok := d.root["paths"].(map[string]any)
	require.True(t, ok, "the document has paths")
	var ops []operation
	for _, path := range slices.Sorted(maps.Keys(paths)) {
		item := d.resolve(t, paths[path])
		pathParams, _ := item["parameters"].([]any)
		for _, m := range httpMethods {
			if n, ok := item[m]; ok {
				ops = append(ops, operation{method: strings.ToUpper(m), path: path, node: n.(map[string]any), params: pathParams})
			}
		}
	}
	require.NotEmpty(t, ops)
	return ops
}

// operation is the operation that answers method and path: the one with
// that very path, else the one whose template ({code}) matches it.
func (d *openAPI) operation(t *testing.T, method, path string) operation {
	t.Helper()
	var templated []operation
	for _, op := range d.operations(t) {
		switch {
		case op.method != method:
		case op.path == path:
			return op
		case templateMatches(op.path, path):
			templated = append(templated, op)
		}
	}
	if len(templated) == 1 {
		return templated[0]
	}
	t.Fatalf("the document has no single %s %s (templates matching: %d)", method, path, len(templated))
	return operation{}
}

// templateMatches reports whether path fills in the {name} segments of an
// OpenAPI path template.
func templateMatches(template, path string) bool {
	ts, ps := strings.Split(template, "/"), strings.Split(path, "/")
	if len(ts) != len(ps) {
		return false
	}
	for i, seg := range ts {
		isParam := strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}")
		if isParam && ps[i] == "" || !isParam && seg != ps[i] {
			return false
		}
	}
	return true
}

// examplePath is op's path with each path parameter replaced by the first
// of its examples, so that a request reaches the handler with a value the
// document promises it takes.
func (d *openAPI) examplePath(t *testing.T, op operation) string {
	t.Helper()
	path := op.path
	for _, p := range d.parameters(t, op) {
		if p["in"] != "path" {
			continue
		}
		ex := examples(p)
		require.NotEmptyf(t, ex, "%s: path parameter %s needs an example", op.pattern(), p["name"])
		v := fmt.Sprint(ex[slices.Sorted(maps.Keys(ex))[0]])
		path = strings.ReplaceAll(path, "{"+p["name"].(string)+"}", url.PathEscape(v))
	}
	require.NotContainsf(t, path, "{", "%s: every path parameter is documented", op.pattern())
	return path
}

// parameters are an operation's parameters, path-level ones included.
func (d *openAPI) parameters(t *testing.T, op operation) []map[string]any {
	t.Helper()
	own, _ := op.node["parameters"].([]any)
	var out []map[string]any
	for _, p := range append(slices.Clone(op.params), own...) {
		out = append(out, d.resolve(t, p))
	}
	return out
}

// responses are an operation's responses by status, resolved.
func (d *openAPI) responses(t *testing.T, op operation) map[string]map[string]any {
	t.Helper()
	rs, ok := op.node["responses"].(map[string]any)
	require.True(t, ok, "%s has responses", op.pattern())
	out := map[string]map[string]any{}
	for status, r := range rs {
		out[status] = d.resolve(t, r)
	}
	return out
}

// lookup finds the node a local $ref points at.
func (d *openAPI) lookup(ref string) (map[string]any, error) {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, fmt.Errorf("$ref %q is not local", ref)
	}
	var cur any = d.root
	for _, tok := range strings.Split(rest, "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("$ref %q: %q is not under a mapping", ref, tok)
		}
		if cur, ok = m[tok]; !ok {
			return nil, fmt.Errorf("$ref %q: no %q", ref, tok)
		}
	}
	m, ok := cur.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("$ref %q is not a mapping", ref)
	}
	return m, nil
}

// resolve follows $ref until a node without one.
func (d *openAPI) resolve(t *testing.T, n any) map[string]any {
	t.Helper()
	m, ok := n.(map[string]any)
	require.Truef(t, ok, "want a mapping, got %T", n)
	for range 32 {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		var err error
		m, err = d.lookup(ref)
		require.NoError(t, err)
	}
	t.Fatalf("$ref cycle")
	return nil
}

// schema resolves a schema and merges its allOf into one.
func (d *openAPI) schema(t *testing.T, n any) map[string]any {
	t.Helper()
	m := d.resolve(t, n)
	all, ok := m["allOf"].([]any)
	if !ok {
		return m
	}
	out := map[string]any{}
	for k, v := range m {
		if k != "allOf" {
			out[k] = v
		}
	}
	for _, part := range all {
		for k, v := range d.schema(t, part) {
			switch k {
			case "properties":
				props, _ := out[k].(map[string]any)
				out[k] = mergeMaps(props, v.(map[string]any))
			case "required":
				have, _ := out[k].([]any)
				out[k] = append(slices.Clone(have), v.([]any)...)
			default:
				if _, set := out[k]; !set {
					out[k] = v
				}
			}
		}
	}
	return out
}

func mergeMaps(a, b map[string]any) map[string]any {
	out := maps.Clone(a)
	if out == nil {
		out = map[string]any{}
	}
	maps.Copy(out, b)
	return out
}

// checkResponse checks a recorded answer of op against the document: its
// status is listed, with the documented media type, headers and body schema.
func (d *openAPI) checkResponse(t *testing.T, op operation, rec *httptest.ResponseRecorder) {
	t.Helper()
	rs := d.responses(t, op)
	status := strconv.Itoa(rec.Code)
	resp, ok := rs[status]
	require.Truef(t, ok, "%s answered %s, which the document does not list (it lists %v): %s",
		op.pattern(), status, slices.Sorted(maps.Keys(rs)), rec.Body.String())

	headers, _ := resp["headers"].(map[string]any)
	for name, h := range headers {
		got := rec.Header().Values(name)
		require.Lenf(t, got, 1, "%s %s: header %s", op.pattern(), status, name)
		require.Emptyf(t, d.validate(t, d.resolve(t, h)["schema"], got[0], name), "%s %s: header %s", op.pattern(), status, name)
	}

	content, _ := resp["content"].(map[string]any)
	if len(content) == 0 {
		require.Emptyf(t, rec.Body.Bytes(), "%s %s documents no body", op.pattern(), status)
		return
	}
	mt, _, err := mime.ParseMediaType(rec.Header().Get("Content-Type"))
	require.NoError(t, err)
	media, ok := content[mt].(map[string]any)
	require.Truef(t, ok, "%s %s: media type %s, the document lists %v", op.pattern(), status, mt, slices.Sorted(maps.Keys(content)))
	if mt != "application/json" {
		return
	}
	var body any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
	require.Emptyf(t, d.validate(t, media["schema"], body, "body"), "%s %s: %s", op.pattern(), status, rec.Body.String())
}

// validate checks a decoded JSON value against a schema, with the subset of
// OpenAPI 3.0 the document uses, and returns the problems.
func (d *openAPI) validate(t *testing.T, n any, v any, at string) []string {
	t.Helper()
	if v == nil {
		if d.acceptsNull(t, n) {
			return nil
		}
		return []string{at + ": null, and the schema does not allow null (nullable: true beside an explicit type, in every allOf part)"}
	}
	s := d.schema(t, n)
	var ps []string
	bad := func(format string, args ...any) { ps = append(ps, at+": "+fmt.Sprintf(format, args...)) }
	if alts, ok := s["oneOf"].([]any); ok {
		matched := 0
		for _, alt := range alts {
			if len(d.validate(t, alt, v, at)) == 0 {
				matched++
			}
		}
		if matched != 1 {
			bad("%v matches %d of the %d schemas of oneOf, want exactly 1", v, matched, len(alts))
		}
		return ps
	}
	switch s["type"] {
	case "object":
		obj, ok := v.(map[string]any)
		if !ok {
			bad("want an object, got %T", v)
			break
		}
		for _, r := range listOf(s["required"]) {
			if _, ok := obj[r]; !ok {
				bad("required property %s is missing", r)
			}
		}
		props, _ := s["properties"].(map[string]any)
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			switch ps2, ok := props[k]; {
			case ok:
				ps = append(ps, d.validate(t, ps2, obj[k], at+"."+k)...)
			case s["additionalProperties"] != nil && s["additionalProperties"] != false:
				ps = append(ps, d.validate(t, s["additionalProperties"], obj[k], at+"."+k)...)
			default:
				bad("property %s is not documented", k)
			}
		}
	case "array":
		arr, ok := v.([]any)
		if !ok {
			bad("want an array, got %T", v)
			break
		}
		if lo, ok := s["minItems"].(int); ok && len(arr) < lo {
			bad("%d items, at least %d", len(arr), lo)
		}
		if hi, ok := s["maxItems"].(int); ok && len(arr) > hi {
			bad("%d items, at most %d", len(arr), hi)
		}
		for i, e := range arr {
			ps = append(ps, d.validate(t, s["items"], e, fmt.Sprintf("%s[%d]", at, i))...)
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			bad("want a string, got %T", v)
			break
		}
		if lo, ok := s["minLength"].(int); ok && len(str) < lo {
			bad("%q is shorter than %d", str, lo)
		}
		if hi, ok := s["maxLength"].(int); ok && len(str) > hi {
			bad("%q is longer than %d", str, hi)
		}
		if pat, ok := s["pattern"].(string); ok && !regexp.MustCompile(pat).MatchString(str) {
			bad("%q does not match %s", str, pat)
		}
		if s["format"] == "date-time" {
			if _, err := time.Parse(time.RFC3339, str); err != nil {
				bad("%q is not an RFC 3339 date-time", str)
			}
		}
		if enum := listOf(s["enum"]); enum != nil && !slices.Contains(enum, str) {
			bad("%q is not one of %v", str, enum)
		}
	case "integer", "number":
		num, ok := v.(float64)
		if !ok {
			bad("want a number, got %T", v)
			break
		}
		if s["type"] == "integer" && num != math.Trunc(num) {
			bad("%v is not an integer", num)
		}
		if lo, ok := number(s["minimum"]); ok && (num < lo || num == lo && s["exclusiveMinimum"] == true) {
			bad("%v is below the minimum %v (exclusive: %v)", num, lo, s["exclusiveMinimum"])
		}
		if hi, ok := number(s["maximum"]); ok && (num > hi || num == hi && s["exclusiveMaximum"] == true) {
			bad("%v is above the maximum %v (exclusive: %v)", num, hi, s["exclusiveMaximum"])
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			bad("want a boolean, got %T", v)
		}
	default:
		bad("schema without a known type: %v", s)
	}
	return ps
}

// acceptsNull reads nullable as OpenAPI 3.0.3 defines it, as strict
// clients do: it adds null to the types only in a schema object that
// declares its type, and other keywords keep their force, so a null must
// also satisfy every part of an allOf.
func (d *openAPI) acceptsNull(t *testing.T, n any) bool {
	t.Helper()
	m := d.resolve(t, n)
	if m["nullable"] != true || m["type"] == nil {
		return false
	}
	parts, _ := m["allOf"].([]any)
	for _, part := range parts {
		if !d.acceptsNull(t, part) {
			return false
		}
	}
	return true
}

// number is a bound of a schema as YAML decodes it (an int or a float).
func number(v any) (float64, bool) {
	switch v := v.(type) {
	case int:
		return float64(v), true
	case float64:
		return v, true
	}
	return 0, false
}

func listOf(v any) []string {
	l, ok := v.([]any)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(l))
	for _, e := range l {
		out = append(out, fmt.Sprint(e))
	}
	return out
}

// jsonSamples are values of the types that encode themselves, covering
// each form they write: compareGo checks their JSON against the schema.
var jsonSamples = map[reflect.Type][]any{
	reflect.TypeFor[savings.Money](): {
		savings.NewMoney(big.NewRat(31500125, 200), 2), savings.NewMoney(big.NewRat(-7, 1), 0), savings.Money{},
	},
	// Within every range the document gives a number of the initiative.
	reflect.TypeFor[savings.Num]():      {mustNum("0.035"), mustNum("0.5")},
	reflect.TypeFor[savings.Discount](): {savings.GreenBook, savings.Discount{Rate: mustNum("0.035")}, savings.Discount{}},
	// A savings explanation's figures and inputs: a number or null.
	reflect.TypeFor[json.RawMessage](): {json.RawMessage("157500.25"), json.RawMessage("0.035"), json.RawMessage("null")},
}

func mustNum(s string) savings.Num {
	n, err := savings.ParseNum(s)
	if err != nil {
		panic(err)
	}
	return n
}

var (
	timeType      = reflect.TypeFor[time.Time]()
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
)

// compareGo checks a schema against the Go type encoding/json writes for it.
// For a request body (request), the schema may require fewer fields than
// the type always writes: the handler decides what a client must send, and
// TestOpenAPIRequestBodies holds the schema to it.
func (d *openAPI) compareGo(t *testing.T, n any, typ reflect.Type, at string, request bool) {
	t.Helper()
	s := d.schema(t, n)
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	wantType := func(want string) bool {
		if s["type"] != want {
			t.Errorf("%s: Go %s is a JSON %s, the document says %v", at, typ, want, s["type"])
			return false
		}
		return true
	}
	if typ == timeType {
		if wantType("string") && s["format"] != "date-time" {
			t.Errorf("%s: a time.Time is format date-time, the document says %v", at, s["format"])
		}
		return
	}
	if samples, ok := jsonSamples[typ]; ok {
		// A type that encodes itself: what it writes fits the schema.
		for _, v := range samples {
			b, err := json.Marshal(v)
			require.NoError(t, err)
			var decoded any
			require.NoError(t, json.Unmarshal(b, &decoded))
			if ps := d.validate(t, n, decoded, at); len(ps) > 0 {
				t.Errorf("%s: Go %s writes %s: %v", at, typ, b, ps)
			}
		}
		return
	}
	if typ.Implements(jsonMarshaler) || reflect.PointerTo(typ).Implements(jsonMarshaler) ||
		typ.Implements(textMarshaler) || reflect.PointerTo(typ).Implements(textMarshaler) {
		t.Errorf("%s: %s encodes itself; teach compareGo its JSON form", at, typ)
		return
	}
	switch typ.Kind() {
	case reflect.String:
		wantType("string")
	case reflect.Bool:
		wantType("boolean")
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		wantType("integer")
	case reflect.Float32, reflect.Float64:
		wantType("number")
	case reflect.Slice, reflect.Array:
		if typ.Elem().Kind() == reflect.Uint8 {
			wantType("string") // base64
			return
		}
		if wantType("array") {
			d.compareGo(t, s["items"], typ.Elem(), at+"[]", request)
		}
	case reflect.Map:
		if !wantType("object") {
			return
		}
		if typ.Key().Kind() != reflect.String {
			t.Errorf("%s: map key %s", at, typ.Key())
		}
		if props, _ := s["properties"].(map[string]any); len(props) > 0 {
			t.Errorf("%s: a map has no fixed properties, the document lists %v", at, slices.Sorted(maps.Keys(props)))
		}
		if ap, ok := s["additionalProperties"].(map[string]any); ok {
			d.compareGo(t, ap, typ.Elem(), at+"{}", request)
		} else {
			t.Errorf("%s: a map needs additionalProperties with the value schema", at)
		}
	case reflect.Struct:
		if !wantType("object") {
			return
		}
		props, _ := s["properties"].(map[string]any)
		fields := jsonFields(typ)
		var names, required []string
		for _, f := range fields {
			names = append(names, f.name)
			if !f.omitempty {
				required = append(required, f.name)
			}
		}
		slices.Sort(names)
		slices.Sort(required)
		docRequired := listOf(s["required"])
		slices.Sort(docRequired)
		if !slices.Equal(names, slices.Sorted(maps.Keys(props))) {
			t.Errorf("%s: Go %s has fields %v, the document properties %v", at, typ, names, slices.Sorted(maps.Keys(props)))
		}
		switch {
		case request:
			for _, r := range docRequired {
				if !slices.Contains(names, r) {
					t.Errorf("%s: the document requires %s, which Go %s does not have", at, r, typ)
				}
			}
		case !slices.Equal(required, docRequired):
			t.Errorf("%s: Go %s always writes %v, the document requires %v", at, typ, required, docRequired)
		}
		for _, f := range fields {
			p, ok := props[f.name]
			if !ok {
				continue
			}
			ps := d.schema(t, p)
			// A pointer to a value written without omitempty can be null.
			canNull := f.typ.Kind() == reflect.Pointer || f.typ.Kind() == reflect.Slice ||
				f.typ.Kind() == reflect.Map || f.typ.Kind() == reflect.Interface
			wantNull := f.typ.Kind() == reflect.Pointer && !f.omitempty && f.typ.Elem().Kind() != reflect.Struct
			isNull := ps["nullable"] == true
			switch {
			case wantNull && !isNull:
				t.Errorf("%s.%s: Go %s can be null; mark it nullable", at, f.name, f.typ)
			case isNull && !canNull:
				t.Errorf("%s.%s: nullable, but Go %s is never null", at, f.name, f.typ)
			}
			d.compareGo(t, p, f.typ, at+"."+f.name, request)
		}
	default:
		t.Errorf("%s: Go %s has no JSON form compareGo knows", at, typ)
	}
}

type jsonField struct {
	name      string
	omitempty bool
	typ       reflect.Type
}

// jsonFields are the fields encoding/json writes for a struct type.
func jsonFields(typ reflect.Type) []jsonField {
	var out []jsonField
	for f := range typ.Fields() {
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		ft := f.Type
		if f.Anonymous && name == "" {
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				out = append(out, jsonFields(ft)...)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		omit := false
		for o := range strings.SplitSeq(opts, ",") {
			omit = omit || o == "omitempty" || o == "omitzero"
		}
		out = append(out, jsonField{name: name, omitempty: omit, typ: f.Type})
	}
	return out
}
