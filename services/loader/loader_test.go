package loader

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/deadletter"
	"github.com/ounce-data/ounce/pkg/extch"
	"github.com/ounce-data/ounce/pkg/extnats"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/pkg/testenv"
)

// A synthetic indicator from the catalogue; loader tests do not need real values.
const testIndicator = "owid.co2_per_capita"

func synthetic(n int, geoPrefix string, version uint64) []observation.Observation {
	out := make([]observation.Observation, n)
	retrieved := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range out {
		out[i] = observation.Observation{
			Indicator:  testIndicator,
			Geo:        fmt.Sprintf("%s%d", geoPrefix, i/100),
			Period:     observation.Year(1900 + i%100),
			Value:      observation.Float(float64(i) + 0.25),
			Unit:       "t CO2/person",
			Source:     "loader-test",
			Version:    version,
			Provenance: observation.Provenance{URL: "https://example.invalid/test", Licence: "CC0", RetrievedAt: retrieved},
		}
	}
	return out
}

// publish publishes obs in 64 KiB messages, many of them, so that tests
// see batches of several messages and kills that land between them.
func publish(t testing.TB, js jetstream.JetStream, obs []observation.Observation) int {
	t.Helper()
	return publishSized(t, js, obs, 64*1024)
}

// publishSized publishes obs in messages of at most maxBytes.
func publishSized(t testing.TB, js jetstream.JetStream, obs []observation.Observation, maxBytes int) int {
	t.Helper()
	msgs, err := observation.Encode("test", obs, maxBytes)
	require.NoError(t, err)
	subj, err := observation.Subject("carbon", "loader-test")
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, m := range msgs {
		_, err := js.Publish(ctx, subj, m.Data, jetstream.WithMsgID(m.MsgID))
		require.NoError(t, err)
	}
	return len(msgs)
}

func countFinal(t testing.TB, conn driver.Conn) (rows, keys uint64) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, conn.QueryRow(ctx, "SELECT count() FROM observations FINAL WHERE source = 'loader-test'").Scan(&rows))
	require.NoError(t, conn.QueryRow(ctx,
		"SELECT uniqExact(indicator, geo, grain, period_start, dims, source) FROM observations WHERE source = 'loader-test'").Scan(&keys))
	return rows, keys
}

type running struct {
	l      *Loader
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan error
	logs   *testenv.SyncBuffer // the loader's log lines, JSON
}

func startLoader(t *testing.T, js jetstream.JetStream, conn driver.Conn, cfg Config) *running {
	t.Helper()
	reg := prometheus.NewRegistry()
	logs := &testenv.SyncBuffer{}
	l, err := New(cfg, js, conn, zerolog.New(zerolog.MultiLevelWriter(zerolog.NewTestWriter(t), logs)), reg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{l: l, reg: reg, cancel: cancel, done: make(chan error, 1), logs: logs}
	go func() { r.done <- l.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *running) stop(t *testing.T) {
	r.cancel()
	select {
	case err := <-r.done:
		require.NoError(t, err)
		r.done <- nil
	case <-time.After(60 * time.Second):
		t.Fatal("loader did not stop within 60s")
	}
}

// requireQueryableLogged checks that the "data queryable" lines of source
// add up to rows, each with a lag, and that every loaded message's lag was
// observed.
func requireQueryableLogged(t *testing.T, r *running, source string, rows int) {
	t.Helper()
	var logged int
	for _, line := range strings.Split(strings.TrimSpace(r.logs.String()), "\n") {
		var e struct {
			Message    string   `json:"message"`
			Source     string   `json:"source"`
			Rows       int      `json:"rows"`
			Messages   int      `json:"messages"`
			LagSeconds *float64 `json:"lag_seconds"`
		}
		require.NoError(t, json.Unmarshal([]byte(line), &e), line)
		if e.Message != "data queryable" {
			continue
		}
		require.Equal(t, source, e.Source, line)
		require.NotNil(t, e.LagSeconds, line)
		require.GreaterOrEqual(t, *e.LagSeconds, 0.0, line)
		require.Positive(t, e.Messages, line)
		logged += e.Rows
	}
	require.Equal(t, rows, logged)
	require.EqualValues(t, testutil.ToFloat64(r.l.m.messagesAcked), histogramCount(t, r.reg, "ounce_loader_commit_lag_seconds"))
}

func histogramCount(t *testing.T, reg *prometheus.Registry, name string) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

func TestIntegrationLoadsEveryObservationOnce(t *testing.T) {
	ns := testenv.StartNATS(t)
	ch := testenv.StartClickHouse(t)
	obs := synthetic(5000, "XA", 1)
	publish(t, ns.JS, obs)
	r := startLoader(t, ns.JS, ch.Conn, Config{FlushInterval: 100 * time.Millisecond})

	require.Eventually(t, func() bool { n, _ := countFinal(t, ch.Conn); return n == 5000 }, 60*time.Second, 50*time.Millisecond)

	// The same batches again: JetStream drops them by Nats-Msg-Id.
	publish(t, ns.JS, obs)
	// The same facts under new message ids (a re-pull): stored again, read once.
	msgs, err := observation.Encode("again", obs, 64*1024)
	require.NoError(t, err)
	for _, m := range msgs {
		_, err := ns.JS.Publish(context.Background(), "obs.v1.carbon.loader-test", m.Data, jetstream.WithMsgID("again-"+m.MsgID))
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool {
		return testutil.ToFloat64(r.l.m.rowsInserted) == 10000
	}, 60*time.Second, 50*time.Millisecond)
	rows, keys := countFinal(t, ch.Conn)
	require.EqualValues(t, 5000, rows)
	require.EqualValues(t, 5000, keys)
	requireQueryableLogged(t, r, "loader-test", 10000)

	// A newer version of one key replaces the value.
	newer := synthetic(1, "XA", 2)
	newer[0].Value = observation.Float(-1)
	publish(t, ns.JS, newer)
	require.Eventually(t, func() bool {
		var v float64
		err := ch.Conn.QueryRow(context.Background(),
			"SELECT value FROM observations FINAL WHERE source='loader-test' AND geo='XA0' AND period_start = ?", newer[0].Period.Start.Unix()).Scan(&v)
		return err == nil && v == -1
	}, 30*time.Second, 50*time.Millisecond)
	rows, _ = countFinal(t, ch.Conn)
	require.EqualValues(t, 5000, rows)

	problems, err := promlint.NewWithMetricFamilies(gather(t, r.reg)).Lint()
	require.NoError(t, err)
	require.Empty(t, problems)
}

func gather(t *testing.T, reg *prometheus.Registry) []*dto.MetricFamily {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	return mfs
}

func TestIntegrationDeadLettersBadInputAndLoadsTheRest(t *testing.T) {
	ns := testenv.StartNATS(t)
	ch := testenv.StartClickHouse(t)
	good := synthetic(3, "XB", 1)
	goodJSON := make([]string, len(good))
	for i := range good {
		b, err := json.Marshal(&good[i])
		require.NoError(t, err)
		goodJSON[i] = string(b)
	}
	unknown := good[1]
	unknown.Indicator = "no.such.indicator"
	unknownJSON, err := json.Marshal(&unknown)
	require.NoError(t, err)
	notNumber := strings.Replace(goodJSON[2], `"value":2.25`, `"value":"2.25"`, 1)
	require.NotEqual(t, goodJSON[2], notNumber)
	noValue := strings.Replace(goodJSON[1], `"value":1.25,`, ``, 1)
	require.NotEqual(t, goodJSON[1], noValue)

	ctx := context.Background()
	subj := "obs.v1.carbon.loader-test"
	for _, body := range []string{
		`this is not json`,
		`{"rows":[]}`,
		`{"observations":[` + goodJSON[0] + `,` + string(unknownJSON) + `,` + notNumber + `,` + noValue + `]}`,
	} {
		_, err := ns.JS.Publish(ctx, subj, []byte(body))
		require.NoError(t, err)
	}
	r := startLoader(t, ns.JS, ch.Conn, Config{FlushInterval: 50 * time.Millisecond})

	require.Eventually(t, func() bool { n, _ := countFinal(t, ch.Conn); return n == 1 }, 30*time.Second, 50*time.Millisecond)
	dlq, err := ns.JS.Stream(ctx, extnats.StreamDeadLetter)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		info, err := dlq.Info(ctx)
		return err == nil && info.State.Msgs == 3
	}, 30*time.Second, 50*time.Millisecond)

	kinds := map[string]*nats.Msg{}
	for seq := uint64(1); seq <= 3; seq++ {
		raw, err := dlq.GetMsg(ctx, seq)
		require.NoError(t, err)
		m := &nats.Msg{Subject: raw.Subject, Header: raw.Header, Data: raw.Data}
		require.Equal(t, "dlq."+subj, m.Subject)
		kinds[m.Header.Get(deadletter.HeaderKind)+"#"+fmt.Sprint(seq)] = m
		require.NotEmpty(t, m.Header.Get(deadletter.HeaderError))
	}
	var rejected *nats.Msg
	undecodable := 0
	for k, m := range kinds {
		switch {
		case strings.HasPrefix(k, deadletter.KindUndecodable):
			undecodable++
		case strings.HasPrefix(k, deadletter.KindRejected):
			rejected = m
		}
	}
	require.Equal(t, 2, undecodable)
	require.NotNil(t, rejected)
	var body deadletter.RejectedBody
	require.NoError(t, json.Unmarshal(rejected.Data, &body))
	require.Len(t, body.Rejected, 3)
	reasons := map[string]string{}
	for _, rj := range body.Rejected {
		reasons[rj.Reason] += rj.Error + "\n"
	}
	require.Contains(t, reasons["unknown_indicator"], "no.such.indicator")
	require.Contains(t, reasons["schema"], "value")
	require.Contains(t, reasons["invalid"], "value: is missing")

	require.Equal(t, 2.0, testutil.ToFloat64(r.l.m.deadLettered.WithLabelValues(deadletter.KindUndecodable)))
	require.Equal(t, 1.0, testutil.ToFloat64(r.l.m.deadLettered.WithLabelValues(deadletter.KindRejected)))
	require.Equal(t, 1.0, testutil.ToFloat64(r.l.m.rejected.WithLabelValues("unknown_indicator")))

	// Nothing is left unacked: the stream is not blocked.
	cons, err := ns.JS.Consumer(ctx, extnats.StreamObservations, DefaultDurable)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		info, err := cons.Info(ctx)
		return err == nil && info.NumAckPending == 0 && info.NumPending == 0
	}, 30*time.Second, 50*time.Millisecond)
}

func TestIntegrationClickHouseDownHoldsMessagesAndResumes(t *testing.T) {
	ns := testenv.StartNATS(t)
	ch := testenv.StartClickHouse(t)
	proxy := testenv.StartProxy(t, hostOf(t, ch.DSN))
	ctx := context.Background()
	conn, err := extch.Open(ctx, strings.Replace(ch.DSN, hostOf(t, ch.DSN), proxy.Addr(), 1))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })

	r := startLoader(t, ns.JS, conn, Config{FlushInterval: 50 * time.Millisecond, RetryMin: 20 * time.Millisecond, RetryMax: 100 * time.Millisecond})
	require.Eventually(t, func() bool { return r.l.Ready(ctx) == nil }, 30*time.Second, 20*time.Millisecond)

	proxy.SetDown(true)
	publish(t, ns.JS, synthetic(2000, "XC", 1))
	require.Eventually(t, func() bool { return r.l.Ready(ctx) != nil }, 30*time.Second, 20*time.Millisecond)
	require.ErrorContains(t, r.l.Ready(ctx), "clickhouse")
	cons, err := ns.JS.Consumer(ctx, extnats.StreamObservations, DefaultDurable)
	require.NoError(t, err)
	info, err := cons.Info(ctx)
	require.NoError(t, err)
	require.Positive(t, info.NumAckPending, "messages stay unacked while ClickHouse is down")
	n, _ := countFinal(t, ch.Conn)
	require.Zero(t, n)

	proxy.SetDown(false)
	require.Eventually(t, func() bool { n, _ := countFinal(t, ch.Conn); return n == 2000 }, 60*time.Second, 50*time.Millisecond)
	require.Eventually(t, func() bool { return r.l.Ready(ctx) == nil }, 30*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool {
		info, err := cons.Info(ctx)
		return err == nil && info.NumAckPending == 0
	}, 30*time.Second, 50*time.Millisecond)
	rows, keys := countFinal(t, ch.Conn)
	require.EqualValues(t, 2000, rows)
	require.EqualValues(t, 2000, keys)
}

func TestIntegrationDrainFlushesOpenBatchOnStop(t *testing.T) {
	ns := testenv.StartNATS(t)
	ch := testenv.StartClickHouse(t)
	// A flush interval far longer than the test: only the drain can load these.
	r := startLoader(t, ns.JS, ch.Conn, Config{FlushInterval: 10 * time.Minute, AckWait: time.Hour, HoldWhenCaughtUp: true})
	publish(t, ns.JS, synthetic(700, "XD", 1))
	require.Eventually(t, func() bool { return testutil.ToFloat64(r.l.m.openBatchRows) == 700 }, 30*time.Second, 20*time.Millisecond)
	n, _ := countFinal(t, ch.Conn)
	require.Zero(t, n)
	r.stop(t)
	n, _ = countFinal(t, ch.Conn)
	require.EqualValues(t, 700, n)
	require.EqualValues(t, 1, testutil.ToFloat64(r.l.m.flushes.WithLabelValues(flushDrain)))
	require.Zero(t, testutil.ToFloat64(r.l.m.flushes.WithLabelValues(flushCaughtUp)), "held: the stream was caught up, but HoldWhenCaughtUp")
	cons, err := ns.JS.Consumer(context.Background(), extnats.StreamObservations, DefaultDurable)
	require.NoError(t, err)
	info, err := cons.Info(context.Background())
	require.NoError(t, err)
	require.Zero(t, info.NumAckPending)
}

// TestIntegrationCaughtUpLoadsWithoutWaitingForTheFlushInterval: when the
// stream has nothing more to deliver, the open batch goes in at once, not
// after the flush interval; with HoldWhenCaughtUp it waits (above).
func TestIntegrationCaughtUpLoadsWithoutWaitingForTheFlushInterval(t *testing.T) {
	ns := testenv.StartNATS(t)
	ch := testenv.StartClickHouse(t)
	r := startLoader(t, ns.JS, ch.Conn, Config{FlushInterval: 10 * time.Minute, AckWait: time.Hour})
	publish(t, ns.JS, synthetic(700, "XU", 1))
	require.Eventually(t, func() bool { n, _ := countFinal(t, ch.Conn); return n == 700 }, 30*time.Second, 20*time.Millisecond)
	// A second trickle within FlushInterval/4 of the first waits for the
	// ticker rather than becoming another insert at once.
	publish(t, ns.JS, synthetic(300, "XV", 1))
	require.Eventually(t, func() bool { return testutil.ToFloat64(r.l.m.openBatchRows) == 300 }, 30*time.Second, 20*time.Millisecond)
	n, _ := countFinal(t, ch.Conn)
	require.EqualValues(t, 700, n)
	// The rows are queryable a moment before the insert returns (ClickHouse
	// also fills the history view), hence the wait for the count.
	require.Eventually(t, func() bool { return testutil.ToFloat64(r.l.m.batchesInserted) == 1 }, 30*time.Second, 20*time.Millisecond)
	require.EqualValues(t, 1, testutil.ToFloat64(r.l.m.flushes.WithLabelValues(flushCaughtUp)))
	require.Zero(t, testutil.ToFloat64(r.l.m.flushes.WithLabelValues(flushInterval)))
}

func hostOf(t *testing.T, dsn string) string {
	t.Helper()
	rest, ok := strings.CutPrefix(dsn, "clickhouse://")
	require.True(t, ok, dsn)
	host, _, _ := strings.Cut(rest, "/")
	return host
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name        string
		cfg         Config
		errContains string
	}{
		{"defaults", Config{}, ""},
		{"tiny bytes", Config{BatchBytes: 10}, "batch bytes 10"},
		{"short ack wait", Config{AckWait: time.Second, FlushInterval: time.Second}, "ack wait 1s"},
		{"inverted backoff", Config{RetryMin: time.Second, RetryMax: time.Millisecond}, "retry backoff"},
		{"negative rows", Config{BatchRows: -1}, "batch rows -1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.WithDefaults().Validate()
			if tc.errContains == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.errContains)
		})
	}
}

// A bad value inside a batch written with "common" rejects that observation
// only; the others still take the common source, version and provenance.
func TestIntegrationBadValueInCommonBatchRejectsOnlyItself(t *testing.T) {
	ns := testenv.StartNATS(t)
	ch := testenv.StartClickHouse(t)
	msgs, err := observation.Encode("c", synthetic(3, "XE", 1), 0)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	require.Contains(t, string(msgs[0].Data), `"common":`)
	bad := strings.Replace(string(msgs[0].Data), `"value":1.25`, `"value":"1.25"`, 1)
	require.NotEqual(t, string(msgs[0].Data), bad)
	_, err = ns.JS.Publish(context.Background(), "obs.v1.carbon.loader-test", []byte(bad))
	require.NoError(t, err)
	r := startLoader(t, ns.JS, ch.Conn, Config{FlushInterval: 50 * time.Millisecond})
	require.Eventually(t, func() bool {
		return testutil.ToFloat64(r.l.m.rejected.WithLabelValues("schema")) == 1
	}, 30*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool { n, _ := countFinal(t, ch.Conn); return n == 2 }, 30*time.Second, 20*time.Millisecond)
	var licence string
	require.NoError(t, ch.Conn.QueryRow(context.Background(),
		"SELECT any(licence) FROM observations FINAL WHERE source = 'loader-test'").Scan(&licence))
	require.Equal(t, "CC0", licence)
}

// A message loads only the rows whose source its subject names —
// partner:<id> on obs.v1.partner.<id>[.…], the feed on obs.v1.<domain>.<feed>
// — and dead-letters the others as source_mismatch: nobody who may publish
// somewhere writes under another publisher's name in the body (a partner as
// a feed or another partner, a feed's publisher as a partner or another feed).
func TestIntegrationSubjectLoadsOnlyItsOwnSource(t *testing.T) {
	ns := testenv.StartNATS(t)
	ch := testenv.StartClickHouse(t)
	ctx := context.Background()
	cases := []struct{ subject, right, wrong string }{
		{"obs.v1.partner.clinic-a", "partner:clinic-a", "partner:council-b"},
		{"obs.v1.partner.clinic-a.sites", "partner:clinic-a", "loader-test"},
		{"obs.v1.health.loader-test", "loader-test", "partner:clinic-a"},
		{"obs.v1.carbon.loader-test", "loader-test", "owid-co2"},
	}
	var subjects []string
	for i, c := range cases {
		subjects = append(subjects, c.subject)
		obs := synthetic(2, fmt.Sprintf("XP%d-", i), 1)
		obs[0].Source, obs[1].Source = c.right, c.wrong
		msgs, err := observation.Encode(fmt.Sprintf("p%d", i), obs, 0)
		require.NoError(t, err)
		require.Len(t, msgs, 1)
		_, err = ns.JS.Publish(ctx, c.subject, msgs[0].Data, jetstream.WithMsgID(msgs[0].MsgID))
		require.NoError(t, err)
	}
	r := startLoader(t, ns.JS, ch.Conn, Config{FlushInterval: 50 * time.Millisecond})

	type stored struct {
		Geo    string  `ch:"geo"`
		Source string  `ch:"source"`
		Value  float64 `ch:"value"`
	}
	var got []stored
	require.Eventually(t, func() bool {
		got = got[:0]
		err := ch.Conn.Select(ctx, &got, "SELECT geo, source, value FROM observations FINAL ORDER BY geo")
		return err == nil && len(got) == len(cases)
	}, 30*time.Second, 50*time.Millisecond)
	var want []stored
	for i, c := range cases {
		want = append(want, stored{fmt.Sprintf("XP%d-0", i), c.right, 0.25})
	}
	require.Equal(t, want, got)

	dlq, err := ns.JS.Stream(ctx, extnats.StreamDeadLetter)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		info, err := dlq.Info(ctx)
		return err == nil && info.State.Msgs == uint64(len(cases))
	}, 30*time.Second, 50*time.Millisecond)
	for seq := uint64(1); seq <= uint64(len(cases)); seq++ {
		raw, err := dlq.GetMsg(ctx, seq)
		require.NoError(t, err)
		require.Equal(t, deadletter.KindRejected, raw.Header.Get(deadletter.HeaderKind))
		var body deadletter.RejectedBody
		require.NoError(t, json.Unmarshal(raw.Data, &body))
		i := slices.Index(subjects, body.Subject)
		require.GreaterOrEqual(t, i, 0, body.Subject)
		require.Equal(t, "dlq."+subjects[i], raw.Subject)
		require.Len(t, body.Rejected, 1)
		rj := body.Rejected[0]
		require.Equal(t, "source_mismatch", rj.Reason)
		require.Contains(t, rj.Error, fmt.Sprintf("%q", cases[i].wrong))
		require.Contains(t, rj.Error, "carries only source "+cases[i].right)
		var o observation.Observation
		require.NoError(t, json.Unmarshal(rj.Observation, &o))
		require.Equal(t, cases[i].wrong, o.Source)
		require.Equal(t, fmt.Sprintf("XP%d-0", i), o.Geo)
	}
	require.Equal(t, float64(len(cases)), testutil.ToFloat64(r.l.m.rejected.WithLabelValues("source_mismatch")))
}

// A shutdown while ClickHouse is down finishes within the drain timeout:
// what was not loaded goes back to JetStream unacked, and the next loader
// loads it, every observation once.
func TestIntegrationShutdownWithClickHouseDownIsBounded(t *testing.T) {
	ns := testenv.StartNATS(t)
	ch := testenv.StartClickHouse(t)
	proxy := testenv.StartProxy(t, hostOf(t, ch.DSN))
	ctx := context.Background()
	conn, err := extch.Open(ctx, strings.Replace(ch.DSN, hostOf(t, ch.DSN), proxy.Addr(), 1))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	cfg := Config{FlushInterval: 50 * time.Millisecond, RetryMin: 20 * time.Millisecond, RetryMax: 100 * time.Millisecond,
		DrainTimeout: time.Second, BatchRows: 500}

	r := startLoader(t, ns.JS, conn, cfg)
	require.Eventually(t, func() bool { return r.l.Ready(ctx) == nil }, 30*time.Second, 20*time.Millisecond)
	proxy.SetDown(true)
	publishSized(t, ns.JS, synthetic(3000, "XS", 1), 16*1024) // several batches: one inserting, one waiting, more pulled
	require.Eventually(t, func() bool { return r.l.Ready(ctx) != nil }, 30*time.Second, 20*time.Millisecond)
	time.Sleep(300 * time.Millisecond) // the inserter is retrying, the next batch waits for it

	start := time.Now()
	r.cancel()
	select {
	case err := <-r.done:
		require.NoError(t, err)
		r.done <- nil
	case <-time.After(20 * time.Second):
		t.Fatal("the loader did not stop within 20 s of shutdown with ClickHouse down")
	}
	took := time.Since(start)
	require.Less(t, took, cfg.DrainTimeout+5*time.Second, "shutdown took %s", took)
	require.Contains(t, r.logs.String(), "handed_back_messages")
	n, _ := countFinal(t, ch.Conn)
	require.Zero(t, n)

	proxy.SetDown(false)
	startLoader(t, ns.JS, conn, Config{FlushInterval: 50 * time.Millisecond})
	require.Eventually(t, func() bool { n, _ := countFinal(t, ch.Conn); return n == 3000 }, 60*time.Second, 50*time.Millisecond)
	rows, keys := countFinal(t, ch.Conn)
	require.EqualValues(t, 3000, rows)
	require.EqualValues(t, 3000, keys)
}

// A loader started while ClickHouse is down cannot read the catalogue; it
// holds the messages rather than dead-lettering every observation as an
// unknown indicator, and loads them once ClickHouse answers.
func TestIntegrationStartWithClickHouseDownLosesNothing(t *testing.T) {
	ns := testenv.StartNATS(t)
	ch := testenv.StartClickHouse(t)
	proxy := testenv.StartProxy(t, hostOf(t, ch.DSN))
	ctx := context.Background()
	conn, err := extch.Open(ctx, strings.Replace(ch.DSN, hostOf(t, ch.DSN), proxy.Addr(), 1))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	proxy.SetDown(true)
	publish(t, ns.JS, synthetic(1000, "XT", 1))
	startLoader(t, ns.JS, conn, Config{FlushInterval: 50 * time.Millisecond, RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond})
	time.Sleep(time.Second)
	dlq, err := ns.JS.Stream(ctx, extnats.StreamDeadLetter)
	require.NoError(t, err)
	info, err := dlq.Info(ctx)
	require.NoError(t, err)
	require.Zero(t, info.State.Msgs, "nothing is dead-lettered while the catalogue cannot be read")

	proxy.SetDown(false)
	require.Eventually(t, func() bool { n, _ := countFinal(t, ch.Conn); return n == 1000 }, 60*time.Second, 50*time.Millisecond)
	info, err = dlq.Info(ctx)
	require.NoError(t, err)
	require.Zero(t, info.State.Msgs)
}
