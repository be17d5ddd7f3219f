package loader

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/deadletter"
	"github.com/ounce-data/ounce/pkg/extnats"
	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/testenv"
	"github.com/ounce-data/ounce/pkg/userindicators"
)

// A row of a user indicator registered a moment ago loads at once: the
// loader looks user codes up in their bucket (watched, read through on a
// miss), not in the ClickHouse set it refreshes every 30 s, which the
// query service's mirror fills (not running here). A code of the user
// namespace nobody registered is dead-lettered saying so.
func TestIntegrationLoadsAUserIndicatorTheMomentItIsRegistered(t *testing.T) {
	ns := testenv.StartNATS(t)
	ch := testenv.StartClickHouse(t)
	r := startLoader(t, ns.JS, ch.Conn, Config{FlushInterval: 50 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	require.Eventually(t, func() bool { return r.l.Ready(ctx) == nil }, 30*time.Second, 10*time.Millisecond)

	const code = "user.testcouncil.packs_sold"
	registered := time.Now()
	_, err := userindicators.NewStore(ns.JS).Create(ctx, userindicators.Document{Code: code, Name: "Packs sold (synthetic)", Unit: "packs",
		Polarity: indicators.LowerIsBetter, Domain: "health", Aggregation: userindicators.Aggregation{Method: userindicators.MethodSum}, Licence: "CC0"})
	require.NoError(t, err)
	obs := synthetic(3, "XU", 1)
	for i := range obs {
		obs[i].Indicator, obs[i].Unit = code, "packs"
	}
	stray := obs[0]
	stray.Indicator = "user.testcouncil.unregistered"
	publish(t, ns.JS, append(obs, stray))

	require.Eventually(t, func() bool {
		var n uint64
		return ch.Conn.QueryRow(ctx, "SELECT count() FROM observations FINAL WHERE indicator = ?", code).Scan(&n) == nil && n == 3
	}, 30*time.Second, 10*time.Millisecond)
	took := time.Since(registered)
	t.Logf("registered to queryable in %s", took.Round(time.Millisecond))
	require.Less(t, took, 5*time.Second, "seconds, not the 30 s catalogue refresh")

	dlq, err := ns.JS.Stream(ctx, extnats.StreamDeadLetter)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		info, err := dlq.Info(ctx)
		return err == nil && info.State.Msgs == 1
	}, 30*time.Second, 10*time.Millisecond)
	raw, err := dlq.GetMsg(ctx, 1)
	require.NoError(t, err)
	var body deadletter.RejectedBody
	require.NoError(t, json.Unmarshal(raw.Data, &body))
	require.Len(t, body.Rejected, 1)
	require.Equal(t, "unknown_indicator", body.Rejected[0].Reason)
	require.Contains(t, body.Rejected[0].Error, `"user.testcouncil.unregistered" is not a registered user indicator; register it with POST /v1/indicators`)
}
