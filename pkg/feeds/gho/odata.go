package gho

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/ounce-data/ounce/pkg/feeds"
	"github.com/ounce-data/ounce/pkg/jsonscan"
)

var odataFields = fields{
	indicator:   "IndicatorCode",
	spatialType: "SpatialDimType",
	spatial:     "SpatialDim",
	timeType:    "TimeDimType",
	time:        "TimeDim",
	dimType:     [numDims]string{"Dim1Type", "Dim2Type", "Dim3Type", "DataSourceDimType"},
	dimCode:     [numDims]string{"Dim1", "Dim2", "Dim3", "DataSourceDim"},
	value:       "NumericValue",
	low:         "Low",
	high:        "High",
}

// NewODataReader reads r whole and checks that it is a GHO OData answer up
// to the start of its value array. An empty body, HTML, JSON that is not an
// object with a value array, and an OData error answer are errors. An
// empty value array is a valid answer with no observations.
func NewODataReader(r io.Reader, m Mapping) (*Reader, error) {
	if err := feeds.Check(m.Meta, m.Indicators); err != nil {
		return nil, fmt.Errorf("gho odata: %w", err)
	}
	data, err := feeds.ReadBody(r)
	if err != nil {
		return nil, fmt.Errorf("gho odata: read body: %w", err)
	}
	src := &odataSource{}
	src.s.Reset(bytes.TrimPrefix(data, []byte("\uFEFF")))
	rd := newReader(m, formatOData, &odataFields, src)
	src.rd = rd
	if err := src.start(); err != nil {
		return nil, err
	}
	return rd, nil
}

// odataSource reads the records of value[] one at a time.
type odataSource struct {
	rd       *Reader
	s        jsonscan.Scanner
	index    int    // index of the next record
	nextLink string // @odata.nextLink
	done     bool   // the document was read to its end
}

func (o *odataSource) syntax(err error) error {
	return fmt.Errorf("gho odata: %w", err)
}

// start reads up to the first record: the opening of the document and
// every member before "value".
func (o *odataSource) start() error {
	s := &o.s
	switch c := s.Peek(); {
	case s.AtEnd():
		return errors.New("gho odata: body is empty")
	case c == '<':
		return fmt.Errorf("gho odata: body is HTML or XML, not JSON: starts %q", start(s.Data()[s.Pos():], 60))
	case c == '[':
		return errors.New("gho odata: body is a JSON array, not an OData answer (an object with a value array)")
	case c != '{':
		return fmt.Errorf("gho odata: body is not JSON: starts %q", start(s.Data()[s.Pos():], 60))
	}
	found, err := o.members(true)
	if err != nil {
		return err
	}
	if !found {
		return errors.New(`gho odata: the answer has no "value" array`)
	}
	return nil
}

// members reads the members of the document object, from its opening
// brace (before) or from after the value array, up to the value array's
// opening bracket or to the end of the document, and reports whether it
// stopped at the value array.
func (o *odataSource) members(before bool) (atValue bool, err error) {
	s := &o.s
	first := before
	for {
		key, more, err := s.Member(&first)
		if err != nil {
			return false, o.syntax(err)
		}
		if !more {
			return false, o.end()
		}
		switch string(key) {
		case "value":
			if !before {
				return false, errors.New(`gho odata: the answer has "value" twice`)
			}
			if s.Peek() != '[' {
				v, err := s.Raw()
				if err != nil {
					return false, o.syntax(err)
				}
				return false, fmt.Errorf("gho odata: value is not an array: %s", start(v, 60))
			}
			s.Seek(s.Pos() + 1)
			return true, nil
		case "error":
			return false, o.serviceError()
		case "@odata.nextLink":
			if null, err := s.Null(); err != nil {
				return false, o.syntax(err)
			} else if !null {
				link, err := s.Text()
				if err != nil {
					return false, o.syntax(err)
				}
				o.nextLink = string(link)
			}
		default:
			if err := s.Skip(); err != nil {
				return false, o.syntax(err)
			}
		}
	}
}

// end checks that nothing but white space follows the document.
func (o *odataSource) end() error {
	if !o.s.AtEnd() {
		return o.syntax(o.s.Errorf("data after the end of the JSON document: %s", o.s.Found()))
	}
	o.done = true
	return nil
}

// serviceError reads an OData error member, {"code":…, "message":…}.
func (o *odataSource) serviceError() error {
	s := &o.s
	var code, msg string
	if s.Peek() == '{' {
		err := s.Object(func(key []byte) error {
			switch string(key) {
			case "code", "message":
				if s.Peek() != '"' {
					return s.Skip()
				}
				v, err := s.Text()
				if string(key) == "code" {
					code = string(v)
				} else {
					msg = string(v)
				}
				return err
			}
			return s.Skip()
		})
		if err != nil {
			return o.syntax(err)
		}
	} else {
		v, err := s.Raw()
		if err != nil {
			return o.syntax(err)
		}
		msg = string(v)
	}
	switch {
	case code != "" && msg != "":
		return fmt.Errorf("gho odata: the service answered with an error: %s: %s", code, msg)
	case code != "" || msg != "":
		return fmt.Errorf("gho odata: the service answered with an error: %s%s", code, msg)
	}
	return errors.New("gho odata: the service answered with an error and no message")
}

func (o *odataSource) finish(r *Reader) { r.nextLink = o.nextLink }

func (o *odataSource) next(rec *record) error {
	s := &o.s
	if o.done {
		return errEnd
	}
	switch c := s.Peek(); {
	case c == ']':
		s.Seek(s.Pos() + 1)
		if _, err := o.members(false); err != nil {
			return err
		}
		return errEnd
	case o.index > 0:
		if c != ',' {
			rec.reset(o.index, 0)
			return o.recordSyntax(rec, s.Errorf("want ',' or ']' after the previous record, found %s", s.Found()))
		}
		s.Seek(s.Pos() + 1)
	}
	rec.reset(o.index, 0)
	o.index++
	if s.Peek() != '{' {
		v, err := s.Raw()
		if err != nil {
			return o.recordSyntax(rec, err)
		}
		return o.rd.fail(rec, "", start(v, 60), "is not a JSON object")
	}
	if err := o.record(rec); err != nil {
		return o.recordSyntax(rec, err)
	}
	return nil
}

// recordSyntax places a syntax error in the record being read.
func (o *odataSource) recordSyntax(rec *record, err error) error {
	return recordError(formatOData, rec, "", "", err.Error())
}

// record reads one record object into rec.
func (o *odataSource) record(rec *record) error {
	first := true
	for {
		key, more, err := o.s.Member(&first)
		if err != nil || !more {
			return err
		}
		if err := o.field(rec, key); err != nil {
			return err
		}
	}
}

// field reads the value of one member of a record.
func (o *odataSource) field(rec *record, key []byte) error {
	switch string(key) {
	case "Id":
		switch c := o.s.Peek(); {
		case c == '"':
			v, err := o.s.Text()
			rec.idRaw = v
			return err
		case c == '-' || (c >= '0' && c <= '9'):
			v, err := o.s.Number()
			rec.idRaw = v
			return err
		}
	case "IndicatorCode":
		return o.text(rec, &rec.indicator, "IndicatorCode")
	case "SpatialDimType":
		return o.text(rec, &rec.spatialType, "SpatialDimType")
	case "SpatialDim":
		return o.text(rec, &rec.spatial, "SpatialDim")
	case "TimeDimType":
		return o.text(rec, &rec.timeType, "TimeDimType")
	case "TimeDim":
		if err := o.num(rec, &rec.time, "TimeDim", "is not a whole year"); err != nil {
			return err
		}
		rec.time = o.rd.str(rec.time)
		return nil
	case "Dim1Type":
		return o.text(rec, &rec.dimType[0], "Dim1Type")
	case "Dim1":
		return o.text(rec, &rec.dimCode[0], "Dim1")
	case "Dim2Type":
		return o.text(rec, &rec.dimType[1], "Dim2Type")
	case "Dim2":
		return o.text(rec, &rec.dimCode[1], "Dim2")
	case "Dim3Type":
		return o.text(rec, &rec.dimType[2], "Dim3Type")
	case "Dim3":
		return o.text(rec, &rec.dimCode[2], "Dim3")
	case "DataSourceDimType":
		return o.text(rec, &rec.dimType[3], "DataSourceDimType")
	case "DataSourceDim":
		return o.text(rec, &rec.dimCode[3], "DataSourceDim")
	case "NumericValue":
		return o.num(rec, &rec.value, "NumericValue", "is not a number")
	case "Low":
		return o.num(rec, &rec.low, "Low", "is not a number")
	case "High":
		return o.num(rec, &rec.high, "High", "is not a number")
	}
	return o.s.Skip()
}

// text reads a string or null member; another type is a problem of the record.
func (o *odataSource) text(rec *record, dst *string, field string) error {
	s := &o.s
	switch s.Peek() {
	case '"':
		v, err := s.Text()
		if err != nil {
			return err
		}
		*dst = o.rd.internBytes(v)
		return nil
	case 'n':
		*dst = ""
		return s.Literal("null")
	}
	v, err := s.Raw()
	if err != nil {
		return err
	}
	*dst = ""
	rec.setBad(field, start(v, 60), "is not a string")
	return nil
}

// num reads a number or null member; another type is a problem of the record.
func (o *odataSource) num(rec *record, dst *string, field, reason string) error {
	s := &o.s
	switch c := s.Peek(); {
	case c == '-' || (c >= '0' && c <= '9'):
		v, err := s.Number()
		if err != nil {
			return err
		}
		*dst = string(v)
		return nil
	case c == 'n':
		*dst = ""
		return s.Literal("null")
	}
	v, err := s.Raw()
	if err != nil {
		return err
	}
	*dst = ""
	rec.setBad(field, start(v, 60), reason)
	return nil
}

// internBytes returns b as an interned string.
func (r *Reader) internBytes(b []byte) string {
	if v, ok := r.intern[string(b)]; ok {
		return v
	}
	s := string(b)
	r.intern[s] = s
	return s
}
