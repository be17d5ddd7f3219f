package socrata_test

import (
	"bytes"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/feeds/socrata/socratatest"
	"github.com/ounce-data/ounce/pkg/observation"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// want is one expected observation, keyed without the parser's help.
type want struct {
	indicator, geo, period, dims string
}

// expect lists, for one raw row, the observations the feed's declaration
// asks for at the places the test knows, and how many the row yields in
// all. Place codes here are the documented scheme, written out by hand for
// the few places each case checks.
type expectFunc func(row map[string]string) (m map[want]string, total int)

func num(tb testing.TB, s string) float64 {
	tb.Helper()
	v, err := strconv.ParseFloat(s, 64)
	require.NoError(tb, err, "raw value %q", s)
	return v
}

var stateCodes = map[string]string{"California": "US-CA", "Texas": "US-TX", "District of Columbia": "US-DC", "United States": "USA"}

var expectations = map[string]expectFunc{
	"cdc-vsrr-quarterly-mortality": func(row map[string]string) (map[want]string, int) {
		m := map[want]string{}
		total := 0
		period := strings.Replace(row["year_and_quarter"], " ", "-", 1)
		dims := func(extra ...string) string {
			d := observation.Dims{"cause": row["cause_of_death"], "rate_type": row["rate_type"], "time_period": row["time_period"]}
			for i := 0; i < len(extra); i += 2 {
				d[extra[i]] = extra[i+1]
			}
			return d.Canonical()
		}
		base := dims()
		for k, v := range row {
			if !strings.HasPrefix(k, "rate_") || k == "rate_type" || v == "" {
				continue
			}
			total++
			switch {
			case k == "rate_overall":
				m[want{"cdc.vsrr.death_rate", "USA", period, base}] = v
			case k == "rate_sex_female":
				m[want{"cdc.vsrr.death_rate", "USA", period, dims("sex", "female")}] = v
			case k == "rate_65_74":
				m[want{"cdc.vsrr.death_rate", "USA", period, dims("age", "65_74")}] = v
			case k == "rate_age_85_plus":
				m[want{"cdc.vsrr.death_rate", "USA", period, dims("age", "85_plus")}] = v
			case k == "rate_california":
				m[want{"cdc.vsrr.death_rate", "US-CA", period, base}] = v
			case k == "rate_district_of_columbia":
				m[want{"cdc.vsrr.death_rate", "US-DC", period, base}] = v
			}
		}
		return m, total
	},
	"cdc-death-rates-1900-2018": func(row map[string]string) (map[want]string, int) {
		return map[want]string{{"cdc.nchs.aadr_major_causes", "USA", row["year"], "cause=" + row["leading_causes"]}: row["age_adjusted_death_rate"]}, 1
	},
	"cdc-leading-causes":      leadingCauses,
	"cdc-leading-causes-rows": leadingCauses,
	"cdc-500-cities": func(row map[string]string) (map[want]string, int) {
		m := map[want]string{}
		total := 0
		for k, v := range row {
			if (strings.HasSuffix(k, "_crudeprev") || strings.HasSuffix(k, "_adjprev")) && v != "" {
				total++
				if row["placename"] == "Los Angeles" || row["placename"] == "Birmingham" {
					m[want{"cdc.500cities." + k, "us-place:" + row["placefips"], "2017", ""}] = v
				}
			}
		}
		return m, total
	},
	"cdc-dhds-disability": func(row map[string]string) (map[want]string, int) {
		v := row["data_value"]
		if v == "" {
			return nil, 0
		}
		geo := map[string]string{"CA": "US-CA", "US": "USA", "PR": "PRI", "HHS9": "hhs:9"}[row["locationabbr"]]
		m := map[want]string{}
		if geo != "" {
			dims := "response=" + row["response"] + "&stratification=" + row["stratification1"] + "&value_type=" + row["datavaluetypeid"]
			m[want{"cdc.dhds.disability_prevalence", geo, row["year"], dims}] = v
		}
		return m, 1
	},
}

func leadingCauses(row map[string]string) (map[want]string, int) {
	m := map[want]string{}
	total := 0
	for _, f := range []struct{ field, ind string }{{"deaths", "cdc.nchs.leading_causes_deaths"}, {"aadr", "cdc.nchs.leading_causes_aadr"}} {
		if row[f.field] == "" {
			continue
		}
		total++
		if geo, ok := stateCodes[row["state"]]; ok {
			m[want{f.ind, geo, row["year"], "cause=" + row["cause_name"]}] = row[f.field]
		}
	}
	return m, total
}

// Every recording loads whole with its feed's declared mapping; the count
// of observations equals the count of values read with encoding/json, and
// at several places every value equals the raw file's.
func TestRecordingsLoad(t *testing.T) {
	for _, id := range feedIDs {
		t.Run(id, func(t *testing.T) {
			f, m, data := recorded(t, id)
			rd, err := open(t, f, data, m)
			require.NoError(t, err)
			obs, err := readAll(t, rd)
			require.NoError(t, err)
			st := rd.Stats()
			require.Empty(t, st.UnknownPlaces, "every place of the recording has a code")

			rows := socratatest.RawRows(t, f.Format, data)
			require.Equal(t, len(rows), st.Rows)
			expected := map[want]string{}
			total := 0
			for _, row := range rows {
				m, n := expectations[id](row)
				total += n
				for k, v := range m {
					_, dup := expected[k]
					require.False(t, dup, "the raw file repeats %v", k)
					expected[k] = v
				}
			}
			require.Equal(t, total, len(obs), "observations = values in the raw file")
			require.GreaterOrEqual(t, len(expected), 20, "the case checks several places and periods")
			got := map[want]float64{}
			for _, o := range obs {
				got[want{o.Indicator, o.Geo, o.Period.Code(), o.Dims.Canonical()}] = *o.Value
				require.Equal(t, f.ID, o.Source)
			}
			places, periods := map[string]bool{}, map[string]bool{}
			for k, raw := range expected {
				v, ok := got[k]
				require.True(t, ok, "no observation %v", k)
				require.Equal(t, num(t, raw), v, "%v", k)
				places[k.geo], periods[k.period] = true, true
			}
			if id != "cdc-death-rates-1900-2018" { // national only
				require.GreaterOrEqual(t, len(places), 2, "several places")
			}
			require.GreaterOrEqual(t, len(periods)+len(places), 3, "several places or periods")
			t.Logf("%s: %d rows, %d observations, %d checked at %d places and %d periods; stats %+v",
				id, len(rows), len(obs), len(expected), len(places), len(periods), st)
		})
	}
}
