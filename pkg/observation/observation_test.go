package observation

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/schemas"
)

func sample() Observation {
	return Observation{
		Indicator:  "owid.co2_per_capita",
		Geo:        "GBR",
		Period:     Year(2018),
		Dims:       Dims{"fuel": "coal", "sex": "both"},
		Value:      Float(5.645),
		Unit:       "t CO2/person",
		Source:     "owid-co2",
		Version:    1607472000000,
		Provenance: Provenance{URL: "https://example.invalid/co2.csv", Licence: "CC BY 4.0", RetrievedAt: time.Date(2026, 11, 28, 4, 0, 0, 0, time.UTC)},
		Initiative: "smoke-free-2030",
		Flag:       "p",
		Quality:    []string{QualityOutlier},
	}
}

func compileSchema(t *testing.T) (obs, batch *jsonschema.Schema) {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	for name, data := range map[string][]byte{
		"https://ounce.invalid/schemas/observation.schema.json":       schemas.ObservationSchema,
		"https://ounce.invalid/schemas/observation-batch.schema.json": schemas.BatchSchema,
	} {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		require.NoError(t, err)
		require.NoError(t, c.AddResource(name, doc))
	}
	obs, err := c.Compile("https://ounce.invalid/schemas/observation.schema.json")
	require.NoError(t, err)
	batch, err = c.Compile("https://ounce.invalid/schemas/observation-batch.schema.json")
	require.NoError(t, err)
	return obs, batch
}

func asDoc(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	require.NoError(t, err)
	return doc
}

// The Go type and the JSON Schema agree: what Go writes the schema accepts,
// and every mutation Validate rejects the schema rejects too.
func TestGoTypeMatchesJSONSchema(t *testing.T) {
	obsSchema, batchSchema := compileSchema(t)
	o := sample()
	require.NoError(t, o.Validate())
	require.NoError(t, obsSchema.Validate(asDoc(t, &o)))

	minimal := sample()
	minimal.Dims, minimal.Initiative, minimal.Provenance.URL = nil, "", ""
	require.NoError(t, obsSchema.Validate(asDoc(t, &minimal)))

	msgs, err := Encode("b1", []Observation{o, minimal}, 0)
	require.NoError(t, err)
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(msgs[0].Data))
	require.NoError(t, err)
	require.NoError(t, batchSchema.Validate(doc))

	for _, tc := range []struct {
		name   string
		mutate func(m map[string]any)
		field  string
	}{
		{"no indicator", func(m map[string]any) { delete(m, "indicator") }, "indicator"},
		{"bad indicator", func(m map[string]any) { m["indicator"] = "has space" }, "indicator"},
		{"no geo", func(m map[string]any) { delete(m, "geo") }, "geo"},
		{"geo too long", func(m map[string]any) { m["geo"] = strings.Repeat("A", 65) }, "geo"},
		{"value missing", func(m map[string]any) { delete(m, "value") }, "value"},
		{"unit missing", func(m map[string]any) { delete(m, "unit") }, "unit"},
		{"bad source", func(m map[string]any) { m["source"] = "Partner:X" }, "source"},
		{"version zero", func(m map[string]any) { m["version"] = 0 }, "version"},
		{"no licence", func(m map[string]any) { m["provenance"] = map[string]any{"retrieved_at": "2026-01-01T00:00:00Z"} }, "provenance.licence"},
		{"bad dim key", func(m map[string]any) { m["dims"] = map[string]any{"Sex": "both"} }, "dims.Sex"},
		{"empty dim value", func(m map[string]any) { m["dims"] = map[string]any{"sex": ""} }, "dims.sex"},
		{"bad initiative", func(m map[string]any) { m["initiative"] = "-x" }, "initiative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m map[string]any
			b, err := json.Marshal(sample())
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(b, &m))
			tc.mutate(m)
			b, err = json.Marshal(m)
			require.NoError(t, err)
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
			require.NoError(t, err)
			require.Error(t, obsSchema.Validate(doc), "schema accepts %s", b)
			batch, err := Decode([]byte(`{"observations":[` + string(b) + `]}`))
			require.NoError(t, err)
			verr := batch.Observations[0].Validate()
			require.Error(t, verr, "Validate accepts %s", b)
			var ve *ValidationError
			require.ErrorAs(t, verr, &ve)
			require.Equal(t, tc.field, ve.Problems[0].Field)
		})
	}
}

// The hand-written field checks match the schema's regular expressions.
func TestPatternsMatchSchema(t *testing.T) {
	var s struct {
		Properties map[string]struct {
			Pattern       string `json:"pattern"`
			PropertyNames struct {
				Pattern string `json:"pattern"`
			} `json:"propertyNames"`
		} `json:"properties"`
	}
	require.NoError(t, json.Unmarshal(schemas.ObservationSchema, &s))
	checks := map[string]interface{ MatchString(string) bool }{
		"indicator": indicatorRE, "geo": geoRE, "source": sourceRE, "initiative": initiativeRE,
	}
	inputs := []string{"", "a", "A", "0", "-", "a-b", "a.b", "a_b", "a:b", "partner:acme", "partner:", "partner:Acme",
		"owid.co2_per_capita", "GBR", "OWID_WRL", "owid:africa", "x y", "é", strings.Repeat("a", 64), strings.Repeat("a", 65),
		strings.Repeat("a", 128), strings.Repeat("a", 129), "_a", ".a", "aB", "a/b"}
	for field, p := range checks {
		re := regexp.MustCompile(s.Properties[field].Pattern)
		for _, in := range inputs {
			require.Equal(t, re.MatchString(in), p.MatchString(in), "field %s input %q", field, in)
		}
	}
	re := regexp.MustCompile(s.Properties["dims"].PropertyNames.Pattern)
	for _, in := range append(inputs, "sex", "age_band", "a1") {
		require.Equal(t, re.MatchString(in), dimKeyRE.MatchString(in), "dims key %q", in)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	o := Observation{Period: Period{Grain: "week"}}
	err := o.Validate()
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	fields := map[string]bool{}
	for _, p := range ve.Problems {
		fields[p.Field] = true
	}
	for _, f := range []string{"indicator", "geo", "period", "value", "unit", "source", "version", "provenance.licence", "provenance.retrieved_at"} {
		require.True(t, fields[f], "no problem reported for %s in %v", f, err)
	}
	require.ErrorContains(t, err, "value: is missing; leave out the observation when there is no value, never send zero")
}

func TestPeriods(t *testing.T) {
	for _, tc := range []struct {
		code, start, end string
		grain            Grain
		errContains      string
	}{
		{code: "2018", grain: GrainYear, start: "2018-01-01", end: "2019-01-01"},
		{code: "1751", grain: GrainYear, start: "1751-01-01", end: "1752-01-01"},
		{code: "2018-Q4", grain: GrainQuarter, start: "2018-10-01", end: "2019-01-01"},
		{code: "2018-02", grain: GrainMonth, start: "2018-02-01", end: "2018-03-01"},
		{code: "2020-02-29", grain: GrainDay, start: "2020-02-29", end: "2020-03-01"},
		{code: "2019-08-25T23:30Z", grain: GrainHalfHour, start: "2019-08-25T23:30:00Z", end: "2019-08-26T00:00:00Z"},
		{code: "2018-Q5", errContains: "want a quarter"},
		{code: "18", errContains: "want 2018"},
		{code: "2019-02-30", errContains: "want a day"},
		{code: "abcd", errContains: "year is not a number"},
	} {
		t.Run(tc.code, func(t *testing.T) {
			p, err := ParsePeriod(tc.code)
			if tc.errContains != "" {
				require.ErrorContains(t, err, tc.errContains)
				return
			}
			require.NoError(t, err)
			require.NoError(t, p.Check())
			require.Equal(t, tc.grain, p.Grain)
			require.Equal(t, tc.code, p.Code())
			b, err := json.Marshal(p)
			require.NoError(t, err)
			require.Equal(t, `"`+tc.code+`"`, string(b))
			var back Period
			require.NoError(t, json.Unmarshal(b, &back))
			require.Equal(t, p, back)
			object := `{"grain":"` + string(tc.grain) + `","start":"` + tc.start + `","end":"` + tc.end + `"}`
			var fromObject Period
			require.NoError(t, json.Unmarshal([]byte(object), &fromObject))
			require.Equal(t, p, fromObject)
		})
	}
	misaligned := Period{Grain: GrainMonth, Start: time.Date(2018, 2, 3, 0, 0, 0, 0, time.UTC)}
	require.ErrorContains(t, misaligned.Check(), "not aligned to a month")
	var p Period
	require.ErrorContains(t, json.Unmarshal([]byte(`{"grain":"year","start":"2018-01-01","end":"2018-12-31"}`), &p), `want 2019-01-01`)
}

func TestDimsCanonicalRoundTrip(t *testing.T) {
	d := Dims{"sex": "both", "age": "30-69", "odd": "a&b=c%"}
	c := d.Canonical()
	require.Equal(t, "age=30-69&odd=a%26b%3Dc%25&sex=both", c)
	back, err := ParseDims(c)
	require.NoError(t, err)
	require.Equal(t, d, back)
	require.Equal(t, "", Dims(nil).Canonical())
}

func TestEncodeSplitsUnderLimitAndDerivesIDsFromContent(t *testing.T) {
	obs := make([]Observation, 500)
	for i := range obs {
		obs[i] = sample()
		obs[i].Period = Year(1500 + i)
	}
	msgs, err := Encode("b", obs, 16*1024)
	require.NoError(t, err)
	require.Greater(t, len(msgs), 1)
	total := 0
	for _, m := range msgs {
		require.LessOrEqual(t, len(m.Data), 16*1024)
		b, err := Decode(m.Data)
		require.NoError(t, err)
		require.Equal(t, m.Count, len(b.Observations))
		require.Equal(t, "b", b.ID)
		total += m.Count
	}
	require.Equal(t, len(obs), total)

	// A re-pull at another time has the same ids; a changed value does not.
	later := make([]Observation, len(obs))
	copy(later, obs)
	for i := range later {
		later[i].Provenance.RetrievedAt = later[i].Provenance.RetrievedAt.Add(time.Hour)
	}
	again, err := Encode("b", later, 16*1024)
	require.NoError(t, err)
	require.Equal(t, msgs[0].MsgID, again[0].MsgID)
	later[0].Value = Float(-1)
	changed, err := Encode("b", later, 16*1024)
	require.NoError(t, err)
	require.NotEqual(t, msgs[0].MsgID, changed[0].MsgID)
	require.Equal(t, msgs[1].MsgID, changed[1].MsgID)

	huge := sample()
	huge.Provenance.URL = strings.Repeat("u", 20000)
	_, err = Encode("", []Observation{huge}, 16*1024)
	require.ErrorContains(t, err, "exceed the batch limit")
}

func TestDecodeErrorsNameThePlace(t *testing.T) {
	good, err := json.Marshal(sample())
	require.NoError(t, err)
	for _, tc := range []struct {
		name, body, errContains string
	}{
		{"not json", `hello`, "want '{'"},
		{"truncated", `{"observations":[` + string(good[:40]), "observations[0]"},
		{"unknown top field", `{"rows":[]}`, `unknown field "rows"`},
		{"missing observations", `{"batch_id":"x"}`, "field observations is missing"},
		{"value is a string", `{"observations":[` + string(good) + `,` + strings.Replace(string(good), `"value":5.645`, `"value":"5.645"`, 1) + `]}`, "observations[1].value"},
		{"unknown observation field", `{"observations":[{"indicator":"a","colour":"red"}]}`, `observations[0] (byte 43): unknown field "colour"`},
		{"bad period", `{"observations":[{"period":{"grain":"week","start":"2018-01-01"}}]}`, "observations[0].period"},
		{"bad time", `{"observations":[{"provenance":{"retrieved_at":"yesterday"}}]}`, "observations[0].provenance.retrieved_at"},
		{"trailing", `{"observations":[]} {}`, "trailing data"},
		{"trailing after a NUL byte", "{\"observations\":[]}\x00junk", "trailing data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode([]byte(tc.body))
			require.ErrorContains(t, err, tc.errContains)
		})
	}
}

// TestDecodeSyntaxErrorsKeepTheirPlace: an error in a number or literal is
// at the token's first byte, one between tokens at the byte found there,
// a body cut short at its end; each names the field it is in.
func TestDecodeSyntaxErrorsKeepTheirPlace(t *testing.T) {
	for body, want := range map[string]string{
		`{"observations":[{"value":1.x}]}`:             `observations[0].value (byte 26): malformed number, found 'x'`,
		`{"observations":[{"value":nul`:                `observations[0].value (byte 26): the body ends in the middle of a JSON value; it was probably cut short`,
		`{"observations":[{"value":1e999}]}`:           `observations[0].value (byte 31): number 1e999 is out of range`,
		`{"observations":[{"version":-1}]}`:            `observations[0].version (byte 30): want a non-negative integer, got -1`,
		`{"observations":[{"dims":{"k" "v"}}]}`:        `observations[0].dims (byte 30): want ':', found '"'`,
		`{"observations":[{}}`:                         `observations (byte 19): want ',' or ']' after an array element, found '}'`,
		"{\"observations\":[{\"colour\xff\":1}]}":      "observations[0] (byte 28): unknown field \"colour\uFFFD\"",
		`{"observations":[{"geo":"a` + "\x01" + `"}]}`: `observations[0].geo (byte 26): control character 0x01 in a string`,
	} {
		_, err := Decode([]byte(body))
		require.EqualError(t, err, "decode observation batch: "+want, "%q", body)
	}
}

// referenceDecode is encoding/json's reading of a batch: the behaviour the
// hand-written decoder must not exceed.
func referenceDecode(data []byte) (Batch, error) {
	var b Batch
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return Batch{}, err
	}
	if _, err := dec.Token(); err == nil {
		return Batch{}, errTrailing
	}
	if b.Observations == nil {
		return Batch{}, errTrailing
	}
	b.inherit()
	return b, nil
}

var errTrailing = &syntaxError{msg: "trailing or missing"}

// fuzzDecoder lives across FuzzDecode's inputs.
var fuzzDecoder Decoder

// FuzzDecode: the decoder never panics, and whatever it accepts
// encoding/json accepts with the same result.
func FuzzDecode(f *testing.F) {
	o := sample()
	m, err := Encode("seed", []Observation{o, o}, 0)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(m[0].Data)
	f.Add([]byte(`{"observations":[{"indicator":"a\u00e9\ud83d\ude00","value":null,"period":"2018-Q1","dims":{"k":"v"}}]}`))
	f.Add([]byte(`{"observations":[null,{"value":-0.5e-3,"version":7}],"batch_id":null}`))
	f.Add([]byte(`{"observations":[{"provenance":{"retrieved_at":"2026-01-01T00:00:00.5+02:00"}}]}`))
	f.Add([]byte(`{"common":{"unit":"u","source":"s","version":3,"provenance":{"licence":"l","retrieved_at":"2026-01-01T00:00:00Z"}},"observations":[{"indicator":"a"},{"unit":"v","provenance":{"licence":"m","retrieved_at":"2026-01-01T00:00:00Z"}}],"common":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := Decode(data)
		// A Decoder that decoded another batch first reads data the same way.
		var dec Decoder
		if _, err := dec.Decode(m[0].Data); err != nil {
			t.Fatal(err)
		}
		again, derr := dec.Decode(data)
		if (err == nil) != (derr == nil) {
			t.Fatalf("Decode error %v, reused Decoder error %v on %q", err, derr, data)
		}
		// And one kept across every input of this fuzzing process, good and
		// bad, its caches full of what earlier inputs left.
		kept, kerr := fuzzDecoder.Decode(data)
		if (err == nil) != (kerr == nil) {
			t.Fatalf("Decode error %v, long-lived Decoder error %v on %q", err, kerr, data)
		}
		if err != nil {
			return
		}
		if gj, aj := mustJSON(t, got), mustJSON(t, again); !bytes.Equal(gj, aj) {
			t.Fatalf("Decode and a reused Decoder differ on %q:\n got %s\nwant %s", data, aj, gj)
		}
		if gj, kj := mustJSON(t, got), mustJSON(t, kept); !bytes.Equal(gj, kj) {
			t.Fatalf("Decode and a long-lived Decoder differ on %q:\n got %s\nwant %s", data, kj, gj)
		}
		want, rerr := referenceDecode(data)
		if rerr != nil {
			t.Fatalf("Decode accepts what encoding/json rejects (%v): %q", rerr, data)
		}
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(want)
		if !bytes.Equal(gj, wj) {
			t.Fatalf("Decode and encoding/json differ on %q:\n got %s\nwant %s", data, gj, wj)
		}
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDecoderAcrossBatches: a Decoder reused for batch after batch reads
// each as Decode does, including after its caches overflow and are cleared.
func TestDecoderAcrossBatches(t *testing.T) {
	batch := func(n, geoOffset int) []byte {
		obs := make([]Observation, n)
		for i := range obs {
			obs[i] = sample()
			obs[i].Geo = fmt.Sprintf("G%d", geoOffset+i)
			obs[i].Value = Float(float64(geoOffset + i))
			obs[i].Provenance.RetrievedAt = obs[i].Provenance.RetrievedAt.Add(time.Duration(i%7) * time.Second)
		}
		msgs, err := Encode("b", obs, 8<<20)
		require.NoError(t, err)
		require.Len(t, msgs, 1)
		return msgs[0].Data
	}
	var dec Decoder
	// 3,000 then 5,000 distinct places: the second overflows the intern
	// cache; the third comes after it was cleared.
	for round, data := range [][]byte{batch(3000, 0), batch(5000, 3000), batch(10, 0), batch(3000, 0)} {
		want, err := Decode(data)
		require.NoError(t, err)
		got, err := dec.Decode(data)
		require.NoError(t, err)
		require.Len(t, got.Observations, len(want.Observations), "round %d", round)
		require.JSONEq(t, string(mustJSON(t, want)), string(mustJSON(t, got)), "round %d", round)
	}
	_, err := dec.Decode([]byte(`{"observations":[{"value":"1"}]}`))
	require.ErrorContains(t, err, "observations[0].value")
	got, err := dec.Decode(batch(2, 7))
	require.NoError(t, err, "a failed batch leaves the Decoder usable")
	require.Equal(t, 8.0, *got.Observations[1].Value)
}

// BenchmarkDecode reads a 4 000-observation batch with Decode and with a
// Decoder reused from batch to batch, as the loader does.
func BenchmarkDecode(b *testing.B) {
	obs := make([]Observation, 4000)
	for i := range obs {
		obs[i] = sample()
		obs[i].Period = Year(1000 + i%1000)
		obs[i].Geo = "G" + strings.Repeat("X", i%3)
	}
	msgs, err := Encode("bench", obs, 0)
	require.NoError(b, err)
	var dec Decoder
	for _, bc := range []struct {
		name   string
		decode func([]byte) (Batch, error)
	}{{"Decode", Decode}, {"Decoder", dec.Decode}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(msgs[0].Data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.decode(msgs[0].Data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzEncode: the hand-written encoder writes what encoding/json writes.
func FuzzEncode(f *testing.F) {
	f.Add("owid.co2", "GBR", "sex", "both <&>", 5.645, uint64(1), "CC BY 4.0", "", int64(0))
	f.Add("a", "b\u2028", "k", "\x00\xff", 1e-7, uint64(0), "l\"\\", "init", int64(-1e12))
	f.Add("a", "b", "", "", -1e21, uint64(18446744073709551615), "", "x", int64(1e15))
	f.Fuzz(func(t *testing.T, ind, geo, dk, dv string, v float64, version uint64, licence, initiative string, nanos int64) {
		o := sample()
		o.Indicator, o.Geo, o.Provenance.Licence, o.Initiative, o.Version = ind, geo, licence, initiative, version
		o.Value = &v
		o.Dims = Dims{dk: dv, "z": dv + dk}
		o.Provenance.RetrievedAt = time.Unix(0, nanos).UTC()
		o.Provenance.URL = geo + ind
		if !canMarshalFast(&o) {
			return
		}
		want, err := json.Marshal(&o)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendJSON(nil, &o); !bytes.Equal(got, want) {
			t.Fatalf("appendJSON differs:\n got %s\nwant %s", got, want)
		}
	})
}

func BenchmarkEncode(b *testing.B) {
	obs := make([]Observation, 4000)
	for i := range obs {
		obs[i] = sample()
		obs[i].Period = Year(1000 + i%1000)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode("bench", obs, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzEncodeRoundTrip: whatever mix of shared and differing fields a list of
// observations has, Encode then Decode gives the same observations back.
func FuzzEncodeRoundTrip(f *testing.F) {
	f.Add(uint8(0b1111), "u2", "s2", uint64(9), "", "l2", int64(5), 40)
	f.Add(uint8(0), "", "", uint64(0), "https://x", "", int64(0), 3)
	f.Fuzz(func(t *testing.T, mask uint8, unit, source string, version uint64, url, licence string, nanos int64, n int) {
		for _, s := range []string{unit, source, url, licence} {
			if !utf8.ValidString(s) {
				return // written as U+FFFD, like encoding/json: not a round trip
			}
		}
		n = 1 + (n%50+50)%50
		obs := make([]Observation, n)
		for i := range obs {
			obs[i] = sample()
			obs[i].Period = Year(1900 + i)
			if i%3 == 1 { // every third observation differs from the first in the fields mask picks
				if mask&1 != 0 {
					obs[i].Unit = unit
				}
				if mask&2 != 0 {
					obs[i].Source = source
				}
				if mask&4 != 0 {
					obs[i].Version = version
				}
				if mask&8 != 0 {
					obs[i].Provenance = Provenance{URL: url, Licence: licence, RetrievedAt: time.Unix(0, nanos).UTC()}
				}
			}
		}
		// Empty values would be filled from common on decode; such
		// observations are invalid anyway, and Validate rejects them.
		for i := range obs {
			if obs[i].Unit == "" || obs[i].Source == "" || obs[i].Version == 0 || obs[i].Provenance == (Provenance{}) {
				return
			}
		}
		msgs, err := Encode("rt", obs, 2048)
		if err != nil {
			return // an observation alone over the limit
		}
		var back []Observation
		for _, m := range msgs {
			b, err := Decode(m.Data)
			if err != nil {
				t.Fatalf("decode %s: %v", m.Data, err)
			}
			back = append(back, b.Observations...)
		}
		if len(back) != len(obs) {
			t.Fatalf("got %d observations back, want %d", len(back), len(obs))
		}
		for i := range obs {
			want, _ := json.Marshal(&obs[i])
			got, _ := json.Marshal(&back[i])
			if !bytes.Equal(want, got) {
				t.Fatalf("observation %d:\n got %s\nwant %s", i, got, want)
			}
		}
	})
}

// TestFlagAndQuality: a flag is a few letters and quality codes are known,
// each once, in the order of QualityCodes; both survive a batch round trip.
func TestFlagAndQuality(t *testing.T) {
	o := sample()
	o.Flag, o.Quality = "bep", []string{QualityOutOfRange, QualityOutlier}
	require.NoError(t, o.Validate())
	msgs, err := Encode("", []Observation{o}, 0)
	require.NoError(t, err)
	b, err := Decode(msgs[0].Data)
	require.NoError(t, err)
	require.Equal(t, "bep", b.Observations[0].Flag)
	require.Equal(t, o.Quality, b.Observations[0].Quality)

	for _, tc := range []struct {
		flag    string
		quality []string
		want    string
	}{
		{flag: "p1", want: `flag: "p1" must be 1-8 letters`},
		{flag: "provisional", want: `flag: "provisional" must be 1-8 letters`},
		{quality: []string{"odd"}, want: `quality[0]: "odd" is not a quality code`},
		{quality: []string{QualityOutlier, QualityOutOfRange}, want: `quality[1]: "out_of_range" is not a quality code, or is out of order`},
		{quality: []string{QualityOutlier, QualityOutlier}, want: `quality[1]: "outlier"`},
	} {
		o := sample()
		o.Flag, o.Quality = tc.flag, tc.quality
		require.ErrorContains(t, o.Validate(), tc.want, "%+v", tc)
	}
	_, err = Decode([]byte(`{"observations":[{"quality":"outlier"}]}`))
	require.ErrorContains(t, err, "observations[0].quality")
}

func TestValidateRefusesControlCharacters(t *testing.T) {
	base := func() Observation {
		return Observation{Indicator: "a.b", Geo: "GBR", Period: Year(2020), Value: Float(1), Unit: "%", Source: "feed-x", Version: 1,
			Provenance: Provenance{Licence: "CC0", RetrievedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}}
	}
	ok := base()
	ok.Dims = Dims{"site": "Saint-Étienne (nord)"}
	require.NoError(t, ok.Validate(), "accents and punctuation are text")
	for name, tc := range map[string]struct {
		change func(*Observation)
		field  string
	}{
		"NUL in dims":        {func(o *Observation) { o.Dims = Dims{"site": "a\x00b"} }, "dims.site"},
		"escape in dims":     {func(o *Observation) { o.Dims = Dims{"site": "\x1b[31m"} }, "dims.site"},
		"C1 in dims":         {func(o *Observation) { o.Dims = Dims{"site": "a\u0085b"} }, "dims.site"},
		"bad UTF-8 in dims":  {func(o *Observation) { o.Dims = Dims{"site": "a\xffb"} }, "dims.site"},
		"tab in unit":        {func(o *Observation) { o.Unit = "%\t" }, "unit"},
		"newline in licence": {func(o *Observation) { o.Provenance.Licence = "CC0\nX" }, "provenance.licence"},
		"DEL in url":         {func(o *Observation) { o.Provenance.URL = "https://x/\x7f" }, "provenance.url"},
	} {
		o := base()
		tc.change(&o)
		err := o.Validate()
		var ve *ValidationError
		require.ErrorAs(t, err, &ve, name)
		require.Equal(t, tc.field, ve.Problems[0].Field, name)
	}
	long := base()
	key := strings.Repeat("K", 70_000)
	long.Dims = Dims{key: "v"}
	err := long.Validate()
	require.Error(t, err)
	require.Less(t, len(err.Error()), 300, "a huge bad key is quoted short")
}
