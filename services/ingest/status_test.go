package ingest_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/feedcat"
	"github.com/ounce-data/ounce/pkg/feedstatus"
	"github.com/ounce-data/ounce/services/ingest"
)

func (e *env) status(t *testing.T) feedstatus.Status {
	t.Helper()
	st, ok, err := e.in.Status(ctxT(t), feedID)
	require.NoError(t, err)
	require.True(t, ok, "a status was recorded")
	return st
}

func TestStatusRecordsFailuresAndSuccess(t *testing.T) {
	const backoff = 3 * time.Minute
	e := newEnv(t, ingest.Config{MirrorDir: t.TempDir(), FailureBackoff: backoff, Worker: "worker-a"})
	_, ok, err := e.in.Status(ctxT(t), feedID)
	require.NoError(t, err)
	require.False(t, ok, "no status before the first run")

	// The mirror file is missing: a fetch failure, backing off.
	_, err = e.in.RunFeed(ctxT(t), feedID)
	require.Error(t, err)
	st := e.status(t)
	require.Equal(t, feedstatus.ResultError, st.Result)
	require.Equal(t, "worker-a", st.Worker)
	require.Equal(t, fixedClock, st.LastAttempt)
	require.Nil(t, st.LastSuccess)
	require.NotNil(t, st.LastError)
	require.Equal(t, feedstatus.KindFetch, st.LastError.Kind)
	require.Contains(t, st.LastError.Message, "no such file")
	require.Equal(t, fixedClock, st.LastError.Time)
	require.Equal(t, 1, st.ConsecutiveFailures)
	require.Equal(t, fixedClock.Add(backoff), st.NextRun)

	_, err = e.in.RunFeed(ctxT(t), feedID)
	require.Error(t, err)
	st = e.status(t)
	require.Equal(t, 2, st.ConsecutiveFailures)
	require.Equal(t, fixedClock.Add(2*backoff), st.NextRun, "the backoff doubles")
	require.Equal(t, 2.0, metric(t, e, "ounce_ingest_feed_consecutive_failures"))

	// A second worker with the file in place succeeds; the status is shared.
	dir := headMirror(t, headRows)
	reg := prometheus.NewRegistry()
	good, err := ingest.New(ingest.Config{MirrorDir: dir, Worker: "worker-b", Clock: func() time.Time { return fixedClock }},
		e.nats.JS, []feedcat.Feed{e.feed}, e.cat, testPlaces(t), zerolog.Nop(), reg)
	require.NoError(t, err)
	res, err := good.RunFeed(ctxT(t), feedID)
	require.NoError(t, err)
	st = e.status(t)
	require.Equal(t, feedstatus.ResultSuccess, st.Result)
	require.Equal(t, "worker-b", st.Worker)
	require.Zero(t, st.ConsecutiveFailures)
	require.NotNil(t, st.LastSuccess)
	require.Equal(t, fixedClock, *st.LastSuccess)
	require.NotNil(t, st.LastError, "the last error stays after a success")
	require.Equal(t, feedstatus.KindFetch, st.LastError.Kind)
	require.Equal(t, headRows, st.Rows)
	require.Equal(t, res.Observations, st.Observations)
	require.Positive(t, st.Observations)
	require.Equal(t, res.Duration.Seconds(), st.DurationSeconds)
	require.Equal(t, fixedClock.Add(e.feed.Schedule), st.NextRun)

	require.Equal(t, float64(headRows), value(t, reg, "ounce_ingest_feed_last_run_rows", map[string]string{"feed": feedID}))
	require.Equal(t, float64(res.Observations), value(t, reg, "ounce_ingest_feed_last_run_observations", map[string]string{"feed": feedID}))
	require.Equal(t, res.Duration.Seconds(), value(t, reg, "ounce_ingest_feed_last_run_duration_seconds", map[string]string{"feed": feedID}))
	require.Equal(t, 0.0, value(t, reg, "ounce_ingest_feed_consecutive_failures", map[string]string{"feed": feedID}))
	require.Equal(t, float64(fixedClock.Unix()), value(t, reg, "ounce_ingest_feed_last_run_timestamp_seconds", map[string]string{"feed": feedID}))
	lintMetrics(t, reg)
	lintMetrics(t, e.reg)
}

func TestStatusErrorKinds(t *testing.T) {
	t.Run("http status", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		t.Cleanup(srv.Close)
		e := newEnv(t, ingest.Config{}, atURL(srv.URL+"/gone.csv"))
		_, err := e.in.RunFeed(ctxT(t), feedID)
		require.ErrorContains(t, err, "http status 404")
		st := e.status(t)
		require.Equal(t, feedstatus.KindHTTPStatus, st.LastError.Kind)
		require.Equal(t, http.StatusNotFound, st.LastError.HTTPStatus)
	})
	t.Run("parse", func(t *testing.T) {
		dir := t.TempDir()
		p := filepath.Join(dir, "owid", "co2", "owid-co2-data.csv")
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte("<html>maintenance</html>\n"), 0o644))
		e := newEnv(t, ingest.Config{MirrorDir: dir})
		_, err := e.in.RunFeed(ctxT(t), feedID)
		require.Error(t, err)
		st := e.status(t)
		require.Equal(t, feedstatus.KindParse, st.LastError.Kind)
		require.Zero(t, st.LastError.HTTPStatus)
		require.Equal(t, 1, st.ConsecutiveFailures)
	})
	t.Run("publish", func(t *testing.T) {
		e := newEnv(t, ingest.Config{MirrorDir: headMirror(t, 50)})
		// Without the stream, JetStream answers no PubAck.
		require.NoError(t, e.nats.JS.DeleteStream(ctxT(t), "OBS"))
		_, err := e.in.RunFeed(ctxT(t), feedID)
		require.Error(t, err)
		st := e.status(t)
		require.Equal(t, feedstatus.KindPublish, st.LastError.Kind)
	})
}
