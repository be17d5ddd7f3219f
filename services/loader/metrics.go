package loader

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

type metrics struct {
	rowsInserted    prometheus.Counter
	batchesInserted prometheus.Counter
	insertDuration  prometheus.Histogram
	insertErrors    prometheus.Counter
	messagesAcked   prometheus.Counter
	deadLettered    *prometheus.CounterVec
	rejected        *prometheus.CounterVec
	consumerPending prometheus.Gauge
	consumerAckPend prometheus.Gauge
	lastCommitted   prometheus.Gauge
	commitLag       prometheus.Histogram
	clickhouseUp    prometheus.Gauge
	openBatchRows   prometheus.Gauge
	flushes         *prometheus.CounterVec
}

// Why a batch was handed to the inserter (label reason of
// ounce_loader_flushes_total).
const (
	flushFull     = "full"      // BatchRows or BatchBytes reached
	flushInterval = "interval"  // its first message FlushInterval old
	flushCaughtUp = "caught_up" // the stream had nothing more to deliver
	flushDrain    = "drain"     // shutting down
)

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	return &metrics{
		rowsInserted: f.NewCounter(prometheus.CounterOpts{
			Name: "ounce_loader_rows_inserted_total", Help: "Observations inserted into ClickHouse.",
		}),
		batchesInserted: f.NewCounter(prometheus.CounterOpts{
			Name: "ounce_loader_batches_inserted_total", Help: "INSERTs into ClickHouse that succeeded.",
		}),
		insertDuration: f.NewHistogram(prometheus.HistogramOpts{
			Name: "ounce_loader_insert_duration_seconds", Help: "Duration of one batch INSERT into ClickHouse.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}),
		insertErrors: f.NewCounter(prometheus.CounterOpts{
			Name: "ounce_loader_insert_errors_total", Help: "INSERTs into ClickHouse that failed.",
		}),
		messagesAcked: f.NewCounter(prometheus.CounterOpts{
			Name: "ounce_loader_messages_acked_total", Help: "JetStream messages acked after their rows were committed.",
		}),
		deadLettered: f.NewCounterVec(prometheus.CounterOpts{
			Name: "ounce_loader_dead_lettered_messages_total", Help: "Messages published to the dead-letter stream, by kind.",
		}, []string{"kind"}),
		rejected: f.NewCounterVec(prometheus.CounterOpts{
			Name: "ounce_loader_rejected_observations_total", Help: "Observations that failed validation and were dead-lettered, by reason.",
		}, []string{"reason"}),
		consumerPending: f.NewGauge(prometheus.GaugeOpts{
			Name: "ounce_loader_consumer_pending_messages", Help: "Messages in the stream not yet delivered to the loader consumer (lag).",
		}),
		consumerAckPend: f.NewGauge(prometheus.GaugeOpts{
			Name: "ounce_loader_consumer_ack_pending_messages", Help: "Messages delivered to the loader and not yet acked.",
		}),
		lastCommitted: f.NewGauge(prometheus.GaugeOpts{
			Name: "ounce_loader_last_committed_timestamp_seconds", Help: "Highest stream publish time of a message whose rows are committed.",
		}),
		commitLag: f.NewHistogram(prometheus.HistogramOpts{
			Name: "ounce_loader_commit_lag_seconds", Help: "Time from a message's publish to JetStream to its rows being committed in ClickHouse (queryable).",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 16),
		}),
		clickhouseUp: f.NewGauge(prometheus.GaugeOpts{
			Name: "ounce_loader_clickhouse_up", Help: "1 when the last ClickHouse insert or ping succeeded.",
		}),
		openBatchRows: f.NewGauge(prometheus.GaugeOpts{
			Name: "ounce_loader_open_batch_rows", Help: "Rows in the batch being collected.",
		}),
		flushes: f.NewCounterVec(prometheus.CounterOpts{
			Name: "ounce_loader_flushes_total", Help: "Batches handed to the inserter, by reason: full, interval, caught_up (the stream had nothing more to deliver) or drain.",
		}, []string{"reason"}),
	}
}
