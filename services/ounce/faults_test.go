//go:build faults

// The fault suite (`make test-faults`, run by CI): `ounce dev` killed with
// SIGKILL at several moments of its first load and while partners push,
// and its ClickHouse killed mid-load. Every faulted run must end exactly
// equal to a clean run of the same input: per source, the same number of
// rows, of distinct keys and the same content hash in observations FINAL.
// Nothing lost, nothing counted twice.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/extch"
	"github.com/ounce-data/ounce/pkg/testenv"
)

const faultAnalystToken = "fault-suite-analyst-token"

// sourcePrint is one source's fingerprint of observations FINAL.
type sourcePrint struct {
	Source string `ch:"source"`
	Rows   uint64 `ch:"n"`
	Keys   uint64 `ch:"k"`
	Hash   uint64 `ch:"h"`
}

// fingerprintSQL hashes every column that makes the fact (key, value, unit,
// provenance), not those a re-run may change (version, retrieved_at, batch,
// load time). A row stored twice under one key cannot hide: FINAL keeps one
// version per key, so a duplicate shows as a different key count or hash.
const fingerprintSQL = `
SELECT source, count() AS n, uniqExact(indicator, geo, grain, period_start, dims) AS k,
       sum(cityHash64(indicator, geo, grain, period_start, period_end, dims, value, unit, initiative, source_url, licence)) AS h
FROM observations FINAL GROUP BY source ORDER BY source`

// devRun is one incarnation of ounce dev.
type devRun struct {
	cmd  *exec.Cmd
	logs *testenv.SyncBuffer
	done chan error
}

// faultStack is an ounce dev data directory and its addresses, started,
// killed and started again by a test.
type faultStack struct {
	t                        *testing.T
	bin, dataDir, mirror     string
	natsPort, query, gateway string
	clickhouse               []string // --clickhouse-dsn, or the ports of the ClickHouse ounce dev starts
	dsn                      string   // where the fingerprint is read
	noIngest                 bool
	run                      *devRun
	incarnations             int
}

func newFaultStack(t *testing.T, bin, mirror string) *faultStack {
	_, natsPort, err := net.SplitHostPort(testenv.FreeAddr(t))
	require.NoError(t, err)
	s := &faultStack{t: t, bin: bin, dataDir: filepath.Join(t.TempDir(), "data"), mirror: mirror,
		natsPort: natsPort, query: testenv.FreeAddr(t), gateway: testenv.FreeAddr(t)}
	t.Cleanup(func() {
		if s.run != nil {
			_ = s.run.cmd.Process.Kill()
			<-s.run.done
		}
	})
	return s
}

// onClickHouse points the stack at a fresh database of the test server.
func (s *faultStack) onClickHouse() *faultStack {
	ch := testenv.StartClickHouse(s.t)
	s.clickhouse = []string{"--clickhouse-dsn", ch.DSN}
	s.dsn = ch.DSN
	return s
}

// onOwnClickHouse lets ounce dev start and supervise its ClickHouse.
func (s *faultStack) onOwnClickHouse() *faultStack {
	_, tcp, err := net.SplitHostPort(testenv.FreeAddr(s.t))
	require.NoError(s.t, err)
	_, web, err := net.SplitHostPort(testenv.FreeAddr(s.t))
	require.NoError(s.t, err)
	s.clickhouse = []string{"--clickhouse-tcp-port", tcp, "--clickhouse-http-port", web}
	s.dsn = "clickhouse://127.0.0.1:" + tcp + "/ounce"
	return s
}

func (s *faultStack) start() {
	s.t.Helper()
	require.Nil(s.t, s.run, "already running")
	require.NoError(s.t, s.launch())
}

func (s *faultStack) launch() error {
	args := append([]string{"dev", "--data-dir", s.dataDir, "--nats-port", s.natsPort,
		"--query-addr", s.query, "--gateway-addr", s.gateway, "--analyst-token", faultAnalystToken,
		"--log-format", "json"}, s.clickhouse...)
	if s.noIngest {
		args = append(args, "--no-ingest")
	} else {
		args = append(args, "--mirror", s.mirror)
	}
	r := &devRun{cmd: exec.Command(s.bin, args...), logs: &testenv.SyncBuffer{}, done: make(chan error, 1)}
	r.cmd.Stdout, r.cmd.Stderr = r.logs, r.logs
	if err := r.cmd.Start(); err != nil {
		return err
	}
	go func() { r.done <- r.cmd.Wait() }()
	s.run = r
	s.incarnations++
	return nil
}

// waitLog waits until this incarnation logged msg n times.
func (s *faultStack) waitLog(msg string, n int) {
	s.t.Helper()
	needle := `"message":"` + msg + `"`
	require.Eventually(s.t, func() bool { return strings.Count(s.run.logs.String(), needle) >= n },
		2*time.Minute, 5*time.Millisecond, "%q never logged %d times:\n%s", msg, n, s.run.logs)
}

func (s *faultStack) waitReady() {
	s.t.Helper()
	require.Eventually(s.t, func() bool { return httpStatus("http://"+s.query+"/readyz") == http.StatusOK },
		2*time.Minute, 20*time.Millisecond, "never ready:\n%s", s.run.logs)
}

// kill sends SIGKILL to ounce dev: no shutdown code runs.
func (s *faultStack) kill() {
	s.t.Helper()
	require.NoError(s.t, s.run.cmd.Process.Signal(syscall.SIGKILL))
	select {
	case <-s.run.done:
	case <-time.After(30 * time.Second):
		s.t.Fatal("ounce dev survived SIGKILL for 30 s")
	}
	s.run = nil
}

// restart kills ounce dev with SIGKILL and starts it again, from a
// goroutine other than the test's (so it returns an error, not t.Fatal).
func (s *faultStack) restart() error {
	if err := s.run.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	select {
	case <-s.run.done:
	case <-time.After(30 * time.Second):
		return fmt.Errorf("ounce dev survived SIGKILL for 30 s")
	}
	s.run = nil
	return s.launch()
}

// stop sends SIGTERM and requires a clean exit.
func (s *faultStack) stop() {
	s.t.Helper()
	require.NoError(s.t, s.run.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-s.run.done:
		require.NoError(s.t, err, s.run.logs.String())
	case <-time.After(90 * time.Second):
		s.t.Fatalf("ounce dev did not stop within 90 s of SIGTERM:\n%s", s.run.logs)
	}
	s.run = nil
}

// settled waits until everything published is loaded — every feed ran (ok or partial),
// the loader's consumer holds nothing, and the fingerprint holds still for
// two seconds — and returns the fingerprint.
func (s *faultStack) settled() []sourcePrint {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	conn, err := extch.Open(ctx, s.dsn)
	require.NoError(s.t, err)
	defer conn.Close()
	var last []sourcePrint
	var lastAt time.Time
	why := ""
	for ctx.Err() == nil {
		time.Sleep(250 * time.Millisecond)
		if !s.noIngest {
			if ok, st := feedsOK(s.query); !ok {
				why, last = "feeds: "+st, nil
				continue
			}
		}
		if p, ok := s.loaderPending(); !ok || p > 0 {
			why, last = fmt.Sprintf("loader pending %g (metrics read %v)", p, ok), nil
			continue
		}
		var now []sourcePrint
		if err := conn.Select(ctx, &now, fingerprintSQL); err != nil {
			why, last = "fingerprint: "+err.Error(), nil
			continue
		}
		if last == nil || !equalPrints(now, last) {
			why, last, lastAt = "fingerprint still moving", now, time.Now()
			continue
		}
		if time.Since(lastAt) >= 2*time.Second {
			return now
		}
	}
	s.t.Fatalf("never settled (%s):\n%s", why, s.run.logs)
	return nil
}

// loaderPending reads the loader's consumer lag and unacked messages.
func (s *faultStack) loaderPending() (float64, bool) {
	resp, err := http.Get("http://" + s.query + "/metrics")
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	var sum float64
	seen := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		for _, name := range []string{"ounce_loader_consumer_pending_messages ", "ounce_loader_consumer_ack_pending_messages "} {
			if strings.HasPrefix(line, name) {
				v, err := strconv.ParseFloat(strings.TrimPrefix(line, name), 64)
				if err != nil {
					return 0, false
				}
				sum += v
				seen++
			}
		}
	}
	return sum, seen == 2
}

// feedsOK says whether GET /v1/feeds lists every feed with status ok.
func feedsOK(addr string) (bool, string) {
	resp, err := http.Get("http://" + addr + "/v1/feeds")
	if err != nil {
		return false, err.Error()
	}
	defer resp.Body.Close()
	var body struct {
		Feeds []struct{ ID, Status string }
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&body) != nil {
		return false, "status " + resp.Status
	}
	var not []string
	for _, f := range body.Feeds {
		// partial is a run that succeeded on a body holding less than its
		// source declares (the first page of several World Bank pages).
		if f.Status != "ok" && f.Status != "partial" {
			not = append(not, f.ID+"="+f.Status)
		}
	}
	return len(body.Feeds) > 0 && len(not) == 0, strings.Join(not, " ")
}

func httpStatus(url string) int {
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func equalPrints(a, b []sourcePrint) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// requireSamePrints compares a faulted run with the clean one, source by source.
func requireSamePrints(t *testing.T, clean, got []sourcePrint, what string) {
	t.Helper()
	want := map[string]sourcePrint{}
	for _, p := range clean {
		want[p.Source] = p
	}
	have := map[string]sourcePrint{}
	for _, p := range got {
		have[p.Source] = p
		require.Equal(t, p.Rows, p.Keys, "%s: %s has %d rows in FINAL over %d keys", what, p.Source, p.Rows, p.Keys)
	}
	for src, w := range want {
		h, ok := have[src]
		require.True(t, ok, "%s: source %s lost entirely", what, src)
		require.Equal(t, w, h, "%s: source %s differs from the clean load", what, src)
	}
	require.Len(t, have, len(want), "%s: sources %v, clean %v", what, got, clean)
}

// The first load of the mirror, killed with SIGKILL at several moments and
// started again on the same data directory, ends equal to a clean load.
func TestFaultsKilledDuringFirstLoad(t *testing.T) {
	mirror := testenv.SharedDataDir(t)
	bin := build(t)

	clean := newFaultStack(t, bin, mirror).onClickHouse()
	start := time.Now()
	clean.start()
	want := clean.settled()
	clean.stop()
	var rows uint64
	for _, p := range want {
		rows += p.Rows
	}
	require.Greater(t, len(want), 20, "sources of the clean load: %v", want)
	t.Logf("clean load: %d sources, %d observations, settled in %s", len(want), rows, time.Since(start).Round(time.Millisecond))

	for _, tc := range []struct {
		name  string
		kills []struct {
			msg string
			n   int
		}
	}{
		{"as soon as it is up", []struct {
			msg string
			n   int
		}{{"ounce dev is up; Ctrl-C stops everything", 1}}},
		{"after the first feed is parsed", []struct {
			msg string
			n   int
		}{{"feed parsed", 1}}},
		{"after the first rows are queryable", []struct {
			msg string
			n   int
		}{{"data queryable", 1}}},
		{"midway through the load", []struct {
			msg string
			n   int
		}{{"data queryable", 15}}},
		{"twice, the second time while recovering", []struct {
			msg string
			n   int
		}{{"data queryable", 5}, {"data queryable", 2}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newFaultStack(t, bin, mirror).onClickHouse()
			for _, k := range tc.kills {
				s.start()
				s.waitLog(k.msg, k.n)
				s.kill()
			}
			restarted := time.Now()
			s.start()
			got := s.settled()
			t.Logf("settled %s after the last restart", time.Since(restarted).Round(time.Millisecond))
			requireSamePrints(t, want, got, tc.name)
			s.stop()
		})
	}

	// ClickHouse itself dies mid-load: ounce dev starts it again, and the
	// loader inserts what it could not.
	t.Run("clickhouse killed midway through the load", func(t *testing.T) {
		s := newFaultStack(t, bin, mirror).onOwnClickHouse()
		s.start()
		s.waitLog("data queryable", 8)
		pids := clickhousePIDs(t, filepath.Join(s.dataDir, "clickhouse", "config.xml"))
		require.NotEmpty(t, pids)
		for _, pid := range pids {
			n, err := strconv.Atoi(pid)
			require.NoError(t, err)
			require.NoError(t, syscall.Kill(n, syscall.SIGKILL))
		}
		s.waitLog("clickhouse restarted", 1)
		got := s.settled()
		requireSamePrints(t, want, got, "clickhouse killed")
		s.stop()
	})
}

// partnerPush is one push of the partner load: its rows as CSV and the key
// that makes a retry safe.
type partnerPush struct {
	key    string
	atomic bool
	body   string
	rows   int
}

// partnerLoad makes n pushes of rows each: distinct keys (one site a push,
// one month a row), values drawn from a fixed seed, an explicit version so
// a retried push repeats its messages exactly.
func partnerLoad(n, rows int) []partnerPush {
	rng := rand.New(rand.NewPCG(7, 11))
	pushes := make([]partnerPush, n)
	for i := range pushes {
		var b strings.Builder
		b.WriteString("indicator,geo,period,value,version,dim.site\n")
		for j := range rows {
			fmt.Fprintf(&b, "who.NCD_PAA,GBR,%04d-%02d,%.3f,1,s%03d\n", 1980+j/12, 1+j%12, 5+90*rng.Float64(), i)
		}
		pushes[i] = partnerPush{key: fmt.Sprintf("fault-push-%03d", i), atomic: i%2 == 1, body: b.String(), rows: rows}
	}
	return pushes
}

// pushAll pushes every push until each has a 2xx answer, retrying what a
// dead or restarting gateway could not answer with the same
// Idempotency-Key. onAnswer is called after each 2xx answer with their
// count so far. It returns the batch id of each push.
func pushAll(t *testing.T, gateway, key string, pushes []partnerPush, onAnswer func(n int)) []string {
	t.Helper()
	client := &http.Client{Timeout: 30 * time.Second}
	batches := make([]string, len(pushes))
	next := make(chan int)
	var mu sync.Mutex
	answered := 0
	var wg sync.WaitGroup
	errs := make(chan error, len(pushes))
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				p := pushes[i]
				deadline := time.Now().Add(4 * time.Minute)
				for {
					if time.Now().After(deadline) {
						errs <- fmt.Errorf("push %s: no answer within 4 minutes", p.key)
						break
					}
					url := "http://" + gateway + "/v1/observations"
					if p.atomic {
						url += "?atomic=true"
					}
					req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(p.body))
					req.Header.Set("Authorization", "Bearer "+key)
					req.Header.Set("Content-Type", "text/csv")
					req.Header.Set("Idempotency-Key", p.key)
					resp, err := client.Do(req)
					if err != nil {
						time.Sleep(100 * time.Millisecond) // the gateway is down or restarting
						continue
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					switch {
					case resp.StatusCode == http.StatusOK:
						var sum struct {
							Status  string `json:"status"`
							BatchID string `json:"batch_id"`
							Counts  struct {
								Accepted int `json:"accepted"`
							} `json:"counts"`
						}
						if err := json.Unmarshal(body, &sum); err != nil || sum.Status != "SUCCESS" || sum.Counts.Accepted != p.rows {
							errs <- fmt.Errorf("push %s: answer %s", p.key, body)
						}
						batches[i] = sum.BatchID
						mu.Lock()
						answered++
						n := answered
						mu.Unlock()
						if onAnswer != nil {
							onAnswer(n)
						}
					case resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode == http.StatusConflict,
						resp.StatusCode >= 500:
						time.Sleep(200 * time.Millisecond) // rate limit, key still claimed by a dead request, not ready
						continue
					default:
						errs <- fmt.Errorf("push %s: %s %s", p.key, resp.Status, body)
					}
					break
				}
			}
		}()
	}
	for i := range pushes {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
	return batches
}

// addPartner registers the fault suite's partner in the running stack and
// returns its API key.
func (s *faultStack) addPartner() string {
	s.t.Helper()
	out, err := exec.Command(s.bin, "partners", "add", "--name", "Fault Clinic", "--indicators", "who.NCD_PAA",
		"--places", "GBR", "--nats-url", "nats://127.0.0.1:"+s.natsPort, "--data-dir", s.dataDir).CombinedOutput()
	require.NoError(s.t, err, string(out))
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	key := lines[len(lines)-1]
	require.True(s.t, strings.HasPrefix(key, "ounce_"), "the key is the last line: %s", out)
	return key
}

// requireBatchesLoaded checks that the gateway reports every push loaded.
func (s *faultStack) requireBatchesLoaded(key string, batches []string) {
	s.t.Helper()
	for _, id := range batches {
		req, _ := http.NewRequest(http.MethodGet, "http://"+s.gateway+"/v1/batches/"+id, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		var st struct {
			State string `json:"state"`
		}
		require.Eventually(s.t, func() bool {
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			return resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&st) == nil &&
				(st.State == "loaded" || st.State == "duplicate")
		}, time.Minute, 50*time.Millisecond, "batch %s never loaded: %+v", id, st)
	}
}

// Partner pushes, with ounce dev killed with SIGKILL while they arrive and
// every unanswered push retried with its Idempotency-Key, store exactly
// what the same pushes store on a stack that never fails.
func TestFaultsKilledDuringPartnerPushes(t *testing.T) {
	bin := build(t)
	pushes := partnerLoad(60, 200)
	rows := 0
	for _, p := range pushes {
		rows += p.rows
	}

	clean := newFaultStack(t, bin, "").onClickHouse()
	clean.noIngest = true
	clean.start()
	clean.waitReady()
	key := clean.addPartner()
	batches := pushAll(t, clean.gateway, key, pushes, nil)
	clean.requireBatchesLoaded(key, batches)
	want := clean.settled()
	clean.stop()
	require.Len(t, want, 1, "only the partner's source: %v", want)
	require.Equal(t, uint64(rows), want[0].Rows, "the clean stack stores every pushed row: %v", want)

	s := newFaultStack(t, bin, "").onClickHouse()
	s.noIngest = true
	s.start()
	s.waitReady()
	key = s.addPartner()
	kills := map[int]bool{10: true, 30: true, 45: true} // after that many answers, with pushes in flight
	restarts := make(chan struct{}, len(kills))
	restarted := make(chan error, 1)
	go func() {
		var err error
		for range restarts {
			if err == nil {
				err = s.restart()
			}
		}
		restarted <- err
	}()
	start := time.Now()
	batches = pushAll(t, s.gateway, key, pushes, func(n int) {
		if kills[n] {
			restarts <- struct{}{}
		}
	})
	close(restarts)
	require.NoError(t, <-restarted)
	t.Logf("%d pushes answered in %s over %d incarnations", len(pushes), time.Since(start).Round(time.Millisecond), s.incarnations)
	s.waitReady()
	s.requireBatchesLoaded(key, batches)
	got := s.settled()
	requireSamePrints(t, want, got, "partner pushes")
	s.stop()
}
