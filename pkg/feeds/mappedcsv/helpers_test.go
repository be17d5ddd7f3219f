package mappedcsv_test

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/feeds/feedtest"
	"github.com/ounce-data/ounce/pkg/feeds/mappedcsv"
	"github.com/ounce-data/ounce/pkg/testenv"
)

// format is a feed of the catalogue read by this package: its layout
// preset and the feed declared with it.
type format struct {
	feed   string
	preset mappedcsv.Layout
}

var (
	wbBulk  = format{"worldbank-bulk-health-expenditure", mappedcsv.WorldBankBulk}
	grapher = format{"owid-diabetes-prevalence", mappedcsv.OWIDGrapher}
	portal  = format{"who-obesity-adults", mappedcsv.WHOPortal}
	waste   = format{"whatawaste", mappedcsv.Generic}
	formats = []format{wbBulk, grapher, portal, waste}
)

// setup returns the layout, the mapping and the recording of f's feed.
func setup(t testing.TB, f format) (mappedcsv.Layout, mappedcsv.Mapping, []byte) {
	t.Helper()
	rec := feedtest.Load(t, f.feed)
	layout, err := f.preset.Merge(rec.Catalogue.CSV)
	require.NoError(t, err)
	return layout, mappedcsv.Mapping{Meta: rec.Meta, Columns: rec.Columns, Places: rec.Places}, rec.Data
}

// records reads a recording with encoding/csv alone, after skip preamble
// lines and a byte-order mark.
func records(t testing.TB, data []byte, skip int) [][]string {
	t.Helper()
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	for range skip {
		i := bytes.IndexByte(data, '\n')
		require.GreaterOrEqual(t, i, 0)
		data = data[i+1:]
	}
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	require.NoError(t, err)
	return recs
}

func column(t testing.TB, header []string, name string) int {
	t.Helper()
	for i, h := range header {
		if h == name {
			return i
		}
	}
	t.Fatalf("column %q is not in the header %v", name, header)
	return -1
}

func testDataDir(t testing.TB) string {
	t.Helper()
	return filepath.Join(testenv.SharedDataDir(t), "worldbank", "bulk_csv")
}

func readFile(t testing.TB, dir, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, name))
	require.NoError(t, err)
	return data
}

func openFile(t testing.TB, dir, name string) *bytes.Reader {
	t.Helper()
	return bytes.NewReader(readFile(t, dir, name))
}
