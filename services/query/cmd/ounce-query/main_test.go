package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/testenv"
)

// envRunMain makes the test binary act as ounce-query, so tests can signal a
// real process.
const envRunMain = "OUNCE_QUERY_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(envRunMain) == "1" {
		main()
		os.Exit(0)
	}
	testenv.Main(m)
}

// command runs this test binary as ounce-query with args.
func command(t *testing.T, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), envRunMain+"=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	return cmd, &stderr
}

func TestRunErrors(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = taken.Close() })

	tests := []struct {
		name        string
		args        []string
		env         map[string]string
		errContains []string
	}{
		{name: "bad max rows", args: []string{"--max-rows=-1"}, errContains: []string{"max rows -1"}},
		{name: "bad log level", args: []string{"--log-level=loud"}, errContains: []string{"--log-level"}},
		{name: "bad addr", args: []string{"--addr=localhost"}, errContains: []string{"--addr"}},
		{name: "stray argument", args: []string{"serve"}, errContains: []string{"unexpected arguments"}},
		{name: "unknown flag", args: []string{"--nope"}, errContains: []string{"not defined"}},
		{name: "bad environment", env: map[string]string{"OUNCE_QUERY_MAX_ROWS": "many"}, errContains: []string{"OUNCE_QUERY_MAX_ROWS", "--max-rows"}},
		{name: "port taken", args: []string{"--addr=" + taken.Addr().String()}, errContains: []string{"already in use", "--addr"}},
		{name: "http dsn", args: []string{"--addr=127.0.0.1:0", "--clickhouse-dsn=http://127.0.0.1:18123/ounce"},
			errContains: []string{"--clickhouse-dsn", "native protocol"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var stderr bytes.Buffer
			err := run(t.Context(), tt.args, &stderr)
			require.Error(t, err)
			for _, s := range tt.errContains {
				require.ErrorContains(t, err, s)
			}
		})
	}
}

// --help prints the command's own flags and exits 0; an unknown flag exits 2
// with the usage.
func TestHelpAndUnknownFlag(t *testing.T) {
	cmd, stderr := command(t, "--help")
	require.NoError(t, cmd.Run(), stderr.String())
	require.Contains(t, stderr.String(), "Usage of ounce-query:")
	require.Contains(t, stderr.String(), "--max-rows")

	cmd, stderr = command(t, "--no-such-flag")
	var exit *exec.ExitError
	require.ErrorAs(t, cmd.Run(), &exit)
	require.Equal(t, 2, exit.ExitCode())
	require.Contains(t, stderr.String(), "flag provided but not defined: -no-such-flag")
	require.Contains(t, stderr.String(), "Usage of ounce-query:")
}

// A setting that fails validation is the caller's to fix: exit 2, as for
// an unknown flag, before anything is started.
func TestExitCodeOnBadSettings(t *testing.T) {
	cmd, stderr := command(t, "--max-rows=0", "--max-geos=-1")
	err := cmd.Run()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	require.Equal(t, 2, exit.ExitCode())
	require.Contains(t, stderr.String(), "ounce-query: max rows 0: must be at least 1")
	require.Contains(t, stderr.String(), "max geos -1")
}

// TestIntegrationSIGTERM starts ounce-query as a process on a real
// ClickHouse, waits until it is ready, sends SIGTERM and expects a clean exit.
func TestIntegrationSIGTERM(t *testing.T) {
	ch := testenv.StartClickHouse(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	cmd, stderr := command(t, "--addr="+addr, "--clickhouse-dsn="+ch.DSN, "--log-format=json")
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
	})

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 2 * time.Second}
	ready := func() bool {
		resp, err := client.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	require.Eventually(t, ready, 30*time.Second, 20*time.Millisecond, "ounce-query never became ready: %s", stderr)

	resp, err := client.Get("http://" + addr + "/v1/series?indicator=owid.co2&geo=GBR")
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)
	tr.CloseIdleConnections()

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	select {
	case err := <-exited:
		require.NoError(t, err, "exit after SIGTERM: %s", stderr)
	case <-ctx.Done():
		t.Fatalf("ounce-query did not exit within 20s of SIGTERM: %s", stderr)
	}
	logs := stderr.String()
	require.Contains(t, logs, "http server stopped")
	require.NotContains(t, logs, `"level":"error"`)

	_, err = client.Get("http://" + addr + "/healthz")
	var opErr *net.OpError
	require.True(t, errors.As(err, &opErr) || strings.Contains(fmt.Sprint(err), "refused"), "the port is closed: %v", err)
}
