package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/extnats"
	"github.com/ounce-data/ounce/pkg/feedcat"
	"github.com/ounce-data/ounce/pkg/feeds"
	"github.com/ounce-data/ounce/pkg/feeds/carbonintensity"
	"github.com/ounce-data/ounce/pkg/feeds/feedtest"
	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/pkg/testenv"
	"github.com/ounce-data/ounce/services/ingest"
)

// ciClock is the injected time of the Carbon Intensity feed runs.
var ciClock = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

var ciFeeds = []struct {
	id     string
	format string
	kind   carbonintensity.Kind
}{
	{"carbonintensity-national", carbonintensity.NationalFormat.Name, carbonintensity.National},
	{"carbonintensity-regional", carbonintensity.RegionalFormat.Name, carbonintensity.Regional},
}

// ciEnv is one Carbon Intensity feed with an ingester of its own on an
// embedded NATS server.
type ciEnv struct {
	nats *testenv.NATS
	feed feedcat.Feed
	cat  *indicators.Catalogue
	in   *ingest.Ingester
}

func newCIEnv(t *testing.T, id, mirror string) *ciEnv {
	t.Helper()
	all, err := feedcat.Load()
	require.NoError(t, err)
	f, ok := feedcat.ByID(all, id)
	require.True(t, ok, "feed %s is declared in schemas/feeds", id)
	cat, err := indicators.Load()
	require.NoError(t, err)
	e := &ciEnv{nats: testenv.StartNATS(t), feed: f, cat: cat}
	e.in, err = ingest.New(ingest.Config{MirrorDir: mirror, Clock: func() time.Time { return ciClock }},
		e.nats.JS, []feedcat.Feed{f}, cat, testPlaces(t), zerolog.New(zerolog.NewTestWriter(t)), prometheus.NewRegistry())
	require.NoError(t, err)
	return e
}

func ciCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// messages reads every message of the feed's subject from the OBS stream.
func (e *ciEnv) messages(t *testing.T) []jetstream.Msg {
	t.Helper()
	ctx := ciCtx(t)
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

func (e *ciEnv) streamMsgs(t *testing.T) uint64 {
	t.Helper()
	stream, err := e.nats.JS.Stream(ciCtx(t), extnats.StreamObservations)
	require.NoError(t, err)
	info, err := stream.Info(ciCtx(t))
	require.NoError(t, err)
	return info.State.Msgs
}

// ciRaw counts the observations a body should give, and indexes its values
// by (indicator, geo, half hour, fuel), read with encoding/json alone.
func ciRaw(t *testing.T, kind carbonintensity.Kind, data []byte) (int, map[string]float64) {
	t.Helper()
	var doc struct {
		Data []map[string]any `json:"data"`
	}
	require.NoError(t, json.Unmarshal(data, &doc))
	require.NotEmpty(t, doc.Data)
	vals := map[string]float64{}
	put := func(ind, geo, from, fuel string, v any) {
		if v == nil {
			return
		}
		f, ok := v.(float64)
		require.True(t, ok, "%s %s %s %s: %v is a number", ind, geo, from, fuel, v)
		vals[ind+"|"+geo+"|"+from+"|"+fuel] = f
	}
	for _, rec := range doc.Data {
		from := rec["from"].(string)
		if kind == carbonintensity.National {
			in := rec["intensity"].(map[string]any)
			put("ci.intensity_forecast", "GB", from, "", in["forecast"])
			put("ci.intensity_actual", "GB", from, "", in["actual"])
			continue
		}
		for _, rv := range rec["regions"].([]any) {
			reg := rv.(map[string]any)
			id := int(reg["regionid"].(float64))
			geo := "ci:" + strconv.Itoa(id)
			if id == 18 {
				geo = "GB"
			}
			put("ci.intensity_forecast", geo, from, "", reg["intensity"].(map[string]any)["forecast"])
			for _, gv := range reg["generationmix"].([]any) {
				g := gv.(map[string]any)
				put("ci.generation_share", geo, from, g["fuel"].(string), g["perc"])
			}
		}
	}
	return len(vals), vals
}

func TestCarbonIntensityFeedsFromMirror(t *testing.T) {
	dir := testenv.SharedDataDir(t)
	for _, tc := range ciFeeds {
		t.Run(tc.id, func(t *testing.T) {
			e := newCIEnv(t, tc.id, dir)
			require.Equal(t, tc.format, e.feed.Format)
			path := filepath.Join(dir, filepath.FromSlash(e.feed.Mirror))
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			st, err := os.Stat(path)
			require.NoError(t, err)
			version := uint64(st.ModTime().UnixMilli())

			res, err := e.in.RunFeed(ciCtx(t), tc.id)
			require.NoError(t, err)

			// The parser's observations, for the count and the order.
			cols, err := feeds.Columns(e.cat.Files[e.feed.Catalogue])
			require.NoError(t, err)
			want, stats, err := feedtest.ReadAll(carbonintensity.NewReader(bytes.NewReader(data), tc.kind, carbonintensity.Mapping{
				Meta: feeds.Meta{Source: e.feed.ID, URL: e.feed.URL, Licence: e.feed.Licence,
					RetrievedAt: ciClock, Version: version},
				Columns: cols,
			}))
			require.NoError(t, err)
			count, raw := ciRaw(t, tc.kind, data)
			require.Equal(t, count, len(want), "parser count equals the independent count")
			require.Equal(t, len(want), res.Observations, "published count equals the parser's")
			require.Equal(t, stats.Rows, res.Rows)
			require.Equal(t, version, res.Version)
			require.Zero(t, res.Duplicates)

			// Every published observation, in order, equals the parser's
			// and its value the raw one.
			msgs := e.messages(t)
			require.Len(t, msgs, res.Messages)
			var got []observation.Observation
			for _, m := range msgs {
				b, err := observation.Decode(m.Data())
				require.NoError(t, err)
				require.Equal(t, tc.id+"-"+strconv.FormatUint(version, 10), b.ID)
				got = append(got, b.Observations...)
			}
			require.Len(t, got, len(want))
			require.Equal(t, assessed(t, e.cat, e.feed, want), res.Quality, "the run counts what it flagged")
			seen := map[string]bool{}
			for i := range got {
				o := &got[i]
				require.NoError(t, o.Validate())
				require.Equal(t, want[i], *o, "observation %d", i)
				k := o.Indicator + "|" + o.Geo + "|" + o.Period.Code() + "|" + o.Dims["fuel"]
				require.False(t, seen[k], "%s published twice", k)
				seen[k] = true
				v, ok := raw[k]
				require.True(t, ok, "%s is not in the raw body", k)
				require.Equal(t, v, *o.Value, k)
				require.Equal(t, observation.GrainHalfHour, o.Period.Grain)
			}
			require.Len(t, seen, count)

			cp, ok, err := e.in.Checkpoint(ciCtx(t), tc.id)
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, len(want), cp.Observations)

			// A second run of the same body is all duplicates.
			n := e.streamMsgs(t)
			res2, err := e.in.RunFeed(ciCtx(t), tc.id)
			require.NoError(t, err)
			require.Equal(t, res.Observations, res2.Observations)
			require.Equal(t, res2.Messages, res2.Duplicates)
			require.Equal(t, n, e.streamMsgs(t))
		})
	}
}

func TestCarbonIntensityAPIErrorPublishesNothing(t *testing.T) {
	shared := testenv.SharedDataDir(t)
	body, err := os.ReadFile(filepath.Join(shared, "carbonintensity", "error_400_invalid_datetime.json"))
	require.NoError(t, err)
	var raw struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	require.NoError(t, json.Unmarshal(body, &raw))
	require.NotEmpty(t, raw.Error.Code)
	require.NotEmpty(t, raw.Error.Message)
	for _, tc := range ciFeeds {
		t.Run(tc.id, func(t *testing.T) {
			// A mirror in which the feed's file is the API's error answer.
			mirror := t.TempDir()
			e := newCIEnv(t, tc.id, mirror)
			p := filepath.Join(mirror, filepath.FromSlash(e.feed.Mirror))
			require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
			require.NoError(t, os.WriteFile(p, body, 0o644))
			_, err := e.in.RunFeed(ciCtx(t), tc.id)
			require.ErrorContains(t, err, raw.Error.Code)
			require.ErrorContains(t, err, raw.Error.Message)
			require.Zero(t, e.streamMsgs(t))
			_, ok, err := e.in.Checkpoint(ciCtx(t), tc.id)
			require.NoError(t, err)
			require.False(t, ok)
		})
	}
}

func TestCarbonIntensityTruncatedMirrorPublishesNothing(t *testing.T) {
	shared := testenv.SharedDataDir(t)
	for _, tc := range ciFeeds {
		t.Run(tc.id, func(t *testing.T) {
			mirror := t.TempDir()
			e := newCIEnv(t, tc.id, mirror)
			data, err := os.ReadFile(filepath.Join(shared, filepath.FromSlash(e.feed.Mirror)))
			require.NoError(t, err)
			// All but the last 40 bytes: malformed after many good records.
			p := filepath.Join(mirror, filepath.FromSlash(e.feed.Mirror))
			require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
			require.NoError(t, os.WriteFile(p, data[:len(data)-40], 0o644))
			_, err = e.in.RunFeed(ciCtx(t), tc.id)
			require.ErrorContains(t, err, "cut short")
			require.ErrorContains(t, err, "record ")
			require.Zero(t, e.streamMsgs(t))
		})
	}
}

func TestCarbonIntensityFormatsRegistered(t *testing.T) {
	for _, tc := range ciFeeds {
		require.True(t, slices.Contains(ingest.Formats(), tc.format), tc.format)
	}
}
