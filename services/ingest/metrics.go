package ingest

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/ounce-data/ounce/pkg/feedstatus"
	"github.com/ounce-data/ounce/pkg/observation"
)

// Results of a feed run, the values of the result label and of the
// status record's result.
const (
	ResultSuccess     = feedstatus.ResultSuccess
	ResultNotModified = feedstatus.ResultNotModified
	ResultError       = feedstatus.ResultError
)

type metrics struct {
	published   *prometheus.CounterVec
	duplicates  *prometheus.CounterVec
	runs        *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	lastSuccess *prometheus.GaugeVec

	lastAttempt         *prometheus.GaugeVec
	lastRunRows         *prometheus.GaugeVec
	lastRunObservations *prometheus.GaugeVec
	lastRunDuration     *prometheus.GaugeVec
	consecutiveFailures *prometheus.GaugeVec
	nextRun             *prometheus.GaugeVec
	leaseHeld           *prometheus.GaugeVec
	leaseConflicts      *prometheus.CounterVec
	partial             *prometheus.GaugeVec
	flagged             *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer, feedIDs []string) *metrics {
	f := promauto.With(reg)
	m := &metrics{
		published: f.NewCounterVec(prometheus.CounterOpts{
			Name: "ounce_ingest_observations_published_total",
			Help: "Observations published to JetStream and stored as new (not duplicates), by feed.",
		}, []string{"feed"}),
		duplicates: f.NewCounterVec(prometheus.CounterOpts{
			Name: "ounce_ingest_duplicate_messages_total",
			Help: "Published messages JetStream acknowledged as duplicates of a message already stored, by feed.",
		}, []string{"feed"}),
		runs: f.NewCounterVec(prometheus.CounterOpts{
			Name: "ounce_ingest_feed_runs_total",
			Help: "Feed runs by feed and result (success, not_modified, error).",
		}, []string{"feed", "result"}),
		duration: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ounce_ingest_feed_duration_seconds",
			Help:    "Duration of one feed run: fetch, parse and publish until every PubAck arrived.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 14), // 50ms .. ~7min
		}, []string{"feed"}),
		lastSuccess: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ounce_ingest_feed_last_success_timestamp_seconds",
			Help: "Unix time of the feed's last successful run (fresh data or not modified).",
		}, []string{"feed"}),
		lastAttempt: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ounce_ingest_feed_last_run_timestamp_seconds",
			Help: "Unix time at which this worker last started a run of the feed, whatever its result.",
		}, []string{"feed"}),
		lastRunRows: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ounce_ingest_feed_last_run_rows",
			Help: "Source rows read by this worker's last run of the feed.",
		}, []string{"feed"}),
		lastRunObservations: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ounce_ingest_feed_last_run_observations",
			Help: "Observations published by this worker's last run of the feed.",
		}, []string{"feed"}),
		lastRunDuration: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ounce_ingest_feed_last_run_duration_seconds",
			Help: "Duration of this worker's last run of the feed.",
		}, []string{"feed"}),
		consecutiveFailures: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ounce_ingest_feed_consecutive_failures",
			Help: "Failed runs of the feed since its last success, as of this worker's last run of it.",
		}, []string{"feed"}),
		nextRun: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ounce_ingest_feed_next_check_timestamp_seconds",
			Help: "Unix time at which this worker next looks at the feed: runs it when due and its lease is free.",
		}, []string{"feed"}),
		leaseHeld: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ounce_ingest_feed_lease_held",
			Help: "1 while this worker holds the feed's lease, else 0.",
		}, []string{"feed"}),
		leaseConflicts: f.NewCounterVec(prometheus.CounterOpts{
			Name: "ounce_ingest_feed_lease_conflicts_total",
			Help: "Times this worker found the feed's lease held by another worker.",
		}, []string{"feed"}),
		partial: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ounce_ingest_feed_partial",
			Help: "1 when this worker's last successful run of the feed got less than the source declares (a first page of several), else 0.",
		}, []string{"feed"}),
		flagged: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ounce_ingest_feed_flagged_observations",
			Help: "Observations of this worker's last successful run of the feed that a data-quality rule flagged, by code (out_of_range, exceeds_whole, period_out_of_range, outlier); they are stored with their codes.",
		}, []string{"feed", "code"}),
	}
	// Every series exists from the start, so rates and absence alerts work.
	for _, id := range feedIDs {
		m.published.WithLabelValues(id)
		m.duplicates.WithLabelValues(id)
		for _, r := range []string{ResultSuccess, ResultNotModified, ResultError} {
			m.runs.WithLabelValues(id, r)
		}
		m.duration.WithLabelValues(id)
		m.leaseHeld.WithLabelValues(id)
		m.partial.WithLabelValues(id)
		for _, code := range observation.QualityCodes {
			m.flagged.WithLabelValues(id, code)
		}
		m.nextRun.WithLabelValues(id)
		m.leaseConflicts.WithLabelValues(id)
	}
	return m
}
