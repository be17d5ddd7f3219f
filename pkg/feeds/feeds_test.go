package feeds_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/feeds"
	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/observation"
)

func TestColumnsFromCatalogue(t *testing.T) {
	cat, err := indicators.Load()
	require.NoError(t, err)
	f := cat.Files["owid-co2"]
	require.NotNil(t, f)
	cols, err := feeds.Columns(f)
	require.NoError(t, err)
	for _, ind := range f.Indicators {
		if ind.Column == "" {
			continue
		}
		require.Equal(t, feeds.Column{Indicator: ind.Code, Unit: ind.Unit}, cols[ind.Column])
	}
}

func TestColumnsErrors(t *testing.T) {
	_, err := feeds.Columns(&indicators.File{Name: "x", Indicators: []indicators.Indicator{
		{Code: "a.one", Column: "c", Unit: "u"},
		{Code: "a.two", Column: "c", Unit: "u"},
	}})
	require.ErrorContains(t, err, `catalogue x: column "c" is mapped by both a.one and a.two`)
	_, err = feeds.Columns(&indicators.File{Name: "y", Indicators: []indicators.Indicator{{Code: "a.one", Unit: "u"}}})
	require.ErrorContains(t, err, "catalogue y: no indicator names a source column")
}

func TestCheckAndStamp(t *testing.T) {
	meta := feeds.Meta{Source: "feed-x", URL: "https://example.org/x.csv", Licence: "CC BY 4.0",
		RetrievedAt: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), Version: 42}
	cols := map[string]feeds.Column{"c": {Indicator: "x.c", Unit: "t"}}
	require.NoError(t, feeds.Check(meta, cols))

	var o observation.Observation
	meta.Stamp(&o)
	require.Equal(t, "feed-x", o.Source)
	require.Equal(t, uint64(42), o.Version)
	require.Equal(t, observation.Provenance{URL: meta.URL, Licence: meta.Licence, RetrievedAt: meta.RetrievedAt}, o.Provenance)

	bad := meta
	bad.Licence = ""
	err := feeds.Check(bad, cols)
	require.ErrorContains(t, err, "provenance.licence")
	require.NotContains(t, err.Error(), `column "c"`, "a problem of the meta is reported once, not per column")

	err = feeds.Check(meta, map[string]feeds.Column{"b": {Indicator: "x b", Unit: "t"}, "a": {Indicator: "x.a"}})
	require.ErrorContains(t, err, `check mapping of column "a": unit`)
	require.ErrorContains(t, err, `check mapping of column "b": indicator`)
	require.ErrorContains(t, feeds.Check(meta, nil), "no columns are mapped")
}

func TestErrorSaysWhereAndWhy(t *testing.T) {
	e := feeds.LineError("owid csv", 12, 11, "co2", "n/a", "is not a number")
	e.Feed = "owid-co2"
	require.Equal(t, `feed owid-co2: owid csv line 12 (data row 11), field co2, value "n/a": is not a number`, e.Error())
	e.Field = "Flag and Footnotes"
	require.Contains(t, e.Error(), `field "Flag and Footnotes"`, "a field with spaces is quoted")
	j := &feeds.Error{Format: "worldbank json", At: "records[3] (byte 512)", Record: 3, Value: `{"x":1}`, JSON: true, Reason: "bad"}
	require.Equal(t, `worldbank json records[3] (byte 512), value {"x":1}: bad`, j.Error())
	cause := errors.New("unexpected EOF")
	w := &feeds.Error{Format: "gho odata", Reason: "read", Err: cause}
	require.ErrorIs(t, w, cause)
	require.Equal(t, "gho odata: read: unexpected EOF", w.Error())
}

func TestShortenCutsOnARuneBoundary(t *testing.T) {
	require.Equal(t, "abc", feeds.Shorten("abc", 3))
	require.Equal(t, "ab…", feeds.Shorten("abcd", 2))
	require.Equal(t, "é…", feeds.Shorten("éé", 3), "3 bytes would split the second é")
}

func TestStatsCloneSharesNothing(t *testing.T) {
	var s feeds.Stats
	feeds.Count(&s.Unmapped, "x", 1)
	s.SetDetail("pages", 2)
	c := s.Clone()
	c.Unmapped["y"] = 1
	c.SetDetail("pages", 3)
	require.Equal(t, map[string]int{"x": 1}, s.Unmapped)
	require.Equal(t, 2, s.Detail("pages"))
	require.Equal(t, 3, c.Detail("pages"))
	require.Nil(t, s.Detail("none"))
}
