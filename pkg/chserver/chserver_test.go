package chserver_test

import (
	"context"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/chserver"
	"github.com/ounce-data/ounce/pkg/extch"
	"github.com/ounce-data/ounce/pkg/testenv"
)

func needBinary(t *testing.T) {
	if _, _, err := chserver.FindBinary(); err != nil {
		if os.Getenv(testenv.EnvIntegration) == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
}

func TestIntegrationStartsAndStopsALocalServer(t *testing.T) {
	needBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := chserver.Start(ctx, chserver.Config{Dir: t.TempDir(), TCPPort: -1, HTTPPort: -1})
	require.NoError(t, err)
	conn, err := extch.Open(ctx, s.DSN("ounce_chserver_test"))
	require.NoError(t, err)
	var one uint8
	require.NoError(t, conn.QueryRow(ctx, "SELECT 1").Scan(&one))
	require.EqualValues(t, 1, one)
	require.NoError(t, conn.Close())
	require.NoError(t, s.Stop())
	select {
	case <-s.Done():
	default:
		t.Fatal("server still running after Stop")
	}
}

func TestPortTakenNamesTheFlag(t *testing.T) {
	needBinary(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	_, err = chserver.Start(context.Background(), chserver.Config{
		Dir: t.TempDir(), TCPPort: ln.Addr().(*net.TCPAddr).Port, HTTPPort: -1, TCPPortFlag: "--clickhouse-tcp-port",
	})
	require.ErrorContains(t, err, "--clickhouse-tcp-port")
}
