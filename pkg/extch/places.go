package extch

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/ounce-data/ounce/pkg/places"
)

// SyncPlaces writes the place catalogue to the places table (code, name,
// level, parent) and its other codes to place_codes (alpha2, m49, aliases),
// each in one INSERT of the entries that differ from what the tables hold.
func SyncPlaces(ctx context.Context, conn driver.Conn, cat *places.Catalogue) error {
	current := map[string]places.Place{}
	rows, err := conn.Query(ctx, `SELECT code, name, level, parent FROM places FINAL`)
	if err != nil {
		return fmt.Errorf("read places: %w", err)
	}
	for rows.Next() {
		var p places.Place
		var level string
		if err := rows.Scan(&p.Code, &p.Name, &level, &p.Parent); err != nil {
			_ = rows.Close()
			return fmt.Errorf("read places: %w", err)
		}
		p.Level = places.Level(level)
		current[p.Code] = p
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("read places: %w", err)
	}
	rows, err = conn.Query(ctx, `SELECT code, alpha2, m49, aliases FROM place_codes FINAL`)
	if err != nil {
		return fmt.Errorf("read place_codes: %w", err)
	}
	for rows.Next() {
		var code, alpha2, m49 string
		var aliases []string
		if err := rows.Scan(&code, &alpha2, &m49, &aliases); err != nil {
			_ = rows.Close()
			return fmt.Errorf("read place_codes: %w", err)
		}
		p := current[code]
		p.Alpha2, p.M49, p.Aliases = alpha2, m49, aliases
		current[code] = p
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("read place_codes: %w", err)
	}
	rows, err = conn.Query(ctx, `SELECT code, hierarchy FROM place_hierarchies FINAL`)
	if err != nil {
		return fmt.Errorf("read place_hierarchies: %w", err)
	}
	for rows.Next() {
		var code, hierarchy string
		if err := rows.Scan(&code, &hierarchy); err != nil {
			_ = rows.Close()
			return fmt.Errorf("read place_hierarchies: %w", err)
		}
		p := current[code]
		p.Hierarchy = hierarchy
		current[code] = p
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("read place_hierarchies: %w", err)
	}
	var changed []places.Place
	for _, p := range cat.List() {
		cur := current[p.Code]
		if cur.Name != p.Name || cur.Level != p.Level || cur.Parent != p.Parent || cur.Alpha2 != p.Alpha2 || cur.Hierarchy != p.Hierarchy ||
			cur.M49 != p.M49 || !slices.Equal(cur.Aliases, p.Aliases) && len(cur.Aliases)+len(p.Aliases) > 0 {
			changed = append(changed, p)
		}
	}
	if len(changed) == 0 {
		return nil
	}
	version := uint64(time.Now().UnixMilli())
	batch, err := conn.PrepareBatch(ctx, `INSERT INTO places (code, name, level, parent, version)`)
	if err != nil {
		return fmt.Errorf("prepare places insert: %w", err)
	}
	for _, p := range changed {
		if err := batch.Append(p.Code, p.Name, string(p.Level), p.Parent, version); err != nil {
			_ = batch.Abort()
			return fmt.Errorf("append place %s: %w", p.Code, err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("insert places: %w", err)
	}
	batch, err = conn.PrepareBatch(ctx, `INSERT INTO place_codes (code, alpha2, m49, aliases, version)`)
	if err != nil {
		return fmt.Errorf("prepare place_codes insert: %w", err)
	}
	for _, p := range changed {
		aliases := p.Aliases
		if aliases == nil {
			aliases = []string{}
		}
		if err := batch.Append(p.Code, p.Alpha2, p.M49, aliases, version); err != nil {
			_ = batch.Abort()
			return fmt.Errorf("append place codes %s: %w", p.Code, err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("insert place_codes: %w", err)
	}
	batch, err = conn.PrepareBatch(ctx, `INSERT INTO place_hierarchies (code, hierarchy, version)`)
	if err != nil {
		return fmt.Errorf("prepare place_hierarchies insert: %w", err)
	}
	for _, p := range changed {
		if err := batch.Append(p.Code, p.Hierarchy, version); err != nil {
			_ = batch.Abort()
			return fmt.Errorf("append place hierarchy %s: %w", p.Code, err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("insert place_hierarchies: %w", err)
	}
	return nil
}
