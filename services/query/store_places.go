package query

import (
	"context"
	"time"
)

// placesSQL reads the newest entry of every place.
const placesSQL = `SELECT code, argMax(name, version), argMax(level, version), argMax(parent, version)
FROM places
GROUP BY code
ORDER BY code`

// placeHierarchiesSQL reads the named hierarchy of every place that has one.
const placeHierarchiesSQL = `SELECT code, argMax(hierarchy, version) AS h
FROM place_hierarchies
GROUP BY code
HAVING h != ''`

// places reads the place catalogue, sorted by code.
func (st *store) places(ctx context.Context) ([]Place, error) {
	start := time.Now()
	list, err := selectRows(ctx, st.conn, "places", placesSQL, nil, func(p *Place) []any {
		return []any{&p.Code, &p.Name, &p.Level, &p.Parent}
	})
	if err == nil {
		var named []Place
		named, err = selectRows(ctx, st.conn, "place hierarchies", placeHierarchiesSQL, nil, func(p *Place) []any {
			return []any{&p.Code, &p.Hierarchy}
		})
		in := make(map[string]string, len(named))
		for _, p := range named {
			in[p.Code] = p.Hierarchy
		}
		for i := range list {
			list[i].Hierarchy = in[list[i].Code]
		}
	}
	st.observe(ctx, "places", start, err)
	return list, err
}

// placeHasDataSQL finds one observation at a place.
const placeHasDataSQL = "SELECT geo FROM observations WHERE geo = ? LIMIT 1"

// placeHasData reports whether any observation is stored at geo.
func (st *store) placeHasData(ctx context.Context, geo string) (bool, error) {
	start := time.Now()
	rows, err := selectRows(ctx, st.conn, "place "+geo, placeHasDataSQL, []any{geo}, func(g *string) []any { return []any{g} })
	st.observe(ctx, "places", start, err)
	return len(rows) > 0, err
}
