package gateway_test

import (
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/ounce-data/ounce/schemas"
	"github.com/ounce-data/ounce/services/gateway"
)

// TestOpenAPIMatchesHandlers holds schemas/openapi/gateway.yaml to the
// service: the same routes, the same query parameters, the conflict codes
// of the Go code, and the document served at /openapi.yaml.
func TestOpenAPIMatchesHandlers(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Name string `yaml:"name"`
				In   string `yaml:"in"`
			} `yaml:"parameters"`
			Responses map[string]any `yaml:"responses"`
		} `yaml:"paths"`
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Enum []string `yaml:"enum"`
				} `yaml:"properties"`
			} `yaml:"schemas"`
		} `yaml:"components"`
	}
	require.NoError(t, yaml.Unmarshal(schemas.GatewayOpenAPI, &doc))
	f := newFixture(t, gateway.Config{})
	documented := map[string][]string{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			params := []string{}
			for _, p := range op.Parameters {
				if p.In == "query" {
					params = append(params, p.Name)
				}
			}
			slices.Sort(params)
			documented[strings.ToUpper(method)+" "+path] = params
			require.NotEmpty(t, op.Responses, "%s %s documents its responses", method, path)
		}
	}
	routes := map[string][]string{}
	for pattern, params := range f.svc.Routes() {
		routes[pattern] = append([]string{}, params...)
		slices.Sort(routes[pattern])
	}
	require.Equal(t, routes, documented, "routes and query parameters of the service vs. the document")
	require.ElementsMatch(t, gateway.ConflictCodes, doc.Components.Schemas["Conflict"].Properties["code"].Enum)

	// Statuses the push tests produce are all documented.
	push := doc.Paths["/v1/observations"]["post"].Responses
	for _, status := range []string{"200", "400", "401", "403", "409", "413", "415", "422", "429", "503"} {
		require.Contains(t, slices.Collect(maps.Keys(push)), status)
	}

	rec := f.get(t, "", "/openapi.yaml")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "application/yaml", rec.Header().Get("Content-Type"))
	require.Equal(t, schemas.GatewayOpenAPI, rec.Body.Bytes())
}
