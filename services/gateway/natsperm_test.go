package gateway_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/extnats"
)

// TestPartnerNATSCredentialsAreLimitedToItsSubjects runs a NATS server on
// the production account configuration (deploy/nats/accounts.conf) and
// checks that partner "acme" publishes its own subjects and nothing else.
func TestPartnerNATSCredentialsAreLimitedToItsSubjects(t *testing.T) {
	t.Setenv("OUNCE_NATS_SERVICES_PASSWORD", "services-secret")
	t.Setenv("OUNCE_NATS_PARTNER_ACME_PASSWORD", "acme-secret")
	opts, err := server.ProcessConfigFile("../../deploy/nats/accounts.conf")
	require.NoError(t, err)
	opts.Host, opts.Port = "127.0.0.1", -1
	opts.JetStream, opts.StoreDir = true, t.TempDir()
	opts.NoLog, opts.NoSigs = true, true
	s, err := server.NewServer(opts)
	require.NoError(t, err)
	s.Start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	require.True(t, s.ReadyForConnections(10*time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	svc, err := nats.Connect(s.ClientURL(), nats.UserInfo("ounce-services", "services-secret"))
	require.NoError(t, err)
	t.Cleanup(svc.Close)
	svcJS, err := jetstream.New(svc)
	require.NoError(t, err)
	require.NoError(t, extnats.Topology{}.Ensure(ctx, svcJS))

	_, err = nats.Connect(s.ClientURL(), nats.UserInfo("partner-acme", "wrong"))
	require.Error(t, err, "a wrong password is refused")

	violations := make(chan error, 16)
	acme, err := nats.Connect(s.ClientURL(), nats.UserInfo("partner-acme", "acme-secret"),
		nats.CustomInboxPrefix("_INBOX_acme"),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { violations <- err }))
	require.NoError(t, err)
	t.Cleanup(acme.Close)
	js, err := jetstream.New(acme)
	require.NoError(t, err)

	for _, subj := range []string{"obs.v1.partner.acme", "obs.v1.partner.acme.site-1"} {
		ack, err := js.Publish(ctx, subj, []byte(`{"observations":[]}`))
		require.NoError(t, err, subj)
		require.Equal(t, extnats.StreamObservations, ack.Stream)
	}
	for _, subj := range []string{"obs.v1.health.owid-co2", "obs.v1.partner.other", "obs.v1.partner.acmeco", "dlq.obs.v1.partner.acme", "$JS.API.STREAM.DELETE.OBS", "$KV.ounce_partners.acme"} {
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
	_, err = acme.SubscribeSync("_INBOX.>")
	require.NoError(t, err) // the client learns of the violation asynchronously
	select {
	case v := <-violations:
		require.ErrorContains(t, v, "Permissions Violation for Subscription")
	case <-time.After(5 * time.Second):
		t.Fatal("subscribing to other clients' inboxes was not refused")
	}

	st, err := svcJS.Stream(ctx, extnats.StreamObservations)
	require.NoError(t, err)
	info, err := st.Info(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(2), info.State.Msgs, "only the partner's own two messages are in the stream")
	_, err = svcJS.Stream(ctx, extnats.StreamObservations)
	require.NoError(t, err, "the stream survived the delete attempt")
}
