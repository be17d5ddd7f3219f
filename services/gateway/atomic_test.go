package gateway_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/batchstatus"
	"github.com/ounce-data/ounce/pkg/extnats"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/services/gateway"
)

// manyRows is n valid rows of clinic-a: GBR, one a year.
func manyRows(n int) []byte {
	rows := make([]string, n)
	for i := range rows {
		rows[i] = fmt.Sprintf(`{"indicator":"who.NCD_PAA","geo":"GBR","period":"%d","value":%d.5}`, 1700+i, i%100)
	}
	return jsonBody(rows...)
}

// limitStream lets the OBS stream take only room more messages, refusing
// the rest (DiscardNew): a way to make JetStream refuse a push mid-way.
func limitStream(t *testing.T, f *fixture, room int) {
	t.Helper()
	ctx := context.Background()
	cfg := extnats.Topology{}.ObservationsStream()
	cfg.MaxMsgs = int64(f.streamMessages(t)) + int64(room)
	cfg.Discard = jetstream.DiscardNew
	_, err := f.nats.JS.UpdateStream(ctx, cfg)
	require.NoError(t, err)
}

// TestAtomicPushSpanningMessagesIsStoredWholeOrNotAtAll: an atomic push of
// several NATS messages goes as one JetStream atomic batch. When the stream
// refuses part of it, none of it is stored (a plain push keeps what was
// acknowledged before the refusal); when it has room, every message is
// stored, with its content id for the loader's report.
func TestAtomicPushSpanningMessagesIsStoredWholeOrNotAtAll(t *testing.T) {
	f := newFixture(t, gateway.Config{BatchBytes: 4 << 10})
	body := manyRows(300) // about 6 messages of 4 KiB

	limitStream(t, f, 2)
	rec := f.push(t, f.keyA, gateway.FormatJSON, "atomic=true", body)
	require.Equal(t, http.StatusServiceUnavailable, rec.Code, rec.Body.String())
	msg := envelope(t, rec).Message
	require.Contains(t, msg, "none of it was stored")
	t.Log(msg)
	require.Zero(t, f.streamMessages(t), "an atomic push the stream refused in part leaves nothing")

	// The same push without atomic keeps the messages acknowledged before
	// the refusal: the difference atomic=true makes.
	rec = f.push(t, f.keyA, gateway.FormatJSON, "", body)
	require.Equal(t, http.StatusServiceUnavailable, rec.Code, rec.Body.String())
	require.EqualValues(t, 2, f.streamMessages(t))

	// With room, the atomic push is stored whole.
	limitStream(t, f, 100)
	before := f.streamMessages(t)
	rec = f.push(t, f.keyA, gateway.FormatJSON, "atomic=true", body)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	s := summary(t, rec)
	require.Greater(t, s.Messages, 1, "the push spans several messages")
	require.Equal(t, 300, s.Counts.Accepted)
	require.Nil(t, s.Counts.Ignored, "duplicates are not known for an atomic batch")
	require.EqualValues(t, int(before)+s.Messages, f.streamMessages(t))

	st, err := f.nats.JS.Stream(context.Background(), "OBS")
	require.NoError(t, err)
	rows := 0
	for seq := before + 1; seq <= before+uint64(s.Messages); seq++ {
		m, err := st.GetMsg(context.Background(), seq)
		require.NoError(t, err)
		require.Equal(t, "obs.v1.partner.clinic-a", m.Subject)
		require.NotEmpty(t, m.Header.Get(batchstatus.HeaderMsgID), "the loader keys its report by the content id")
		b, err := observation.Decode(m.Data)
		require.NoError(t, err)
		require.Equal(t, s.BatchID, b.ID)
		rows += len(b.Observations)
	}
	require.Equal(t, 300, rows)

	// One message needs no batch: it is published as any push is.
	rec = f.push(t, f.keyA, gateway.FormatJSON, "atomic=true", manyRows(2))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	s = summary(t, rec)
	require.Equal(t, 1, s.Messages)
	require.NotNil(t, s.Counts.Ignored)
}
