package jsonstat_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/observation"
)

// Each recording read with encoding/json alone: every cell with a value
// that a catalogue selector picks is one observation with that value, its
// place (Eurostat and OECD codes to the place catalogue, written out here
// for the places checked), its period and its status; null and absent
// cells give nothing.
func TestRecordingsMatchRawCells(t *testing.T) {
	// Place codes as documented, written out for the places checked.
	geos := map[string]string{"DNK": "DK", "ITA": "IT", "FRA": "FR", "GBR": "UK", "GRC": "GR", "DEU": "DE", "USA": "US", "oecd:EU15": "EU15", "oecd:OECD": "OECD"}
	for _, id := range feedIDs {
		t.Run(id, func(t *testing.T) {
			m, data := setup(t, id)
			obs, stats, err := readAll(t, data, m)
			require.NoError(t, err)
			geoDim, timeDim := "geo", "time"
			if id == "oecd-unemployment" {
				geoDim, timeDim = "area", "year"
			}
			type key struct{ ind, geo, period, status string }
			want := map[key]float64{}
			missing, unmapped := 0, 0
			for _, c := range rawCells(t, data) {
				if c.value == nil {
					missing++
					continue
				}
				picked := 0
				for sel, col := range m.Columns {
					if !matches(c, sel) {
						continue
					}
					picked++
					want[key{col.Indicator, c.cats[geoDim], c.cats[timeDim], ""}] = *c.value
				}
				require.LessOrEqual(t, picked, 1)
				if picked == 0 {
					unmapped++
				}
			}
			require.NotEmpty(t, want)
			require.Len(t, obs, len(want))
			require.Equal(t, missing, stats.Missing)
			require.Equal(t, unmapped, stats.Detail("unmapped_cells"))
			places, periods := map[string]bool{}, map[string]bool{}
			for _, o := range obs {
				require.Equal(t, observation.GrainYear, o.Period.Grain)
				code, ok := geos[o.Geo]
				if !ok {
					continue
				}
				k := key{o.Indicator, code, o.Period.Code(), ""}
				v, ok := want[k]
				require.True(t, ok, "%+v is not in the raw file", k)
				require.Equal(t, v, *o.Value, "%+v", k)
				places[o.Geo], periods[o.Period.Code()] = true, true
			}
			require.NotEmpty(t, places, "values checked")
			t.Logf("%s: %d observations, %d missing, %d unmapped; places %v; %d periods", id, len(obs), stats.Missing, stats.Detail("unmapped_cells"), sortedKeys(places), len(periods))
		})
	}
}

// The OECD sample's 2013 and 2014 projections have status "e", counted and
// kept as a dim only when asked; the aggregates are counted, not taken for
// countries.
func TestOECDStatusAndAggregates(t *testing.T) {
	m, data := setup(t, "oecd-unemployment")
	obs, stats, err := readAll(t, data, m)
	require.NoError(t, err)
	require.Len(t, obs, 432)
	require.Equal(t, 72, stats.Flags["e"])
	require.Equal(t, 24, stats.Aggregates)
	flagged := 0
	for _, o := range obs {
		require.NotContains(t, o.Dims, "status", "a status is not part of the key")
		y := o.Period.Start.Year()
		require.Equal(t, y >= 2013, o.Flag == "e", "%s %d: the status is the observation's flag", o.Geo, y)
		if o.Flag != "" {
			flagged++
		}
	}
	require.Equal(t, stats.Flags["e"], flagged)
}

// The Eurostat API's freq dimension has one category and is left out; the
// legacy wdds bundle is read and flagged as such.
func TestConstantDimensionsAndLegacy(t *testing.T) {
	m, data := setup(t, "eurostat-gdp")
	_, stats, err := readAll(t, data, m)
	require.NoError(t, err)
	require.Equal(t, []string{"freq=A"}, stats.Detail("constant_dimensions"))
	require.Equal(t, false, stats.Detail("jsonstat_1x"))
	require.Equal(t, map[string]int{"d": 1}, stats.Flags, "cell 43 (B1G, CON_PPCH_PRE); cell 42 is unmapped")

	m, data = setup(t, "eurostat-gdp-per-capita-wdds")
	obs, stats, err := readAll(t, data, m)
	require.NoError(t, err)
	require.Equal(t, true, stats.Detail("jsonstat_1x"))
	require.Equal(t, 1, stats.Detail("datasets"))
	require.Equal(t, 138, stats.Rows)
	require.Equal(t, 138-len(obs), stats.Missing)
	require.Equal(t, stats.Missing, stats.Flags[":"], "wdds marks each empty cell ':'")
}
