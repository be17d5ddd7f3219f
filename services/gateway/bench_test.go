package gateway_test

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/ounce-data/ounce/services/gateway"
)

// ndjsonRows is n distinct valid rows of partner clinic-a.
func ndjsonRows(n, seed int) []byte {
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, `{"indicator":"who.NCD_PAA","geo":"GBR","period":"%04d-%02d-%02d","value":%d.25,"dims":{"site":"s%d"}}`+"\n",
			1900+i%120, 1+i/120%12, 1+i/1440%28, i%100, seed)
	}
	return b.Bytes()
}

// BenchmarkPushNDJSON10k pushes 10 000 rows a request through the handler:
// decode, validate, encode, publish and wait for every JetStream ack.
func BenchmarkPushNDJSON10k(b *testing.B) {
	benchPush10k(b, gateway.FormatNDJSON, ndjsonRows(10_000, 0))
}

// BenchmarkPushJSON10k is the same with the rows in one
// {"observations":[…]} body.
func BenchmarkPushJSON10k(b *testing.B) {
	rows := bytes.Split(bytes.TrimSpace(ndjsonRows(10_000, 2)), []byte("\n"))
	benchPush10k(b, gateway.FormatJSON, append(append([]byte(`{"observations":[`), bytes.Join(rows, []byte(","))...), "]}"...))
}

func benchPush10k(b *testing.B, format string, body []byte) {
	f := newFixture(b, gateway.Config{})
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rec := f.push(b, f.keyA, format, "", body)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body.String())
		}
	}
	b.ReportMetric(float64(10_000*b.N)/b.Elapsed().Seconds(), "obs/s")
}

// BenchmarkPush1kLatency reports the p50 and p99 latency of 1 000-row pushes.
func BenchmarkPush1kLatency(b *testing.B) {
	f := newFixture(b, gateway.Config{})
	body := ndjsonRows(1_000, 1)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	var lat []time.Duration
	for b.Loop() {
		start := time.Now()
		rec := f.push(b, f.keyA, gateway.FormatNDJSON, "", body)
		lat = append(lat, time.Since(start))
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body.String())
		}
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
