package backfill

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/extnats"
	"github.com/ounce-data/ounce/pkg/feedcat"
	"github.com/ounce-data/ounce/pkg/feeds"
	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/pkg/testenv"
)

func TestMain(m *testing.M) {
	testenv.Main(m)
}

const feedID = "owid-co2"

func owidFeed(t *testing.T) feedcat.Feed {
	t.Helper()
	all, err := feedcat.Load()
	require.NoError(t, err)
	f, ok := feedcat.ByID(all, feedID)
	require.True(t, ok)
	return f
}

// expected counts the observations of an OWID file with encoding/csv: the
// non-empty cells of the columns the catalogue maps.
func expected(t *testing.T, path string) (rows, obs int) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	require.NoError(t, err)
	cat, err := indicators.Load()
	require.NoError(t, err)
	cols, err := feeds.Columns(cat.Files[owidFeed(t).Catalogue])
	require.NoError(t, err)
	for i, h := range recs[0] {
		if _, ok := cols[h]; !ok {
			continue
		}
		for _, r := range recs[1:] {
			if r[i] != "" {
				obs++
			}
		}
	}
	return len(recs) - 1, obs
}

// streamObservations decodes every message of the feed's subject.
func streamObservations(t *testing.T, ns *testenv.NATS) (msgs int, obs []observation.Observation) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f := owidFeed(t)
	subject, err := observation.Subject(f.Domain, f.ID)
	require.NoError(t, err)
	stream, err := ns.JS.Stream(ctx, extnats.StreamObservations)
	require.NoError(t, err)
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(subject))
	require.NoError(t, err)
	want := int(info.State.Subjects[subject])
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	require.NoError(t, err)
	for msgs < want {
		batch, err := cons.Fetch(want-msgs, jetstream.FetchMaxWait(5*time.Second))
		require.NoError(t, err)
		for m := range batch.Messages() {
			b, err := observation.Decode(m.Data())
			require.NoError(t, err)
			obs = append(obs, b.Observations...)
			msgs++
		}
		require.NoError(t, batch.Error())
	}
	return msgs, obs
}

type progressLine struct {
	Message           string `json:"message"`
	Phase             string `json:"phase"`
	Done              string `json:"done"`
	Observations      int    `json:"observations"`
	ObservationsTotal int    `json:"observations_total"`
	Rows              int    `json:"rows"`
}

func progressLines(t *testing.T, out string) []progressLine {
	t.Helper()
	var lines []progressLine
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var l progressLine
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Message == "backfill progress" {
			lines = append(lines, l)
		}
	}
	return lines
}

func TestIntegrationBackfillMirrorFeed(t *testing.T) {
	ns := testenv.StartNATS(t)
	dir := testenv.SharedDataDir(t)
	rows, want := expected(t, filepath.Join(dir, filepath.FromSlash(owidFeed(t).Mirror)))
	require.Positive(t, want)
	args := []string{"--feed", feedID, "--mirror", dir, "--nats-url", ns.URL, "--nats-nkey", ns.Client.NKey, "--progress", "log", "--log-every", "1ms", "--log-format", "json"}

	var out bytes.Buffer
	require.NoError(t, Run(t.Context(), args, &out))
	msgs, got := streamObservations(t, ns)
	require.Len(t, got, want, "every observation of the file is in the stream")
	keys := map[string]bool{}
	for _, o := range got {
		keys[o.Indicator+"|"+o.Geo+"|"+o.Period.Code()] = true
	}
	require.Len(t, keys, want, "each once")

	lines := progressLines(t, out.String())
	require.Greater(t, len(lines), 3, out.String())
	last := lines[len(lines)-1]
	require.Equal(t, "done", last.Phase)
	require.Equal(t, "100%", last.Done)
	require.Equal(t, want, last.Observations)
	require.Equal(t, want, last.ObservationsTotal)
	require.Equal(t, rows, last.Rows)
	phases := map[string]bool{}
	for _, l := range lines {
		phases[l.Phase] = true
	}
	require.Equal(t, map[string]bool{"fetch": true, "parse": true, "publish": true, "done": true}, phases)

	// The summary says what was new.
	summaryLine := lastLine(out.String())
	require.Contains(t, summaryLine, "backfill owid-co2:")
	require.Contains(t, summaryLine, " observations in ")
	require.Contains(t, summaryLine, "(")
	require.Contains(t, summaryLine, ", 0 already in the stream)")

	// Again: the same message ids, every one a duplicate; the stream keeps one copy.
	out.Reset()
	require.NoError(t, Run(t.Context(), args, &out))
	msgs2, got2 := streamObservations(t, ns)
	require.Equal(t, msgs, msgs2)
	require.Len(t, got2, want)
	require.Contains(t, lastLine(out.String()), "(0 new, ")
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

// headMirror is a mirror directory with the header and first n rows of the
// recorded OWID file at the feed's path.
func headMirror(t *testing.T, n int) string {
	t.Helper()
	src := filepath.Join(testenv.SharedDataDir(t), filepath.FromSlash(owidFeed(t).Mirror))
	data, err := os.ReadFile(src)
	require.NoError(t, err)
	end := 0
	for range n + 1 {
		i := bytes.IndexByte(data[end:], '\n')
		require.GreaterOrEqual(t, i, 0)
		end += i + 1
	}
	dir := t.TempDir()
	p := filepath.Join(dir, filepath.FromSlash(owidFeed(t).Mirror))
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, data[:end], 0o644))
	return dir
}

func TestIntegrationBackfillBar(t *testing.T) {
	ns := testenv.StartNATS(t)
	dir := headMirror(t, 2000)
	rows, want := expected(t, filepath.Join(dir, filepath.FromSlash(owidFeed(t).Mirror)))
	var out bytes.Buffer
	require.NoError(t, Run(t.Context(), []string{"--feed", feedID, "--mirror", dir, "--nats-url", ns.URL, "--nats-nkey", ns.Client.NKey, "--progress", "bar", "--log-level", "warn"}, &out))
	frames := strings.Split(out.String(), "\r")
	require.Greater(t, len(frames), 2, "the bar is redrawn in place")
	final := frames[len(frames)-1]
	require.Contains(t, final, "owid-co2 done")
	require.Contains(t, final, "[########################] 100%")
	require.Contains(t, final, count(rows)+" rows")
	require.Contains(t, final, count(want)+"/"+count(want)+" obs")
	require.Contains(t, final, "obs/s")
	require.Contains(t, lastLine(out.String()), "backfill owid-co2: ")
	_, got := streamObservations(t, ns)
	require.Len(t, got, want)
}

func TestIntegrationBackfillWaitsForTheLease(t *testing.T) {
	ns := testenv.StartNATS(t)
	dir := headMirror(t, 100)
	ctx := t.Context()
	leases, err := ns.JS.KeyValue(ctx, extnats.BucketFeedLeases)
	require.NoError(t, err)
	_, err = leases.Create(ctx, feedID, []byte("worker-running-it"))
	require.NoError(t, err)

	out := &testenv.SyncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"--feed", feedID, "--mirror", dir, "--nats-url", ns.URL, "--nats-nkey", ns.Client.NKey, "--progress", "none", "--log-format", "json"}, out)
	}()
	require.Eventually(t, func() bool {
		return strings.Contains(out.String(), "waiting for the feed's lease") && strings.Contains(out.String(), "worker-running-it")
	}, time.Minute, 10*time.Millisecond)
	msgs, _ := streamObservations(t, ns)
	require.Zero(t, msgs, "nothing is pulled while another worker holds the lease")

	require.NoError(t, leases.Delete(ctx, feedID)) // the worker finished
	select {
	case err := <-done:
		require.NoError(t, err, out.String())
	case <-time.After(time.Minute):
		t.Fatal("backfill did not take the released lease")
	}
	_, got := streamObservations(t, ns)
	_, want := expected(t, filepath.Join(dir, filepath.FromSlash(owidFeed(t).Mirror)))
	require.Len(t, got, want)
}

func TestRunErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := "nats://" + ln.Addr().String()
	require.NoError(t, ln.Close())
	notDir := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(notDir, nil, 0o644))
	tests := []struct {
		name        string
		args        []string
		errContains []string
	}{
		{"no feed", nil, []string{"--feed is required"}},
		{"unknown feed", []string{"--feed", "nope"}, []string{"--feed nope: no such feed", "owid-co2"}},
		{"mirror not a directory", []string{"--feed", feedID, "--mirror", notDir}, []string{"--mirror " + notDir + ": not a directory"}},
		{"bad progress", []string{"--feed", feedID, "--progress", "fancy"}, []string{`--progress "fancy"`}},
		{"stray argument", []string{"--feed", feedID, "now"}, []string{"unexpected arguments"}},
		{"nats unreachable", []string{"--feed", feedID, "--nats-url", closed}, []string{"connect to nats " + closed, "--nats-url"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Run(t.Context(), tt.args, &bytes.Buffer{})
			require.Error(t, err)
			for _, s := range tt.errContains {
				require.ErrorContains(t, err, s)
			}
		})
	}
}

func TestDisplayFormats(t *testing.T) {
	require.Equal(t, "950", count(950))
	require.Equal(t, "12.3k", count(12_345))
	require.Equal(t, "4.1M", count(4_100_000))
	require.Equal(t, "512 B", byteSize(512))
	require.Equal(t, "3.5 MB", byteSize(3_456_789))
	require.Equal(t, "01:05", clock(65*time.Second))
	require.Equal(t, "1:01:01", clock(time.Hour+61*time.Second))
}
