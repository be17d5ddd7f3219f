package query

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/ounce-data/ounce/pkg/feedcat"
	"github.com/ounce-data/ounce/pkg/httpapi"
	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/lifecycle"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/pkg/places"
	"github.com/ounce-data/ounce/pkg/userindicators"
	"github.com/ounce-data/ounce/schemas"
	"github.com/ounce-data/ounce/services/query/web"
)

// Service answers the query API from one ClickHouse connection pool. It
// holds no state of its own, so replicas can sit behind a load balancer.
type Service struct {
	cfg     Config
	store   *store
	cat     *indicators.Catalogue
	log     zerolog.Logger
	health  *httpapi.Health
	handler http.Handler
	routes  []route
	tokens  tokens
	fresh   *freshness
	flags   map[string]feedcat.CodeList // by source (feed id): its code list of flags

	// inds is every indicator the service knows: the catalogue and, with
	// NATS, the user indicators (users writes them, watch keeps the view
	// lookups read; both nil without NATS). Handlers look indicators up
	// through lookup, nowhere else.
	inds   userindicators.Union
	users  *userindicators.Store
	watch  *userindicators.Watcher
	mirror chan struct{} // wakes the ClickHouse mirror of the user indicators

	analystWrites   *prometheus.CounterVec
	indicatorWrites *prometheus.CounterVec
	mirrorWrites    prometheus.Counter
	mirrorErrors    prometheus.Counter
}

// New builds the service. Zero fields of cfg take their defaults; the
// metrics ounce_query_* are registered on reg, which /metrics serves.
func New(cfg Config, conn driver.Conn, cat *indicators.Catalogue, log zerolog.Logger, reg *prometheus.Registry) (*Service, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("query config: %w", err)
	}
	switch {
	case conn == nil:
		return nil, errors.New("query service: clickhouse connection is nil")
	case cat == nil:
		return nil, errors.New("query service: catalogue is nil")
	case reg == nil:
		return nil, errors.New("query service: prometheus registry is nil")
	}
	httpMetrics, err := httpapi.NewMetrics(reg, "query")
	if err != nil {
		return nil, fmt.Errorf("query service: %w", err)
	}
	if cfg.Feeds == nil {
		if cfg.Feeds, err = feedcat.Load(); err != nil {
			return nil, fmt.Errorf("query service: load feed catalogue: %w", err)
		}
	}
	if err := feedcat.CheckSources(cat, cfg.Feeds); err != nil {
		return nil, fmt.Errorf("query service: %w", err)
	}
	lists, err := feedcat.LoadFlags()
	if err == nil {
		err = feedcat.CheckFlags(cfg.Feeds, lists)
	}
	if err != nil {
		return nil, fmt.Errorf("query service: %w", err)
	}
	flags := map[string]feedcat.CodeList{}
	for _, f := range cfg.Feeds {
		if f.Flags != "" {
			flags[f.ID] = lists[f.Flags]
		}
	}
	if cfg.Places == nil {
		if cfg.Places, err = places.Load(); err != nil {
			return nil, fmt.Errorf("query service: load place catalogue: %w", err)
		}
	}
	f := promauto.With(reg)
	s := &Service{
		cfg:    cfg,
		store:  newStore(conn, f),
		cat:    cat,
		flags:  flags,
		log:    log,
		health: httpapi.NewHealth(httpapi.DefaultCheckTimeout),
		analystWrites: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "ounce",
			Subsystem: "query",
			Name:      "analyst_writes_total",
			Help:      "Initiative documents stored by analysts, by action (create, replace, delete).",
		}, []string{"action"}),
		indicatorWrites: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "ounce",
			Subsystem: "query",
			Name:      "user_indicator_writes_total",
			Help:      "User indicator documents stored by analysts, by action (create, replace, delete).",
		}, []string{"action"}),
		mirrorWrites: f.NewCounter(prometheus.CounterOpts{
			Namespace: "ounce",
			Subsystem: "query",
			Name:      "user_indicator_mirror_rows_total",
			Help:      "Rows the service wrote to the ClickHouse indicators table to mirror the user indicators' bucket.",
		}),
		mirrorErrors: f.NewCounter(prometheus.CounterOpts{
			Namespace: "ounce",
			Subsystem: "query",
			Name:      "user_indicator_mirror_errors_total",
			Help:      "Failed attempts to mirror the user indicators into ClickHouse (retried with backoff).",
		}),
		mirror: make(chan struct{}, 1),
	}
	s.inds = userindicators.Union{Catalogue: cat}
	if cfg.JetStream != nil {
		s.users = userindicators.NewStore(cfg.JetStream)
		s.watch = userindicators.NewWatcher(s.users, log.With().Str("component", "user indicators").Logger())
		s.inds.Users = s.watch
		s.watch.OnChange = s.userIndicatorsChanged
	}
	s.health.Register("clickhouse", s.store.ping)

	s.routes = []route{
		{pattern: "GET /v1/indicators", handler: http.HandlerFunc(s.indicators), watermarked: true},       // takes no parameters
		{pattern: "GET /v1/indicators/{code}", handler: http.HandlerFunc(s.indicator), watermarked: true}, // takes no parameters
		{pattern: "POST /v1/indicators", handler: http.HandlerFunc(s.createIndicator), write: true},
		{pattern: "PUT /v1/indicators/{code}", handler: http.HandlerFunc(s.putIndicator), write: true},
		{pattern: "DELETE /v1/indicators/{code}", handler: http.HandlerFunc(s.deleteIndicator), write: true},
		{pattern: "GET /v1/places", handler: http.HandlerFunc(s.places), params: placesParamNames, watermarked: true},
		{pattern: "GET /v1/series", handler: http.HandlerFunc(s.series), params: seriesParamNames, watermarked: true},
		{pattern: "GET /v1/series/history", handler: http.HandlerFunc(s.seriesHistory), params: historyParamNames, watermarked: true},
		{pattern: "GET /v1/initiatives", handler: http.HandlerFunc(s.listInitiatives), watermarked: true},
		{pattern: "POST /v1/initiatives", handler: http.HandlerFunc(s.createInitiative), write: true},
		{pattern: "GET /v1/initiatives/{id}", handler: http.HandlerFunc(s.getInitiative), watermarked: true},
		{pattern: "GET /v1/initiatives/{id}/savings", handler: http.HandlerFunc(s.savingsReport), params: reportParamNames, watermarked: true},
		{pattern: "GET /v1/initiatives/{id}/savings/explain", handler: http.HandlerFunc(s.explainSavings), params: explainSavingsParamNames, watermarked: true},
		{pattern: "GET /v1/initiatives/{id}/savings/methods", handler: http.HandlerFunc(s.savingsMethods), params: methodsParamNames, watermarked: true},
		{pattern: "POST /v1/savings", handler: http.HandlerFunc(s.whatIfSavings), params: reportParamNames},
		{pattern: "POST /v1/initiatives/{id}/savings", handler: http.HandlerFunc(s.whatIfSavings), params: reportParamNames},
		{pattern: "GET /v1/compare", handler: http.HandlerFunc(s.compare), params: compareParamNames, watermarked: true},
		{pattern: "PUT /v1/initiatives/{id}", handler: http.HandlerFunc(s.putInitiative), write: true},
		{pattern: "DELETE /v1/initiatives/{id}", handler: http.HandlerFunc(s.deleteInitiative), write: true},
		{pattern: "GET /v1/aggregate", handler: http.HandlerFunc(s.aggregate), params: aggregateParamNames, watermarked: true},
		{pattern: "GET /v1/aggregate/explain", handler: http.HandlerFunc(s.explainAggregate), params: explainParamNames, watermarked: true},
		{pattern: "GET /v1/feeds", handler: http.HandlerFunc(s.feeds)}, // takes no parameters; reads NATS, not ClickHouse
		{pattern: "GET /openapi.yaml", handler: openAPIHandler(schemas.QueryOpenAPI)},
		{pattern: "GET /metrics", handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{
			ErrorHandling: promhttp.ContinueOnError,
		})},
		{pattern: "GET /healthz", handler: http.HandlerFunc(s.health.Live)},
		{pattern: "GET /readyz", handler: http.HandlerFunc(s.health.Ready)},
	}
	s.tokens = newTokens(cfg.AnalystToken, cfg.ReadToken)
	s.fresh = newFreshness(s.store.watermark, cfg.FreshnessInterval, time.Now)
	mux := httpapi.NewMux()
	for _, rt := range s.routes {
		h := rt.handler
		if rt.watermarked {
			h = s.fresh.conditional(h)
		}
		mux.Handle(rt.pattern, s.tokens.guard(rt.accessLevel(), h))
	}
	// The web dashboard (page and assets, outside the API document).
	for _, pattern := range web.Patterns {
		mux.Handle(pattern, web.Handler())
	}
	s.handler = httpapi.RequestIDs(cfg.CORS.Middleware(httpMetrics.Middleware(mux)))
	return s, nil
}

// route is one pattern the service registers on its mux. The OpenAPI
// document schemas/openapi/query.yaml describes every route, and a test
// checks the two agree, down to the query parameters.
type route struct {
	pattern string
	handler http.Handler
	// params are the query parameters the handler understands; nil means
	// none. The /v1/ handlers refuse any other with bad_request.
	params map[string]bool
	// write marks routes that change data: they need the analyst token.
	write bool
	// watermarked marks GET routes that answer from the ClickHouse tables
	// the freshness watermark covers, so If-None-Match can be answered 304
	// from memory while it has not moved.
	watermarked bool
}

// accessLevel is who may call the route: /v1/ reads need the read token
// when one is configured, writes the analyst token; the rest is open.
func (rt route) accessLevel() access {
	switch {
	case rt.write:
		return accessWrite
	case strings.Contains(rt.pattern, " /v1/"):
		return accessRead
	}
	return accessOpen
}

// openAPIHandler serves the OpenAPI document of the API, with a strong ETag
// so that tools polling it download it only when it changed.
func openAPIHandler(doc []byte) http.HandlerFunc {
	tag := httpapi.ETag(doc)
	length := strconv.Itoa(len(doc))
	return func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("ETag", tag)
		h.Set("Cache-Control", "no-cache")
		if inm := r.Header.Get("If-None-Match"); inm != "" && httpapi.ETagMatch(inm, tag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h.Set("Content-Type", "application/yaml")
		h.Set("Content-Length", length)
		h.Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusOK)
		// A failed write means the client went away; there is no one to tell.
		_, _ = w.Write(doc)
	}
}

// Health is the readiness /readyz reports. A process that runs more
// components beside the query service (ounce dev) registers their checks
// here, so one /readyz covers them all.
func (s *Service) Health() *httpapi.Health { return s.health }

// Handler is the whole API, for serving or for tests.
func (s *Service) Handler() http.Handler { return s.handler }

// Run listens on Config.Addr and serves until ctx is cancelled, then shuts
// down gracefully: /readyz fails first, in-flight requests finish.
func (s *Service) Run(ctx context.Context) error {
	ln, err := httpapi.Listen(ctx, s.cfg.Addr, FlagAddr)
	if err != nil {
		return err
	}
	return s.Serve(ctx, ln)
}

// Serve is Run on a listener the caller opened (see httpapi.Listen), with
// the watch of the user indicators (RunUserIndicators) beside it.
func (s *Service) Serve(ctx context.Context, ln net.Listener) error {
	srv := &httpapi.Server{
		Handler:         s.handler,
		Log:             s.log,
		Health:          s.health,
		ShutdownTimeout: s.cfg.ShutdownTimeout,
	}
	return lifecycle.Run(ctx,
		lifecycle.Component{Name: "query http", Run: func(ctx context.Context) error { return srv.Serve(ctx, ln) }},
		lifecycle.Component{Name: "user indicators", Run: s.RunUserIndicators},
	)
}

// lookup is every indicator the service knows, catalogue and user, for
// the calls of one request: the one lookup handlers use. A user code the
// view lacks is read from its bucket under ctx.
func (s *Service) lookup(ctx context.Context) userindicators.Bound { return s.inds.Lookup(ctx) }

// writeCached answers with a strong ETag, or 304 when the client has it.
func (s *Service) writeCached(w http.ResponseWriter, r *http.Request, v any) {
	if err := httpapi.WriteJSONWithETag(w, r, v); err != nil {
		s.log.Error().Err(err).Str("route", r.Pattern).Str("request_id", httpapi.RequestID(r.Context())).
			Msg("encode response")
	}
}

// storeError turns a ClickHouse error into the response for the client:
// 503 unavailable when the server is unreachable, busy or too slow, 500
// internal (logged under the request id) otherwise.
func (s *Service) storeError(r *http.Request, err error) *httpapi.Error {
	id := httpapi.RequestID(r.Context())
	if r.Context().Err() != nil {
		s.log.Debug().Err(err).Str("route", r.Pattern).Str("request_id", id).Msg("client went away during query")
		return httpapi.Errorf(httpapi.CodeUnavailable, "", "the request was cancelled")
	}
	if isTransient(err) {
		s.log.Warn().Err(err).Str("route", r.Pattern).Str("request_id", id).Msg("clickhouse unavailable")
		msg := "ClickHouse is not answering; retry shortly"
		if errors.Is(err, context.DeadlineExceeded) {
			msg = fmt.Sprintf("ClickHouse did not answer within %s; retry, or narrow the request", s.cfg.QueryTimeout)
		}
		return httpapi.Errorf(httpapi.CodeUnavailable, "", "%s", msg)
	}
	s.log.Error().Err(err).Str("route", r.Pattern).Str("request_id", id).Msg("query failed")
	return httpapi.Errorf(httpapi.CodeInternal, "", "the query failed; the server log has details under request id %s", id)
}

// noParams refuses any query parameter on a route that takes none.
func (s *Service) noParams(w http.ResponseWriter, r *http.Request) bool {
	q, perr := parseQuery(r.URL.RawQuery)
	if perr == nil && len(q) > 0 {
		name := slices.Sorted(maps.Keys(q))[0]
		perr = httpapi.BadRequest(name, "unknown parameter %q; %s takes no parameters", name, r.Pattern)
	}
	if perr != nil {
		httpapi.WriteError(w, perr)
		return false
	}
	return true
}

// periodOf is the period stored as grain and period_start (Unix seconds).
func periodOf(grain string, start int64) observation.Period {
	return observation.Period{Grain: observation.Grain(grain), Start: time.Unix(start, 0).UTC()}
}
