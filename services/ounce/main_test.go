package main

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
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

func TestUnknownCommandExits2(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "ounce")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, string(out))
	out, err = exec.Command(bin, "frobnicate").CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	require.Equal(t, 2, exit.ExitCode())
	require.Contains(t, string(out), `unknown command "frobnicate"`)
}
