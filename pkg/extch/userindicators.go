package extch

import (
	"context"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/ounce-data/ounce/pkg/indicators"
)

// Origins of a row of the indicators table (migration 0008).
const (
	OriginCatalogue = "catalogue"
	OriginUser      = "user"
)

// MirrorRow is one user indicator as the indicators table mirrors it: its
// catalogue form, whether it is deleted, and the version of the row (the
// time the NATS server stored the revision, in nanoseconds, so that a
// later revision always has a higher version whichever replica mirrors it).
type MirrorRow struct {
	Indicator indicators.Indicator
	Deleted   bool
	Version   uint64
}

// MirrorUserIndicators writes want into the indicators table as rows of
// origin user, in one INSERT, leaving out every row the table already
// holds at the same or a newer version, and those it holds with the same
// columns: run again with the same want, it writes nothing. A code the
// table holds and want lacks is left alone (the caller's view may lag the
// bucket); a deletion is a row of want with Deleted. It returns how many
// rows it wrote.
func MirrorUserIndicators(ctx context.Context, conn driver.Conn, want []MirrorRow) (int, error) {
	type held struct {
		ind     indicators.Indicator
		deleted bool
		version uint64
	}
	current := map[string]held{}
	rows, err := conn.Query(ctx, `SELECT code, name, unit, polarity, domain, description, producer, url, licence, cadence, deleted, version
		FROM indicators FINAL WHERE origin = ?`, OriginUser)
	if err != nil {
		return 0, fmt.Errorf("read user indicators: %w", err)
	}
	for rows.Next() {
		var (
			h   held
			pol string
			del uint8
		)
		if err := rows.Scan(&h.ind.Code, &h.ind.Name, &h.ind.Unit, &pol, &h.ind.Domain, &h.ind.Description,
			&h.ind.Producer, &h.ind.URL, &h.ind.Licence, &h.ind.Cadence, &del, &h.version); err != nil {
			_ = rows.Close()
			return 0, fmt.Errorf("read user indicators: %w", err)
		}
		h.ind.Polarity, h.deleted = indicators.Polarity(pol), del == 1
		current[h.ind.Code] = h
	}
	if err := rows.Close(); err != nil {
		return 0, fmt.Errorf("read user indicators: %w", err)
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("read user indicators: %w", err)
	}
	var changed []MirrorRow
	for _, w := range want {
		if w.Deleted {
			w.Indicator = indicators.Indicator{Code: w.Indicator.Code}
		}
		h, ok := current[w.Indicator.Code]
		switch {
		case !ok:
			if !w.Deleted {
				changed = append(changed, w)
			}
		case h.version >= w.Version:
		case h.deleted != w.Deleted || !w.Deleted && !sameRow(h.ind, w.Indicator):
			changed = append(changed, w)
		}
	}
	if len(changed) == 0 {
		return 0, nil
	}
	batch, err := conn.PrepareBatch(ctx, `INSERT INTO indicators
		(code, name, unit, polarity, domain, description, producer, url, licence, cadence, origin, deleted, version)`)
	if err != nil {
		return 0, fmt.Errorf("prepare user indicators insert: %w", err)
	}
	for _, w := range changed {
		ind := w.Indicator
		var del uint8
		if w.Deleted {
			del = 1
		}
		if err := batch.Append(ind.Code, ind.Name, ind.Unit, string(ind.Polarity), ind.Domain, ind.Description,
			ind.Producer, ind.URL, ind.Licence, ind.Cadence, OriginUser, del, w.Version); err != nil {
			_ = batch.Abort()
			return 0, fmt.Errorf("append user indicator %s: %w", ind.Code, err)
		}
	}
	if err := batch.Send(); err != nil {
		return 0, fmt.Errorf("insert user indicators: %w", err)
	}
	return len(changed), nil
}
