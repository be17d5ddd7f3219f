package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/extnats"
	"github.com/ounce-data/ounce/pkg/testenv"
)

func TestRunOneFeedOnce(t *testing.T) {
	n := testenv.StartNATS(t)
	var logs testenv.SyncBuffer
	code := run(context.Background(), []string{"--nats-url", n.URL, "--nats-nkey", n.Client.NKey, "--mirror", testenv.SharedDataDir(t), "--feed", "owid-co2"}, &logs)
	require.Equal(t, 0, code, logs.String())
	require.Contains(t, logs.String(), `"message":"feed run finished"`)
	stream, err := n.JS.Stream(context.Background(), extnats.StreamObservations)
	require.NoError(t, err)
	info, err := stream.Info(context.Background())
	require.NoError(t, err)
	require.Positive(t, info.State.Msgs)
}

func TestMirrorFromEnvironment(t *testing.T) {
	n := testenv.StartNATS(t)
	t.Setenv("OUNCE_MIRROR", testenv.SharedDataDir(t))
	t.Setenv("OUNCE_NATS_URL", n.URL)
	t.Setenv("OUNCE_NATS_NKEY", n.Client.NKey)
	var logs testenv.SyncBuffer
	code := run(context.Background(), []string{"--feed", "owid-co2"}, &logs)
	require.Equal(t, 0, code, logs.String())
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args        []string
		code        int
		errContains string
	}{
		{[]string{"--no-such-flag"}, 2, "flag provided but not defined"},
		{[]string{"extra"}, 2, "unexpected arguments"},
		{[]string{"--log-level", "loud"}, 2, `--log-level "loud"`},
		{[]string{"--help"}, 0, "Usage of ounce-ingest:"},
		{[]string{"--feed", "no-such-feed", "--nats-url", "nats://127.0.0.1:1"}, 2, "--feed no-such-feed: no such feed"},
		{[]string{"--mirror", "/no/such/dir", "--feed", "owid-co2"}, 2, "--mirror /no/such/dir: not a directory"},
		{[]string{"--nats-url", "nats://127.0.0.1:1", "--feed", "owid-co2"}, 1, "set --nats-url"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var logs testenv.SyncBuffer
			require.Equal(t, tt.code, run(context.Background(), tt.args, &logs))
			require.Contains(t, logs.String(), tt.errContains)
		})
	}
}

func TestListenAddressTaken(t *testing.T) {
	n := testenv.StartNATS(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	var logs testenv.SyncBuffer
	code := run(context.Background(), []string{"--nats-url", n.URL, "--nats-nkey", n.Client.NKey, "--addr", ln.Addr().String()}, &logs)
	require.Equal(t, 1, code)
	require.Contains(t, logs.String(), "choose another address with --addr")
}

// TestSIGTERM runs the service, waits until it is ready and publishing,
// sends the process SIGTERM and expects a clean exit.
func TestSIGTERM(t *testing.T) {
	n := testenv.StartNATS(t)
	addr := testenv.FreeAddr(t)
	var logs testenv.SyncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(context.Background(), []string{"--nats-url", n.URL, "--nats-nkey", n.Client.NKey, "--mirror", testenv.SharedDataDir(t), "--addr", addr}, &logs)
	}()
	require.Eventually(t, func() bool {
		return get(t, "http://"+addr+"/readyz") == http.StatusOK
	}, 30*time.Second, 20*time.Millisecond, logs.String())
	require.Equal(t, http.StatusOK, get(t, "http://"+addr+"/healthz"))
	require.Eventually(t, func() bool {
		return strings.Contains(body(t, "http://"+addr+"/metrics"), `ounce_ingest_feed_runs_total{feed="owid-co2",result="success"} 1`)
	}, time.Minute, 50*time.Millisecond)

	require.NoError(t, syscall.Kill(syscall.Getpid(), syscall.SIGTERM))
	select {
	case code := <-done:
		require.Equal(t, 0, code, logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("no exit 30s after SIGTERM; logs:\n%s", logs.String())
	}
	require.Contains(t, logs.String(), `"message":"http server shutting down"`)
	_, err := net.DialTimeout("tcp", addr, time.Second)
	require.Error(t, err, "the HTTP server is closed")
}

func get(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

func body(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return ""
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
