package query

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/ounce-data/ounce/pkg/catalogue"
	"github.com/ounce-data/ounce/pkg/feedcat"
	"github.com/ounce-data/ounce/pkg/httpapi"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/schemas"
	"github.com/ounce-data/ounce/services/query/web"
)

// Service answers the query API from one ClickHouse connection pool. It
// holds no state of its own, so replicas can sit behind a load balancer.
type Service struct {
	cfg     Config
	conn    driver.Conn
	cat     *catalogue.Catalogue
	log     zerolog.Logger
	health  *httpapi.Health
	handler http.Handler
	routes  []route
	tokens  tokens
	fresh   *freshness

	chDuration    *prometheus.HistogramVec
	chErrors      *prometheus.CounterVec
	clientAborts  *prometheus.CounterVec
	analystWrites *prometheus.CounterVec
}

// New builds the service. Zero fields of cfg take their defaults; the
// metrics ounce_query_* are registered on reg, which /metrics serves.
func New(cfg Config, conn driver.Conn, cat *catalogue.Catalogue, log zerolog.Logger, reg *prometheus.Registry) (*Service, error) {
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
	f := promauto.With(reg)
	s := &Service{
		cfg:    cfg,
		conn:   conn,
		cat:    cat,
		log:    log,
		health: httpapi.NewHealth(httpapi.DefaultCheckTimeout),
		chDuration: f.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "ounce",
			Subsystem: "query",
			Name:      "clickhouse_query_duration_seconds",
			Help:      "Time ClickHouse took to answer a query of the API, by query.",
			Buckets:   []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}, []string{"query"}),
		chErrors: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "ounce",
			Subsystem: "query",
			Name:      "clickhouse_errors_total",
			Help:      "ClickHouse queries of the API that failed, by query; a query stopped because its client went away is counted in client_aborts_total instead.",
		}, []string{"query"}),
		clientAborts: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "ounce",
			Subsystem: "query",
			Name:      "client_aborts_total",
			Help:      "ClickHouse queries of the API stopped because the client closed the request, by query.",
		}, []string{"query"}),
		analystWrites: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "ounce",
			Subsystem: "query",
			Name:      "analyst_writes_total",
			Help:      "Initiative documents stored by analysts, by action (create, replace, delete).",
		}, []string{"action"}),
	}
	s.health.Register("clickhouse", func(ctx context.Context) error {
		if err := conn.Ping(ctx); err != nil {
			return fmt.Errorf("ping clickhouse: %w", err)
		}
		return nil
	})

	s.routes = []route{
		{pattern: "GET /v1/indicators", handler: http.HandlerFunc(s.indicators), watermarked: true},       // takes no parameters
		{pattern: "GET /v1/indicators/{code}", handler: http.HandlerFunc(s.indicator), watermarked: true}, // takes no parameters
		{pattern: "GET /v1/places", handler: http.HandlerFunc(s.places), params: placesParamNames, watermarked: true},
		{pattern: "GET /v1/series", handler: http.HandlerFunc(s.series), params: seriesParamNames, watermarked: true},
		{pattern: "GET /v1/initiatives", handler: http.HandlerFunc(s.listInitiatives), watermarked: true},
		{pattern: "POST /v1/initiatives", handler: http.HandlerFunc(s.createInitiative), write: true},
		{pattern: "GET /v1/initiatives/{id}", handler: http.HandlerFunc(s.getInitiative), watermarked: true},
		{pattern: "GET /v1/initiatives/{id}/savings", handler: http.HandlerFunc(s.savingsReport), params: savingsParamNames, watermarked: true},
		{pattern: "GET /v1/compare", handler: http.HandlerFunc(s.compare), params: compareParamNames, watermarked: true},
		{pattern: "PUT /v1/initiatives/{id}", handler: http.HandlerFunc(s.putInitiative), write: true},
		{pattern: "DELETE /v1/initiatives/{id}", handler: http.HandlerFunc(s.deleteInitiative), write: true},
		{pattern: "GET /v1/aggregate", handler: http.HandlerFunc(s.aggregate), params: aggregateParamNames, watermarked: true},
		{pattern: "GET /v1/feeds", handler: http.HandlerFunc(s.feeds)}, // takes no parameters; reads NATS, not ClickHouse
		{pattern: "GET /openapi.yaml", handler: openAPIHandler(schemas.QueryOpenAPI)},
		{pattern: "GET /metrics", handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{
			ErrorHandling: promhttp.ContinueOnError,
		})},
		{pattern: "GET /healthz", handler: http.HandlerFunc(s.health.Live)},
		{pattern: "GET /readyz", handler: http.HandlerFunc(s.health.Ready)},
	}
	s.tokens = newTokens(cfg.AnalystToken, cfg.ReadToken)
	s.fresh = newFreshness(conn, cfg.FreshnessInterval)
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

// Serve is Run on a listener the caller opened (see httpapi.Listen).
func (s *Service) Serve(ctx context.Context, ln net.Listener) error {
	srv := &httpapi.Server{
		Handler:         s.handler,
		Log:             s.log,
		Health:          s.health,
		ShutdownTimeout: s.cfg.ShutdownTimeout,
	}
	return srv.Serve(ctx, ln)
}

// IndicatorsResponse is the body of GET /v1/indicators.
type IndicatorsResponse struct {
	Indicators []IndicatorEntry `json:"indicators"`
	Count      int              `json:"count"`
}

// IndicatorEntry is one catalogue entry with what is stored for it.
type IndicatorEntry struct {
	Code        string             `json:"code"`
	Name        string             `json:"name"`
	Unit        string             `json:"unit"`
	Polarity    catalogue.Polarity `json:"polarity"`
	Domain      string             `json:"domain"`
	Description string             `json:"description,omitempty"`
	Producer    string             `json:"producer"`
	URL         string             `json:"url"`
	Licence     string             `json:"licence"`
	Cadence     string             `json:"cadence"`
	Ratio       *catalogue.Ratio   `json:"ratio,omitempty"`
	Coverage    Coverage           `json:"coverage"`
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

func (s *Service) indicators(w http.ResponseWriter, r *http.Request) {
	if !s.noParams(w, r) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	start := time.Now()
	cov, err := readCoverage(ctx, s.conn, "")
	s.chDuration.WithLabelValues("coverage").Observe(time.Since(start).Seconds())
	if err != nil {
		s.countStoreError(r.Context(), "coverage")
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

// indicatorEntry is a catalogue entry with its coverage in cov, if any.
func indicatorEntry(ind catalogue.Indicator, cov map[string]coverageRow) IndicatorEntry {
	e := IndicatorEntry{
		Code: ind.Code, Name: ind.Name, Unit: ind.Unit, Polarity: ind.Polarity, Domain: ind.Domain,
		Description: ind.Description, Producer: ind.Producer, URL: ind.URL, Licence: ind.Licence, Cadence: ind.Cadence,
		Ratio: ind.Ratio,
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
	start := time.Now()
	cov, err := readCoverage(ctx, s.conn, ind.Code)
	s.chDuration.WithLabelValues("coverage").Observe(time.Since(start).Seconds())
	if err != nil {
		s.countStoreError(r.Context(), "coverage")
		httpapi.WriteError(w, s.storeError(r, err))
		return
	}
	s.writeCached(w, r, indicatorEntry(*ind, cov))
}

// SeriesResponse is the body of GET /v1/series.
type SeriesResponse struct {
	Indicator IndicatorRef `json:"indicator"`
	Series    []Series     `json:"series"`
	Count     int          `json:"count"` // points over all series
}

// IndicatorRef names the indicator of a series response.
type IndicatorRef struct {
	Code     string             `json:"code"`
	Name     string             `json:"name"`
	Unit     string             `json:"unit"`
	Polarity catalogue.Polarity `json:"polarity"`
}

// Series is the points of one place and breakdown, in period order.
type Series struct {
	Geo    string           `json:"geo"`
	Dims   observation.Dims `json:"dims"`
	Points []Point          `json:"points"`
}

// Point is one value and where it came from.
type Point struct {
	Period     string     `json:"period"` // period code: 2018, 2018-Q1, 2018-03, 2018-03-05, 2019-08-25T12:30Z
	Start      string     `json:"start"`  // first day (or instant, for half hours) of the period
	Value      *float64   `json:"value"`
	Unit       string     `json:"unit"`
	Source     string     `json:"source"`
	Version    uint64     `json:"version"`
	Provenance Provenance `json:"provenance"`
}

// Provenance says where a value came from.
type Provenance struct {
	URL         string    `json:"url"`
	Licence     string    `json:"licence"`
	RetrievedAt time.Time `json:"retrieved_at"`
}

func (s *Service) series(w http.ResponseWriter, r *http.Request) {
	q, perr := parseQuery(r.URL.RawQuery)
	if perr != nil {
		httpapi.WriteError(w, perr)
		return
	}
	p, perr := parseSeriesParams(q, s.cat, s.cfg.MaxGeos)
	if perr != nil {
		httpapi.WriteError(w, perr)
		return
	}
	limit, perr := rowLimit(q, s.cfg)
	if perr != nil {
		httpapi.WriteError(w, perr)
		return
	}
	form, perr := negotiateFormat(r, q)
	if perr != nil {
		httpapi.WriteError(w, perr)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	start := time.Now()
	rows, err := readSeries(ctx, s.conn, p, limit+1)
	s.chDuration.WithLabelValues("series").Observe(time.Since(start).Seconds())
	if err != nil {
		s.countStoreError(r.Context(), "series")
		httpapi.WriteError(w, s.storeError(r, err))
		return
	}
	if len(rows) > limit {
		httpapi.WriteError(w, tooManyRows("the request matches", limit, s.cfg))
		return
	}
	resp := buildSeries(p, rows)
	if form == formatCSV {
		httpapi.WriteWithETag(w, r, httpapi.ContentTypeCSV, seriesCSV(resp))
		return
	}
	s.writeCached(w, r, resp)
}

// seriesCSV is a series response as one CSV row per point, provenance
// included, for spreadsheets.
func seriesCSV(resp SeriesResponse) []byte {
	t := newCSVTable("indicator", "geo", "dims", "period", "start", "value", "unit", "source", "version",
		"source_url", "licence", "retrieved_at")
	for _, se := range resp.Series {
		dims := se.Dims.Canonical()
		for _, pt := range se.Points {
			t.row(resp.Indicator.Code, se.Geo, dims, pt.Period, pt.Start, formatFloat(pt.Value), pt.Unit, pt.Source,
				strconv.FormatUint(pt.Version, 10), pt.Provenance.URL, pt.Provenance.Licence,
				pt.Provenance.RetrievedAt.Format(time.RFC3339))
		}
	}
	return t.bytes()
}

// buildSeries groups rows, ordered by geo, dims and period, into series.
func buildSeries(p seriesParams, rows []seriesRow) SeriesResponse {
	resp := SeriesResponse{
		Indicator: IndicatorRef{Code: p.Indicator.Code, Name: p.Indicator.Name, Unit: p.Indicator.Unit, Polarity: p.Indicator.Polarity},
		Series:    []Series{},
		Count:     len(rows),
	}
	var cur *Series
	var curDims string
	for i := range rows {
		row := &rows[i]
		if cur == nil || row.Geo != cur.Geo || row.Dims != curDims {
			dims, err := observation.ParseDims(row.Dims)
			if err != nil || dims == nil {
				// Stored dims were canonical when written; show the raw form
				// rather than drop the series if that ever changes.
				dims = observation.Dims{}
				if err != nil {
					dims["_raw"] = row.Dims
				}
			}
			resp.Series = append(resp.Series, Series{Geo: row.Geo, Dims: dims})
			cur = &resp.Series[len(resp.Series)-1]
			curDims = row.Dims
		}
		per := periodOf(row.Grain, row.PeriodStart)
		pt := Point{
			Period:  per.Code(),
			Start:   startOf(per),
			Unit:    row.Unit,
			Source:  row.Source,
			Version: row.Version,
			Provenance: Provenance{
				URL:         row.URL,
				Licence:     row.Licence,
				RetrievedAt: row.RetrievedAt.UTC(),
			},
		}
		if !math.IsNaN(row.Value) && !math.IsInf(row.Value, 0) {
			v := row.Value
			pt.Value = &v
		}
		cur.Points = append(cur.Points, pt)
	}
	return resp
}

func periodOf(grain string, start int64) observation.Period {
	return observation.Period{Grain: observation.Grain(grain), Start: time.Unix(start, 0).UTC()}
}

func startOf(p observation.Period) string {
	if p.Grain == observation.GrainHalfHour {
		return p.Start.Format(time.RFC3339)
	}
	return p.Start.Format(time.DateOnly)
}

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
// countStoreError counts a failed ClickHouse query of the API: as a
// ClickHouse error, or as a client abort when ctx (the request's) was
// cancelled because the client went away — not ClickHouse's fault, and no
// reason to page anyone.
func (s *Service) countStoreError(ctx context.Context, query string) {
	if errors.Is(ctx.Err(), context.Canceled) {
		s.clientAborts.WithLabelValues(query).Inc()
		return
	}
	s.chErrors.WithLabelValues(query).Inc()
}

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
