package partners_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/testenv"
	"github.com/ounce-data/ounce/pkg/userindicators"
)

// `ounce partners add --indicators user.…` grants a user indicator once it
// is registered, reading it from NATS as the rest of the stack does.
func TestAddGrantsAUserIndicator(t *testing.T) {
	ns := testenv.StartNATS(t)
	_, err := run(t, ns.Client, "add", "--id", "testcouncil", "--name", "Test Council", "--indicators", "user.testcouncil.packs_sold,who.NCD_PAA", "--places", "GB-MAN")
	require.ErrorContains(t, err, `indicator "user.testcouncil.packs_sold" is not a registered user indicator (POST /v1/indicators on the query service registers it)`)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = userindicators.NewStore(ns.JS).Create(ctx, userindicators.Document{Code: "user.testcouncil.packs_sold", Name: "Packs sold (synthetic)",
		Unit: "packs", Polarity: indicators.LowerIsBetter, Domain: "health", Aggregation: userindicators.Aggregation{Method: userindicators.MethodSum}, Licence: "CC0"})
	require.NoError(t, err)
	out, err := run(t, ns.Client, "add", "--id", "testcouncil", "--name", "Test Council", "--indicators", "user.testcouncil.packs_sold,who.NCD_PAA", "--places", "GB-MAN")
	require.NoError(t, err)
	require.Contains(t, out, "indicators: user.testcouncil.packs_sold, who.NCD_PAA")
}
