package gateway

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ounce-data/ounce/pkg/observation"
)

// Body formats a push may use, by Content-Type.
const (
	FormatJSON   = "application/json"
	FormatNDJSON = "application/x-ndjson"
	FormatCSV    = "text/csv"
)

// formats maps accepted media types to the format they name.
var formats = map[string]string{
	FormatJSON:              FormatJSON,
	FormatNDJSON:            FormatNDJSON,
	"application/jsonl":     FormatNDJSON,
	"application/ndjson":    FormatNDJSON,
	"application/jsonlines": FormatNDJSON,
	FormatCSV:               FormatCSV,
}

// row is one partner observation as sent, before validation. Raw holds what
// the format could not type (JSON values of value, period and version).
type row struct {
	n          int               // 1-based, in the order sent
	Indicator  string            `json:"indicator"`
	Geo        string            `json:"geo"`
	Period     json.RawMessage   `json:"period"`
	Dims       map[string]string `json:"dims"`
	Value      json.RawMessage   `json:"value"`
	Unit       string            `json:"unit"`
	Initiative string            `json:"initiative"`
	Source     string            `json:"source"`
	Version    json.RawMessage   `json:"version"`

	// A row that could not be read at all carries its conflict here.
	bad *problem
}

// problem is one conflict of one row.
type problem struct {
	code    string
	field   string
	message string
}

// bodyError is a body that cannot be read as the format at all: 400.
type bodyError struct{ msg string }

func (e *bodyError) Error() string { return e.msg }

func badBody(format string, args ...any) error { return &bodyError{msg: fmt.Sprintf(format, args...)} }

// decodeRows reads every row of body in format. It returns a bodyError when
// the body as a whole is unreadable; a single unreadable row (an NDJSON
// line, a CSV record, a JSON element of the wrong shape) becomes that row's
// conflict and the others are kept.
//
// Every format is read alike at its edges: a leading UTF-8 byte-order mark
// (Excel and Windows editors write one) is skipped, and the validator trims
// white space around every field.
func decodeRows(format string, body []byte, maxRows int) ([]row, error) {
	body = bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))
	switch format {
	case FormatJSON:
		return decodeJSON(body, maxRows)
	case FormatNDJSON:
		return decodeNDJSON(body, maxRows)
	case FormatCSV:
		return decodeCSV(body, maxRows)
	}
	return nil, badBody("format %s is not supported", observation.Quote(format))
}

func tooMany(maxRows int) error {
	return badBody("the body has more than %d rows; split it into several pushes", maxRows)
}

// decodeJSON reads {"observations":[{...},...]}.
func decodeJSON(body []byte, maxRows int) ([]row, error) {
	var rr rowReader
	if rows, ok := rr.fastJSON(body, maxRows); ok {
		return rows, nil
	}
	return decodeJSONStream(body, maxRows)
}

// decodeJSONStream reads the body with encoding/json's tokens, each row with
// rowReader.decode: the path that words a broken body.
func decodeJSONStream(body []byte, maxRows int) ([]row, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := expectDelim(dec, '{'); err != nil {
		return nil, badBody(`the body must be a JSON object {"observations": [...]}: %v`, err)
	}
	var rows []row
	var rr rowReader
	seen := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, badBody("the body is not valid JSON: %v", err)
		}
		key, _ := tok.(string)
		if key != "observations" {
			return nil, badBody(`the body has the member %s; the only member is "observations"`, observation.Quote(key))
		}
		if seen {
			return nil, badBody(`the body has "observations" twice`)
		}
		seen = true
		if err := expectDelim(dec, '['); err != nil {
			return nil, badBody(`"observations" must be an array: %v`, err)
		}
		for dec.More() {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return nil, badBody("observations[%d] is not valid JSON: %v", len(rows), err)
			}
			if len(rows) == maxRows {
				return nil, tooMany(maxRows)
			}
			rows = append(rows, rr.decode(raw, len(rows)+1))
		}
		if err := expectDelim(dec, ']'); err != nil {
			return nil, badBody("the observations array is not closed: %v", err)
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return nil, badBody("the body object is not closed: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, badBody("the body has data after its JSON object")
	}
	if !seen {
		return nil, badBody(`the body has no "observations" array`)
	}
	return rows, nil
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("want %q, got %v", want, tok)
	}
	return nil
}

// decodeNDJSON reads one JSON object a line; blank lines are skipped and
// not counted. The rows may alias body.
func decodeNDJSON(body []byte, maxRows int) ([]row, error) {
	rows := make([]row, 0, min(bytes.Count(body, []byte{'\n'})+1, max(maxRows, 0)))
	var rr rowReader
	for len(body) > 0 {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if len(rows) == maxRows {
			return nil, tooMany(maxRows)
		}
		rows = append(rows, rr.decode(line, len(rows)+1))
	}
	return rows, nil
}

// decodeJSONRow decodes one object strictly with encoding/json; what cannot
// be decoded becomes the row's conflict. rowReader.decode tries a faster
// path first.
func decodeJSONRow(raw []byte, n int) row {
	r := row{n: n}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	err := dec.Decode(&r)
	r.n = n
	// dec.More is false before a stray ']' or '}', so look at the bytes
	// themselves: only white space may follow the object.
	if err == nil && len(bytes.TrimSpace(raw[dec.InputOffset():])) > 0 {
		err = errors.New("data after the object")
	}
	if err == nil {
		return r
	}
	p := &problem{code: "malformed_row", message: "the row is not a JSON object of the partner observation shape: " + err.Error()}
	var typeErr *json.UnmarshalTypeError
	switch {
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		p = &problem{code: "unknown_field", field: name,
			message: fmt.Sprintf("%s is not a field of a partner observation; the fields are indicator, geo, period, value, unit, dims, initiative, version", observation.Quote(name))}
	case errors.As(err, &typeErr) && typeErr.Field != "":
		p = &problem{code: "malformed_row", field: typeErr.Field,
			message: fmt.Sprintf("%s must be a JSON %s, not %s", typeErr.Field, jsonKind(typeErr.Type.String()), typeErr.Value)}
	}
	return row{n: n, bad: p}
}

func jsonKind(goType string) string {
	switch {
	case goType == "string":
		return "string"
	case strings.HasPrefix(goType, "map["):
		return "object of strings"
	}
	return goType
}

// CSV columns. dims are columns named dim.<key> (or dims.<key>).
var csvColumns = []string{"indicator", "geo", "period", "value", "unit", "initiative", "version"}

// decodeCSV reads a header line naming the columns, then one row a record.
func decodeCSV(body []byte, maxRows int) ([]row, error) {
	cr := csv.NewReader(bytes.NewReader(body))
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, badBody("the CSV body is empty; the first line names the columns: indicator,geo,period,value[,unit,initiative,version,dim.<key>…]")
	}
	if err != nil {
		return nil, badBody("the CSV header cannot be read: %v", err)
	}
	type col struct {
		name string
		dim  string
	}
	cols := make([]col, len(header))
	have := map[string]bool{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		if have[h] {
			return nil, badBody("the CSV header names column %s twice", observation.Quote(h))
		}
		have[h] = true
		if k, ok := strings.CutPrefix(h, "dim."); ok {
			cols[i] = col{dim: k}
			continue
		}
		if k, ok := strings.CutPrefix(h, "dims."); ok {
			cols[i] = col{dim: k}
			continue
		}
		known := false
		for _, c := range csvColumns {
			known = known || c == h
		}
		if !known {
			return nil, badBody("the CSV header has the unknown column %s; the columns are %s and dim.<key>", observation.Quote(h), strings.Join(csvColumns, ", "))
		}
		cols[i] = col{name: h}
	}
	for _, req := range []string{"indicator", "geo", "period", "value"} {
		if !have[req] {
			return nil, badBody("the CSV header has no %q column; it needs indicator, geo, period and value", req)
		}
	}
	var rows []row
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if len(rows) == maxRows {
			return nil, tooMany(maxRows)
		}
		n := len(rows) + 1
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return nil, badBody("read CSV: %v", err)
			}
			rows = append(rows, row{n: n, bad: &problem{code: "malformed_row", message: "the CSV record cannot be read: " + pe.Err.Error()}})
			continue
		}
		if len(rec) != len(cols) {
			rows = append(rows, row{n: n, bad: &problem{code: "malformed_row",
				message: fmt.Sprintf("the CSV record has %d fields; the header has %d", len(rec), len(cols))}})
			continue
		}
		r := row{n: n}
		for i, v := range rec {
			c := cols[i]
			if c.dim != "" {
				if v != "" {
					if r.Dims == nil {
						r.Dims = map[string]string{}
					}
					r.Dims[c.dim] = v
				}
				continue
			}
			switch c.name {
			case "indicator":
				r.Indicator = v
			case "geo":
				r.Geo = v
			case "period":
				r.Period = csvScalar(v)
			case "value":
				r.Value = csvScalar(v)
			case "unit":
				r.Unit = v
			case "initiative":
				r.Initiative = v
			case "version":
				r.Version = csvScalar(v)
			}
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// csvScalar gives a CSV cell the JSON form the validator reads: nil when
// empty, a JSON string for a period, the cell as a JSON string otherwise
// (the validator parses numbers out of strings).
func csvScalar(v string) json.RawMessage {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	b, _ := json.Marshal(v) // a string always marshals
	return b
}
