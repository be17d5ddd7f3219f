package natsserver_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ounce-data/ounce/pkg/extnats"
	"github.com/ounce-data/ounce/pkg/natsserver"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func start(t *testing.T) (*natsserver.Server, string) {
	t.Helper()
	dir := t.TempDir()
	seedFile := filepath.Join(dir, natsserver.ServicesNKeyFile)
	_, public, err := natsserver.ServicesSeed(seedFile)
	require.NoError(t, err)
	s, err := natsserver.Start(natsserver.Config{Port: -1, StoreDir: filepath.Join(dir, "js"), ServicesKey: public})
	require.NoError(t, err)
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s, seedFile
}

func TestPortTakenNamesTheFlag(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	kp, err := nkeys.CreateUser()
	require.NoError(t, err)
	public, err := kp.PublicKey()
	require.NoError(t, err)
	_, err = natsserver.Start(natsserver.Config{Port: ln.Addr().(*net.TCPAddr).Port, StoreDir: t.TempDir(), PortFlag: "--nats-port", ServicesKey: public})
	require.ErrorContains(t, err, "is taken")
	require.ErrorContains(t, err, "--nats-port")

	_, err = natsserver.Start(natsserver.Config{Port: -1, StoreDir: t.TempDir()})
	require.ErrorContains(t, err, "services user's public nkey is missing")
}

func TestServicesSeedIsKeptAcrossRestarts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", natsserver.ServicesNKeyFile)
	_, first, err := natsserver.ServicesSeed(path)
	require.NoError(t, err)
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "the seed is readable by its owner only")
	_, again, err := natsserver.ServicesSeed(path)
	require.NoError(t, err)
	require.Equal(t, first, again)

	require.NoError(t, os.WriteFile(path, []byte("not a seed\n"), 0o600))
	_, _, err = natsserver.ServicesSeed(path)
	require.ErrorContains(t, err, "delete the file")
}

// Nobody connects without a key the server knows: no anonymous client, no
// made-up nkey; the services seed connects and may set up the topology.
func TestOnlyKnownKeysConnect(t *testing.T) {
	s, seedFile := start(t)
	_, err := nats.Connect(s.ClientURL())
	require.ErrorIs(t, err, nats.ErrAuthorization, "anonymous clients are refused")

	other := filepath.Join(t.TempDir(), "other.nk")
	_, _, err = natsserver.ServicesSeed(other)
	require.NoError(t, err)
	_, _, err = extnats.Connect(extnats.Client{URL: s.ClientURL(), NKey: other}, "stranger", nopLog)
	require.ErrorContains(t, err, "Authorization Violation")
	require.ErrorContains(t, err, "--nats-nkey")

	nc, js, err := extnats.Connect(extnats.Client{URL: s.ClientURL(), NKey: seedFile}, "services", nopLog)
	require.NoError(t, err)
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, extnats.Topology{}.Ensure(ctx, js))
}

// A partner's user publishes its own subjects and nothing else: not a
// feed's, another partner's, the dead-letter or JetStream API subjects, the
// partner registry's bucket; it cannot read the stream; and when its key
// is revoked (SetPartners without it) it is disconnected.
func TestPartnerUsersAreLimitedAndRevocable(t *testing.T) {
	s, seedFile := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	svc, svcJS, err := extnats.Connect(extnats.Client{URL: s.ClientURL(), NKey: seedFile}, "services", nopLog)
	require.NoError(t, err)
	defer svc.Close()
	require.NoError(t, extnats.Topology{}.Ensure(ctx, svcJS))

	kp, err := nkeys.CreateUser()
	require.NoError(t, err)
	public, err := kp.PublicKey()
	require.NoError(t, err)
	seed, err := kp.Seed()
	require.NoError(t, err)
	seedFileAcme := filepath.Join(t.TempDir(), "acme.nk")
	require.NoError(t, os.WriteFile(seedFileAcme, seed, 0o600))
	opt, err := nats.NkeyOptionFromSeed(seedFileAcme)
	require.NoError(t, err)

	_, err = nats.Connect(s.ClientURL(), opt)
	require.ErrorIs(t, err, nats.ErrAuthorization, "a partner key is refused before it is registered")

	require.ErrorContains(t, s.SetPartners([]natsserver.Partner{{ID: "acme", NKey: "not-a-key"}}), "not a public user nkey")
	require.NoError(t, s.SetPartners([]natsserver.Partner{{ID: "acme", NKey: public}}))

	violations := make(chan error, 32)
	closed := make(chan struct{})
	acme, err := nats.Connect(s.ClientURL(), opt, nats.CustomInboxPrefix("_INBOX_acme"), nats.NoReconnect(),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { violations <- err }),
		nats.ClosedHandler(func(*nats.Conn) { close(closed) }))
	require.NoError(t, err)
	defer acme.Close()
	js, err := jetstream.New(acme)
	require.NoError(t, err)
	for _, subj := range []string{"obs.v1.partner.acme", "obs.v1.partner.acme.site-1"} {
		ack, err := js.Publish(ctx, subj, []byte(`{"observations":[]}`))
		require.NoError(t, err, subj)
		require.Equal(t, extnats.StreamObservations, ack.Stream)
	}
	for _, subj := range []string{
		"obs.v1.health.owid-co2", "obs.v1.partner.other", "obs.v1.partner.acmeco", "dlq.obs.v1.partner.acme",
		"$JS.API.STREAM.DELETE.OBS", "$KV." + extnats.BucketPartners + ".acme",
	} {
		pctx, pcancel := context.WithTimeout(ctx, 300*time.Millisecond)
		_, err := js.Publish(pctx, subj, []byte(`{"observations":[]}`))
		pcancel()
		require.Error(t, err, "%s must be refused", subj)
		select {
		case v := <-violations:
			require.ErrorContains(t, v, "Permissions Violation for Publish")
		case <-time.After(5 * time.Second):
			t.Fatalf("no permissions violation reported for %s", subj)
		}
	}
	for _, subj := range []string{"obs.v1.>", "_INBOX.>", "$KV." + extnats.BucketPartners + ".>"} {
		_, err = acme.SubscribeSync(subj)
		require.NoError(t, err) // the client learns of the violation asynchronously
		select {
		case v := <-violations:
			require.ErrorContains(t, v, "Permissions Violation for Subscription")
		case <-time.After(5 * time.Second):
			t.Fatalf("subscribing to %s was not refused", subj)
		}
	}

	st, err := svcJS.Stream(ctx, extnats.StreamObservations)
	require.NoError(t, err)
	info, err := st.Info(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(2), info.State.Msgs, "only the partner's own two publishes reached the stream")

	require.NoError(t, s.SetPartners(nil))
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("a revoked partner stays connected")
	}
	_, err = nats.Connect(s.ClientURL(), opt)
	require.ErrorIs(t, err, nats.ErrAuthorization, "a revoked key is refused")
	require.True(t, svc.IsConnected(), "the services user is not disturbed by a reload")
}

var nopLog = zerolog.Nop()
