package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
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
	"github.com/ounce-data/ounce/pkg/feeds/feedtest"
	"github.com/ounce-data/ounce/pkg/feeds/worldbank"
	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/pkg/testenv"
	"github.com/ounce-data/ounce/services/ingest"
)

const worldBankFormat = "worldbank-api-json"

// wbClock is the injected time of the World Bank runs.
var wbClock = time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC)

// worldBankFeeds are the declared feeds of the World Bank API format.
func worldBankFeeds(t *testing.T) []feedcat.Feed {
	t.Helper()
	all, err := feedcat.Load()
	require.NoError(t, err)
	var out []feedcat.Feed
	for _, f := range all {
		if f.Format == worldBankFormat {
			out = append(out, f)
		}
	}
	require.NotEmpty(t, out, "no feed of format %s under schemas/feeds", worldBankFormat)
	return out
}

type wbEnv struct {
	nats *testenv.NATS
	feed feedcat.Feed
	cat  *indicators.Catalogue
	reg  *prometheus.Registry
	in   *ingest.Ingester
}

func newWBEnv(t *testing.T, cfg ingest.Config, f feedcat.Feed) *wbEnv {
	t.Helper()
	cat, err := indicators.Load()
	require.NoError(t, err)
	cfg.Clock = func() time.Time { return wbClock }
	e := &wbEnv{nats: testenv.StartNATS(t), feed: f, cat: cat, reg: prometheus.NewRegistry()}
	e.in, err = ingest.New(cfg, e.nats.JS, []feedcat.Feed{f}, cat, testPlaces(t), zerolog.New(zerolog.NewTestWriter(t)), e.reg)
	require.NoError(t, err)
	return e
}

func wbCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// parseWB reads the body with the adapter package directly.
func (e *wbEnv) parse(t *testing.T, data []byte, version uint64) ([]observation.Observation, feeds.Stats) {
	t.Helper()
	cols, err := feeds.Columns(e.cat.Files[e.feed.Catalogue])
	require.NoError(t, err)
	obs, stats, err := feedtest.ReadAll(worldbank.NewReader(bytes.NewReader(data), worldbank.Mapping{
		Meta: feeds.Meta{
			Source: e.feed.ID, URL: e.feed.URL, Licence: e.feed.Licence,
			RetrievedAt: wbClock, Version: version,
		},
		Indicators: cols,
	}))
	require.NoError(t, err)
	return obs, stats
}

// messages reads every message of the feed's subject from the OBS stream.
func (e *wbEnv) messages(t *testing.T) []jetstream.Msg {
	t.Helper()
	ctx := wbCtx(t)
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

func (e *wbEnv) streamMsgs(t *testing.T) uint64 {
	t.Helper()
	stream, err := e.nats.JS.Stream(wbCtx(t), extnats.StreamObservations)
	require.NoError(t, err)
	info, err := stream.Info(wbCtx(t))
	require.NoError(t, err)
	return info.State.Msgs
}

// rawRecords is the page's records as read by encoding/json alone.
func rawRecords(t *testing.T, data []byte) []map[string]any {
	t.Helper()
	var elems []json.RawMessage
	require.NoError(t, json.Unmarshal(data, &elems))
	require.Len(t, elems, 2)
	var recs []map[string]any
	require.NoError(t, json.Unmarshal(elems[1], &recs))
	return recs
}

// rawPages reads page and pages from a page's metadata with encoding/json.
func rawPages(t *testing.T, data []byte) (page, pages int) {
	t.Helper()
	var elems []json.RawMessage
	require.NoError(t, json.Unmarshal(data, &elems))
	var md struct {
		Page  int `json:"page"`
		Pages int `json:"pages"`
	}
	require.NoError(t, json.Unmarshal(elems[0], &md))
	return md.Page, md.Pages
}

func rawString(r map[string]any, obj, field string) string {
	o, _ := r[obj].(map[string]any)
	s, _ := o[field].(string)
	return s
}

// TestRunWorldBankFeedsFromMirror runs every World Bank feed from the
// recordings and checks that what JetStream holds is what the parser reads,
// which is what encoding/json finds in the file.
func TestRunWorldBankFeedsFromMirror(t *testing.T) {
	dir := testenv.SharedDataDir(t)
	for _, f := range worldBankFeeds(t) {
		t.Run(f.ID, func(t *testing.T) {
			e := newWBEnv(t, ingest.Config{MirrorDir: dir}, f)
			path := filepath.Join(dir, filepath.FromSlash(f.Mirror))
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			st, err := os.Stat(path)
			require.NoError(t, err)
			version := uint64(st.ModTime().UnixMilli())

			res, err := e.in.RunFeed(wbCtx(t), f.ID)
			require.NoError(t, err)
			want, stats := e.parse(t, data, version)

			// The independent count: records of a catalogue indicator with
			// a non-null value.
			cols, err := feeds.Columns(e.cat.Files[f.Catalogue])
			require.NoError(t, err)
			recs := rawRecords(t, data)
			n := 0
			for _, r := range recs {
				if _, ok := cols[rawString(r, "indicator", "id")]; ok && r["value"] != nil {
					n++
				}
			}
			require.Equal(t, n, len(want), "parser count equals the independent count")
			require.Equal(t, len(want), res.Observations, "published observations equal the parser's")
			require.Equal(t, len(recs), res.Rows)
			require.Equal(t, stats.Rows, res.Rows)
			require.Equal(t, version, res.Version)
			require.Equal(t, path, res.Source)
			require.Zero(t, res.Duplicates)
			require.Positive(t, res.Messages)

			// A page that is not the last is partial, with what it lacks,
			// in the result, the feed status and the metric; what it holds
			// is published all the same.
			page, pages := rawPages(t, data)
			status, ok, err := e.in.Status(wbCtx(t), f.ID)
			require.NoError(t, err)
			require.True(t, ok)
			partial := value(t, e.reg, "ounce_ingest_feed_partial", map[string]string{"feed": f.ID})
			if page < pages {
				want := fmt.Sprintf("page %d of %d", page, pages)
				require.Contains(t, res.Incomplete, want)
				require.Equal(t, res.Incomplete, status.Incomplete)
				require.Equal(t, 1.0, partial)
			} else {
				require.Empty(t, res.Incomplete)
				require.Empty(t, status.Incomplete)
				require.Zero(t, partial)
			}

			// Every published observation, in order, equals the parser's.
			msgs := e.messages(t)
			require.Len(t, msgs, res.Messages)
			var got []observation.Observation
			for _, m := range msgs {
				require.LessOrEqual(t, len(m.Data()), observation.DefaultMaxBatchBytes)
				b, err := observation.Decode(m.Data())
				require.NoError(t, err)
				require.Equal(t, f.ID+"-"+strconv.FormatUint(version, 10), b.ID)
				got = append(got, b.Observations...)
			}
			require.Len(t, got, len(want))
			require.Equal(t, assessed(t, e.cat, f, want), res.Quality, "the run counts what it flagged")
			byKey := map[string]float64{}
			for i := range got {
				require.NoError(t, got[i].Validate())
				require.Equal(t, want[i], got[i], "observation %d", i)
				byKey[got[i].Indicator+"|"+got[i].Geo+"|"+got[i].Period.Code()] = *got[i].Value
			}

			// A few values against the raw file: the first, middle and last
			// records with a value, the last of them an uncoded place when
			// the page has one.
			var picks []map[string]any
			var withValue []map[string]any
			for _, r := range recs {
				if r["value"] != nil {
					withValue = append(withValue, r)
				}
			}
			picks = append(picks, withValue[0], withValue[len(withValue)/2], withValue[len(withValue)-1])
			for _, r := range withValue {
				if r["countryiso3code"] == "" {
					picks = append(picks, r)
					break
				}
			}
			for _, r := range picks {
				geo, _ := r["countryiso3code"].(string)
				if geo == "" {
					geo = worldbank.UncodedPrefix + rawString(r, "country", "id")
				}
				k := cols[rawString(r, "indicator", "id")].Indicator + "|" + geo + "|" + r["date"].(string)
				v, ok := byKey[k]
				require.True(t, ok, "no observation %s", k)
				require.Equal(t, r["value"].(float64), v, k)
			}

			cp, ok, err := e.in.Checkpoint(wbCtx(t), f.ID)
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, len(want), cp.Observations)
			require.Equal(t, len(recs), cp.Rows)

			// A second run publishes the same messages, all duplicates.
			count := e.streamMsgs(t)
			require.Equal(t, uint64(res.Messages), count)
			res2, err := e.in.RunFeed(wbCtx(t), f.ID)
			require.NoError(t, err)
			require.Equal(t, res.Messages, res2.Duplicates)
			require.Equal(t, count, e.streamMsgs(t))
		})
	}
}

// The API answers a bad indicator with HTTP 200 and an error body: the run
// fails naming the API's message and publishes nothing.
func TestWorldBankErrorBodyFailsTheRun(t *testing.T) {
	body, err := os.ReadFile(filepath.Join(testenv.SharedDataDir(t), "worldbank", "api_v2", "error_invalid_indicator.json"))
	require.NoError(t, err)
	var raw []struct {
		Message []struct{ ID, Key, Value string } `json:"message"`
	}
	require.NoError(t, json.Unmarshal(body, &raw))
	require.NotEmpty(t, raw)
	require.NotEmpty(t, raw[0].Message)
	msg := raw[0].Message[0]

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json;charset=utf-8")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	f := worldBankFeeds(t)[0]
	f.URL = srv.URL + "/v2/country/all/indicator/INVALID.INDICATOR.ID?format=json&per_page=20000"
	e := newWBEnv(t, ingest.Config{}, f)
	_, err = e.in.RunFeed(wbCtx(t), f.ID)
	require.Error(t, err)
	require.ErrorContains(t, err, "worldbank api answered with an error instead of data")
	require.ErrorContains(t, err, strconv.Quote(msg.ID))
	require.ErrorContains(t, err, strconv.Quote(msg.Key))
	require.ErrorContains(t, err, strconv.Quote(msg.Value))
	var apiErr *worldbank.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Zero(t, e.streamMsgs(t))
	_, ok, err := e.in.Checkpoint(wbCtx(t), f.ID)
	require.NoError(t, err)
	require.False(t, ok)
}
