package query

import (
	"bytes"
	"encoding/csv"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/ounce-data/ounce/pkg/httpapi"
)

// format is the representation a data route answers with.
type format int

const (
	formatJSON format = iota
	formatCSV
)

// negotiateFormat picks JSON or CSV: the format parameter wins, then the
// first of application/json and text/csv in Accept; JSON by default. A
// format parameter naming anything else is a client error.
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
	for _, rng := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(rng))
		if err != nil {
			continue
		}
		switch mt {
		case "text/csv":
			return formatCSV, nil
		case "application/json":
			return formatJSON, nil
		}
	}
	return formatJSON, nil
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
