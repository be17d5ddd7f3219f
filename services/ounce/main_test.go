package main

import (
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/chserver"
	"github.com/ounce-data/ounce/pkg/testenv"
)

// clickhousePIDs lists the processes whose command line mentions dir.
func clickhousePIDs(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err)
	var pids []string
	for _, e := range entries {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if strings.Contains(string(cmdline), dir) && strings.Contains(string(cmdline), "clickhouse") {
			pids = append(pids, e.Name())
		}
	}
	return pids
}

// `ounce dev` as a newcomer runs it: it starts its own ClickHouse and an
// embedded NATS, serves, and on SIGTERM stops everything and exits 0.
func TestIntegrationDevStartsAndStopsItsOwnClickHouse(t *testing.T) {
	if _, _, err := chserver.FindBinary(); err != nil {
		if os.Getenv(testenv.EnvIntegration) == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	bin := filepath.Join(t.TempDir(), "ounce")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, string(out))

	dataDir := filepath.Join(t.TempDir(), "data")
	addr := testenv.FreeAddr(t)
	cmd := exec.Command(bin, "dev", "--data-dir", dataDir, "--nats-port", "-1",
		"--clickhouse-tcp-port", "-1", "--clickhouse-http-port", "-1", "--query-addr", addr, "--gateway-addr", testenv.FreeAddr(t), "--no-ingest", "--log-level", "warn")
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
	})

	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 2*time.Minute, 50*time.Millisecond)
	resp, err := http.Get("http://" + addr + "/v1/indicators")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NotEmpty(t, clickhousePIDs(t, dataDir), "ounce dev runs its own clickhouse")

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-done:
		require.NoError(t, err, "ounce dev exits 0 on SIGTERM")
	case <-time.After(90 * time.Second):
		t.Fatal("ounce dev did not exit within 90s of SIGTERM")
	}
	require.Empty(t, clickhousePIDs(t, dataDir), "the clickhouse ounce dev started is stopped with it")
}

// build compiles the ounce command into a directory of t's.
func build(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ounce")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, string(out))
	return bin
}

// exitCode runs bin with args and returns its exit code and its output.
func exitCode(t *testing.T, bin string, args ...string) (int, string) {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err == nil {
		return 0, string(out)
	}
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "run %v: %s", args, out)
	return exit.ExitCode(), string(out)
}

func TestUnknownCommandExits2(t *testing.T) {
	code, out := exitCode(t, build(t), "frobnicate")
	require.Equal(t, 2, code)
	require.Contains(t, out, `unknown command "frobnicate"`)
}

// --help on every command and subcommand prints that command's own flags
// and exits 0.
func TestHelpPrintsTheCommandsOwnFlags(t *testing.T) {
	bin := build(t)
	for _, tt := range []struct {
		args       []string
		has, lacks []string
	}{
		{[]string{"--help"}, []string{"commands:", "dev", "migrate"}, nil},
		{[]string{"dev", "--help"}, []string{"Usage of ounce dev:", "--query-addr", "--mirror", "--log-format"}, nil},
		{[]string{"migrate", "--help"}, []string{"Usage of ounce migrate:", "--clickhouse-dsn", "--log-level"}, []string{"--query-addr", "--mirror", "--data-dir"}},
		{[]string{"partners", "--help"}, []string{"add", "rotate", "revoke"}, nil},
		{[]string{"partners", "add", "--help"}, []string{"Usage of ounce partners add:", "--indicators", "--places"}, []string{"--grace"}},
		{[]string{"partners", "rotate", "--help"}, []string{"Usage of ounce partners rotate:", "--grace"}, []string{"--indicators"}},
		{[]string{"partners", "list", "-h"}, []string{"Usage of ounce partners list:", "--nats-url"}, []string{"--grace"}},
		{[]string{"backfill", "--help"}, []string{"Usage of ounce backfill:", "--feed", "--progress"}, []string{"--query-addr"}},
	} {
		code, out := exitCode(t, bin, tt.args...)
		require.Equal(t, 0, code, "%v: %s", tt.args, out)
		for _, s := range tt.has {
			require.Contains(t, out, s, "%v", tt.args)
		}
		for _, s := range tt.lacks {
			require.NotContains(t, out, s, "%v", tt.args)
		}
	}
}

// A mistake on the command line exits 2 with a message naming what to
// change, before anything is started.
func TestUsageMistakesExit2(t *testing.T) {
	bin := build(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	for _, tt := range []struct {
		args []string
		says string
	}{
		{[]string{"dev", "--no-such-flag"}, "flag provided but not defined: -no-such-flag"},
		{[]string{"dev", "stray"}, `unexpected arguments ["stray"]`},
		{[]string{"dev", "--data-dir", dataDir, "--analyst-token", "short"}, "analyst token: must be at least 16 characters"},
		{[]string{"dev", "--data-dir", dataDir, "--log-format", "xml"}, `--log-format "xml"`},
		{[]string{"migrate", "--query-addr", "127.0.0.1:1"}, "flag provided but not defined: -query-addr"},
		{[]string{"partners", "frob"}, `unknown command "frob"`},
		{[]string{"partners", "revoke"}, "revoke: name one partner id"},
		{[]string{"backfill"}, "--feed is required"},
	} {
		code, out := exitCode(t, bin, tt.args...)
		require.Equal(t, 2, code, "%v: %s", tt.args, out)
		require.Contains(t, out, tt.says, "%v", tt.args)
	}
	_, err := os.Stat(dataDir)
	require.True(t, os.IsNotExist(err), "a refused ounce dev creates nothing: %v", err)
}

// A taken query or gateway port is reported by the flag of ounce dev that
// sets it, before NATS or ClickHouse is started and before "up" is logged.
func TestDevTakenPortNamesItsFlag(t *testing.T) {
	bin := build(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = taken.Close() })
	for _, flag := range []string{"--query-addr", "--gateway-addr"} {
		dataDir := filepath.Join(t.TempDir(), "data")
		code, out := exitCode(t, bin, "dev", "--data-dir", dataDir, "--no-ingest", "--log-format", "json", flag, taken.Addr().String())
		require.Equal(t, 1, code, out)
		require.Contains(t, out, "already in use")
		require.Contains(t, out, "choose another address with "+flag)
		require.NotContains(t, out, "--addr ")
		require.NotContains(t, out, "is up")
		require.NotContains(t, out, "nats started")
		require.NotContains(t, out, "clickhouse")
	}
}

// When the ClickHouse ounce dev started dies, /readyz says so and ounce dev
// starts it again on the same ports; the API answers again afterwards.
func TestIntegrationDevRestartsItsClickHouse(t *testing.T) {
	if _, _, err := chserver.FindBinary(); err != nil {
		if os.Getenv(testenv.EnvIntegration) == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	bin := build(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	addr := testenv.FreeAddr(t)
	cmd := exec.Command(bin, "dev", "--data-dir", dataDir, "--nats-port", "-1",
		"--clickhouse-tcp-port", "-1", "--clickhouse-http-port", "-1", "--query-addr", addr, "--gateway-addr", testenv.FreeAddr(t),
		"--no-ingest", "--log-format", "json")
	var logs testenv.SyncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			_ = cmd.Process.Kill()
		}
	})
	status := func(path string) int {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Eventually(t, func() bool { return status("/readyz") == http.StatusOK }, 2*time.Minute, 50*time.Millisecond, logs.String())

	pids := clickhousePIDs(t, filepath.Join(dataDir, "clickhouse", "config.xml")) // the server, not ounce dev
	require.NotEmpty(t, pids)
	for _, pid := range pids {
		n, err := strconv.Atoi(pid)
		require.NoError(t, err)
		require.NoError(t, syscall.Kill(n, syscall.SIGKILL))
	}
	require.Eventually(t, func() bool { return status("/readyz") == http.StatusServiceUnavailable }, 30*time.Second, 20*time.Millisecond,
		"/readyz fails while the ClickHouse is down")
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), `"clickhouse restarted"`) }, time.Minute, 50*time.Millisecond, logs.String())
	require.Eventually(t, func() bool { return status("/readyz") == http.StatusOK }, time.Minute, 50*time.Millisecond, logs.String())
	require.Equal(t, http.StatusOK, status("/v1/indicators"))
	require.Contains(t, logs.String(), `"clickhouse exited; restarting it"`)
	select {
	case err := <-done:
		t.Fatalf("ounce dev exited: %v\n%s", err, logs.String())
	default:
	}
}

// SIGTERM stops ounce dev within a bound even while its ClickHouse does
// not answer and the loader holds data it could not insert.
func TestIntegrationDevStopsWhileClickHouseIsDown(t *testing.T) {
	mirror := testenv.SharedDataDir(t)
	ch := testenv.StartClickHouse(t)
	u, err := url.Parse(ch.DSN)
	require.NoError(t, err)
	proxy := testenv.StartProxy(t, u.Host)
	dsn := strings.Replace(ch.DSN, u.Host, proxy.Addr(), 1)

	bin := build(t)
	_, natsPort, err := net.SplitHostPort(testenv.FreeAddr(t))
	require.NoError(t, err)
	addr := testenv.FreeAddr(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	cmd := exec.Command(bin, "dev", "--data-dir", dataDir, "--nats-port", natsPort,
		"--clickhouse-dsn", dsn, "--query-addr", addr, "--gateway-addr", testenv.FreeAddr(t), "--no-ingest", "--log-format", "json")
	var logs testenv.SyncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/readyz") // the loader included: it has read the catalogue
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 2*time.Minute, 20*time.Millisecond, logs.String())

	// ClickHouse goes away, then a feed is published: the loader holds batches it cannot insert.
	proxy.SetDown(true)
	out, err := exec.Command(bin, "backfill", "--feed", "owid-co2", "--mirror", mirror, "--nats-url", "nats://127.0.0.1:"+natsPort, "--data-dir", dataDir, "--progress", "none").CombinedOutput()
	require.NoError(t, err, string(out))
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "clickhouse unavailable; holding batch") }, time.Minute, 20*time.Millisecond, logs.String())

	start := time.Now()
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatalf("ounce dev did not stop within 60 s of SIGTERM with ClickHouse down:\n%s", logs.String())
	}
	t.Logf("stopped in %s", time.Since(start))
	require.Contains(t, logs.String(), "handed_back_messages", "the log says what was handed back unloaded")
}
