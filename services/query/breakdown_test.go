package query_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/feeds/feedtest"
	"github.com/ounce-data/ounce/pkg/feeds/gho"
	"github.com/ounce-data/ounce/pkg/httpapi"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/services/query"
)

// The WHO GHO series of NCD mortality (who.NCDMORT3070) is stored by
// breakdown, as the feed who-ncd-mortality reads its recording: dims sex
// and agegroup.
const (
	ncdIndicator = "who.NCDMORT3070"
	ncdFeed      = "who-ncd-mortality"
	ncdSex       = "SEX_BTSX"
	ncdAgeGroup  = "AGEGROUP_YEARS30-69"
)

// ncdDims is the breakdown of the recording as a document names it.
var ncdDims = observation.Dims{"sex": ncdSex, "agegroup": ncdAgeGroup}

// rawGHO reads a GHO OData recording independently of the adapter: the
// NumericValue of each year of the records of geo in one breakdown.
func rawGHO(t testing.TB, data []byte, geo, dim1, dim2 string) map[int]float64 {
	t.Helper()
	var doc struct {
		Value []struct {
			SpatialDim   string   `json:"SpatialDim"`
			TimeDim      int      `json:"TimeDim"`
			Dim1         string   `json:"Dim1"`
			Dim2         string   `json:"Dim2"`
			NumericValue *float64 `json:"NumericValue"`
		} `json:"value"`
	}
	require.NoError(t, json.Unmarshal(data, &doc))
	out := map[int]float64{}
	for _, r := range doc.Value {
		if r.SpatialDim == geo && r.Dim1 == dim1 && r.Dim2 == dim2 && r.NumericValue != nil {
			out[r.TimeDim] = *r.NumericValue
		}
	}
	return out
}

// newNCDFixture stores the WHO NCD mortality recording as the feed reads
// it, and returns GBR's values read from the raw file.
func newNCDFixture(t *testing.T) (*fixture, map[int]float64) {
	t.Helper()
	rec := feedtest.Load(t, ncdFeed)
	os, _, err := feedtest.ReadAll(gho.NewODataReader(bytes.NewReader(rec.Data), gho.Mapping{Meta: rec.Meta, Indicators: rec.Columns}))
	require.NoError(t, err)
	f := newFixture(t, query.Config{AnalystToken: testAnalystToken})
	insert(t, f.ch, os...)
	gbr := rawGHO(t, rec.Data, "GBR", ncdSex, ncdAgeGroup)
	require.GreaterOrEqual(t, len(gbr), 10, "GBR's years in the recording")
	return f, gbr
}

// ncdDoc is an ITS initiative on NCD mortality in GBR; extra are more
// members of the document, such as `"dims": {...}`.
func ncdDoc(id string, extra ...string) string {
	doc := fmt.Sprintf(`{"id": %q, "indicator": %q, "geo": "GBR", "start_year": 2012, "method": "its",
	  "population": {"value": 1000000}, "scale": 0.01,
	  "unit_costs": [{"agency": "NHS", "amount": 1000, "currency": "GBP", "price_year": 2015}],
	  "costs": [{"year": 2012, "amount": 1000000}], "cba": {"horizon": 9, "discount": 0.035}`, id, ncdIndicator)
	for _, e := range extra {
		doc += ", " + e
	}
	return doc + "}"
}

func jsonOf(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// span is what a message says of a source's years: first-last, n years.
func span(source string, years map[int]float64) string {
	ys := slices.Sorted(maps.Keys(years))
	return fmt.Sprintf("%s %d-%d, %d years", source, ys[0], ys[len(ys)-1], len(ys))
}

type ncdReport struct {
	Years []struct {
		CalendarYear   int      `json:"calendar_year"`
		Observed       *float64 `json:"observed"`
		Counterfactual *float64 `json:"counterfactual"`
	} `json:"years"`
	Provenance []struct {
		Role   string            `json:"role"`
		Geo    string            `json:"geo"`
		Dims   map[string]string `json:"dims"`
		Source string            `json:"source"`
	} `json:"provenance"`
}

// checkNCDReport requires the ITS report of id to observe raw's values and
// extrapolate the line through its pre-period, and to name the breakdown
// read in its provenance.
func checkNCDReport(t *testing.T, f *fixture, id string, raw map[int]float64, source string) ncdReport {
	t.Helper()
	rec := f.get(t, "/v1/initiatives/"+id+"/savings")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	rep := decode[ncdReport](t, rec)
	pre := map[int]float64{}
	for y, v := range raw {
		if y < 2012 {
			pre[y] = v
		}
	}
	a, b := ols(pre)
	checked := 0
	for _, y := range rep.Years {
		v, has := raw[y.CalendarYear]
		if !has {
			require.Nil(t, y.Observed, "year %d", y.CalendarYear)
			continue
		}
		require.NotNil(t, y.Observed, "year %d", y.CalendarYear)
		require.Equal(t, v, *y.Observed, "observed %d is the raw file's value", y.CalendarYear)
		require.InDelta(t, a+b*float64(y.CalendarYear), *y.Counterfactual, 1e-9)
		checked++
	}
	require.Positive(t, checked)
	require.NotEmpty(t, rep.Provenance)
	require.Equal(t, "target", rep.Provenance[0].Role)
	require.Equal(t, source, rep.Provenance[0].Source)
	return rep
}

// TestIntegrationSavingsBreakdownOfWHOSeries: an initiative targets one
// stored breakdown of the WHO NCD mortality series exactly; without one
// named, the only breakdown serves, and once a second is stored the answer
// is a 422 listing both with their years, at registration and in a report
// of a document registered before.
func TestIntegrationSavingsBreakdownOfWHOSeries(t *testing.T) {
	f, gbr := newNCDFixture(t)
	auth := []string{"Authorization", "Bearer " + testAnalystToken}
	post := func(t *testing.T, doc string) *httptest.ResponseRecorder {
		t.Helper()
		return f.send(t, http.MethodPost, "/v1/initiatives", doc, auth...)
	}

	// (a) Naming the breakdown.
	rec := post(t, ncdDoc("ncd-gbr", `"dims": `+jsonOf(t, ncdDims)))
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	rep := checkNCDReport(t, f, "ncd-gbr", gbr, ncdFeed)
	require.Equal(t, map[string]string(ncdDims), rep.Provenance[0].Dims)

	// (d) Without dims, the only breakdown stored serves, as before.
	rec = post(t, ncdDoc("ncd-gbr-plain"))
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	plain := checkNCDReport(t, f, "ncd-gbr-plain", gbr, ncdFeed)
	require.Equal(t, rep.Years, plain.Years)

	// (b) A second breakdown of GBR: a partner's push of the recording's
	// values for 2005-2019 keyed by sex alone (no value typed here).
	partner := map[int]float64{}
	var pushed []observation.Observation
	for y, v := range gbr {
		if y >= 2005 && y <= 2019 {
			partner[y] = v
			o := obs(ncdIndicator, "GBR", observation.Year(y), v, 1, observation.Dims{"sex": ncdSex})
			o.Unit, o.Source = "%", "partner:nhs-digital"
			pushed = append(pushed, o)
		}
	}
	insert(t, f.ch, pushed...)
	listing := []string{
		jsonOf(t, ncdDims) + " (" + span(ncdFeed, gbr) + ")",
		`{"sex":"` + ncdSex + `"} (` + span("partner:nhs-digital", partner) + ")",
	}

	t.Run("registration lists the breakdowns", func(t *testing.T) {
		rec := post(t, ncdDoc("ncd-gbr-ambiguous"))
		require.Equal(t, http.StatusUnprocessableEntity, rec.Code, rec.Body.String())
		env := decode[httpapi.Envelope](t, rec)
		require.Equal(t, httpapi.CodeInvalidInitiative, env.Error.Code)
		require.Equal(t, "dims", env.Error.Field)
		require.Len(t, env.Error.Errors, 1)
		for _, l := range listing {
			require.Contains(t, env.Error.Message, l)
		}
		require.NotContains(t, env.Error.Message, "there are 0")
	})
	t.Run("a report of a document without dims lists them", func(t *testing.T) {
		rec := f.get(t, "/v1/initiatives/ncd-gbr-plain/savings")
		require.Equal(t, http.StatusUnprocessableEntity, rec.Code, rec.Body.String())
		env := decode[httpapi.Envelope](t, rec)
		require.Equal(t, httpapi.CodeInsufficientData, env.Error.Code)
		require.Equal(t, "dims", env.Error.Field)
		require.Contains(t, env.Error.Message, "2 breakdowns")
		for _, l := range listing {
			require.Contains(t, env.Error.Message, l)
		}
	})
	t.Run("the breakdown named still serves", func(t *testing.T) {
		checkNCDReport(t, f, "ncd-gbr", gbr, ncdFeed)
	})
	t.Run("naming a source chooses among the breakdowns", func(t *testing.T) {
		rec := post(t, ncdDoc("ncd-gbr-feed", `"source": "`+ncdFeed+`"`))
		require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
		checkNCDReport(t, f, "ncd-gbr-feed", gbr, ncdFeed)
		rec = post(t, ncdDoc("ncd-gbr-partner", `"dims": {"sex": "`+ncdSex+`"}`, `"source": "partner:nhs-digital"`))
		require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
		checkNCDReport(t, f, "ncd-gbr-partner", partner, "partner:nhs-digital")
	})
	t.Run("the cost series of compare is chosen alike", func(t *testing.T) {
		base := "/v1/compare?initiatives=ncd-gbr&allow_other_domain=true&cost_indicator=" + ncdIndicator // a breakdown test: the indicator is not a cost
		rec := f.get(t, base)
		require.Equal(t, http.StatusUnprocessableEntity, rec.Code, rec.Body.String())
		env := decode[httpapi.Envelope](t, rec)
		require.Equal(t, httpapi.CodeInsufficientData, env.Error.Code)
		require.Equal(t, "cost_dims", env.Error.Field)
		require.Contains(t, env.Error.Message, listing[0])

		rec = f.get(t, base+"&cost_dims=sex="+ncdSex+"&cost_dims=agegroup="+ncdAgeGroup)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		var resp struct {
			Comparisons []struct {
				Series []struct {
					Year  int     `json:"year"`
					Value float64 `json:"value"`
				} `json:"series"`
			} `json:"comparisons"`
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &resp))
		require.Len(t, resp.Comparisons, 1)
		got := map[int]float64{}
		for _, p := range resp.Comparisons[0].Series {
			got[p.Year] = p.Value
		}
		require.Equal(t, gbr, got, "the cost series is the breakdown named")

		rec = f.get(t, base+"&cost_dims=sex="+ncdSex+"&cost_source=partner:nhs-digital")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		rec = f.get(t, base+"&cost_source=who-nothing")
		require.Equal(t, http.StatusUnprocessableEntity, rec.Code, rec.Body.String())
		require.Equal(t, "cost_source", decode[httpapi.Envelope](t, rec).Error.Field)
	})
}

// TestIntegrationInitiativeSeriesProblemsAtOnce: a document naming an
// unknown dims key and a value not stored, an unknown comparison place and
// one that holds none of the series is refused with all four problems in
// one errors list, each naming its field.
func TestIntegrationInitiativeSeriesProblemsAtOnce(t *testing.T) {
	f, _ := newNCDFixture(t)
	doc := strings.Replace(ncdDoc("ncd-gbr-did", `"dims": {"sex": "SEX_XX", "agegroup": "`+ncdAgeGroup+`", "colour": "red"}`,
		`"comparison_geos": ["FRA", "Atlantis", "GB-MAN"]`), `"method": "its"`, `"method": "did"`, 1)
	rec := f.send(t, http.MethodPost, "/v1/initiatives", doc, "Authorization", "Bearer "+testAnalystToken)
	require.Equal(t, http.StatusUnprocessableEntity, rec.Code, rec.Body.String())
	env := decode[httpapi.Envelope](t, rec)
	require.Equal(t, httpapi.CodeInvalidInitiative, env.Error.Code)
	byField := map[string]string{}
	var fields []string
	for _, p := range env.Error.Errors {
		byField[p.Field] = p.Message
		fields = append(fields, p.Field)
	}
	require.Equal(t, []string{"dims.colour", "dims.sex", "comparison_geos[1]", "comparison_geos[2]"}, fields,
		"every problem, in the document's order: %s", rec.Body.String())
	require.Equal(t, "dims.colour", env.Error.Field, "field is the first problem's")
	require.Contains(t, byField["dims.colour"], "has no breakdown by colour; its breakdowns are by agegroup, sex")
	require.Contains(t, byField["dims.sex"], `"SEX_XX" is not a value of sex`)
	require.Contains(t, byField["dims.sex"], ncdSex, "the values stored are listed")
	require.Contains(t, byField["comparison_geos[1]"], `place "Atlantis" is not in the place catalogue`)
	require.Contains(t, byField["comparison_geos[2]"], "GB-MAN holds no yearly value of "+ncdIndicator)
	for _, p := range env.Error.Errors {
		require.Contains(t, env.Error.Message, p.Field+": "+p.Message, "the message lists every problem")
	}

	// A source that is no feed, and a comparison place holding the series
	// in another breakdown than the one named for the comparison places.
	doc = strings.Replace(ncdDoc("ncd-gbr-did", `"source": "who-ncd"`, `"comparison_geos": ["FRA"]`, `"comparison_dims": {"sex": "SEX_MLE"}`),
		`"method": "its"`, `"method": "did"`, 1)
	rec = f.send(t, http.MethodPost, "/v1/initiatives", doc, "Authorization", "Bearer "+testAnalystToken)
	require.Equal(t, http.StatusUnprocessableEntity, rec.Code, rec.Body.String())
	env = decode[httpapi.Envelope](t, rec)
	require.Len(t, env.Error.Errors, 2, rec.Body.String())
	require.Equal(t, "source", env.Error.Errors[0].Field)
	require.Contains(t, env.Error.Errors[0].Message, "is not a feed of the catalogue")
	require.Contains(t, env.Error.Errors[0].Message, ncdFeed)
	require.Equal(t, "comparison_geos[0]", env.Error.Errors[1].Field)
	require.Contains(t, env.Error.Errors[1].Message, `FRA holds no `+ncdIndicator+` in the breakdown {"sex":"SEX_MLE"}`)
	require.Contains(t, env.Error.Errors[1].Message, jsonOf(t, ncdDims))
	require.Equal(t, 0, decode[query.InitiativesResponse](t, f.get(t, "/v1/initiatives")).Count, "nothing stored")
}
