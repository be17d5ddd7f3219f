package extch_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/extch"
	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/observation"
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

// TestIntegrationMigrationsRunTwice: every statement of every migration,
// run again on a migrated database (as a second service starting at the same
// moment, or a run cut short before it recorded itself, would), succeeds or
// is recognised as done.
func TestIntegrationMigrationsRunTwice(t *testing.T) {
	ch := testenv.StartClickHouse(t)
	ms, err := extch.Migrations()
	require.NoError(t, err)
	for i := range ms {
		ms[i].Version += 10000 // not recorded: Apply runs it
	}
	_, err = extch.Apply(context.Background(), ch.Conn, ms)
	require.NoError(t, err)
}

// TestIntegrationFlagMigrationKeepsHistory: a database at migration 6 with
// superseded versions keeps all of them in observation_versions after
// migration 7, and new inserts reach it with their flag.
func TestIntegrationFlagMigrationKeepsHistory(t *testing.T) {
	ch := testenv.StartClickHouse(t)
	ctx := context.Background()
	db := ch.Database + "_upgrade"
	require.NoError(t, ch.Conn.Exec(ctx, "CREATE DATABASE "+db))
	t.Cleanup(func() { _ = ch.Conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db) })
	conn, err := extch.Open(ctx, strings.Replace(ch.DSN, "/"+ch.Database, "/"+db, 1))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	ms, err := extch.Migrations()
	require.NoError(t, err)
	i7 := slices.IndexFunc(ms, func(m extch.Migration) bool { return m.Version == 7 })
	require.Positive(t, i7)
	_, err = extch.Apply(ctx, conn, ms[:i7])
	require.NoError(t, err)
	for v := 1; v <= 3; v++ { // as the loader wrote before migration 7
		b, err := conn.PrepareBatch(ctx, `INSERT INTO observations (indicator, geo, grain, period_start, period_end, dims, source,
 value, unit, version, initiative, source_url, licence, retrieved_at, batch_id)`)
		require.NoError(t, err)
		require.NoError(t, b.Append("a", "GBR", "year", int64(0), int64(1), "", "f", float64(v), "u", uint64(v), "", "", "l", time.Now(), fmt.Sprintf("b%d", v)))
		require.NoError(t, b.Send())
	}
	_, err = extch.Apply(ctx, conn, ms[i7:])
	require.NoError(t, err)
	v := 4.0
	o := observation.Observation{Indicator: "a", Geo: "GBR", Period: observation.Year(1970), Value: &v, Unit: "u",
		Source: "f", Version: 4, Flag: "p", Quality: []string{observation.QualityOutlier},
		Provenance: observation.Provenance{Licence: "l", RetrievedAt: time.Now()}}
	var cols extch.Columns
	cols.Add(&o, "b4")
	require.NoError(t, cols.Insert(ctx, conn))
	var n, flagged uint64
	var sum float64
	require.NoError(t, conn.QueryRow(ctx, "SELECT count(), sum(value), countIf(flag = 'p' AND quality = 'outlier') FROM observation_versions").Scan(&n, &sum, &flagged))
	require.EqualValues(t, 4, n, "the three versions before the migration and the one after")
	require.EqualValues(t, 1+2+3+4, sum)
	require.EqualValues(t, 1, flagged)
	var views uint64
	require.NoError(t, conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ? AND name = 'observation_history'", db).Scan(&views))
	require.Zero(t, views, "the old view is gone: every insert writes one history row, not two")
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

// User indicators are mirrored beside the catalogue: SyncCatalogue leaves
// them alone, a second mirror of the same view writes nothing, a lagging
// view never overwrites a newer row, and a deleted one leaves the known set.
func TestIntegrationMirrorUserIndicators(t *testing.T) {
	ch := testenv.StartClickHouse(t)
	ctx := context.Background()
	cat, err := indicators.Load()
	require.NoError(t, err)
	screened := indicators.Indicator{Code: "user.testcouncil.screened", Name: "Screened", Unit: "people",
		Polarity: indicators.HigherIsBetter, Domain: "health", Producer: "testcouncil", Licence: "OGL-UK-3.0"}
	n, err := extch.MirrorUserIndicators(ctx, ch.Conn, []extch.MirrorRow{{Indicator: screened, Version: 100}})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	n, err = extch.MirrorUserIndicators(ctx, ch.Conn, []extch.MirrorRow{{Indicator: screened, Version: 100}})
	require.NoError(t, err)
	require.Zero(t, n, "the table holds it already")

	require.NoError(t, extch.SyncCatalogue(ctx, ch.Conn, cat))
	known, err := extch.KnownIndicators(ctx, ch.Conn)
	require.NoError(t, err)
	require.True(t, known[screened.Code], "SyncCatalogue deletes no user row")
	require.True(t, known["owid.co2"])
	var origin string
	require.NoError(t, ch.Conn.QueryRow(ctx, "SELECT origin FROM indicators FINAL WHERE code = 'owid.co2'").Scan(&origin))
	require.Equal(t, extch.OriginCatalogue, origin)

	renamed := screened
	renamed.Name = "Residents screened"
	n, err = extch.MirrorUserIndicators(ctx, ch.Conn, []extch.MirrorRow{{Indicator: renamed, Version: 200}})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	n, err = extch.MirrorUserIndicators(ctx, ch.Conn, []extch.MirrorRow{{Indicator: screened, Version: 100}})
	require.NoError(t, err)
	require.Zero(t, n, "an older revision never replaces a newer one")
	var name string
	require.NoError(t, ch.Conn.QueryRow(ctx, "SELECT name FROM indicators FINAL WHERE code = ?", screened.Code).Scan(&name))
	require.Equal(t, "Residents screened", name)

	n, err = extch.MirrorUserIndicators(ctx, ch.Conn, []extch.MirrorRow{{Indicator: renamed, Deleted: true, Version: 300},
		{Indicator: indicators.Indicator{Code: "user.testcouncil.never"}, Deleted: true, Version: 300}})
	require.NoError(t, err)
	require.Equal(t, 1, n, "a deletion of what the table never held writes nothing")
	known, err = extch.KnownIndicators(ctx, ch.Conn)
	require.NoError(t, err)
	require.False(t, known[screened.Code])
	require.Len(t, known, len(cat.Indicators()))
}
