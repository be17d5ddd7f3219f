package loader

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/extnats"
	"github.com/ounce-data/ounce/pkg/testenv"
)

// These tests run the real ounce-loader binary as a child process, so that a
// kill is a kill: no deferred flush, no drain.

func buildLoader(t *testing.T) string { return buildLoaderB(t) }

func buildLoaderB(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ounce-loader")
	out, err := exec.Command("go", "build", "-o", bin, "./cmd/ounce-loader").CombinedOutput()
	require.NoError(t, err, string(out))
	return bin
}

type proc struct {
	cmd  *exec.Cmd
	addr string
	done chan error
}

func startProc(t *testing.T, bin string, nc extnats.Client, dsn string, extra ...string) *proc {
	return startProcB(t, bin, nc, dsn, extra...)
}

func startProcB(t testing.TB, bin string, nc extnats.Client, dsn string, extra ...string) *proc {
	t.Helper()
	addr := testenv.FreeAddr(t)
	args := append([]string{"--nats-url", nc.URL, "--nats-nkey", nc.NKey, "--clickhouse-dsn", dsn, "--addr", addr, "--log-level", "warn"}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	p := &proc{cmd: cmd, addr: addr, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(p.stop)
	return p
}

// stop kills the process and waits for it; calling it again does nothing.
func (p *proc) stop() {
	_ = p.cmd.Process.Kill()
	err := <-p.done
	p.done <- err
}

// metric reads one unlabelled metric from the process's /metrics.
func (p *proc) metric(name string) (float64, bool) {
	v, ok := p.metrics(name)[name]
	return v, ok
}

// metrics reads unlabelled metrics from one scrape of the process's /metrics;
// a metric the scrape lacks is absent from the map.
func (p *proc) metrics(names ...string) map[string]float64 {
	out := make(map[string]float64, len(names))
	resp, err := http.Get("http://" + p.addr + "/metrics")
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), " ")
		if !ok || !slices.Contains(names, name) {
			continue
		}
		var f float64
		if _, err := fmt.Sscanf(v, "%g", &f); err == nil {
			out[name] = f
		}
	}
	return out
}

func TestIntegrationKillAndRestartLoadsEveryObservationExactlyOnce(t *testing.T) {
	bin := buildLoader(t)
	ns := testenv.StartNATS(t)
	ch := testenv.StartClickHouse(t)
	const total = 200_000
	publish(t, ns.JS, synthetic(total, "XK", 1))

	// Small batches so that loading takes many inserts and a kill lands mid-way.
	flags := []string{"--batch-rows", "2000", "--flush-interval", "20ms", "--ack-wait", "2s"}
	first := startProc(t, bin, ns.Client, ch.DSN, flags...)
	require.Eventually(t, func() bool { n, _ := countFinal(t, ch.Conn); return n > 0 }, 60*time.Second, 5*time.Millisecond)
	require.NoError(t, first.cmd.Process.Signal(syscall.SIGKILL))
	err := <-first.done
	first.done <- err
	require.ErrorContains(t, err, "killed")
	loaded, _ := countFinal(t, ch.Conn)
	require.Less(t, loaded, uint64(total), "the kill must land before everything is loaded")
	t.Logf("killed after %d of %d observations were loaded", loaded, total)

	startProc(t, bin, ns.Client, ch.DSN, flags...)
	require.Eventually(t, func() bool { n, _ := countFinal(t, ch.Conn); return n == total }, 120*time.Second, 50*time.Millisecond)
	rows, keys := countFinal(t, ch.Conn)
	require.EqualValues(t, total, rows)
	require.EqualValues(t, total, keys)
	var sum float64
	require.NoError(t, ch.Conn.QueryRow(context.Background(),
		"SELECT sum(value) FROM observations FINAL WHERE source = 'loader-test'").Scan(&sum))
	// synthetic values are i + 0.25 for i in [0, total)
	require.InDelta(t, float64(total)*(total-1)/2+0.25*total, sum, 1e-3)
}

func TestIntegrationSIGTERMFlushesTheOpenBatch(t *testing.T) {
	bin := buildLoader(t)
	ns := testenv.StartNATS(t)
	ch := testenv.StartClickHouse(t)
	p := startProc(t, bin, ns.Client, ch.DSN, "--flush-interval", "10m", "--ack-wait", "1h", "--hold-when-caught-up")
	require.Eventually(t, func() bool { _, ok := p.metric("ounce_loader_open_batch_rows"); return ok }, 60*time.Second, 20*time.Millisecond)
	publish(t, ns.JS, synthetic(700, "XT", 1))
	require.Eventually(t, func() bool { v, _ := p.metric("ounce_loader_open_batch_rows"); return v == 700 }, 30*time.Second, 20*time.Millisecond)
	n, _ := countFinal(t, ch.Conn)
	require.Zero(t, n, "nothing is inserted before the flush interval")

	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-p.done:
		p.done <- err
		require.NoError(t, err, "SIGTERM exits 0")
	case <-time.After(60 * time.Second):
		t.Fatal("loader did not exit within 60s of SIGTERM")
	}
	n, _ = countFinal(t, ch.Conn)
	require.EqualValues(t, 700, n)
}
