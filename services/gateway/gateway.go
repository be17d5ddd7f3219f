package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"github.com/ounce-data/ounce/pkg/extnats"
	"github.com/ounce-data/ounce/pkg/httpapi"
	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/lifecycle"
	"github.com/ounce-data/ounce/pkg/userindicators"
	"github.com/ounce-data/ounce/schemas"
	"github.com/ounce-data/ounce/services/gateway/registry"
)

// Service is one replica of the partner gateway.
type Service struct {
	cfg      Config
	js       jetstream.JetStream
	cat      *indicators.Catalogue
	log      zerolog.Logger
	partners *registry.Cache
	// users is the live view of the indicators users registered; inds is
	// it with the catalogue, what rows are checked against.
	users   *userindicators.Watcher
	inds    userindicators.Union
	idem    jetstream.KeyValue
	batches jetstream.KeyValue
	health  *httpapi.Health
	handler http.Handler
	routes  map[string][]string
	m       *metrics

	rates    jetstream.KeyValue // every replica's shared request budgets; nil: this replica's limiters only
	limitMu  sync.Mutex
	limiters map[string]*rate.Limiter

	// atomicBatches: the observations stream takes JetStream atomic
	// batches, so an atomic push of several messages is stored whole or
	// not at all.
	atomicBatches bool
}

type metrics struct {
	pushes      *prometheus.CounterVec
	rowsOK      prometheus.Counter
	rowsBad     *prometheus.CounterVec
	duration    prometheus.Histogram
	published   prometheus.Counter
	publishFail prometheus.Counter
	// bodyTimeouts counts pushes whose body did not arrive within
	// Config.ReadTimeout (408).
	bodyTimeouts prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	return &metrics{
		pushes: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "ounce", Subsystem: "gateway", Name: "pushes_total",
			Help: "Pushes answered, by outcome: SUCCESS, WARNING, ERROR (no row accepted) or refused (an error envelope).",
		}, []string{"outcome"}),
		rowsOK: f.NewCounter(prometheus.CounterOpts{
			Namespace: "ounce", Subsystem: "gateway", Name: "rows_accepted_total",
			Help: "Rows accepted and acknowledged by JetStream (dry runs not counted).",
		}),
		rowsBad: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "ounce", Subsystem: "gateway", Name: "rows_rejected_total",
			Help: "Rows rejected, by conflict code.",
		}, []string{"code"}),
		duration: f.NewHistogram(prometheus.HistogramOpts{
			Namespace: "ounce", Subsystem: "gateway", Name: "push_duration_seconds",
			Help:    "Time from request to answer of a push, JetStream acknowledgements included.",
			Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}),
		published: f.NewCounter(prometheus.CounterOpts{
			Namespace: "ounce", Subsystem: "gateway", Name: "published_messages_total",
			Help: "Observation batch messages acknowledged by JetStream.",
		}),
		publishFail: f.NewCounter(prometheus.CounterOpts{
			Namespace: "ounce", Subsystem: "gateway", Name: "publish_errors_total",
			Help: "Pushes answered 503 because JetStream did not acknowledge every message.",
		}),
		bodyTimeouts: f.NewCounter(prometheus.CounterOpts{
			Namespace: "ounce", Subsystem: "gateway", Name: "body_read_timeouts_total",
			Help: "Pushes answered 408 because the body was not received within --read-timeout.",
		}),
	}
}

// New builds the gateway on js, whose topology (extnats.Topology.Ensure)
// must be in place. It does not read the registry until Run (or
// RunRegistry).
func New(ctx context.Context, cfg Config, js jetstream.JetStream, cat *indicators.Catalogue, log zerolog.Logger, reg *prometheus.Registry) (*Service, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("gateway config: %w", err)
	}
	switch {
	case js == nil:
		return nil, errors.New("gateway: jetstream is nil")
	case cat == nil:
		return nil, errors.New("gateway: catalogue is nil")
	case reg == nil:
		return nil, errors.New("gateway: prometheus registry is nil")
	}
	idem, err := js.KeyValue(ctx, extnats.BucketIdempotency)
	if err != nil {
		return nil, fmt.Errorf("gateway: open bucket %s: %w", extnats.BucketIdempotency, err)
	}
	batches, err := js.KeyValue(ctx, extnats.BucketBatches)
	if err != nil {
		return nil, fmt.Errorf("gateway: open bucket %s: %w", extnats.BucketBatches, err)
	}
	httpMetrics, err := httpapi.NewMetrics(reg, "gateway")
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	users := userindicators.NewWatcher(userindicators.NewStore(js), log)
	s := &Service{
		cfg: cfg, js: js, cat: cat, log: log, idem: idem, batches: batches,
		partners: registry.NewCache(),
		users:    users,
		inds:     userindicators.Union{Catalogue: cat, Users: users},
		health:   httpapi.NewHealth(httpapi.DefaultCheckTimeout),
		m:        newMetrics(reg),
		limiters: map[string]*rate.Limiter{},
	}
	if kv, err := js.KeyValue(ctx, extnats.BucketGatewayRates); err != nil {
		log.Warn().Err(err).Msg("no shared rate bucket; each replica limits keys on its own")
	} else {
		s.rates = kv
	}
	if st, err := js.Stream(ctx, extnats.StreamObservations); err != nil {
		log.Warn().Err(err).Msg("read the observations stream's config; atomic pushes of several messages are published message by message")
	} else {
		s.atomicBatches = st.CachedInfo().Config.AllowAtomicPublish
	}
	s.health.Register("partner_registry", s.partners.Ready)
	s.health.Register("user_indicators", s.users.Ready)
	s.health.Register("nats", func(ctx context.Context) error {
		if _, err := s.js.AccountInfo(ctx); err != nil {
			return fmt.Errorf("jetstream account info: %w", err)
		}
		return nil
	})

	type route struct {
		pattern string
		handler http.Handler
		params  []string // query parameters the handler understands
	}
	routes := []route{
		{pattern: "POST /v1/observations", handler: http.HandlerFunc(s.push), params: []string{"atomic", "dry_run"}},
		{pattern: "GET /v1/batches/{id}", handler: http.HandlerFunc(s.batch)},
		{pattern: "GET /openapi.yaml", handler: openAPIHandler(schemas.GatewayOpenAPI)},
		{pattern: "GET /metrics", handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})},
		{pattern: "GET /healthz", handler: http.HandlerFunc(s.health.Live)},
		{pattern: "GET /readyz", handler: http.HandlerFunc(s.health.Ready)},
	}
	mux := httpapi.NewMux()
	s.routes = map[string][]string{}
	for _, rt := range routes {
		mux.Handle(rt.pattern, rt.handler)
		s.routes[rt.pattern] = rt.params
	}
	s.handler = httpapi.RequestIDs(httpMetrics.Middleware(mux))
	return s, nil
}

// Routes maps each route pattern to the query parameters its handler
// understands, for the test that holds the OpenAPI document to the service.
func (s *Service) Routes() map[string][]string { return s.routes }

// Handler is the HTTP handler of every route.
func (s *Service) Handler() http.Handler { return s.handler }

// Health is the readiness of the service, for ounce dev to add checks to.
func (s *Service) Health() *httpapi.Health { return s.health }

// RunRegistry keeps the partner cache in step with the registry, and the
// view of the user indicators in step with their bucket, until ctx ends.
// Run does this; tests that drive Handler directly call it.
func (s *Service) RunRegistry(ctx context.Context) error {
	return lifecycle.Run(ctx,
		lifecycle.Component{Name: "partner registry", Run: func(ctx context.Context) error { return s.partners.Run(ctx, s.js) }},
		lifecycle.Component{Name: "user indicators", Run: s.users.Run},
	)
}

// WaitReady blocks until the registry and the user indicators have been
// read.
func (s *Service) WaitReady(ctx context.Context) error {
	if err := s.partners.WaitReady(ctx); err != nil {
		return err
	}
	return s.users.WaitReady(ctx)
}

// Run listens on Config.Addr and serves until ctx is cancelled.
func (s *Service) Run(ctx context.Context) error {
	ln, err := httpapi.Listen(ctx, s.cfg.Addr, FlagAddr)
	if err != nil {
		return err
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln, with the registry watch, until ctx is cancelled.
func (s *Service) Serve(ctx context.Context, ln net.Listener) error {
	srv := &httpapi.Server{Handler: s.handler, Log: s.log, Health: s.health, ShutdownTimeout: s.cfg.PublishTimeout + 5*time.Second}
	return lifecycle.Run(ctx,
		lifecycle.Component{Name: "registries", Run: s.RunRegistry},
		lifecycle.Component{Name: "gateway http", Run: func(ctx context.Context) error { return srv.Serve(ctx, ln) }},
	)
}

// openAPIHandler serves the embedded OpenAPI document with a strong ETag.
func openAPIHandler(doc []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		httpapi.WriteWithETag(w, r, "application/yaml", doc)
	}
}
