package registry

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/extnats"
	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/places"
	"github.com/ounce-data/ounce/pkg/testenv"
)

func TestKeysNameTheirPartnerAndHashStably(t *testing.T) {
	key := NewKey("clinic-a")
	require.Regexp(t, regexp.MustCompile(`^ounce_clinic-a_[A-Za-z0-9_-]{43}$`), key)
	require.NotEqual(t, key, NewKey("clinic-a"), "every key is fresh")
	require.Equal(t, "clinic-a", PartnerOfKey(key))

	h := HashKey(key)
	require.Regexp(t, regexp.MustCompile(`^[0-9a-f]{64}$`), h)
	require.Equal(t, h, HashKey(key))
	require.NotEqual(t, h, HashKey(key+"x"))

	for _, tc := range []struct{ key, want string }{
		{"ounce_clinic-a_secret", "clinic-a"},
		{"ounce_clinic-a_sec_ret", "clinic-a"}, // the secret may hold '_'
		{"ounce_clinic-a_", ""},                // no secret
		{"ounce__secret", ""},                  // no id
		{"ounce_clinic-a", ""},                 // no separator
		{"bearer ounce_clinic-a_secret", ""},
		{"", ""},
	} {
		require.Equal(t, tc.want, PartnerOfKey(tc.key), "key %q", tc.key)
	}
}

func TestValidID(t *testing.T) {
	for _, id := range []string{"clinic-a", "a", "council-42", "9lives"} {
		require.True(t, ValidID(id), id)
	}
	for _, id := range []string{"", "Clinic", "clinic_a", "clinic.a", "clinic a", "clinic>", "-a"} {
		require.False(t, ValidID(id), id)
	}
}

func loadCatalogues(t *testing.T) (*indicators.Catalogue, *places.Catalogue) {
	t.Helper()
	cat, err := indicators.Load()
	require.NoError(t, err)
	pl, err := places.Load()
	require.NoError(t, err)
	return cat, pl
}

func TestSpecCheckReportsEveryProblem(t *testing.T) {
	cat, pl := loadCatalogues(t)
	err := Spec{ID: "Bad Id", Indicators: []string{"no.such.code"}, Places: []string{"GB R"}}.Check(cat, pl)
	require.Error(t, err)
	for _, want := range []string{`id "Bad Id"`, "name is missing", `indicator "no.such.code" is not in the catalogue`, `place "GB R" is not in the place catalogue`, "licence is missing"} {
		require.ErrorContains(t, err, want)
	}
	err = Spec{ID: "a", Name: "A", Licence: "CC BY 4.0"}.Check(cat, pl)
	require.ErrorContains(t, err, "grant at least one indicator")
	require.ErrorContains(t, err, "grant at least one place")
	require.NoError(t, Spec{ID: "a", Name: "A", Indicators: []string{"who.NCD_PAA"}, Places: []string{"GBR", "GB-MAN", "US-CA"}, Licence: "CC BY 4.0"}.Check(cat, pl))
}

// TestSpecCheckRefusesUnknownPlaces: a grant names catalogue places only;
// every unknown one is refused at once, each with what it may mean.
func TestSpecCheckRefusesUnknownPlaces(t *testing.T) {
	cat, pl := loadCatalogues(t)
	spec := Spec{ID: "council-x", Name: "Council X", Indicators: []string{"who.NCD_PAA"}, Licence: "CC BY 4.0"}
	for _, tc := range []struct {
		places      []string
		errContains []string
	}{
		{[]string{"France"}, []string{`place "France" is not in the place catalogue; did you mean FRA (France)? GET /v1/places on the query service lists them`}},
		{[]string{"UK"}, []string{`place "UK" is not in the place catalogue; did you mean GBR (United Kingdom)`}},
		{[]string{"fra"}, []string{`place "fra" is not in the place catalogue; did you mean FRA (France)`}},
		{[]string{"GB"}, nil}, // Great Britain is a place of its own
		{[]string{"GBR", "France", "UK", "fra", "FRA"}, []string{`place "France"`, `place "UK"`, `place "fra"`}},
		{[]string{"Atlantis"}, []string{`place "Atlantis" is not in the place catalogue; GET /v1/places on the query service lists them`}},
	} {
		spec.Places = tc.places
		err := spec.Check(cat, pl)
		if len(tc.errContains) == 0 {
			require.NoError(t, err, "%v", tc.places)
			continue
		}
		require.Error(t, err, "%v", tc.places)
		for _, want := range tc.errContains {
			require.ErrorContains(t, err, want, "%v", tc.places)
		}
		require.Equal(t, len(tc.errContains), strings.Count(err.Error(), "is not in the place catalogue"), "one error per unknown place, none for the known: %v", err)
		require.Equal(t, 1, strings.Count(err.Error(), "is added to schemas/places before it is granted"), "how to add a place, once: %v", err)
	}
}

func TestMatchesHonoursExpiryAndRevocation(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	cur, old := NewKey("a"), NewKey("a")
	p := Partner{ID: "a", Keys: []Key{
		{Hash: HashKey(old), CreatedAt: now.Add(-48 * time.Hour), ExpiresAt: now.Add(time.Hour)},
		{Hash: HashKey(cur), CreatedAt: now},
	}}
	require.True(t, p.Matches(cur, now))
	require.True(t, p.Matches(old, now), "inside its grace period")
	require.False(t, p.Matches(old, now.Add(time.Hour)), "at the end of its grace period")
	require.True(t, p.Matches(cur, now.Add(1000*time.Hour)), "a current key does not expire")
	require.False(t, p.Matches(NewKey("a"), now))
	p.RevokedAt = now
	require.False(t, p.Matches(cur, now), "revoked")
}

func TestSortedSetTrimsAndDeduplicates(t *testing.T) {
	require.Equal(t, []string{"FRA", "GBR"}, sortedSet([]string{" GBR", "FRA", "", "GBR ", "  "}))
	require.Empty(t, sortedSet(nil))
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// clock is a settable time for the registry and the cache.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// TestRegistryLifecycle runs add, list, rotate (with and without grace) and
// revoke against a real JetStream bucket, and checks that a watching Cache
// follows every change.
func TestRegistryLifecycle(t *testing.T) {
	ns := testenv.StartNATS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cat, pl := loadCatalogues(t)
	clk := &clock{t: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}
	reg, err := Open(ctx, ns.JS)
	require.NoError(t, err)
	reg.now = clk.now

	cache := NewCache()
	cache.now = clk.now
	require.Error(t, cache.Ready(ctx), "not ready before the first read")
	cctx, stopCache := context.WithCancel(ctx)
	cacheDone := make(chan error, 1)
	go func() { cacheDone <- cache.Run(cctx, ns.JS) }()
	t.Cleanup(func() { stopCache(); require.NoError(t, <-cacheDone) })
	require.NoError(t, cache.WaitReady(ctx))
	authenticates := func(key string) bool { _, ok := cache.Authenticate(key); return ok }

	spec := Spec{ID: "clinic-a", Name: "Clinic A", Indicators: []string{"who.NCD_PAA", "who.NCD_PAA", "SP.POP.TOTL"},
		Places: []string{"GBR", " GB-MAN"}, Licence: "CC BY 4.0"}
	p, key1, err := reg.Add(ctx, spec, cat, pl)
	require.NoError(t, err)
	require.Equal(t, []string{"SP.POP.TOTL", "who.NCD_PAA"}, p.Indicators)
	require.Equal(t, []string{"GB-MAN", "GBR"}, p.Places)
	require.Equal(t, "partner:clinic-a", p.Source())
	require.True(t, p.CanWritePlace("GBR"))
	require.False(t, p.CanWritePlace("FRA"))
	require.Eventually(t, func() bool { return authenticates(key1) }, 5*time.Second, 10*time.Millisecond)

	_, _, err = reg.Add(ctx, spec, cat, pl)
	require.ErrorIs(t, err, ErrExists)
	_, _, err = reg.Add(ctx, Spec{ID: "bad id"}, cat, pl)
	require.ErrorContains(t, err, "name is missing")
	_, _, err = reg.Add(ctx, Spec{ID: "council-x", Name: "X", Indicators: []string{"who.NCD_PAA"}, Places: []string{"GBR", "France"}, Licence: "OGL"}, cat, pl)
	require.ErrorContains(t, err, `place "France" is not in the place catalogue; did you mean FRA (France)?`)
	_, err = reg.Get(ctx, "council-x")
	require.ErrorIs(t, err, ErrNotFound, "a refused grant stores nothing")

	_, key2, err := reg.Add(ctx, Spec{ID: "agency-b", Name: "B", Indicators: []string{"who.NCD_PAA"}, Places: []string{"FRA"}, Licence: "OGL"}, cat, pl)
	require.NoError(t, err)
	all, err := reg.List(ctx)
	require.NoError(t, err)
	require.Len(t, all, 2)
	require.Equal(t, "agency-b", all[0].ID, "sorted by id")
	stored, err := reg.Get(ctx, "clinic-a")
	require.NoError(t, err)
	require.Len(t, stored.Keys, 1)
	require.NotContains(t, string(mustMarshal(t, stored)), key1[len("ounce_clinic-a_"):], "only the hash is stored")
	_, err = reg.Get(ctx, "nobody")
	require.ErrorIs(t, err, ErrNotFound)
	_, err = reg.Get(ctx, "../x")
	require.ErrorIs(t, err, ErrNotFound)

	// Rotate with a grace period: both keys work until it ends.
	key1b, err := reg.Rotate(ctx, "clinic-a", time.Hour)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return authenticates(key1b) }, 5*time.Second, 10*time.Millisecond)
	require.True(t, authenticates(key1))
	clk.add(time.Hour)
	require.False(t, authenticates(key1), "the old key expired with its grace period")
	require.True(t, authenticates(key1b))

	// Rotate without grace: the old key stops at once, and expired keys are dropped.
	key1c, err := reg.Rotate(ctx, "clinic-a", 0)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return authenticates(key1c) && !authenticates(key1b) }, 5*time.Second, 10*time.Millisecond)
	stored, err = reg.Get(ctx, "clinic-a")
	require.NoError(t, err)
	require.Len(t, stored.Keys, 1)

	// Revoke: no key works, and the partner cannot be given a new one.
	require.NoError(t, reg.Revoke(ctx, "clinic-a"))
	require.Eventually(t, func() bool { return !authenticates(key1c) }, 5*time.Second, 10*time.Millisecond)
	_, err = reg.Rotate(ctx, "clinic-a", 0)
	require.ErrorContains(t, err, "revoked")
	require.ErrorIs(t, reg.Revoke(ctx, "nobody"), ErrNotFound)
	require.True(t, authenticates(key2), "other partners are untouched")

	// A record that is not a partner is not a partner.
	kv, err := ns.JS.KeyValue(ctx, extnats.BucketPartners)
	require.NoError(t, err)
	_, err = kv.Put(ctx, "agency-b", []byte("{not json"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return !authenticates(key2) }, 5*time.Second, 10*time.Millisecond)
	_, err = reg.Get(ctx, "agency-b")
	require.ErrorContains(t, err, "decode partner record")
	require.False(t, errors.Is(err, ErrNotFound))
}
