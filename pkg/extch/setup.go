package extch

import (
	"context"
	"errors"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/ounce-data/ounce/pkg/catalogue"
	"github.com/ounce-data/ounce/pkg/places"
)

// Setup opens the ClickHouse at dsn, applies the migrations and writes the
// indicator and place catalogues: what every process that reads or writes
// observations does before it serves — the query service, the loader,
// ounce dev, ounce migrate and the tests. It returns the versions of the
// migrations it applied.
func Setup(ctx context.Context, dsn string, cat *catalogue.Catalogue, pl *places.Catalogue) (driver.Conn, []uint32, error) {
	conn, err := Open(ctx, dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to clickhouse (set --clickhouse-dsn or OUNCE_CLICKHOUSE_DSN): %w", err)
	}
	applied, err := Migrate(ctx, conn)
	if err == nil {
		err = SyncCatalogue(ctx, conn, cat)
	}
	if err == nil {
		err = SyncPlaces(ctx, conn, pl)
	}
	if err != nil {
		return nil, nil, errors.Join(err, conn.Close())
	}
	return conn, applied, nil
}
