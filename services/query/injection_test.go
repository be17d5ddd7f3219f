package query_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/services/query"
)

// injections are strings that would change a query if spliced into SQL.
var injections = []string{
	`' OR 1=1 --`,
	`GBR') OR ('1'='1`,
	`GBR'; DROP TABLE observations; --`,
	`owid.co2' UNION SELECT name FROM system.tables --`,
	`1) OR 1=1 --`,
	"GBR\x00",
	`\' OR 1=1 #`,
	`$(reboot)`,
	`{{7*7}}`,
	`%27%20OR%201%3D1`,
}

// TestIntegrationInjectionInEveryParameter sends every injection string in
// every query parameter and path parameter of every data route, alone and
// beside valid values. No answer may be a 500, and the data must be intact
// afterwards: every value is a bound parameter, never SQL text.
func TestIntegrationInjectionInEveryParameter(t *testing.T) {
	f := newFixture(t, query.Config{AnalystToken: testAnalystToken})
	seedAggregate(t, f.ch)
	rec := f.send(t, http.MethodPost, "/v1/initiatives", initiativeDoc, "Authorization", "Bearer "+testAnalystToken)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	count := func() uint64 {
		var n uint64
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(t, f.ch.Conn.QueryRow(ctx, "SELECT count() FROM observations").Scan(&n))
		return n
	}
	before := count()

	valid := map[string]string{
		"indicator": "owid.co2", "geo": "ECS", "from": "2017", "to": "2018", "dims": "sex=all", "format": "json",
		"level": "country", "parent": "ECS", "by": "period", "agg": "sum", "method": "its",
		"initiatives": "nhs-dpp-england", "cost_indicator": "owid.co2",
	}
	requests := 0
	for pattern, params := range f.svc.Routes() {
		method, path, _ := strings.Cut(pattern, " ")
		if method != http.MethodGet || !strings.HasPrefix(path, "/v1/") {
			continue
		}
		for _, inj := range injections {
			// Path parameters.
			target := path
			target = strings.ReplaceAll(target, "{code}", url.PathEscape(inj))
			target = strings.ReplaceAll(target, "{id}", url.PathEscape(inj))
			if target != path {
				rec := f.get(t, target)
				require.Less(t, rec.Code, 500, "%s: %s", target, rec.Body.String())
				requests++
			}
			// Query parameters, one at a time, the others valid.
			base := strings.ReplaceAll(strings.ReplaceAll(path, "{code}", "owid.co2"), "{id}", "nhs-dpp-england")
			for _, p := range params {
				q := url.Values{}
				for _, other := range params {
					if other != p && valid[other] != "" {
						q.Set(other, valid[other])
					}
				}
				if p == "level" {
					q.Del("geo")
				}
				q.Set(p, inj)
				target := base + "?" + q.Encode()
				rec := f.get(t, target)
				require.NotEqual(t, http.StatusInternalServerError, rec.Code, "%s: %s", target, rec.Body.String())
				require.Less(t, rec.Code, 500, "%s: %s", target, rec.Body.String())
				requests++
			}
		}
	}
	require.Greater(t, requests, 100, "the routes and their parameters were found")
	require.Equal(t, before, count(), "no row changed")
	require.Equal(t, http.StatusOK, f.get(t, "/v1/series?indicator=owid.co2&geo=FRA").Code, "the table is still there")

	// A place that only looks like SQL matches no place rather than all.
	rec = f.get(t, "/v1/series?indicator=owid.co2&geo="+url.QueryEscape("FRA') OR ('1'='1"))
	if rec.Code == http.StatusOK {
		require.Zero(t, decode[query.SeriesResponse](t, rec).Count, rec.Body.String())
	} else {
		require.Equal(t, http.StatusBadRequest, rec.Code, rec.Body.String())
	}
}
