package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/httpapi"
	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/places"
	"github.com/ounce-data/ounce/pkg/testenv"
	"github.com/ounce-data/ounce/services/gateway"
	"github.com/ounce-data/ounce/services/gateway/registry"
)

// testNow is the clock of the tests: pushes happen at this instant.
var testNow = time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)

// fixture is a gateway on an embedded NATS with two partners.
type fixture struct {
	nats    *testenv.NATS
	svc     *gateway.Service
	h       http.Handler
	reg     *registry.Registry
	cat     *indicators.Catalogue
	keyA    string // partner "clinic-a": who.NCD_PAA and SP.POP.TOTL in GBR and GB-MAN
	keyB    string // partner "council-b": who.NCD_PAA in FRA
	metrics *prometheus.Registry
	logs    *testenv.SyncBuffer // the gateway's log lines, JSON
}

func newFixture(t testing.TB, cfg gateway.Config) *fixture {
	t.Helper()
	ns := testenv.StartNATS(t)
	return newFixtureOn(t, ns, cfg)
}

func newFixtureOn(t testing.TB, ns *testenv.NATS, cfg gateway.Config) *fixture {
	t.Helper()
	ctx := context.Background()
	cat, err := indicators.Load()
	require.NoError(t, err)
	pl, err := places.Load()
	require.NoError(t, err)
	reg, err := registry.Open(ctx, ns.JS)
	require.NoError(t, err)
	_, keyA, err := reg.Add(ctx, registry.Spec{ID: "clinic-a", Name: "Clinic A", Indicators: []string{"who.NCD_PAA", "SP.POP.TOTL"},
		Places: []string{"GBR", "GB-MAN"}, Licence: "CC BY 4.0"}, cat, pl)
	require.NoError(t, err)
	_, keyB, err := reg.Add(ctx, registry.Spec{ID: "council-b", Name: "Council B", Indicators: []string{"who.NCD_PAA"},
		Places: []string{"FRA"}, Licence: "CC BY 4.0"}, cat, pl)
	require.NoError(t, err)
	m := prometheus.NewRegistry()
	logs := &testenv.SyncBuffer{}
	svc := startGateway(t, ns, cat, cfg, m, zerolog.New(logs))
	return &fixture{nats: ns, svc: svc, h: svc.Handler(), reg: reg, cat: cat, keyA: keyA, keyB: keyB, metrics: m, logs: logs}
}

// startReplica starts another gateway on f's NATS, as a second replica
// behind a load balancer would be, and returns its handler.
func startReplica(t testing.TB, f *fixture, cfg gateway.Config) http.Handler {
	t.Helper()
	return startGateway(t, f.nats, f.cat, cfg, prometheus.NewRegistry(), zerolog.Nop()).Handler()
}

// startGateway runs a gateway on ns until the test ends, with the test
// clock and, unless cfg sets one, no effective rate limit.
func startGateway(t testing.TB, ns *testenv.NATS, cat *indicators.Catalogue, cfg gateway.Config, m *prometheus.Registry, log zerolog.Logger) *gateway.Service {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if cfg.RateLimit == 0 {
		cfg.RateLimit, cfg.RateBurst = 1e6, 1e6
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return testNow }
	}
	svc, err := gateway.New(ctx, cfg, ns.JS, cat, log, m)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- svc.RunRegistry(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	require.NoError(t, svc.WaitReady(wctx))
	return svc
}

// push sends body to POST /v1/observations?query with key and headers
// given as name, value pairs.
func (f *fixture) push(t testing.TB, key, contentType, query string, body []byte, headers ...string) *httptest.ResponseRecorder {
	t.Helper()
	target := "/v1/observations"
	if query != "" {
		target += "?" + query
	}
	req := httptest.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	return rec
}

func (f *fixture) get(t testing.TB, key, target string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	return rec
}

// streamMessages is how many messages the OBS stream holds.
func (f *fixture) streamMessages(t testing.TB) uint64 {
	t.Helper()
	s, err := f.nats.JS.Stream(context.Background(), "OBS")
	require.NoError(t, err)
	info, err := s.Info(context.Background())
	require.NoError(t, err)
	return info.State.Msgs
}

func summary(t testing.TB, rec *httptest.ResponseRecorder) gateway.ImportSummary {
	t.Helper()
	var s gateway.ImportSummary
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&s), rec.Body.String())
	return s
}

func envelope(t testing.TB, rec *httptest.ResponseRecorder) *httpapi.Error {
	t.Helper()
	var env httpapi.Envelope
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &env), rec.Body.String())
	require.NotNil(t, env.Error, rec.Body.String())
	return env.Error
}

// jsonBody wraps rows in {"observations": [...]}.
func jsonBody(rows ...string) []byte {
	var b bytes.Buffer
	b.WriteString(`{"observations":[`)
	for i, r := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(r)
	}
	b.WriteString("]}")
	return b.Bytes()
}
