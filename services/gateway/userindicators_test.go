package gateway_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/places"
	"github.com/ounce-data/ounce/pkg/userindicators"
	"github.com/ounce-data/ounce/services/gateway"
	"github.com/ounce-data/ounce/services/gateway/registry"
)

// A user indicator registered while the gateway runs is granted and pushed
// to at once, no restart: its rows are checked against the document's
// unit and plausible range; deleted, it is an unknown indicator again.
// (Data synthetic: a test council's own counts.)
func TestUserIndicatorsWithoutARestart(t *testing.T) {
	f := newFixture(t, gateway.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pl, err := places.Load()
	require.NoError(t, err)
	store := userindicators.NewStore(f.nats.JS)
	// What `ounce partners add` checks grants against: the catalogue and
	// the bucket, read through.
	lookup := func() indicators.Lookup {
		return userindicators.Union{Catalogue: f.cat, Users: userindicators.NewWatcher(store, zerolog.Nop())}.Lookup(ctx)
	}
	const code = "user.testcouncil.screening_rate"
	spec := registry.Spec{ID: "testcouncil", Name: "Test Council", Indicators: []string{code, "who.NCD_PAA"}, Places: []string{"GB-MAN"}, Licence: "OGL-UK-3.0"}

	_, _, err = f.reg.Add(ctx, spec, lookup(), pl)
	require.ErrorContains(t, err, `indicator "user.testcouncil.screening_rate" is not a registered user indicator (POST /v1/indicators on the query service registers it)`)

	lo, hi := 0.0, 100.0
	st, err := store.Create(ctx, userindicators.Document{Code: code, Name: "Screening uptake (synthetic)", Unit: "% of eligible",
		Polarity: indicators.HigherIsBetter, Domain: "health", Aggregation: userindicators.Aggregation{Method: userindicators.MethodAvg},
		Licence: "OGL-UK-3.0", Range: &indicators.Range{Min: &lo, Max: &hi}})
	require.NoError(t, err)
	_, key, err := f.reg.Add(ctx, spec, lookup(), pl)
	require.NoError(t, err, "granted the moment it is registered")

	body := jsonBody(
		`{"indicator":"user.testcouncil.screening_rate","geo":"GB-MAN","period":"2023","value":61.5}`,
		`{"indicator":"user.testcouncil.screening_rate","geo":"GB-MAN","period":"2022","value":150}`,
		`{"indicator":"user.testcouncil.screening_rate","geo":"GB-MAN","period":"2021","value":58,"unit":"%"}`,
		`{"indicator":"user.testcouncil.unregistered","geo":"GB-MAN","period":"2023","value":1}`,
	)
	var sum gateway.ImportSummary
	require.Eventually(t, func() bool { // the partner's key reaches the gateway's registry cache
		rec := f.push(t, key, "application/json", "dry_run=true", body)
		if rec.Code != http.StatusOK {
			return false
		}
		sum = summary(t, rec)
		return true
	}, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, gateway.StatusWarning, sum.Status)
	require.Equal(t, 1, sum.Counts.Accepted)
	byCode := map[string]string{}
	for _, c := range sum.Conflicts {
		byCode[c.Code] = c.Message
	}
	require.Contains(t, byCode[gateway.ConflictValueOutOfRange], "plausible values are 0 to 100")
	require.Contains(t, byCode[gateway.ConflictWrongUnit], `is measured in "% of eligible"`)
	require.Contains(t, byCode[gateway.ConflictUnknownIndicator], "is not a registered user indicator; POST /v1/indicators")

	require.NoError(t, store.Delete(ctx, code, st.Revision))
	one := jsonBody(`{"indicator":"user.testcouncil.screening_rate","geo":"GB-MAN","period":"2023","value":61.5}`)
	require.Eventually(t, func() bool {
		rec := f.push(t, key, "application/json", "dry_run=true", one)
		return rec.Code == http.StatusUnprocessableEntity && summary(t, rec).Conflicts[0].Code == gateway.ConflictUnknownIndicator
	}, 10*time.Second, 10*time.Millisecond, "a deleted user indicator is refused")
}
