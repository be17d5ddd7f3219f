package gateway

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/httpapi"
	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/testenv"
)

// A live push keeps its Idempotency-Key claimed however long it runs; a
// claim nobody renews (its replica died) is taken over after PendingTimeout.
func TestIdempotencyClaimIsRenewedWhileThePushRuns(t *testing.T) {
	ns := testenv.StartNATS(t)
	cat, err := indicators.Load()
	require.NoError(t, err)
	const pending = time.Second
	s, err := New(context.Background(), Config{PendingTimeout: pending}, ns.JS, cat, zerolog.Nop(), prometheus.NewRegistry())
	require.NoError(t, err)
	ctx := context.Background()
	claim := func() (*idemClaim, *httpapi.Error) {
		c, replay, herr := s.claimIdempotency(ctx, "clinic-a", "push-1", "fingerprint")
		require.Nil(t, replay)
		return c, herr
	}

	held, herr := claim()
	require.Nil(t, herr)
	require.NotNil(t, held)
	stop := s.keepClaim(ctx, held)
	time.Sleep(2 * pending)
	_, herr = claim()
	require.NotNil(t, herr, "a claim renewed by its live push is not taken over")
	require.Equal(t, httpapi.CodeIdempotencyKeyInUse, herr.Code)

	stop() // the replica dies: nobody renews the claim
	_, herr = claim()
	require.NotNil(t, herr, "within PendingTimeout of the last renewal the key is still in use")
	time.Sleep(pending + 200*time.Millisecond)
	taken, herr := claim()
	require.Nil(t, herr, "an unrenewed claim is taken over after PendingTimeout")
	require.NotNil(t, taken)
	s.storeIdempotency(ctx, taken, answer{Status: 200})
	_, replay, herr := s.claimIdempotency(ctx, "clinic-a", "push-1", "fingerprint")
	require.Nil(t, herr)
	require.NotNil(t, replay, "the push that took the key over stores its answer with the current revision")
}
