package dev

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/extnats"
	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/natsserver"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/pkg/places"
	"github.com/ounce-data/ounce/pkg/testenv"
	"github.com/ounce-data/ounce/services/gateway/registry"
)

// The forgeries an adversarial run made against the embedded NATS of
// ounce dev, each refused: an anonymous client cannot connect (so cannot
// read partner data, write the partner registry or publish a feed); a
// registered partner's NATS user publishes only its own subject, cannot
// write the registry or read the stream, and cannot write as a feed in the
// body; a row of source partner:<id> on a feed's subject is dead-lettered,
// not served as that partner's; a revoked partner is disconnected.
func TestIntegrationDevNATSRefusesForgeries(t *testing.T) {
	ch := testenv.StartClickHouse(t)
	dataDir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var logs testenv.SyncBuffer
	go func() {
		done <- Run(ctx, []string{
			"--data-dir", dataDir, "--nats-port", "-1", "--clickhouse-dsn", ch.DSN, "--no-ingest",
			"--query-addr", testenv.FreeAddr(t), "--gateway-addr", testenv.FreeAddr(t), "--log-format", "json",
		}, &logs)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err, logs.String())
		case <-time.After(60 * time.Second):
			t.Error("ounce dev did not stop within 60s")
		}
	})
	var natsURL string
	require.Eventually(t, func() bool {
		natsURL = logField(logs.String(), "embedded nats started", "nats_url")
		return natsURL != "" && strings.Contains(logs.String(), "ounce dev is up")
	}, 60*time.Second, 20*time.Millisecond, "ounce dev did not come up:\n%s", &logs)
	wctx, wcancel := context.WithTimeout(ctx, 90*time.Second)
	defer wcancel()

	// Anonymous: refused at connect.
	_, err := nats.Connect(natsURL)
	require.ErrorIs(t, err, nats.ErrAuthorization)

	// The services user, from the seed ounce dev wrote into its data directory.
	seedFile := filepath.Join(dataDir, natsserver.ServicesNKeyFile)
	st, err := os.Stat(seedFile)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	svc, js, err := extnats.Connect(extnats.Client{URL: natsURL, NKey: seedFile}, "test services", zerolog.Nop())
	require.NoError(t, err)
	t.Cleanup(svc.Close)
	reg, err := registry.Open(wctx, js)
	require.NoError(t, err)
	cat, err := indicators.Load()
	require.NoError(t, err)
	pl, err := places.Load()
	require.NoError(t, err)
	_, _, err = reg.Add(wctx, registry.Spec{ID: "clinic-a", Name: "Clinic A", Indicators: []string{"who.NCD_PAA"}, Places: []string{"GBR"}, Licence: "CC BY 4.0"}, cat, pl)
	require.NoError(t, err)
	seed, err := reg.IssueNATSKey(wctx, "clinic-a")
	require.NoError(t, err)
	partnerSeed := filepath.Join(t.TempDir(), "clinic-a.nk")
	require.NoError(t, os.WriteFile(partnerSeed, []byte(seed), 0o600))
	opt, err := nats.NkeyOptionFromSeed(partnerSeed)
	require.NoError(t, err)

	// The partner's user is admitted once ounce dev has read the registry change.
	violations := make(chan error, 32)
	closed := make(chan struct{})
	var partner *nats.Conn
	require.Eventually(t, func() bool {
		partner, err = nats.Connect(natsURL, opt, nats.CustomInboxPrefix("_INBOX_clinic-a"), nats.NoReconnect(),
			nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { violations <- err }),
			nats.ClosedHandler(func(*nats.Conn) { close(closed) }))
		return err == nil
	}, 10*time.Second, 20*time.Millisecond, "partner nkey never admitted")
	t.Cleanup(partner.Close)
	pjs, err := jetstream.New(partner)
	require.NoError(t, err)

	mine := obsOf("partner:clinic-a", "GBR", 2001, 11)
	asFeed := obsOf("owid-co2", "GBR", 2002, 12) // a partner writing as a feed, on its own subject
	msgs, err := observation.Encode("forgery-1", []observation.Observation{mine, asFeed}, 0)
	require.NoError(t, err)
	_, err = pjs.Publish(wctx, "obs.v1.partner.clinic-a", msgs[0].Data, jetstream.WithMsgID(msgs[0].MsgID))
	require.NoError(t, err)

	// The partner cannot publish a feed's subject, write the registry, or read the stream.
	for _, subj := range []string{"obs.v1.health.owid-co2", "$KV." + extnats.BucketPartners + ".clinic-a", "$KV." + extnats.BucketPartners + ".evil"} {
		pctx, pcancel := context.WithTimeout(wctx, 300*time.Millisecond)
		_, err := pjs.Publish(pctx, subj, msgs[0].Data)
		pcancel()
		require.Error(t, err, subj)
		require.ErrorContains(t, <-violations, "Permissions Violation for Publish", subj)
	}
	_, err = partner.SubscribeSync("obs.v1.>")
	require.NoError(t, err)
	require.ErrorContains(t, <-violations, "Permissions Violation for Subscription")

	// A row claiming to be the partner's on a feed's subject (published
	// here by the services user, as a compromised feed could) is refused.
	forged := obsOf("partner:clinic-a", "GBR", 2003, 13)
	fmsgs, err := observation.Encode("forgery-2", []observation.Observation{forged}, 0)
	require.NoError(t, err)
	_, err = js.Publish(wctx, "obs.v1.health.owid-co2", fmsgs[0].Data, jetstream.WithMsgID(fmsgs[0].MsgID))
	require.NoError(t, err)

	type row struct {
		Source string `ch:"source"`
		Start  int64  `ch:"period_start"`
	}
	var rows []row
	dlq, err := js.Stream(wctx, extnats.StreamDeadLetter)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		info, err := dlq.Info(wctx)
		return err == nil && info.State.Msgs == 2
	}, 60*time.Second, 50*time.Millisecond, "two dead letters (source_mismatch) expected:\n%s", &logs)
	require.NoError(t, ch.Conn.Select(wctx, &rows, "SELECT source, period_start FROM observations FINAL WHERE indicator = 'who.NCD_PAA' ORDER BY period_start"))
	require.Equal(t, []row{{"partner:clinic-a", time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC).Unix()}}, rows, "only the partner's own row, on its own subject, is stored")
	for seq := uint64(1); seq <= 2; seq++ {
		m, err := dlq.GetMsg(wctx, seq)
		require.NoError(t, err)
		require.Contains(t, string(m.Data), `"source_mismatch"`)
	}

	// Revoking the partner disconnects its NATS user and refuses its key.
	require.NoError(t, reg.Revoke(wctx, "clinic-a"))
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("a revoked partner stays connected")
	}
	_, err = nats.Connect(natsURL, opt)
	require.ErrorIs(t, err, nats.ErrAuthorization)
}

func obsOf(source, geo string, year int, v float64) observation.Observation {
	return observation.Observation{
		Indicator: "who.NCD_PAA", Geo: geo, Period: observation.Year(year), Value: observation.Float(v),
		Unit: "%", Source: source, Version: 1,
		Provenance: observation.Provenance{URL: "https://example.invalid/clinic-a", Licence: "CC BY 4.0", RetrievedAt: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)},
	}
}

// logField is field of the first JSON log line whose message is msg.
func logField(logs, msg, field string) string {
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) != nil || line["message"] != msg {
			continue
		}
		s, _ := line[field].(string)
		return s
	}
	return ""
}
