package ingest

import (
	"bytes"
	"iter"
	"time"

	"github.com/ounce-data/ounce/pkg/catalogue"
	"github.com/ounce-data/ounce/pkg/feedcat"
	"github.com/ounce-data/ounce/pkg/feeds"
	"github.com/ounce-data/ounce/pkg/observation"
)

// ParseBody reads body with the adapter feed f is bound to when the
// ingester runs it (its format's adapter and its mapping: block), without
// fetching or publishing.
func ParseBody(f feedcat.Feed, cat *catalogue.Catalogue, body []byte, retrieved time.Time) (iter.Seq2[observation.Observation, error], error) {
	st, err := checkFeed(f, cat)
	if err != nil {
		return nil, err
	}
	meta := feeds.Meta{Source: f.ID, URL: f.URL, Licence: f.Licence, RetrievedAt: retrieved, Version: 1}
	p, err := st.open(bytes.NewReader(body), st.cat, meta)
	if err != nil {
		return nil, err
	}
	return p.All(), nil
}
