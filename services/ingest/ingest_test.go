package ingest_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/extnats"
	"github.com/ounce-data/ounce/pkg/feedcat"
	"github.com/ounce-data/ounce/pkg/feeds"
	"github.com/ounce-data/ounce/pkg/feeds/feedtest"
	"github.com/ounce-data/ounce/pkg/feeds/owid"
	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/pkg/quality"
	"github.com/ounce-data/ounce/pkg/testenv"
	"github.com/ounce-data/ounce/services/ingest"
)

const feedID = "owid-co2"

// fixedClock is the injected time of every test run.
var fixedClock = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

type env struct {
	nats *testenv.NATS
	feed feedcat.Feed
	cat  *indicators.Catalogue
	reg  *prometheus.Registry
	in   *ingest.Ingester
}

func newEnv(t testing.TB, cfg ingest.Config, change ...func(*feedcat.Feed)) *env {
	t.Helper()
	all, err := feedcat.Load()
	require.NoError(t, err)
	f, ok := feedcat.ByID(all, feedID)
	require.True(t, ok)
	for _, c := range change {
		c(&f)
	}
	cat, err := indicators.Load()
	require.NoError(t, err)
	if cfg.Clock == nil {
		cfg.Clock = func() time.Time { return fixedClock }
	}
	e := &env{nats: testenv.StartNATS(t), feed: f, cat: cat, reg: prometheus.NewRegistry()}
	e.in, err = ingest.New(cfg, e.nats.JS, []feedcat.Feed{f}, cat, testPlaces(t), zerolog.New(zerolog.NewTestWriter(t)), e.reg)
	require.NoError(t, err)
	return e
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// streamMessages reads every message of the feed's subject from the OBS
// stream with an ordered consumer.
func (e *env) streamMessages(t *testing.T) []jetstream.Msg {
	t.Helper()
	ctx := ctxT(t)
	subject, err := observation.Subject(e.feed.Domain, e.feed.ID)
	require.NoError(t, err)
	stream, err := e.nats.JS.Stream(ctx, extnats.StreamObservations)
	require.NoError(t, err)
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(subject))
	require.NoError(t, err)
	want := int(info.State.Subjects[subject])
	if want == 0 {
		return nil
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	require.NoError(t, err)
	var msgs []jetstream.Msg
	for len(msgs) < want {
		batch, err := cons.Fetch(want-len(msgs), jetstream.FetchMaxWait(5*time.Second))
		require.NoError(t, err)
		for m := range batch.Messages() {
			msgs = append(msgs, m)
		}
		require.NoError(t, batch.Error())
	}
	return msgs
}

func (e *env) streamCount(t *testing.T) uint64 {
	t.Helper()
	stream, err := e.nats.JS.Stream(ctxT(t), extnats.StreamObservations)
	require.NoError(t, err)
	info, err := stream.Info(ctxT(t))
	require.NoError(t, err)
	return info.State.Msgs
}

func dataPath(t testing.TB, dir string, f feedcat.Feed) string {
	return filepath.Join(dir, filepath.FromSlash(f.Mirror))
}

// parse reads the file with the adapter package directly, for the count and
// the values the published observations must equal.
func parse(t *testing.T, e *env, data []byte, version uint64) []observation.Observation {
	t.Helper()
	cols, err := feeds.Columns(e.cat.Files[e.feed.Catalogue])
	require.NoError(t, err)
	obs, _, err := feedtest.ReadAll(owid.NewReader(bytes.NewReader(data), owid.Mapping{
		Meta: feeds.Meta{
			Source: e.feed.ID, URL: e.feed.URL, Licence: e.feed.Licence,
			RetrievedAt: fixedClock, Version: version,
		},
		Columns: cols,
	}))
	require.NoError(t, err)
	for i := range obs {
		// An entity the place catalogue reviews as a country files under
		// its code (schemas/places/entities.yaml).
		if country, ok := testPlacesCatalogue.EntityCountry(obs[i].Geo); ok {
			obs[i].Geo = country
		}
	}
	return obs
}

// nonEmptyCells counts the non-empty cells of the catalogue's columns with
// encoding/csv alone.
func nonEmptyCells(t *testing.T, e *env, data []byte) int {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	require.NoError(t, err)
	cols, err := feeds.Columns(e.cat.Files[e.feed.Catalogue])
	require.NoError(t, err)
	n := 0
	for i, h := range recs[0] {
		if _, ok := cols[h]; !ok {
			continue
		}
		for _, r := range recs[1:] {
			if r[i] != "" {
				n++
			}
		}
	}
	return n
}

func TestRunFeedFromMirror(t *testing.T) {
	dir := testenv.SharedDataDir(t)
	e := newEnv(t, ingest.Config{MirrorDir: dir})
	path := dataPath(t, dir, e.feed)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	st, err := os.Stat(path)
	require.NoError(t, err)
	version := uint64(st.ModTime().UnixMilli())

	res, err := e.in.RunFeed(ctxT(t), feedID)
	require.NoError(t, err)
	want := parse(t, e, data, version)
	require.Equal(t, nonEmptyCells(t, e, data), len(want), "parser count equals the independent count")
	require.Equal(t, len(want), res.Observations)
	require.Equal(t, version, res.Version)
	require.Equal(t, path, res.Source)
	require.Zero(t, res.Duplicates)
	require.False(t, res.NotModified)
	require.Greater(t, res.Messages, 1)
	require.Positive(t, res.Duration)

	// Read back every message and compare with the parser's observations,
	// in order.
	msgs := e.streamMessages(t)
	require.Len(t, msgs, res.Messages)
	var got []observation.Observation
	ids := map[string]bool{}
	for _, m := range msgs {
		require.LessOrEqual(t, len(m.Data()), observation.DefaultMaxBatchBytes)
		id := m.Headers().Get(jetstream.MsgIDHeader)
		require.NotEmpty(t, id)
		require.False(t, ids[id], "Nats-Msg-Id %s is used twice", id)
		ids[id] = true
		b, err := observation.Decode(m.Data())
		require.NoError(t, err)
		require.Equal(t, feedID+"-"+strconv.FormatUint(version, 10), b.ID)
		got = append(got, b.Observations...)
	}
	require.Len(t, got, len(want))
	require.Equal(t, assessed(t, e.cat, e.feed, want), res.Quality, "the run counts what it flagged")
	for i := range got {
		require.NoError(t, got[i].Validate())
		require.Equal(t, want[i], got[i], "observation %d", i)
	}

	// A few values against the raw file, read with encoding/csv.
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	require.NoError(t, err)
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	byKey := map[string]float64{}
	for _, o := range got {
		byKey[o.Indicator+"|"+o.Geo+"|"+o.Period.Code()] = *o.Value
	}
	for _, c := range []struct {
		iso    string
		year   string
		column string
	}{{"GBR", "2018", "co2_per_capita"}, {"FRA", "1990", "co2"}, {"OWID_WRL", "2000", "population"}} {
		var cell string
		for _, r := range recs[1:] {
			if r[col["iso_code"]] == c.iso && r[col["year"]] == c.year {
				cell = r[col[c.column]]
			}
		}
		require.NotEmpty(t, cell)
		v, err := strconv.ParseFloat(cell, 64)
		require.NoError(t, err)
		require.Equal(t, v, byKey["owid."+c.column+"|"+c.iso+"|"+c.year], "%+v", c)
	}

	cp, ok, err := e.in.Checkpoint(ctxT(t), feedID)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, version, cp.Version)
	require.Equal(t, len(recs)-1, cp.Rows)
	require.Equal(t, len(want), cp.Observations)
	require.Equal(t, res.Messages, cp.Messages)
	require.Equal(t, fixedClock, cp.LastSuccess)
	require.Len(t, cp.SHA256, 64)

	require.Equal(t, float64(len(want)), metric(t, e, "ounce_ingest_observations_published_total"))
	count := e.streamCount(t)
	require.Equal(t, uint64(res.Messages), count)

	// A second run of the same file publishes the same messages, every one
	// acknowledged as a duplicate: the stream does not grow.
	res2, err := e.in.RunFeed(ctxT(t), feedID)
	require.NoError(t, err)
	require.Equal(t, res.Messages, res2.Messages)
	require.Equal(t, res2.Messages, res2.Duplicates)
	require.Equal(t, res.Observations, res2.Observations)
	require.Equal(t, count, e.streamCount(t))
	require.Equal(t, float64(len(want)), metric(t, e, "ounce_ingest_observations_published_total"))
	require.Equal(t, float64(res.Messages), metric(t, e, "ounce_ingest_duplicate_messages_total"))

	require.Equal(t, 2.0, runs(t, e, ingest.ResultSuccess))
	require.Equal(t, 0.0, runs(t, e, ingest.ResultError))
	require.Equal(t, float64(fixedClock.Unix()), metric(t, e, "ounce_ingest_feed_last_success_timestamp_seconds"))
	lintMetrics(t, e.reg)
}

// metric is the value of the feed's series of a metric labelled by feed only.
func metric(t *testing.T, e *env, name string) float64 {
	t.Helper()
	return value(t, e.reg, name, map[string]string{"feed": feedID})
}

func runs(t *testing.T, e *env, result string) float64 {
	t.Helper()
	return value(t, e.reg, "ounce_ingest_feed_runs_total", map[string]string{"feed": feedID, "result": result})
}

// value finds the one series of name with exactly labels.
func value(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	for _, mf := range mustGather(t, reg) {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for _, l := range m.GetLabel() {
				if labels[l.GetName()] != l.GetValue() {
					continue series
				}
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			}
		}
	}
	t.Fatalf("no series %s%v", name, labels)
	return 0
}

func mustGather(t *testing.T, reg *prometheus.Registry) []*dto.MetricFamily {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	return mfs
}

func lintMetrics(t *testing.T, reg *prometheus.Registry) {
	t.Helper()
	problems, err := promlint.NewWithMetricFamilies(mustGather(t, reg)).Lint()
	require.NoError(t, err)
	require.Empty(t, problems)
}

func TestRunFeedErrors(t *testing.T) {
	dir := testenv.SharedDataDir(t)
	t.Run("unknown feed", func(t *testing.T) {
		e := newEnv(t, ingest.Config{MirrorDir: dir})
		_, err := e.in.RunFeed(ctxT(t), "no-such-feed")
		require.ErrorContains(t, err, "run feed no-such-feed: no such feed")
	})
	t.Run("mirror file missing", func(t *testing.T) {
		e := newEnv(t, ingest.Config{MirrorDir: t.TempDir()})
		_, err := e.in.RunFeed(ctxT(t), feedID)
		require.ErrorContains(t, err, "read mirror")
		require.ErrorContains(t, err, "no such file")
		require.Equal(t, 1.0, runs(t, e, ingest.ResultError))
		_, ok, err := e.in.Checkpoint(ctxT(t), feedID)
		require.NoError(t, err)
		require.False(t, ok)
	})
	t.Run("no mirror path", func(t *testing.T) {
		e := newEnv(t, ingest.Config{MirrorDir: dir}, func(f *feedcat.Feed) { f.Mirror = "" })
		_, err := e.in.RunFeed(ctxT(t), feedID)
		require.ErrorContains(t, err, "declares no mirror path")
	})
	t.Run("malformed mirror file publishes nothing", func(t *testing.T) {
		data, err := os.ReadFile(filepath.Join(dir, "owid/co2/owid-co2-data.csv"))
		require.NoError(t, err)
		mirror := t.TempDir()
		// The whole file but its last 100 bytes: malformed at the very
		// end, after thousands of good rows.
		require.NoError(t, os.MkdirAll(filepath.Join(mirror, "owid/co2"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(mirror, "owid/co2/owid-co2-data.csv"), data[:len(data)-100], 0o644))
		e := newEnv(t, ingest.Config{MirrorDir: mirror})
		_, err = e.in.RunFeed(ctxT(t), feedID)
		require.ErrorContains(t, err, "cut short")
		require.Zero(t, e.streamCount(t))
	})
}

func TestNewRejects(t *testing.T) {
	n := testenv.StartNATS(t)
	all, err := feedcat.Load()
	require.NoError(t, err)
	good, ok := feedcat.ByID(all, feedID)
	require.True(t, ok)
	cat, err := indicators.Load()
	require.NoError(t, err)
	tests := []struct {
		name        string
		cfg         ingest.Config
		feeds       func() []feedcat.Feed
		errContains string
	}{
		{"unknown format", ingest.Config{}, func() []feedcat.Feed {
			f := good
			f.Format = "sdmx-json"
			return []feedcat.Feed{f}
		}, `format "sdmx-json" is not one this ingester reads; known formats: [`},
		{"mapping block for a format its catalogue maps", ingest.Config{}, func() []feedcat.Feed {
			f := good
			f.Mapping = []byte("place: iso_code\n")
			return []feedcat.Feed{f}
		}, `field mapping: format "owid-co2-csv" takes no mapping: block; its catalogue maps it`},
		{"unknown catalogue", ingest.Config{}, func() []feedcat.Feed {
			f := good
			f.Catalogue = "nope"
			return []feedcat.Feed{f}
		}, `catalogue "nope" is not under schemas/catalogue`},
		{"invalid feed", ingest.Config{}, func() []feedcat.Feed {
			f := good
			f.Schedule = time.Second
			return []feedcat.Feed{f}
		}, "field schedule: 1s is shorter than 1m0s"},
		{"feed twice", ingest.Config{}, func() []feedcat.Feed { return []feedcat.Feed{good, good} }, "feed owid-co2 is given twice"},
		{"batch above max payload", ingest.Config{BatchBytes: 2 << 20}, func() []feedcat.Feed { return []feedcat.Feed{good} }, "exceed the server's max payload"},
		{"bad config", ingest.Config{FetchAttempts: -1, HTTPTimeout: time.Millisecond}, func() []feedcat.Feed { return nil }, "fetch attempts -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ingest.New(tt.cfg, n.JS, tt.feeds(), cat, testPlaces(t), zerolog.Nop(), prometheus.NewRegistry())
			require.ErrorContains(t, err, tt.errContains)
		})
	}
}

func TestConfigValidate(t *testing.T) {
	require.NoError(t, ingest.Config{}.WithDefaults().Validate())
	tests := []struct {
		name        string
		change      func(*ingest.Config)
		errContains string
	}{
		{"timeout", func(c *ingest.Config) { c.HTTPTimeout = time.Millisecond }, "http timeout 1ms: must be at least 1s"},
		{"batch", func(c *ingest.Config) { c.BatchBytes = 10 }, "batch bytes 10"},
		{"body", func(c *ingest.Config) { c.MaxBodyBytes = 10 }, "max body bytes 10"},
		{"attempts", func(c *ingest.Config) { c.FetchAttempts = -1 }, "fetch attempts -1"},
		{"retry", func(c *ingest.Config) { c.RetryMax = c.RetryMin / 2 }, "retry backoff"},
		{"failure backoff", func(c *ingest.Config) { c.FailureBackoff = -time.Second }, "failure backoff"},
		{"ack timeout", func(c *ingest.Config) { c.AckTimeout = time.Millisecond }, "ack timeout 1ms"},
		{"in flight", func(c *ingest.Config) { c.MaxInFlight = -1 }, "max in flight -1"},
		{"chunk", func(c *ingest.Config) { c.EncodeChunk = -1 }, "encode chunk -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ingest.Config{}.WithDefaults()
			tt.change(&c)
			require.ErrorContains(t, c.Validate(), tt.errContains)
		})
	}
}

func TestEncodeChunkDoesNotChangeMessages(t *testing.T) {
	// The messages, and so their Nats-Msg-Ids, do not depend on how many
	// observations are encoded at a time: a run with a tiny chunk is all
	// duplicates of a run with the default.
	dir := headMirror(t, headRows)
	e := newEnv(t, ingest.Config{MirrorDir: dir})
	res, err := e.in.RunFeed(ctxT(t), feedID)
	require.NoError(t, err)
	require.Greater(t, res.Messages, 3, "enough messages for the chunks to cut across them")
	small, err := ingest.New(ingest.Config{MirrorDir: dir, EncodeChunk: 777, Clock: func() time.Time { return fixedClock }},
		e.nats.JS, []feedcat.Feed{e.feed}, e.cat, testPlaces(t), zerolog.Nop(), prometheus.NewRegistry())
	require.NoError(t, err)
	res2, err := small.RunFeed(ctxT(t), feedID)
	require.NoError(t, err)
	require.Equal(t, res.Messages, res2.Messages)
	require.Equal(t, res2.Messages, res2.Duplicates)
}

func TestRunSchedulesUntilCancelled(t *testing.T) {
	dir := headMirror(t, headRows)
	e := newEnv(t, ingest.Config{MirrorDir: dir})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.in.Run(ctx) }()
	require.Eventually(t, func() bool {
		return runs(t, e, ingest.ResultSuccess) == 1
	}, time.Minute, 20*time.Millisecond)
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	require.Positive(t, e.streamCount(t))
}

// assessed gives want, a run's observations in order, the quality codes the
// run gives them (the rules of pkg/quality, tested there, under the feed's
// declared periods) and returns the counts by code the run must report.
func assessed(t *testing.T, cat *indicators.Catalogue, f feedcat.Feed, want []observation.Observation) map[string]int {
	t.Helper()
	rules := quality.Rules{Indicators: cat}
	if f.Periods != nil {
		rules.Periods = quality.Periods{From: f.Periods.From, To: f.Periods.To}
	}
	a := quality.New(rules)
	for i := range want {
		a.Add(&want[i])
	}
	a.Finish()
	for i := range want {
		a.Apply(i, &want[i])
	}
	return a.Counts
}
