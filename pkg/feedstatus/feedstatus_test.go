package feedstatus_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/extnats"
	"github.com/ounce-data/ounce/pkg/feedstatus"
	"github.com/ounce-data/ounce/pkg/testenv"
)

func TestPutGetAll(t *testing.T) {
	ns := testenv.StartNATS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kv, err := ns.JS.KeyValue(ctx, extnats.BucketFeedStatus)
	require.NoError(t, err)

	all, bad, err := feedstatus.All(ctx, kv)
	require.NoError(t, err)
	require.Empty(t, bad)
	require.Empty(t, all, "an empty bucket is no records, not an error")

	_, ok, err := feedstatus.Get(ctx, kv, "owid-co2")
	require.NoError(t, err)
	require.False(t, ok)

	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	failing := feedstatus.Status{
		Feed: "who-gho", Worker: "w1", Result: feedstatus.ResultError, LastAttempt: at,
		LastError:           &feedstatus.Error{Message: "http status 503", Time: at, Kind: feedstatus.KindHTTPStatus, HTTPStatus: 503},
		ConsecutiveFailures: 2, NextRun: at.Add(10 * time.Minute),
	}
	ok1 := feedstatus.Status{
		Feed: "owid-co2", Worker: "w2", Result: feedstatus.ResultSuccess, LastAttempt: at, LastSuccess: &at,
		Rows: 10, Observations: 40, DurationSeconds: 1.5, NextRun: at.Add(24 * time.Hour),
	}
	require.NoError(t, feedstatus.Put(ctx, kv, failing))
	require.NoError(t, feedstatus.Put(ctx, kv, ok1))
	ok1.Rows = 11 // a later run overwrites
	require.NoError(t, feedstatus.Put(ctx, kv, ok1))
	_, err = kv.Put(ctx, "corrupt", []byte("{not json"))
	require.NoError(t, err)

	got, ok, err := feedstatus.Get(ctx, kv, "who-gho")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, failing, got)

	_, _, err = feedstatus.Get(ctx, kv, "corrupt")
	require.ErrorContains(t, err, "decode status of feed corrupt")

	all, bad, err = feedstatus.All(ctx, kv)
	require.NoError(t, err)
	require.Equal(t, map[string]feedstatus.Status{"who-gho": failing, "owid-co2": ok1}, all)
	require.Len(t, bad, 1)
	require.ErrorContains(t, bad[0], "decode status of feed corrupt")
}
