package main

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/testenv"
)

// --help prints the command's own flags and exits 0; an unknown flag or a
// stray argument exits 2 with a message naming it.
func TestHelpAndUsageMistakes(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "ounce-gateway")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, string(out))

	out, err = exec.Command(bin, "--help").CombinedOutput()
	require.NoError(t, err, string(out))
	require.Contains(t, string(out), "Usage of ounce-gateway:")
	require.Contains(t, string(out), "--nats-url")

	for args, says := range map[string]string{
		"--no-such-flag": "flag provided but not defined: -no-such-flag",
		"stray":          `unexpected arguments ["stray"]`,
		"--max-rows=-1":  "max-rows -1",
	} {
		cmd := exec.Command(bin, args)
		cmd.Env = append(os.Environ(), "OUNCE_NATS_URL=nats://127.0.0.1:1")
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit, string(out))
		require.Equal(t, 2, exit.ExitCode(), string(out))
		require.Contains(t, string(out), says)
	}
}

// On SIGTERM the gateway reports not-ready, finishes, and exits 0 within a
// bound.
func TestSIGTERM(t *testing.T) {
	n := testenv.StartNATS(t)
	bin := filepath.Join(t.TempDir(), "ounce-gateway")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, string(out))
	addr := testenv.FreeAddr(t)
	cmd := exec.Command(bin, "--nats-url", n.URL, "--nats-nkey", n.Client.NKey, "--addr", addr, "--log-format", "json")
	var logs testenv.SyncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 30*time.Second, 20*time.Millisecond, logs.String())

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-done:
		require.NoError(t, err, logs.String())
	case <-time.After(45 * time.Second):
		t.Fatalf("no exit 45 s after SIGTERM:\n%s", logs.String())
	}
	require.Contains(t, logs.String(), `"message":"http server shutting down"`)
	_, err = net.DialTimeout("tcp", addr, time.Second)
	require.Error(t, err, "the listener is closed")
}
