package userindicators_test

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/testenv"
	"github.com/ounce-data/ounce/pkg/userindicators"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The store writes under optimistic concurrency: a code registered twice
// is ErrExists (the collision with an existing user indicator), a write on
// a stale revision ErrChanged, and a deleted code may be registered again.
func TestStoreCreateUpdateDelete(t *testing.T) {
	ns := testenv.StartNATS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st := userindicators.NewStore(ns.JS)
	eligible := parts()[1]

	got, err := st.Create(ctx, eligible)
	require.NoError(t, err)
	require.Positive(t, got.Revision)
	require.WithinDuration(t, time.Now(), got.Updated, time.Minute)
	_, err = st.Create(ctx, eligible)
	require.ErrorIs(t, err, userindicators.ErrExists)

	read, err := st.Get(ctx, eligible.Code)
	require.NoError(t, err)
	require.Equal(t, eligible, read.Document)
	require.Equal(t, got.Revision, read.Revision)

	changed := eligible
	changed.Name = "Eligible residents"
	upd, err := st.Update(ctx, changed, got.Revision)
	require.NoError(t, err)
	require.Greater(t, upd.Revision, got.Revision)
	_, err = st.Update(ctx, eligible, got.Revision)
	require.ErrorIs(t, err, userindicators.ErrChanged)
	require.ErrorIs(t, st.Delete(ctx, eligible.Code, got.Revision), userindicators.ErrChanged)

	list, err := st.List(ctx)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, "Eligible residents", list[0].Name)

	require.NoError(t, st.Delete(ctx, eligible.Code, upd.Revision))
	_, err = st.Get(ctx, eligible.Code)
	require.ErrorIs(t, err, userindicators.ErrNotFound)
	require.ErrorIs(t, st.Delete(ctx, eligible.Code, upd.Revision), userindicators.ErrNotFound)
	_, err = st.Update(ctx, eligible, upd.Revision)
	require.ErrorIs(t, err, userindicators.ErrNotFound)
	list, err = st.List(ctx)
	require.NoError(t, err)
	require.Empty(t, list)

	again, err := st.Create(ctx, eligible)
	require.NoError(t, err, "a deleted code may be registered again")
	require.Greater(t, again.Revision, upd.Revision)
}

// A watcher sees every registration, change and deletion without a
// restart, and the union looks user indicators up beside the catalogue;
// a code the watch has not delivered yet is read through.
func TestWatcherAndUnion(t *testing.T) {
	ns := testenv.StartNATS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st := userindicators.NewStore(ns.JS)
	screened := parts()[0]
	_, err := st.Create(ctx, screened)
	require.NoError(t, err)

	w := userindicators.NewWatcher(st, zerolog.Nop())
	changes := make(chan struct{}, 16)
	w.OnChange = func() { changes <- struct{}{} }
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		require.NoError(t, <-done)
	})
	require.NoError(t, w.WaitReady(ctx))
	<-changes
	_, ok := w.Get(screened.Code)
	require.True(t, ok, "the initial values")

	cat, err := indicators.Load()
	require.NoError(t, err)
	u := userindicators.Union{Catalogue: cat, Users: w}.Lookup(ctx)
	ind, ok := u.Indicator(screened.Code)
	require.True(t, ok)
	require.Equal(t, "people", ind.Unit)
	_, ok = u.Indicator("owid.co2")
	require.True(t, ok, "the catalogue")
	_, ok = u.Indicator("user.testcouncil.nothing")
	require.False(t, ok)

	eligible := parts()[1]
	_, err = st.Create(ctx, eligible)
	require.NoError(t, err)
	require.Eventually(t, func() bool { _, ok := w.Get(eligible.Code); return ok }, 10*time.Second, 5*time.Millisecond)

	cur, err := st.Get(ctx, screened.Code)
	require.NoError(t, err)
	require.NoError(t, st.Delete(ctx, screened.Code, cur.Revision))
	require.Eventually(t, func() bool { _, ok := w.Get(screened.Code); return !ok }, 10*time.Second, 5*time.Millisecond)
	snap := w.Snapshot()
	require.Len(t, snap, 2)
	require.True(t, snap[1].Deleted, "the deletion is kept, for the ClickHouse mirror: %+v", snap)
	require.Equal(t, []string{eligible.Code}, codes(w.List()))
	require.Len(t, userindicators.Union{Catalogue: cat, Users: w}.Indicators(), len(cat.Indicators())+1)

	// Read through: a watcher that does not run still finds what the
	// bucket holds, and remembers a miss for MissInterval.
	cold := userindicators.NewWatcher(st, zerolog.Nop())
	cold.MissInterval = time.Hour
	got, ok := cold.Lookup(ctx, eligible.Code)
	require.True(t, ok)
	require.Equal(t, eligible, got.Document)
	_, ok = cold.Lookup(ctx, "user.testcouncil.later")
	require.False(t, ok)
	later := eligible
	later.Code = "user.testcouncil.later"
	_, err = st.Create(ctx, later)
	require.NoError(t, err)
	_, ok = cold.Lookup(ctx, later.Code)
	require.False(t, ok, "a miss is trusted for MissInterval")
	cold.MissInterval = time.Nanosecond
	_, ok = cold.Lookup(ctx, later.Code)
	require.True(t, ok, "then the bucket is asked again")
	_, ok = cold.Lookup(ctx, "owid.co2")
	require.False(t, ok, "only codes of the user namespace are read through")
}

func codes(sts []userindicators.Stored) []string {
	out := make([]string, len(sts))
	for i, s := range sts {
		out[i] = s.Code
	}
	return out
}
