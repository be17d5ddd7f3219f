package ingest_test

import (
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/testenv"
	"github.com/ounce-data/ounce/services/ingest"
)

func TestRunFeedWithProgress(t *testing.T) {
	dir := headMirror(t, headRows)
	e := newEnv(t, ingest.Config{MirrorDir: dir, EncodeChunk: 1000})
	data, err := os.ReadFile(dataPath(t, dir, e.feed))
	require.NoError(t, err)
	want := nonEmptyCells(t, e, data)

	var reports []ingest.Progress
	res, err := e.in.RunFeedWith(ctxT(t), feedID, ingest.RunOptions{Progress: func(p ingest.Progress) {
		reports = append(reports, p)
	}})
	require.NoError(t, err)
	require.Equal(t, want, res.Observations)

	// The phases come in order, each one's counts never going back.
	order := map[ingest.Phase]int{ingest.PhaseFetch: 0, ingest.PhaseParse: 1, ingest.PhasePublish: 2, ingest.PhaseDone: 3}
	last := map[ingest.Phase]ingest.Progress{}
	for i, p := range reports {
		if i > 0 {
			prev := reports[i-1]
			require.GreaterOrEqual(t, order[p.Phase], order[prev.Phase], "report %d", i)
			if p.Phase == prev.Phase {
				require.GreaterOrEqual(t, p.Bytes, prev.Bytes, "report %d", i)
				require.GreaterOrEqual(t, p.Observations, prev.Observations, "report %d", i)
				require.GreaterOrEqual(t, p.Rows, prev.Rows, "report %d", i)
			}
		}
		last[p.Phase] = p
	}
	size := int64(len(data))
	require.Equal(t, size, last[ingest.PhaseFetch].Bytes)
	require.Equal(t, size, last[ingest.PhaseFetch].BytesTotal, "a file's size is known")
	require.Equal(t, size, last[ingest.PhaseParse].Bytes)
	require.Positive(t, last[ingest.PhaseParse].Observations)
	require.Equal(t, want, last[ingest.PhasePublish].ObservationsTotal)
	require.Equal(t, want, last[ingest.PhasePublish].Observations)
	require.Greater(t, last[ingest.PhasePublish].Messages, 1)

	done := reports[len(reports)-1]
	require.Equal(t, ingest.PhaseDone, done.Phase)
	require.Equal(t, want, done.Observations)
	require.Equal(t, want, done.ObservationsTotal)
	require.Equal(t, headRows, done.Rows)
	require.Equal(t, res.Messages, done.Messages)
	require.Equal(t, size, done.Bytes)
}

func TestRunFeedUnconditional(t *testing.T) {
	o := &origin{body: recordedHead(t, 200), etag: `"v1"`, lastModified: time.Date(2020, 12, 9, 10, 0, 0, 0, time.UTC)}
	srv := httptest.NewServer(o)
	t.Cleanup(srv.Close)
	e := newEnv(t, ingest.Config{}, atURL(srv.URL+"/owid-co2-data.csv"))

	res, err := e.in.RunFeed(ctxT(t), feedID)
	require.NoError(t, err)
	res2, err := e.in.RunFeed(ctxT(t), feedID)
	require.NoError(t, err)
	require.True(t, res2.NotModified)

	// Unconditional: the whole body again, under the same version, so
	// JetStream answers every message as a duplicate.
	var total int64
	res3, err := e.in.RunFeedWith(ctxT(t), feedID, ingest.RunOptions{Unconditional: true, Progress: func(p ingest.Progress) {
		if p.Phase == ingest.PhaseFetch {
			total = p.BytesTotal
		}
	}})
	require.NoError(t, err)
	require.False(t, res3.NotModified)
	require.Equal(t, int32(3), o.requests.Load())
	require.Equal(t, int32(1), o.notModified.Load())
	require.Equal(t, res.Version, res3.Version)
	require.Equal(t, res.Messages, res3.Duplicates)
	require.Equal(t, int64(len(o.body)), total, "Content-Length gives the total")
}

// BenchmarkRunFeedProgress is a whole run of the recorded OWID file (every
// message a duplicate after the first run), without and with a progress
// callback, to show what the reports cost.
func BenchmarkRunFeedProgress(b *testing.B) {
	dir := testenv.SharedDataDir(b)
	for _, withProgress := range []bool{false, true} {
		name := "none"
		if withProgress {
			name = "callback"
		}
		b.Run(name, func(b *testing.B) {
			e := newEnv(b, ingest.Config{MirrorDir: dir})
			data, err := os.ReadFile(dataPath(b, dir, e.feed))
			require.NoError(b, err)
			o := ingest.RunOptions{}
			reports := 0
			if withProgress {
				o.Progress = func(ingest.Progress) { reports++ }
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				_, err := e.in.RunFeedWith(b.Context(), feedID, o)
				require.NoError(b, err)
			}
			b.ReportMetric(float64(reports)/float64(b.N), "reports/op")
		})
	}
}
