package extch_test

import (
	"context"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/extch"
	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/places"
	"github.com/ounce-data/ounce/pkg/testenv"
)

func TestIntegrationMigrateIsIdempotent(t *testing.T) {
	ch := testenv.StartClickHouse(t) // migrated once already
	ctx := context.Background()
	applied, err := extch.Migrate(ctx, ch.Conn)
	require.NoError(t, err)
	require.Empty(t, applied, "a second run applies nothing")
	ms, err := extch.Migrations()
	require.NoError(t, err)
	var recorded uint64
	require.NoError(t, ch.Conn.QueryRow(ctx, "SELECT uniqExact(version) FROM schema_migrations").Scan(&recorded))
	require.EqualValues(t, len(ms), recorded)
	for _, table := range []string{"observations", "indicators", "places"} {
		var n uint64
		require.NoError(t, ch.Conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ? AND name = ?", ch.Database, table).Scan(&n))
		require.EqualValues(t, 1, n, table)
	}
}

func TestIntegrationSyncCatalogueWritesOnlyChanges(t *testing.T) {
	ch := testenv.StartClickHouse(t) // synced once already
	ctx := context.Background()
	cat, err := indicators.Load()
	require.NoError(t, err)
	var before, after uint64
	require.NoError(t, ch.Conn.QueryRow(ctx, "SELECT count() FROM indicators").Scan(&before))
	require.EqualValues(t, len(cat.Indicators()), before)
	require.NoError(t, extch.SyncCatalogue(ctx, ch.Conn, cat))
	require.NoError(t, ch.Conn.QueryRow(ctx, "SELECT count() FROM indicators").Scan(&after))
	require.Equal(t, before, after, "an unchanged catalogue inserts nothing")
	known, err := extch.KnownIndicators(ctx, ch.Conn)
	require.NoError(t, err)
	require.True(t, known["owid.co2_per_capita"])
}

func TestMigrationFileNames(t *testing.T) {
	for _, tc := range []struct {
		name        string
		files       fstest.MapFS
		errContains string
	}{
		{"no number", fstest.MapFS{"m/init.sql": {Data: []byte("SELECT 1;")}}, "name must start with a positive number"},
		{"duplicate", fstest.MapFS{"m/0001_a.sql": {Data: []byte("SELECT 1;")}, "m/1_b.sql": {Data: []byte("SELECT 1;")}}, "share version 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := extch.MigrationsFS(tc.files, "m")
			require.ErrorContains(t, err, tc.errContains)
		})
	}
	ms, err := extch.MigrationsFS(fstest.MapFS{
		"m/0002_b.sql": {Data: []byte("-- comment\nCREATE TABLE a (x UInt8) ENGINE = Memory;\n\nCREATE TABLE b (x UInt8)\nENGINE = Memory;\n")},
		"m/0001_a.sql": {Data: []byte("SELECT 1")},
	}, "m")
	require.NoError(t, err)
	require.Len(t, ms, 2)
	require.EqualValues(t, 1, ms[0].Version)
	require.Equal(t, []string{"CREATE TABLE a (x UInt8) ENGINE = Memory", "CREATE TABLE b (x UInt8)\nENGINE = Memory"}, ms[1].Statements)
}

func TestIntegrationSyncPlaces(t *testing.T) {
	ch := testenv.StartClickHouse(t) // synced once already
	ctx := context.Background()
	cat, err := places.Load()
	require.NoError(t, err)
	var n uint64
	require.NoError(t, ch.Conn.QueryRow(ctx, "SELECT count() FROM places FINAL").Scan(&n))
	require.EqualValues(t, cat.Len(), n)
	var name, level, parent, alpha2, m49 string
	require.NoError(t, ch.Conn.QueryRow(ctx, `SELECT name, level, parent FROM places FINAL WHERE code = 'FRA'`).Scan(&name, &level, &parent))
	require.Equal(t, []string{"France", "country", "m49:150"}, []string{name, level, parent})
	require.NoError(t, ch.Conn.QueryRow(ctx, `SELECT alpha2, m49 FROM place_codes FINAL WHERE code = 'FRA'`).Scan(&alpha2, &m49))
	require.Equal(t, []string{"FR", "250"}, []string{alpha2, m49})
	var aliases []string
	require.NoError(t, ch.Conn.QueryRow(ctx, `SELECT aliases FROM place_codes FINAL WHERE code = 'who:AFR'`).Scan(&aliases))
	require.Equal(t, []string{"who-m49:953"}, aliases)
	require.NoError(t, ch.Conn.QueryRow(ctx, `SELECT level FROM places FINAL WHERE code = 'EAS'`).Scan(&level))
	require.Equal(t, "aggregate", level)

	var before, after uint64
	require.NoError(t, ch.Conn.QueryRow(ctx, "SELECT count() FROM places").Scan(&before))
	require.NoError(t, extch.SyncPlaces(ctx, ch.Conn, cat))
	require.NoError(t, ch.Conn.QueryRow(ctx, "SELECT count() FROM places").Scan(&after))
	require.Equal(t, before, after, "an unchanged catalogue inserts nothing")
}
