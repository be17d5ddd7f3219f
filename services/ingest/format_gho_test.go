package ingest_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/feedcat"
	"github.com/ounce-data/ounce/pkg/feeds"
	"github.com/ounce-data/ounce/pkg/feeds/feedtest"
	"github.com/ounce-data/ounce/pkg/feeds/gho"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/pkg/testenv"
	"github.com/ounce-data/ounce/services/ingest"
)

// whoFeed is a WHO feed of the catalogue and how to count its recording
// independently of the parser.
type whoFeed struct {
	id     string
	format string
	// count returns the records and the records with a value, read with
	// encoding/json or encoding/csv alone.
	count func(t *testing.T, data []byte) (records, values int)
}

var whoFeeds = []whoFeed{
	{"who-ncd-mortality", "who-gho-odata-json", whoCountOData},
	{"who-physical-inactivity", "who-gho-odata-json", whoCountOData},
	{"who-health-expenditure-gdp", "who-gho-csv", whoCountCSV},
	{"who-health-expenditure-per-capita", "who-gho-csv", whoCountCSV},
}

func whoCountOData(t *testing.T, data []byte) (records, values int) {
	t.Helper()
	var doc struct {
		Value []map[string]any `json:"value"`
	}
	require.NoError(t, json.Unmarshal(data, &doc))
	for _, r := range doc.Value {
		if r["NumericValue"] != nil {
			values++
		}
	}
	return len(doc.Value), values
}

func whoCountCSV(t *testing.T, data []byte) (records, values int) {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	require.NoError(t, err)
	col := slices.Index(recs[0], "NumericValue")
	require.GreaterOrEqual(t, col, 0)
	for _, r := range recs[1:] {
		if r[col] != "" {
			values++
		}
	}
	return len(recs) - 1, values
}

func whoCatalogueFeed(t *testing.T, id string) feedcat.Feed {
	t.Helper()
	all, err := feedcat.Load()
	require.NoError(t, err)
	f, ok := feedcat.ByID(all, id)
	require.True(t, ok, "feed %s is not in schemas/feeds", id)
	return f
}

// whoParse reads a recording with the gho package directly.
func whoParse(t *testing.T, e *env, data []byte, version uint64) []observation.Observation {
	t.Helper()
	inds, err := feeds.Columns(e.cat.Files[e.feed.Catalogue])
	require.NoError(t, err)
	m := gho.Mapping{
		Meta: feeds.Meta{
			Source: e.feed.ID, URL: e.feed.URL, Licence: e.feed.Licence,
			RetrievedAt: fixedClock, Version: version,
		},
		Indicators: inds,
	}
	open := gho.NewODataReader
	if e.feed.Format == "who-gho-csv" {
		open = gho.NewCSVReader
	}
	obs, _, err := feedtest.ReadAll(open(bytes.NewReader(data), m))
	require.NoError(t, err)
	return obs
}

func TestRunWHOFeedsFromMirror(t *testing.T) {
	dir := testenv.SharedDataDir(t)
	for _, wf := range whoFeeds {
		t.Run(wf.id, func(t *testing.T) {
			f := whoCatalogueFeed(t, wf.id)
			require.Equal(t, wf.format, f.Format)
			require.Equal(t, "who-gho", f.Catalogue)
			e := newEnv(t, ingest.Config{MirrorDir: dir}, func(feed *feedcat.Feed) { *feed = f })
			path := filepath.Join(dir, filepath.FromSlash(f.Mirror))
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			st, err := os.Stat(path)
			require.NoError(t, err)
			version := uint64(st.ModTime().UnixMilli())

			res, err := e.in.RunFeed(ctxT(t), f.ID)
			require.NoError(t, err)
			want := whoParse(t, e, data, version)
			records, values := wf.count(t, data)
			require.Equal(t, values, len(want), "parser count equals the independent count")
			require.Equal(t, len(want), res.Observations, "published count equals the parser's")
			require.Equal(t, records, res.Rows)
			require.Equal(t, version, res.Version)
			require.Zero(t, res.Duplicates)

			// Every message read back equals the parser's observations, in order.
			msgs := e.streamMessages(t)
			require.Len(t, msgs, res.Messages)
			subject, err := observation.Subject(f.Domain, f.ID)
			require.NoError(t, err)
			var got []observation.Observation
			for _, m := range msgs {
				require.Equal(t, subject, m.Subject())
				require.NotEmpty(t, m.Headers().Get(jetstream.MsgIDHeader))
				b, err := observation.Decode(m.Data())
				require.NoError(t, err)
				require.Equal(t, f.ID+"-"+strconv.FormatUint(version, 10), b.ID)
				got = append(got, b.Observations...)
			}
			require.Len(t, got, len(want))
			require.Equal(t, assessed(t, e.cat, f, want), res.Quality, "the run counts what it flagged")
			for i := range got {
				require.NoError(t, got[i].Validate())
				require.Equal(t, want[i], got[i], "observation %d", i)
			}
			require.Equal(t, float64(len(want)),
				value(t, e.reg, "ounce_ingest_observations_published_total", map[string]string{"feed": f.ID}))

			cp, ok, err := e.in.Checkpoint(ctxT(t), f.ID)
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, len(want), cp.Observations)
			require.Equal(t, records, cp.Rows)
			lintMetrics(t, e.reg)
		})
	}
}

// The empty OData answer ("value": []) is a valid answer: the run succeeds
// and publishes nothing. (Rows that yield no observation are still an error.)
func TestRunWHOEmptyAnswerPublishesNothing(t *testing.T) {
	dir := testenv.SharedDataDir(t)
	f := whoCatalogueFeed(t, "who-ncd-mortality")
	f.Mirror = "who/gho_odata/NCD_GLUC_01_SEX_BTSX_empty.json"
	e := newEnv(t, ingest.Config{MirrorDir: dir}, func(feed *feedcat.Feed) { *feed = f })
	res, err := e.in.RunFeed(ctxT(t), f.ID)
	require.NoError(t, err, "an empty answer is a successful run")
	require.Zero(t, res.Observations)
	require.Zero(t, res.Messages)
	require.Zero(t, e.streamCount(t))
}

// Over HTTP, a page where a CSV download was expected (the CSV feeds' url
// is the indicator's GHO page) is refused and publishes nothing.
func TestRunWHOFeedRefusesHTML(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<!DOCTYPE html><html><body>Global Health Observatory</body></html>"))
	}))
	t.Cleanup(srv.Close)
	for _, id := range []string{"who-health-expenditure-gdp", "who-ncd-mortality"} {
		t.Run(id, func(t *testing.T) {
			f := whoCatalogueFeed(t, id)
			e := newEnv(t, ingest.Config{}, func(feed *feedcat.Feed) { *feed = f }, atURL(srv.URL+"/indicator"))
			_, err := e.in.RunFeed(ctxT(t), f.ID)
			require.ErrorContains(t, err, "body is HTML")
			require.Zero(t, e.streamCount(t))
		})
	}
}
