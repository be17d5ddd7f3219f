package extch

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/ounce-data/ounce/pkg/indicators"
)

// SyncCatalogue writes the indicator catalogue to the indicators table in one
// INSERT, unless the table already holds exactly these entries. It writes
// catalogue codes only (origin catalogue) and deletes nothing, so the user
// indicators mirrored beside them (MirrorUserIndicators) stay.
func SyncCatalogue(ctx context.Context, conn driver.Conn, cat *indicators.Catalogue) error {
	inds := cat.Indicators()
	current := map[string]indicators.Indicator{}
	rows, err := conn.Query(ctx, `SELECT code, name, unit, polarity, domain, description, producer, url, licence, cadence
		FROM indicators FINAL`)
	if err != nil {
		return fmt.Errorf("read indicators: %w", err)
	}
	for rows.Next() {
		var ind indicators.Indicator
		var pol string
		if err := rows.Scan(&ind.Code, &ind.Name, &ind.Unit, &pol, &ind.Domain, &ind.Description,
			&ind.Producer, &ind.URL, &ind.Licence, &ind.Cadence); err != nil {
			_ = rows.Close()
			return fmt.Errorf("read indicators: %w", err)
		}
		ind.Polarity = indicators.Polarity(pol)
		current[ind.Code] = ind
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("read indicators: %w", err)
	}
	var changed []indicators.Indicator
	for _, ind := range inds {
		cur := ind
		// Neither the source column, the ratio, the aggregation, the
		// source order nor the plausible range is a column of the
		// indicators table: compare what the table holds.
		cur.Column, cur.Ratio, cur.Aggregation, cur.Sources, cur.Range = "", nil, nil, nil, nil
		if held, ok := current[ind.Code]; !ok || !sameRow(held, cur) {
			changed = append(changed, ind)
		}
	}
	if len(changed) == 0 {
		return nil
	}
	batch, err := conn.PrepareBatch(ctx, `INSERT INTO indicators
		(code, name, unit, polarity, domain, description, producer, url, licence, cadence, version)`)
	if err != nil {
		return fmt.Errorf("prepare indicators insert: %w", err)
	}
	version := uint64(time.Now().UnixMilli())
	for _, ind := range changed {
		if err := batch.Append(ind.Code, ind.Name, ind.Unit, string(ind.Polarity), ind.Domain, ind.Description,
			ind.Producer, ind.URL, ind.Licence, ind.Cadence, version); err != nil {
			_ = batch.Abort()
			return fmt.Errorf("append indicator %s: %w", ind.Code, err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("insert indicators: %w", err)
	}
	return nil
}

// sameRow reports whether a and b hold the same columns of the indicators
// table.
func sameRow(a, b indicators.Indicator) bool {
	return a.Code == b.Code && a.Name == b.Name && a.Unit == b.Unit && a.Polarity == b.Polarity && a.Domain == b.Domain &&
		a.Description == b.Description && a.Producer == b.Producer && a.URL == b.URL && a.Licence == b.Licence && a.Cadence == b.Cadence
}

// KnownIndicators returns the set of indicator codes in the indicators
// table: the catalogue's and the user indicators the query service has
// mirrored there, deleted ones left out.
func KnownIndicators(ctx context.Context, conn driver.Conn) (map[string]bool, error) {
	rows, err := conn.Query(ctx, "SELECT code FROM indicators GROUP BY code HAVING argMax(deleted, version) = 0")
	if err != nil {
		return nil, fmt.Errorf("read indicator codes: %w", err)
	}
	out := map[string]bool{}
	for rows.Next() {
		var code string
		if err := rows.Scan(&code); err != nil {
			_ = rows.Close()
			return nil, fmt.Errorf("read indicator codes: %w", err)
		}
		out[code] = true
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("read indicator codes: %w", err)
	}
	return out, rows.Err()
}
