package gateway

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// fastRows are rows of the shapes partners send, which the fast path must
// read itself.
var fastRows = []string{
	`{"indicator":"who.NCD_PAA","geo":"GBR","period":"2024","value":31.2}`,
	`{"indicator":"who.NCD_PAA","geo":"GBR","period":"1900-01-01","value":0.25,"dims":{"site":"s0"}}`,
	` { "indicator" : "SP.POP.TOTL" , "geo":"GB-MAN", "period" : { "grain":"quarter", "start":"2020-04-01" } ,` +
		` "value":"1e2", "unit":null, "version":7, "source":"partner:clinic-a", "initiative":"i", "dims":{"sex":"f","área":"Île-de-France"} } `,
	`{"indicator":"who.NCD_PAA","geo":"GBR","period":null,"value":-0,"version":"12","dims":null}`,
	`{"value":-1.5E-3,"dims":{},"period":{}}`,
	`{}`,
}

// slowRows are rows the fast path leaves to encoding/json: what they mean or
// how they are wrong is worded there.
var slowRows = []string{
	`{"indicator":"who.NCD_PAA","comment":"x"}`, // unknown field
	`{"Indicator":"who.NCD_PAA"}`,               // encoding/json matches fields without case
	`{"indic\u0061tor":"who.NCD_PAA"}`,          // escaped key
	`{"geo":"G\u0042R"}`,                        // escaped value
	`{"geo":"GBR","geo":"FRA"}`,                 // a field twice
	`{"geo":7}`,                                 // type error
	`{"value":true}`,                            // a type the validator words
	`{"dims":{"sex":null}}`,                     // null in dims
	`{"period":{"grain":1}}`,                    // period object of other values
	`{"geo":"GBR"} x`,                           // data after the object
	`{"geo":"GBR",}`,                            // broken JSON
	`{"value":01}`,                              // not a JSON number
	"{\"geo\":\"G\xffR\"}",                      // invalid UTF-8
	`null`, `[]`, `"x"`, ``,
}

func TestFastRowReadsCommonShapes(t *testing.T) {
	var rr rowReader
	for _, raw := range fastRows {
		got, ok := rr.fast([]byte(raw), 3)
		require.True(t, ok, "fast path refused %s", raw)
		require.Equal(t, decodeJSONRow([]byte(raw), 3), got, raw)
	}
	for _, raw := range slowRows {
		_, ok := rr.fast([]byte(raw), 3)
		require.False(t, ok, "fast path read %s", raw)
		require.Equal(t, decodeJSONRow([]byte(raw), 3), rr.decode([]byte(raw), 3), raw)
	}
}

// FuzzFastRow: the fast path never panics, and whatever it reads,
// encoding/json (with unknown fields refused) reads the same way.
func FuzzFastRow(f *testing.F) {
	for _, s := range append(fastRows, slowRows...) {
		f.Add([]byte(s))
	}
	var rr rowReader
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, ok := rr.fast(raw, 1)
		if !ok {
			return
		}
		want := decodeJSONRow(raw, 1)
		if want.bad != nil {
			t.Fatalf("fast path reads what encoding/json refuses (%s): %q", want.bad.message, raw)
		}
		require.Equal(t, want, got, "%q", raw)
	})
}

func TestFastJSONReadsWholeBodies(t *testing.T) {
	var rr rowReader
	for _, body := range []string{
		`{"observations":[` + strings.Join(fastRows, ",") + `]}`,
		" {\n \"observations\" : [ " + fastRows[0] + " ,\n" + fastRows[1] + " ] } \n",
		`{"observations":[]}`,
	} {
		got, ok := rr.fastJSON([]byte(body), 100)
		require.True(t, ok, body)
		want, err := decodeJSONStream([]byte(body), 100)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	for _, body := range []string{
		`{"observations":[` + fastRows[0] + `,` + slowRows[0] + `]}`, // a row for encoding/json
		`{"observations":[` + fastRows[0] + `,` + fastRows[1] + `]}`, // more than maxRows
		`{"observations":[` + fastRows[0] + `,]}`,
		`{"observations":[],"observations":[]}`,
		`{"observations":[]} {}`,
		`{"rows":[]}`, `{}`, `[]`,
	} {
		_, ok := rr.fastJSON([]byte(body), 1)
		require.False(t, ok, body)
	}
}

// FuzzFastJSON: whatever body fastJSON reads, encoding/json's token path
// reads the same way.
func FuzzFastJSON(f *testing.F) {
	f.Add([]byte(`{"observations":[`+strings.Join(fastRows, ",")+`]}`), 3)
	f.Add([]byte(`{"observations":[`+fastRows[0]+`,`+slowRows[1]+`]}`), 3)
	f.Add([]byte(`{"observations":[]}`), 1)
	var rr rowReader
	f.Fuzz(func(t *testing.T, body []byte, maxRows int) {
		maxRows = 1 + max(maxRows, 0)%8
		got, ok := rr.fastJSON(body, maxRows)
		if !ok {
			return
		}
		want, err := decodeJSONStream(body, maxRows)
		if err != nil {
			t.Fatalf("fastJSON reads what decodeJSON refuses (%v): %q", err, body)
		}
		require.Equal(t, want, got, "%q", body)
	})
}

// BenchmarkDecodeRows reads 10 000 partner rows, as NDJSON and as one
// {"observations":[…]} body, through the fast path alone: the decoding
// BenchmarkPushNDJSON10k and BenchmarkPushJSON10k include.
func BenchmarkDecodeRows(b *testing.B) {
	var nd bytes.Buffer
	for i := range 10_000 {
		fmt.Fprintf(&nd, `{"indicator":"who.NCD_PAA","geo":"GBR","period":"%04d-%02d-%02d","value":%d.25,"dims":{"site":"s%d"}}`+"\n",
			1900+i%120, 1+i/120%12, 1+i/1440%28, i%100, i%7)
	}
	lines := bytes.Split(bytes.TrimSpace(nd.Bytes()), []byte("\n"))
	body := append(append([]byte(`{"observations":[`), bytes.Join(lines, []byte(","))...), "]}"...)
	for _, bc := range []struct {
		name   string
		body   []byte
		decode func([]byte, int) ([]row, error)
	}{{"NDJSON", nd.Bytes(), decodeNDJSON}, {"JSON", body, decodeJSON}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.body)))
			b.ReportAllocs()
			for b.Loop() {
				rows, err := bc.decode(bc.body, 10_000)
				if err != nil || len(rows) != 10_000 {
					b.Fatalf("%d rows, %v", len(rows), err)
				}
			}
		})
	}
}
