package extch

import (
	"context"
	"errors"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/rs/zerolog"

	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/places"
)

// Ready is a ClickHouse that Setup has migrated and filled with the
// catalogues, with the catalogues it wrote.
type Ready struct {
	Conn       driver.Conn
	Applied    []uint32 // versions of the migrations this Setup applied
	Indicators *indicators.Catalogue
	Places     *places.Catalogue
}

// Setup reads the indicator and place catalogues, opens the ClickHouse at
// dsn, applies the migrations and writes both catalogues: what every process
// that reads or writes observations does before it serves — the query
// service, the loader, ounce dev, ounce migrate and the tests. The caller
// closes Ready.Conn.
func Setup(ctx context.Context, dsn string) (Ready, error) {
	cat, err := indicators.Load()
	if err != nil {
		return Ready{}, fmt.Errorf("load indicator catalogue: %w", err)
	}
	pl, err := places.Load()
	if err != nil {
		return Ready{}, fmt.Errorf("load place catalogue: %w", err)
	}
	conn, err := Open(ctx, dsn)
	if err != nil {
		return Ready{}, fmt.Errorf("connect to clickhouse (set --clickhouse-dsn or OUNCE_CLICKHOUSE_DSN): %w", err)
	}
	applied, err := Migrate(ctx, conn)
	if err == nil {
		err = SyncCatalogue(ctx, conn, cat)
	}
	if err == nil {
		err = SyncPlaces(ctx, conn, pl)
	}
	if err != nil {
		return Ready{}, errors.Join(err, conn.Close())
	}
	return Ready{Conn: conn, Applied: applied, Indicators: cat, Places: pl}, nil
}

// LogReady logs what Setup did, with the password taken out of dsn.
func LogReady(log zerolog.Logger, dsn string, r Ready) {
	log.Info().Str("clickhouse", RedactDSN(dsn)).Interface("applied_migrations", r.Applied).
		Int("indicators", len(r.Indicators.Indicators())).Int("places", r.Places.Len()).Msg("clickhouse ready")
}
