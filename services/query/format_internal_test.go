package query

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/httpapi"
)

func TestDefuseCell(t *testing.T) {
	for in, want := range map[string]string{
		"":               "",
		"GBR":            "GBR",
		"-1.5":           "-1.5",
		"+3":             "+3",
		"=HYPERLINK(1)":  "'=HYPERLINK(1)",
		"@SUM(A1)":       "'@SUM(A1)",
		"-cmd|' /C calc": "'-cmd|' /C calc",
		"\tx":            "'\tx",
	} {
		if got := defuseCell(in); got != want {
			t.Errorf("defuseCell(%q) = %q, want %q", in, got, want)
		}
	}
}

// negotiateFormat: JSON by default and for wildcards, CSV when asked
// first, and 406 for an Accept that names only types no route answers in.
func TestNegotiateFormatAccept(t *testing.T) {
	for accept, want := range map[string]format{
		"":                                 formatJSON,
		"application/json":                 formatJSON,
		"text/csv":                         formatCSV,
		"text/csv, application/json;q=0.5": formatCSV,
		"text/html,application/xhtml+xml,*/*;q=0.8": formatJSON,
		"application/*": formatJSON,
	} {
		r := httptest.NewRequest(http.MethodGet, "/v1/series", nil)
		if accept != "" {
			r.Header.Set("Accept", accept)
		}
		got, perr := negotiateFormat(r, url.Values{})
		require.Nil(t, perr, accept)
		require.Equal(t, want, got, accept)
	}
	for _, accept := range []string{"application/xml", "text/html", "text/csv;q=0"} {
		r := httptest.NewRequest(http.MethodGet, "/v1/series", nil)
		r.Header.Set("Accept", accept)
		_, perr := negotiateFormat(r, url.Values{})
		require.NotNil(t, perr, accept)
		require.Equal(t, httpapi.CodeNotAcceptable, perr.Code, accept)
		require.Equal(t, "Accept", perr.Field)
	}
}
