package ingest

import (
	"bytes"
	"iter"
	"time"

	"github.com/ounce-data/ounce/pkg/feedcat"
	"github.com/ounce-data/ounce/pkg/feeds"
	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/pkg/places"
)

// ParseBody reads body with the adapter feed f is bound to when the
// ingester runs it (its format's adapter and its mapping: block), without
// fetching or publishing.
func ParseBody(f feedcat.Feed, cat *indicators.Catalogue, pl *places.Catalogue, body []byte, retrieved time.Time) (iter.Seq2[observation.Observation, error], error) {
	st, err := checkFeed(f, cat, pl)
	if err != nil {
		return nil, err
	}
	meta := feeds.Meta{Source: f.ID, URL: f.URL, Licence: f.Licence, RetrievedAt: retrieved, Version: 1}
	p, err := st.open(bytes.NewReader(body), meta)
	if err != nil {
		return nil, err
	}
	return p.All(), nil
}
