package query

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// initiativesSQL reads the newest row of every initiative id, or of one.
const initiativesSQL = `SELECT id, argMax(doc, version), argMax(deleted, version), max(version), argMax(updated_at, version)
FROM initiatives
%s
GROUP BY id
ORDER BY id`

// insertInitiativeSQL writes one row of an initiative.
const insertInitiativeSQL = "INSERT INTO initiatives (id, doc, deleted, version, updated_at)"

// storedInitiative is the newest row of one initiative id.
type storedInitiative struct {
	ID        string
	Doc       string
	Deleted   bool
	Version   uint64
	UpdatedAt time.Time
}

// initiatives reads the newest row of every initiative, live or deleted,
// by id, with the live ids in order; or only of id, when given.
func (st *store) initiatives(ctx context.Context, id string) (map[string]storedInitiative, []string, error) {
	sql, args := fmt.Sprintf(initiativesSQL, ""), []any(nil)
	if id != "" {
		sql, args = fmt.Sprintf(initiativesSQL, "WHERE id = ?"), []any{id}
	}
	start := time.Now()
	rows, err := selectRows(ctx, st.conn, "initiatives", sql, args, func(s *storedInitiative) []any {
		return []any{&s.ID, &s.Doc, &s.Deleted, &s.Version, &s.UpdatedAt}
	})
	st.observe(ctx, "initiatives", start, err)
	if err != nil {
		return nil, nil, err
	}
	out := make(map[string]storedInitiative, len(rows))
	var order []string
	for _, s := range rows {
		out[s.ID] = s
		if !s.Deleted {
			order = append(order, s.ID)
		}
	}
	return out, order, nil
}

// writeInitiative stores version of initiative id: its document, or its
// deletion.
func (st *store) writeInitiative(ctx context.Context, id, doc string, deleted bool, version uint64) error {
	start := time.Now()
	err := st.insertInitiative(ctx, id, doc, deleted, version)
	st.observe(ctx, "initiative_write", start, err)
	return err
}

func (st *store) insertInitiative(ctx context.Context, id, doc string, deleted bool, version uint64) error {
	var del uint8
	if deleted {
		del = 1
	}
	// One row per analyst write: rare by nature, so one INSERT each.
	b, err := st.conn.PrepareBatch(ctx, insertInitiativeSQL)
	if err != nil {
		return fmt.Errorf("write initiative %s: %w", id, err)
	}
	if err := b.Append(id, doc, del, version, time.Now().UTC().Truncate(time.Second)); err != nil {
		return errors.Join(fmt.Errorf("write initiative %s: %w", id, err), b.Abort())
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("write initiative %s: %w", id, err)
	}
	return nil
}
