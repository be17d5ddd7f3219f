// Package socratatest reads Socrata recordings without the socrata
// package, so that tests compare its parser with an independent reading of
// the raw file.
package socratatest

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// RowsFormat is the feed format of a views rows.json export; any other
// format is read as a SODA resource answer.
const RowsFormat = "socrata-rows-json"

// RawRows reads a recording of feed format format with encoding/json
// alone: SODA rows as they are, rows.json rows keyed by
// meta.view.columns[].fieldName; null values left out, as SODA leaves them
// out.
func RawRows(tb testing.TB, format string, data []byte) []map[string]string {
	tb.Helper()
	if format != RowsFormat {
		var rows []map[string]string
		require.NoError(tb, json.Unmarshal(data, &rows))
		return rows
	}
	var doc struct {
		Meta struct {
			View struct {
				Columns []struct {
					FieldName string `json:"fieldName"`
				} `json:"columns"`
			} `json:"view"`
		} `json:"meta"`
		Data [][]any `json:"data"`
	}
	require.NoError(tb, json.Unmarshal(data, &doc))
	rows := make([]map[string]string, 0, len(doc.Data))
	for i, d := range doc.Data {
		require.LessOrEqual(tb, len(d), len(doc.Meta.View.Columns), "rows.json row %d has more values than columns", i)
		row := map[string]string{}
		for j, v := range d {
			if s, ok := v.(string); ok {
				row[doc.Meta.View.Columns[j].FieldName] = s
			}
		}
		rows = append(rows, row)
	}
	return rows
}
