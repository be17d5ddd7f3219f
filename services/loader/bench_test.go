package loader

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/extch"
	"github.com/ounce-data/ounce/pkg/extnats"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/pkg/testenv"
)

// BenchmarkLoaderVersusRawInsert loads the same observations twice on the same
// server in the same run: once with a bare clickhouse-go columnar batch insert
// (the ceiling), once through JetStream and the ounce-loader binary. It
// reports both rates, their ratio, and the loader's peak resident memory.
//
//	make bench   (or: go test -run '^$' -bench LoaderVersusRaw -benchtime 1x ./services/loader)
func BenchmarkLoaderVersusRawInsert(b *testing.B) {
	const total = 500_000
	obs := synthetic(total, "XR", 1)
	bin := buildLoaderB(b)
	for i := 0; i < b.N; i++ {
		// A fresh server per iteration: its own stream, consumer and
		// duplicate window, so no iteration sees another's messages.
		ns := testenv.StartNATS(b)
		raw := testenv.StartClickHouse(b)
		start := time.Now()
		var cols extch.Columns
		for lo := 0; lo < total; lo += DefaultBatchRows {
			cols.Reset()
			for j := lo; j < min(lo+DefaultBatchRows, total); j++ {
				cols.Add(&obs[j], "raw")
			}
			require.NoError(b, cols.Insert(context.Background(), raw.Conn))
		}
		rawRate := total / time.Since(start).Seconds()

		ch := testenv.StartClickHouse(b)
		// Messages as ingest and the gateway publish them by default.
		publishSized(b, ns.JS, obs, observation.DefaultMaxBatchBytes)
		p := startProcB(b, bin, ns.Client, ch.DSN)
		// The clock starts when the process serves /metrics: its consumer
		// starts pulling at the same moment; process start-up is not counted.
		require.Eventually(b, func() bool { _, ok := p.metric("ounce_loader_open_batch_rows"); return ok }, time.Minute, time.Millisecond)
		startAt := time.Now()
		var peakRSS float64
		require.Eventually(b, func() bool {
			// One scrape per poll, 20 a second: each costs the loader CPU
			// (the process collector reads /proc), which would be counted
			// against its throughput.
			m := p.metrics("process_resident_memory_bytes", "ounce_loader_rows_inserted_total")
			peakRSS = max(peakRSS, m["process_resident_memory_bytes"])
			return m["ounce_loader_rows_inserted_total"] >= total
		}, 10*time.Minute, 50*time.Millisecond)
		loaderRate := total / time.Since(startAt).Seconds()
		n, _ := countFinal(b, ch.Conn)
		require.EqualValues(b, total, n)
		p.stop()

		b.ReportMetric(rawRate, "raw_obs/s")
		b.ReportMetric(loaderRate, "loader_obs/s")
		b.ReportMetric(loaderRate/rawRate, "loader/raw")
		b.ReportMetric(peakRSS/(1<<20), "loader_peak_rss_MiB")
		b.Logf("raw clickhouse-go insert %.0f obs/s; loader from JetStream %.0f obs/s; ratio %.2f; loader peak RSS %.0f MiB",
			rawRate, loaderRate, loaderRate/rawRate, peakRSS/(1<<20))
	}
}

// BenchmarkHistoryCost measures what keeping every version costs the
// loader's sink: the same 500 000 observations inserted in the loader's
// batches into a database whose observations feed observation_versions
// (the default) and into one whose view is dropped, alternately on the same
// server, so that both see the same machine.
//
//	go test -run '^$' -bench HistoryCost -benchtime 5x ./services/loader
func BenchmarkHistoryCost(b *testing.B) {
	const total = 500_000
	obs := synthetic(total, "XH", 1)
	insertAll := func(ch *testenv.ClickHouse) float64 {
		start := time.Now()
		var cols extch.Columns
		for lo := 0; lo < total; lo += DefaultBatchRows {
			cols.Reset()
			for j := lo; j < min(lo+DefaultBatchRows, total); j++ {
				cols.Add(&obs[j], "bench")
			}
			require.NoError(b, cols.Insert(context.Background(), ch.Conn))
		}
		return total / time.Since(start).Seconds()
	}
	var with, without []float64
	for i := 0; i < b.N; i++ {
		kept := testenv.StartClickHouse(b)
		with = append(with, insertAll(kept))
		var versions uint64
		require.NoError(b, kept.Conn.QueryRow(context.Background(), "SELECT count() FROM observation_versions").Scan(&versions))
		require.EqualValues(b, total, versions, "every version is kept")

		bare := testenv.StartClickHouse(b)
		require.NoError(b, bare.Conn.Exec(context.Background(), "DROP TABLE observation_versions_feed"))
		without = append(without, insertAll(bare))
	}
	mw, mo := median(with), median(without)
	b.ReportMetric(mw, "with_history_obs/s")
	b.ReportMetric(mo, "without_history_obs/s")
	b.ReportMetric(1-mw/mo, "history_cost")
	b.Logf("insert with observation_versions %.0f obs/s, without %.0f obs/s (medians of %d): the history costs %.0f %% of the sink's throughput",
		mw, mo, b.N, 100*(1-mw/mo))
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// BenchmarkDecodeBatch measures the loader's per-message work: decode and
// validate one 900 KiB batch.
func BenchmarkDecodeBatch(b *testing.B) {
	msgs, err := observation.Encode("bench", synthetic(20_000, "XB", 1), 0)
	require.NoError(b, err)
	data := msgs[0].Data
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var dec observation.Decoder
	for b.Loop() {
		batch, _, err := decode(&dec, data)
		if err != nil {
			b.Fatal(err)
		}
		for i := range batch.Observations {
			if err := batch.Observations[i].Validate(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkPartnerLoadRounds loads a partner's history in rounds, as a
// partner pushing every month would: each round is 100 000 new rows of the
// same indicator and places, one period further on, so the stored history
// grows by 100 000 rows a round. The time from publishing a round to its
// last load report (classification included) should not grow with it. It
// reports the first and last round's time and their ratio.
//
//	go test -run '^$' -bench PartnerLoadRounds -benchtime 1x ./services/loader
func BenchmarkPartnerLoadRounds(b *testing.B) {
	const (
		rounds       = 10
		rowsPerRound = 100_000
		places       = 1_000
	)
	for i := 0; i < b.N; i++ {
		ns := testenv.StartNATS(b)
		ch := testenv.StartClickHouse(b)
		l, err := New(Config{}, ns.JS, ch.Conn, zerolog.Nop(), prometheus.NewRegistry())
		require.NoError(b, err)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- l.Run(ctx) }()
		kv, err := ns.JS.KeyValue(context.Background(), extnats.BucketBatches)
		require.NoError(b, err)

		var took []time.Duration
		for r := 0; r < rounds; r++ {
			obs := make([]observation.Observation, rowsPerRound)
			retrieved := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			for j := range obs {
				obs[j] = observation.Observation{
					Indicator: testIndicator, Geo: fmt.Sprintf("XP%d", j%places),
					Period: observation.Year(1000 + r*(rowsPerRound/places) + j/places),
					Value:  observation.Float(float64(j)), Unit: "t CO2/person", Source: "partner:bench", Version: uint64(r + 1),
					Provenance: observation.Provenance{URL: "https://example.invalid/bench", Licence: "CC0", RetrievedAt: retrieved},
				}
			}
			batchID := fmt.Sprintf("round-%d", r)
			msgs, err := observation.Encode(batchID, obs, observation.DefaultMaxBatchBytes)
			require.NoError(b, err)
			start := time.Now()
			for _, m := range msgs {
				_, err := ns.JS.Publish(context.Background(), "obs.v1.partner.bench", m.Data, jetstream.WithMsgID(m.MsgID))
				require.NoError(b, err)
			}
			require.Eventually(b, func() bool {
				keys, err := kv.ListKeysFiltered(context.Background(), batchID+".>")
				if err != nil {
					return false
				}
				n := 0
				for range keys.Keys() {
					n++
				}
				return n == len(msgs)
			}, 10*time.Minute, 20*time.Millisecond)
			took = append(took, time.Since(start))
		}
		cancel()
		require.NoError(b, <-done)
		b.Logf("seconds per round of %d rows: %v", rowsPerRound, took)
		b.ReportMetric(took[0].Seconds(), "first_round_s")
		b.ReportMetric(took[rounds-1].Seconds(), "last_round_s")
		b.ReportMetric(took[rounds-1].Seconds()/took[0].Seconds(), "last/first")
	}
}
