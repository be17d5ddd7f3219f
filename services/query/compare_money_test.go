package query_test

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/testenv"
	"github.com/ounce-data/ounce/schemas"
	"github.com/ounce-data/ounce/services/query"
)

// TestIntegrationCompareInMoney sets a modelled initiative in Japan, in
// US dollars, beside Japan's health spending as a share of GDP (the World
// Bank's recording), turned into dollars with Japan's GDP in current US$
// (the World Bank API recording): the trend fitted on the years before
// the start, its value in money in each year as share / 100 × GDP, the
// rise since the start year and the share of it the savings offset, all
// recomputed from the raw files; a year without GDP has no money figure
// and says why.
func TestIntegrationCompareInMoney(t *testing.T) {
	shared := testenv.SharedDataDir(t)
	health := rawWorldBank(t, filepath.Join(shared, "worldbank", "api_v2_full", "SH.XPD.CHEX.GD.ZS_all_perpage10000_page1.json"), "JPN")["JPN"]
	gdp := rawWorldBank(t, filepath.Join(shared, "worldbank", "api_v2", "indicator_NY.GDP.MKTP.CD_JPN-USA.json"), "JPN")["JPN"]
	require.NotEmpty(t, health)
	require.NotEmpty(t, gdp)
	f := newFixture(t, query.Config{AnalystToken: testAnalystToken})
	loadWorldBank(t, f.ch, "SH.XPD.CHEX.GD.ZS", "% of GDP", map[string]map[int]float64{"JPN": health})
	loadWorldBank(t, f.ch, "NY.GDP.MKTP.CD", "current US$", map[string]map[int]float64{"JPN": gdp})

	const start, horizon = 2015, 6
	doc := fmt.Sprintf(`{"id": "jpn-prevention", "geo": "JPN", "start_year": %d, "method": "modelled",
	  "unit_costs": [{"agency": "MHLW", "amount": 20000, "currency": "USD", "price_year": 2015}],
	  "costs": [{"year": %d, "amount": 50000000}], "cohort": {"size": 100000, "engagement": 0.6, "success": 0.3},
	  "cba": {"horizon": %d, "persistence": %d}}`, start, start, horizon, horizon+1)
	rec := f.send(t, http.MethodPost, "/v1/initiatives", doc, "Authorization", "Bearer "+testAnalystToken)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())

	rec = f.get(t, "/v1/compare?initiatives=jpn-prevention&cost_indicator=SH.XPD.CHEX.GD.ZS")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	openapi := loadOpenAPI(t, schemas.QueryOpenAPI)
	openapi.checkResponse(t, openapi.operation(t, http.MethodGet, "/v1/compare"), rec)
	var resp struct {
		Comparisons []struct {
			Fit struct {
				From, To int
				Rule     string
			} `json:"fit"`
			Conversion struct {
				Kind         string
				ViaIndicator string `json:"via_indicator"`
				Prices       string
			} `json:"conversion"`
			Years []struct {
				CalendarYear       int      `json:"calendar_year"`
				Savings            float64  `json:"savings"`
				CostProjected      float64  `json:"cost_projected"`
				CostProjectedMoney *float64 `json:"cost_projected_money"`
				ProjectedRise      *float64 `json:"projected_rise"`
				SavingsInCostUnit  *float64 `json:"savings_in_cost_unit"`
				ShareOffset        *float64 `json:"share_offset"`
				Note               string   `json:"note"`
			} `json:"years"`
			Provenance []struct{ Role, Indicator string } `json:"provenance"`
		} `json:"comparisons"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &resp))
	require.Len(t, resp.Comparisons, 1)
	c := resp.Comparisons[0]
	require.Equal(t, "share_of_gdp", c.Conversion.Kind)
	require.Equal(t, "NY.GDP.MKTP.CD", c.Conversion.ViaIndicator)
	require.Contains(t, c.Conversion.Prices, "nominal")

	// The trend from the raw values before the start.
	before := map[int]float64{}
	first := math.MaxInt
	for y, v := range health {
		if y < start {
			before[y] = v
			first = min(first, y)
		}
	}
	require.GreaterOrEqual(t, len(before), 3)
	require.Equal(t, "default", c.Fit.Rule)
	require.Equal(t, first, c.Fit.From)
	require.Equal(t, start-1, c.Fit.To)
	a, b := ols(before)
	line := func(y int) float64 { return a + b*float64(y) }

	require.Len(t, c.Years, horizon+1)
	base := line(start) / 100 * gdp[start]
	var offsets, missing int
	for _, y := range c.Years {
		cy := y.CalendarYear
		require.InDelta(t, line(cy), y.CostProjected, 1e-9, "%d", cy)
		g, has := gdp[cy]
		if !has {
			require.Nil(t, y.CostProjectedMoney, "%d: no GDP", cy)
			require.Nil(t, y.ShareOffset)
			require.Contains(t, y.Note, fmt.Sprintf("NY.GDP.MKTP.CD has no value for JPN in %d", cy))
			missing++
			continue
		}
		money := line(cy) / 100 * g
		require.InDelta(t, money, *y.CostProjectedMoney, 1e-9*money, "%d: share / 100 × GDP", cy)
		require.InDelta(t, money-base, *y.ProjectedRise, 1e-9*money, "%d: the rise since %d in dollars", cy, start)
		require.InDelta(t, y.Savings/(g/100), *y.SavingsInCostUnit, 1e-12, "%d: savings in points of GDP", cy)
		if money-base > 0 {
			require.NotNil(t, y.ShareOffset, "%d", cy)
			require.InDelta(t, y.Savings/(money-base), *y.ShareOffset, 1e-6*math.Abs(*y.ShareOffset))
			offsets++
		} else {
			require.Nil(t, y.ShareOffset, "%d: no rise to offset", cy)
			require.NotEmpty(t, y.Note)
		}
	}
	require.Positive(t, missing, "the GDP recording ends before the horizon")
	t.Logf("fitted %d-%d; %d years with a share offset, %d without GDP", c.Fit.From, c.Fit.To, offsets, missing)
	roles := map[string]string{}
	for _, p := range c.Provenance {
		roles[p.Role] = p.Indicator
	}
	require.Equal(t, "NY.GDP.MKTP.CD", roles["gdp"], "the GDP series is in the provenance")
	require.Equal(t, "SH.XPD.CHEX.GD.ZS", roles["cost"])

	t.Run("as CSV", func(t *testing.T) {
		for _, accept := range []string{"", "text/csv"} {
			target := "/v1/compare?initiatives=jpn-prevention&cost_indicator=SH.XPD.CHEX.GD.ZS"
			var rec *httptest.ResponseRecorder
			if accept == "" {
				rec = f.get(t, target+"&format=csv")
			} else {
				rec = f.get(t, target, "Accept", accept)
			}
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			require.True(t, strings.HasPrefix(rec.Header().Get("Content-Type"), "text/csv"))
			rows, err := csv.NewReader(strings.NewReader(rec.Body.String())).ReadAll()
			require.NoError(t, err)
			col := map[string]int{}
			for i, h := range rows[0] {
				col[h] = i
			}
			require.Len(t, rows, 1+len(c.Years), "a row per year")
			for i, r := range rows[1:] {
				y := c.Years[i]
				require.Equal(t, strconv.Itoa(y.CalendarYear), r[col["calendar_year"]])
				require.Equal(t, fmtOpt(y.ProjectedRise), r[col["projected_rise"]])
				require.Equal(t, fmtOpt(y.ShareOffset), r[col["share_offset"]])
				require.Equal(t, y.Note, r[col["note"]])
				require.Equal(t, "share_of_gdp", r[col["conversion"]])
				require.Contains(t, r[col["sources"]], "gdp:NY.GDP.MKTP.CD:JPN=")
			}
		}
		rec := f.get(t, "/v1/compare?initiatives=jpn-prevention&cost_indicator=SH.XPD.CHEX.GD.ZS", "Accept", "application/xml")
		require.Equal(t, http.StatusNotAcceptable, rec.Code, rec.Body.String())
	})

	t.Run("fit_from and fit_to", func(t *testing.T) {
		rec := f.get(t, "/v1/compare?initiatives=jpn-prevention&cost_indicator=SH.XPD.CHEX.GD.ZS&fit_from=2005&fit_to=2012")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &resp))
		fit := resp.Comparisons[0].Fit
		require.Equal(t, "request", fit.Rule)
		window := map[int]float64{}
		for y, v := range health {
			if y >= 2005 && y <= 2012 {
				window[y] = v
			}
		}
		a, b := ols(window)
		require.InDelta(t, a+b*2020, resp.Comparisons[0].Years[5].CostProjected, 1e-9)
	})
}
