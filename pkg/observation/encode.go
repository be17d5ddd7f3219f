package observation

import (
	"math"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"
)

// appendJSON appends o exactly as encoding/json marshals it (a fuzz test
// holds the two equal), several times faster: ingest encodes every
// observation it publishes.
func appendJSON(b []byte, o *Observation) []byte {
	b, _, _ = appendJSONMarked(b, o, nil)
	return b
}

// appendJSONMarked is appendJSON that also returns where the retrieved_at
// value starts and ends in b (both len(b) when it is not written), so the
// batch digest can leave it out. With c, fields equal to c's are left out.
func appendJSONMarked(b []byte, o *Observation, c *Common) (out []byte, retrievedFrom, retrievedTo int) {
	b = append(b, `{"indicator":`...)
	b = appendString(b, o.Indicator)
	b = append(b, `,"geo":`...)
	b = appendString(b, o.Geo)
	b = append(b, `,"period":`...)
	b = appendString(b, o.Period.Code())
	if len(o.Dims) > 0 {
		b = append(b, `,"dims":{`...)
		keys := make([]string, 0, len(o.Dims))
		for k := range o.Dims {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendString(b, o.Dims[k])
		}
		b = append(b, '}')
	}
	b = append(b, `,"value":`...)
	if o.Value == nil {
		b = append(b, "null"...)
	} else {
		b = appendFloat(b, *o.Value)
	}
	if c == nil || o.Unit != c.Unit || o.Unit == "" {
		b = append(b, `,"unit":`...)
		b = appendString(b, o.Unit)
	}
	if c == nil || o.Source != c.Source || o.Source == "" {
		b = append(b, `,"source":`...)
		b = appendString(b, o.Source)
	}
	if c == nil || o.Version != c.Version || o.Version == 0 {
		b = append(b, `,"version":`...)
		b = strconv.AppendUint(b, o.Version, 10)
	}
	retrievedFrom, retrievedTo = -1, -1
	if c == nil || c.Provenance == nil || o.Provenance != *c.Provenance || o.Provenance == (Provenance{}) {
		b = append(b, `,"provenance":`...)
		b, retrievedFrom, retrievedTo = appendProvenance(b, &o.Provenance)
	}
	if o.Initiative != "" {
		b = append(b, `,"initiative":`...)
		b = appendString(b, o.Initiative)
	}
	if o.Flag != "" {
		b = append(b, `,"flag":`...)
		b = appendString(b, o.Flag)
	}
	if len(o.Quality) > 0 {
		b = append(b, `,"quality":[`...)
		for i, q := range o.Quality {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, q)
		}
		b = append(b, ']')
	}
	b = append(b, '}')
	if retrievedFrom < 0 {
		retrievedFrom, retrievedTo = len(b), len(b)
	}
	return b, retrievedFrom, retrievedTo
}

func appendProvenance(b []byte, p *Provenance) (out []byte, retrievedFrom, retrievedTo int) {
	b = append(b, '{')
	if p.URL != "" {
		b = append(b, `"url":`...)
		b = appendString(b, p.URL)
		b = append(b, ',')
	}
	b = append(b, `"licence":`...)
	b = appendString(b, p.Licence)
	b = append(b, `,"retrieved_at":"`...)
	retrievedFrom = len(b)
	b = p.RetrievedAt.AppendFormat(b, time.RFC3339Nano)
	retrievedTo = len(b)
	return append(b, `"}`...), retrievedFrom, retrievedTo
}

// appendCommon writes `"common":{…}`, marking the retrieval time as
// appendJSONMarked does.
func appendCommon(b []byte, c *Common) (out []byte, retrievedFrom, retrievedTo int) {
	b = append(b, `"common":{"unit":`...)
	b = appendString(b, c.Unit)
	b = append(b, `,"source":`...)
	b = appendString(b, c.Source)
	b = append(b, `,"version":`...)
	b = strconv.AppendUint(b, c.Version, 10)
	b = append(b, `,"provenance":`...)
	b, retrievedFrom, retrievedTo = appendProvenance(b, c.Provenance)
	return append(b, '}'), retrievedFrom, retrievedTo
}

// canMarshalFast reports whether appendJSON can write o; encoding/json
// refuses NaN and infinities, and times it cannot write as RFC 3339.
func canMarshalFast(o *Observation) bool {
	if o.Value != nil && (math.IsNaN(*o.Value) || math.IsInf(*o.Value, 0)) {
		return false
	}
	y := o.Provenance.RetrievedAt.Year()
	return y >= 0 && y <= 9999
}

// appendFloat is encoding/json's float64 format.
func appendFloat(b []byte, f float64) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendString is encoding/json's string format, HTML escaping included.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
