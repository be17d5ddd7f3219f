// Package testenv gives tests the real parts: an embedded NATS server with
// JetStream, and a ClickHouse database of their own on a real server.
//
// ClickHouse tests are gated by OUNCE_INTEGRATION: unset, a test skips when no
// server can be had; set to 1, a missing server fails the test. The server is
// OUNCE_TEST_CLICKHOUSE_DSN (default clickhouse://127.0.0.1:9000/default) or,
// when nothing answers there and a ClickHouse install is on this machine, one
// started for the test binary with chserver on free ports.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ounce-data/ounce/pkg/chserver"
	"github.com/ounce-data/ounce/pkg/extch"
	"github.com/ounce-data/ounce/pkg/extnats"
	"github.com/ounce-data/ounce/pkg/natsserver"
)

// Environment variables read by this package.
const (
	EnvIntegration = "OUNCE_INTEGRATION"
	EnvDSN         = "OUNCE_TEST_CLICKHOUSE_DSN"
	DefaultTestDSN = "clickhouse://127.0.0.1:9000/default"
)

// NATS is an embedded JetStream server on a free port, with the Ounce
// topology in place; it is shut down when the test ends. It authenticates
// as ounce dev's does: Client holds the services user's credentials, and
// Conn is connected with them.
type NATS struct {
	Server *natsserver.Server
	URL    string
	Client extnats.Client // URL and the services user's nkey seed file
	Conn   *nats.Conn
	JS     jetstream.JetStream
}

// StartNATS starts an embedded NATS server for t.
func StartNATS(t testing.TB) *NATS {
	t.Helper()
	return StartNATSIn(t, t.TempDir())
}

// StartNATSIn starts an embedded NATS server storing JetStream data in dir,
// so a test can restart a server on the same store (and the same services
// nkey, kept in dir).
func StartNATSIn(t testing.TB, dir string) *NATS {
	t.Helper()
	seedFile := filepath.Join(dir, "services.nk")
	_, public, err := natsserver.ServicesSeed(seedFile)
	require.NoError(t, err)
	s, err := natsserver.Start(natsserver.Config{Port: -1, StoreDir: filepath.Join(dir, "jetstream"), ServicesKey: public})
	require.NoError(t, err)
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	client := extnats.Client{URL: s.ClientURL(), NKey: seedFile}
	nc, js, err := extnats.Connect(client, t.Name(), zerolog.Nop())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, extnats.Topology{}.Ensure(ctx, js))
	return &NATS{Server: s, URL: s.ClientURL(), Client: client, Conn: nc, JS: js}
}

// Connect opens another services connection to n, closed when t ends.
func (n *NATS) Connect(t testing.TB, name string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, js, err := extnats.Connect(n.Client, name, zerolog.Nop())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	return nc, js
}

// ClickHouse is a fresh database on a real server, migrated and holding the
// catalogue; it is dropped when the test ends.
type ClickHouse struct {
	DSN      string // DSN of the test's own database
	Database string
	Conn     driver.Conn
	// ServerDSN is the DSN of the default database, for tests that need a second database.
	ServerDSN string
}

var (
	managedOnce   sync.Once
	managedServer *chserver.Server
	managedDSN    string
	managedErr    error
)

// Main runs a package's tests, stops and reaps the ClickHouse that ServerDSN
// started for this test binary (if it started one), then fails the binary
// when a test left goroutines behind. Every TestMain of a package that uses
// ClickHouse calls it instead of goleak.VerifyTestMain, so the server's
// process watcher is gone before the leak check looks.
func Main(m *testing.M, opts ...goleak.Option) {
	goleak.VerifyTestMain(stopAfterRun{m}, opts...)
}

type stopAfterRun struct{ m *testing.M }

func (r stopAfterRun) Run() int {
	code := r.m.Run()
	if err := StopManaged(); err != nil {
		fmt.Fprintf(os.Stderr, "testenv: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// StopManaged stops the ClickHouse this binary started, waits for it to exit
// and removes its directory. It does nothing when none was started.
func StopManaged() error {
	if managedServer == nil {
		return nil
	}
	s := managedServer
	managedServer = nil
	if err := s.Stop(); err != nil {
		return err
	}
	return os.RemoveAll(s.Dir)
}

// ServerDSN returns the DSN of a reachable ClickHouse server's default
// database, starting one when allowed, or skips or fails t per OUNCE_INTEGRATION.
func ServerDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(EnvDSN)
	if dsn == "" {
		dsn = DefaultTestDSN
	}
	if reachable(dsn) {
		return dsn
	}
	if os.Getenv(EnvDSN) == "" {
		managedOnce.Do(func() { managedDSN, managedErr = startManaged() })
		if managedErr == nil {
			return managedDSN
		}
	}
	msg := fmt.Sprintf("no ClickHouse at %s", dsn)
	if managedErr != nil {
		msg += fmt.Sprintf(" and none could be started (%v)", managedErr)
	}
	if os.Getenv(EnvIntegration) == "1" {
		t.Fatalf("%s; %s=1 requires one", msg, EnvIntegration)
	}
	t.Skipf("%s; set %s=1 to make this a failure", msg, EnvIntegration)
	return ""
}

func reachable(dsn string) bool {
	u, err := url.Parse(dsn)
	if err != nil {
		return false
	}
	c, err := net.DialTimeout("tcp", u.Host, time.Second)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// startManaged starts a ClickHouse for this test binary. Main stops it when
// the tests end; should the binary die first, the server dies with it
// (chserver sets the parent-death signal) and its directory is removed on
// the next start.
func startManaged() (string, error) {
	if _, _, err := chserver.FindBinary(); err != nil {
		return "", err
	}
	root := filepath.Join(os.TempDir(), "ounce-test-clickhouse")
	cleanStale(root)
	dir := filepath.Join(root, fmt.Sprintf("%d", os.Getpid()))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	s, err := chserver.Start(ctx, chserver.Config{Dir: dir, TCPPort: -1, HTTPPort: -1})
	if err != nil {
		return "", err
	}
	managedServer = s
	return s.DSN("default"), nil
}

func cleanStale(root string) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return
	}
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); os.IsNotExist(err) {
			_ = os.RemoveAll(filepath.Join(root, e.Name()))
		}
	}
}

// StartClickHouse gives t a fresh, migrated database with the catalogue.
func StartClickHouse(t testing.TB) *ClickHouse {
	t.Helper()
	serverDSN := ServerDSN(t)
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := strings.ToLower(fmt.Sprintf("ounce_test_%s_%s", sanitize(t.Name()), hex.EncodeToString(b[:])))
	dsn := withDatabase(serverDSN, name)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ch, err := extch.Setup(ctx, dsn)
	require.NoError(t, err)
	conn := ch.Conn
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
		if err := conn.Close(); err != nil {
			t.Errorf("close clickhouse: %v", err)
		}
	})
	return &ClickHouse{DSN: dsn, Database: name, Conn: conn, ServerDSN: serverDSN}
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		if (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
		if b.Len() >= 40 {
			break
		}
	}
	return b.String()
}

func withDatabase(dsn, db string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn
	}
	u.Path = "/" + db
	return u.String()
}

// SharedDataDir is ../shared/data relative to the repository root, found by
// walking up from the working directory; tests that read recordings skip when
// it is absent unless OUNCE_INTEGRATION=1.
func SharedDataDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("OUNCE_SHARED_DATA"); d != "" {
		return d
	}
	wd, err := os.Getwd()
	require.NoError(t, err)
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			p := filepath.Join(filepath.Dir(dir), "shared", "data")
			if _, err := os.Stat(p); err == nil {
				return p
			}
			break
		}
		if filepath.Dir(dir) == dir {
			break
		}
	}
	if os.Getenv(EnvIntegration) == "1" {
		t.Fatalf("../shared/data not found beside the repository; set OUNCE_SHARED_DATA")
	}
	t.Skip("../shared/data not found beside the repository; set OUNCE_SHARED_DATA")
	return ""
}
