package query

import (
	"bytes"
	"encoding/csv"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ounce-data/ounce/pkg/httpapi"
)

// format is the representation a data route answers with.
type format int

const (
	formatJSON format = iota
	formatCSV
)

// negotiateFormat picks JSON or CSV: the format parameter wins, then the
// first of application/json and text/csv in Accept; JSON by default, and
// for a wildcard (*/*, application/*, text/*). A format parameter naming
// anything else is a client error, and so (406) is an Accept that names
// types but none the route answers in.
func negotiateFormat(r *http.Request, q url.Values) (format, *httpapi.Error) {
	if v, given := q["format"]; given {
		if len(v) > 1 {
			return formatJSON, httpapi.BadRequest("format", "format is given %d times; give it once", len(v))
		}
		switch strings.ToLower(strings.TrimSpace(v[0])) {
		case "json":
			return formatJSON, nil
		case "csv":
			return formatCSV, nil
		}
		return formatJSON, httpapi.BadRequest("format", "format %q is not known; use format=json or format=csv", v[0])
	}
	accept := strings.TrimSpace(r.Header.Get("Accept"))
	if accept == "" {
		return formatJSON, nil
	}
	wildcard := false
	for _, rng := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(rng))
		if err != nil || params["q"] == "0" {
			continue
		}
		switch mt {
		case "text/csv":
			return formatCSV, nil
		case "application/json":
			return formatJSON, nil
		case "*/*", "application/*", "text/*":
			wildcard = true
		}
	}
	if wildcard {
		return formatJSON, nil
	}
	return formatJSON, httpapi.Errorf(httpapi.CodeNotAcceptable, "Accept",
		"Accept %q names no type this route answers in; ask for application/json or text/csv (or use format=csv)", shortText(accept, 80))
}

// shortText is s cut to n bytes (at a rune boundary) with "…" when longer.
func shortText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// csvTable accumulates a CSV body. Cells that a spreadsheet would run as a
// formula (starting with =, +, -, @, tab or carriage return) and are not
// numbers are prefixed with a quote, so downloaded data cannot execute.
type csvTable struct {
	buf bytes.Buffer
	w   *csv.Writer
}

func newCSVTable(header ...string) *csvTable {
	t := &csvTable{}
	t.w = csv.NewWriter(&t.buf)
	t.row(header...)
	return t
}

func (t *csvTable) row(cells ...string) {
	for i, c := range cells {
		cells[i] = defuseCell(c)
	}
	// Writing to a bytes.Buffer cannot fail.
	_ = t.w.Write(cells)
}

func (t *csvTable) bytes() []byte {
	t.w.Flush()
	return t.buf.Bytes()
}

func defuseCell(c string) string {
	if c == "" {
		return c
	}
	switch c[0] {
	case '=', '+', '-', '@', '\t', '\r':
		if _, err := strconv.ParseFloat(c, 64); err == nil {
			return c
		}
		return "'" + c
	}
	return c
}

// formatFloat writes a value the way JSON does: shortest exact form.
func formatFloat(v *float64) string {
	if v == nil {
		return ""
	}
	return strconv.FormatFloat(*v, 'g', -1, 64)
}
