package ingest_test

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/extch"
	"github.com/ounce-data/ounce/pkg/feedcat"
	"github.com/ounce-data/ounce/pkg/feeds/owid"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/pkg/testenv"
	"github.com/ounce-data/ounce/services/ingest"
)

// csvFeed is a feed read by pkg/feeds/mappedcsv and how to read its
// recording independently: expect returns "indicator|geo|year|dims" →
// value for the cells it checks, and how many observations the whole file
// makes.
type csvFeed struct {
	id     string
	format string
	expect func(t *testing.T, data []byte) (want map[string]float64, total int)
}

var csvFeeds = []csvFeed{
	{"worldbank-bulk-health-expenditure", "worldbank-bulk-csv", expectWorldBankBulk},
	{"owid-diabetes-prevalence", "owid-grapher-csv", expectOWIDGrapher},
	{"who-obesity-adults", "who-portal-csv", expectWHOPortal},
	{"whatawaste", "mapped-csv", expectWhatAWaste},
}

func csvKey(indicator, geo string, year int, dims string) string {
	return fmt.Sprintf("%s|%s|%d|%s", indicator, geo, year, dims)
}

// rawCSV reads a recording with encoding/csv alone, after skip lines.
func rawCSV(t *testing.T, data []byte, skip int) [][]string {
	t.Helper()
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	for range skip {
		data = data[bytes.IndexByte(data, '\n')+1:]
	}
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	require.NoError(t, err)
	return recs
}

func num(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	require.NoError(t, err, s)
	return v
}

// Every cell of every row: geo is the World Bank's code as written.
func expectWorldBankBulk(t *testing.T, data []byte) (map[string]float64, int) {
	recs := rawCSV(t, data, 4)
	h := recs[0]
	want := map[string]float64{}
	for _, r := range recs[1:] {
		for j := 4; j < len(h); j++ {
			if h[j] == "" || r[j] == "" {
				continue
			}
			y, err := strconv.Atoi(h[j])
			require.NoError(t, err)
			want[csvKey(r[3], r[1], y, "")] = num(t, r[j])
		}
	}
	return want, len(want)
}

// Every row: geo is Code, or owid:<slug of Entity> when Code is empty
// (the country's code when the place catalogue reviews it as one).
func expectOWIDGrapher(t *testing.T, data []byte) (map[string]float64, int) {
	want := map[string]float64{}
	for _, r := range rawCSV(t, data, 0)[1:] {
		geo := r[1]
		if geo == "" {
			geo = owid.UncodedPrefix + owid.Slug(r[0])
			if country, ok := testPlacesCatalogue.EntityCountry(geo); ok {
				geo = country // reviewed in schemas/places/entities.yaml
			}
		}
		y, err := strconv.Atoi(r[2])
		require.NoError(t, err)
		want[csvKey("owid.diabetes_prevalence", geo, y, "")] = num(t, r[3])
	}
	return want, len(want)
}

// whoM49 are a few well-known UN M49 numbers and the ISO 3166-1 alpha-3
// codes they stand for, to check the portal's places by.
var whoM49 = map[string]string{"826": "GBR", "840": "USA", "250": "FRA", "356": "IND", "076": "BRA", "566": "NGA", "001": "WLD"}

// The rows of the places in whoM49; every row of the file is an observation.
func expectWHOPortal(t *testing.T, data []byte) (map[string]float64, int) {
	recs := rawCSV(t, data, 0)
	h := recs[0]
	col := func(name string) int {
		i := slices.Index(h, name)
		require.GreaterOrEqual(t, i, 0, name)
		return i
	}
	geo, year, val, sex, age := col("DIM_GEO_CODE_M49"), col("DIM_TIME"), col("RATE_PER_100_N"), col("DIM_SEX"), col("DIM_AGE")
	want := map[string]float64{}
	for _, r := range recs[1:] {
		iso, ok := whoM49[r[geo]]
		if !ok {
			continue
		}
		y, err := strconv.Atoi(r[year])
		require.NoError(t, err)
		want[csvKey("who.NCD_BMI_30A", iso, y, observation.Dims{"sex": r[sex], "age": r[age]}.Canonical())] = num(t, r[val])
	}
	return want, len(recs) - 1
}

var wasteColumns = map[string]string{
	"total_msw_total_msw_generated_tons_year": "waw.msw_generated",
	"gdp":                               "waw.gdp",
	"special_waste_e_waste_tons_year":   "waw.e_waste",
	"waste_treatment_recycling_percent": "waw.recycling_percent",
}

// Four columns (two with E-notation numbers) of every row.
func expectWhatAWaste(t *testing.T, data []byte) (map[string]float64, int) {
	recs := rawCSV(t, data, 0)
	h := recs[0]
	want := map[string]float64{}
	for name, ind := range wasteColumns {
		j := slices.Index(h, name)
		require.GreaterOrEqual(t, j, 0, name)
		for _, r := range recs[1:] {
			if r[j] != "" && r[j] != "None" {
				want[csvKey(ind, r[0], 2016, "")] = num(t, r[j])
			}
		}
	}
	return want, -1 // the catalogue maps more columns than checked here
}

// TestIntegrationMappedCSVFeedsIntoClickHouse runs each feed from the
// mirror through embedded NATS, writes what it published into ClickHouse
// as the loader does (decode each batch, one columnar INSERT), and compares
// what ClickHouse gives back with values read from the raw file with
// encoding/csv.
func TestIntegrationMappedCSVFeedsIntoClickHouse(t *testing.T) {
	dir := testenv.SharedDataDir(t)
	for _, cf := range csvFeeds {
		t.Run(cf.id, func(t *testing.T) {
			ch := testenv.StartClickHouse(t)
			all, err := feedcat.Load()
			require.NoError(t, err)
			f, ok := feedcat.ByID(all, cf.id)
			require.True(t, ok)
			require.Equal(t, cf.format, f.Format)
			e := newEnv(t, ingest.Config{MirrorDir: dir}, func(feed *feedcat.Feed) { *feed = f })
			data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Mirror)))
			require.NoError(t, err)
			want, total := cf.expect(t, data)

			res, err := e.in.RunFeed(ctxT(t), f.ID)
			require.NoError(t, err)
			if total >= 0 {
				require.Equal(t, total, res.Observations, "one observation per value in the file")
			}
			require.Zero(t, res.Duplicates)

			var cols extch.Columns
			for _, m := range e.streamMessages(t) {
				b, err := observation.Decode(m.Data())
				require.NoError(t, err)
				for i := range b.Observations {
					require.NoError(t, b.Observations[i].Validate())
					cols.Add(&b.Observations[i], b.ID)
				}
			}
			require.Equal(t, res.Observations, cols.Len())
			require.NoError(t, cols.Insert(ctxT(t), ch.Conn))

			rows, err := ch.Conn.Query(ctxT(t), `SELECT indicator, geo, grain, period_start, dims, value, licence
				FROM observations FINAL WHERE source = ?`, f.ID)
			require.NoError(t, err)
			got := map[string]float64{}
			places, years := map[string]bool{}, map[int]bool{}
			for rows.Next() {
				var ind, geo, grain, dims, licence string
				var start int64
				var v float64
				require.NoError(t, rows.Scan(&ind, &geo, &grain, &start, &dims, &v, &licence))
				require.Equal(t, "year", grain)
				require.Equal(t, f.Licence, licence)
				y := time.Unix(start, 0).UTC().Year()
				got[csvKey(ind, geo, y, dims)] = v
				places[geo], years[y] = true, true
			}
			require.NoError(t, rows.Close())
			require.Len(t, got, res.Observations, "ClickHouse holds every observation once")
			for k, v := range want {
				g, ok := got[k]
				require.True(t, ok, "%s is in the file but not in ClickHouse", k)
				require.Equal(t, v, g, k)
			}
			require.Greater(t, len(want), 10)
			t.Logf("%s: %d rows in ClickHouse, %d places, %d years; %d compared with the raw file",
				f.ID, len(got), len(places), len(years), len(want))
		})
	}
}

// Places the catalogue marks as aggregates come through under their own
// codes: the World Bank's regions and the world, OWID's OWID_* and
// uncoded entities, WHO's regions.
func TestRunMappedCSVKeepsAggregates(t *testing.T) {
	dir := testenv.SharedDataDir(t)
	for _, tc := range []struct {
		id   string
		geos []string
	}{
		{"worldbank-bulk-health-expenditure", []string{"WLD", "EAS", "HIC", "AFE"}},
		{"owid-diabetes-prevalence", []string{"OWID_WRL", "owid:high-income-countries"}},
		{"who-obesity-adults", []string{"WLD", "who:AFR", "who:EUR", "who:WB_HI"}},
	} {
		t.Run(tc.id, func(t *testing.T) {
			all, err := feedcat.Load()
			require.NoError(t, err)
			f, ok := feedcat.ByID(all, tc.id)
			require.True(t, ok)
			e := newEnv(t, ingest.Config{MirrorDir: dir}, func(feed *feedcat.Feed) { *feed = f })
			_, err = e.in.RunFeed(ctxT(t), f.ID)
			require.NoError(t, err)
			seen := map[string]bool{}
			for _, m := range e.streamMessages(t) {
				b, err := observation.Decode(m.Data())
				require.NoError(t, err)
				for _, o := range b.Observations {
					seen[o.Geo] = true
				}
			}
			for _, g := range tc.geos {
				require.True(t, seen[g], "%s is published", g)
			}
		})
	}
}
