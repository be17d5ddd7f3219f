package loader

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/extch"
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
		p := startProcB(b, bin, ns.URL, ch.DSN)
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
