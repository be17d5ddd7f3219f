package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/feedcat"
	"github.com/ounce-data/ounce/pkg/testenv"
)

func TestIntegrationFeedsFromNATSURL(t *testing.T) {
	ch := testenv.StartClickHouse(t)
	ns := testenv.StartNATS(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	t.Setenv("OUNCE_NATS_URL", ns.URL) // the shared variables reach --nats-url and --nats-nkey
	t.Setenv("OUNCE_NATS_NKEY", ns.Client.NKey)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var stderr bytes.Buffer
	go func() { done <- run(ctx, []string{"--addr=" + addr, "--clickhouse-dsn=" + ch.DSN}, &stderr) }()

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	var body struct {
		Feeds []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"feeds"`
		Count int `json:"count"`
	}
	require.Eventually(t, func() bool {
		resp, err := client.Get("http://" + addr + "/v1/feeds")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&body) == nil
	}, 30*time.Second, 20*time.Millisecond)
	all, err := feedcat.Load()
	require.NoError(t, err)
	require.Equal(t, len(all), body.Count)
	require.Equal(t, all[0].ID, body.Feeds[0].ID)
	require.Equal(t, "never_run", body.Feeds[0].Status)
	tr.CloseIdleConnections()

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err, stderr.String())
	case <-time.After(20 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

func TestIntegrationNATSUnreachable(t *testing.T) {
	ch := testenv.StartClickHouse(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := "nats://" + ln.Addr().String()
	require.NoError(t, ln.Close())
	err = run(t.Context(), []string{"--addr=127.0.0.1:0", "--clickhouse-dsn=" + ch.DSN, "--nats-url=" + closed}, &bytes.Buffer{})
	require.ErrorContains(t, err, "connect to nats "+closed)
	require.ErrorContains(t, err, "--nats-url")
}
