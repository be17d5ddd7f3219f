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

// places reads the place catalogue, sorted by code.
func (st *store) places(ctx context.Context) ([]Place, error) {
	start := time.Now()
	list, err := selectRows(ctx, st.conn, "places", placesSQL, nil, func(p *Place) []any {
		return []any{&p.Code, &p.Name, &p.Level, &p.Parent}
	})
	st.observe(ctx, "places", start, err)
	return list, err
}
