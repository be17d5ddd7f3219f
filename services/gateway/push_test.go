package gateway_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/extnats"
	"github.com/ounce-data/ounce/pkg/httpapi"
	"github.com/ounce-data/ounce/services/gateway"
)

const good = `{"indicator":"who.NCD_PAA","geo":"GBR","period":"2024","value":31.2}`

// TestConflictCodes pushes one good row and one bad row per case, in each
// format where the case can be written, and checks the bad row's conflict.
func TestConflictCodes(t *testing.T) {
	f := newFixture(t, gateway.Config{})
	tests := []struct {
		name        string
		row         string // JSON object
		csv         string // the same as a CSV record under csvHeader, when it can be written
		wantCode    string
		wantField   string
		errContains string
	}{
		{name: "missing value", row: `{"indicator":"who.NCD_PAA","geo":"GBR","period":"2023"}`, csv: "who.NCD_PAA,GBR,2023,,",
			wantCode: gateway.ConflictMissingField, wantField: "value", errContains: "value missing"},
		{name: "missing geo and period", row: `{"indicator":"who.NCD_PAA","value":1}`, csv: "who.NCD_PAA,,,1,",
			wantCode: gateway.ConflictMissingField, wantField: "geo", errContains: "geo, period missing"},
		{name: "unknown indicator", row: `{"indicator":"who.NOPE","geo":"GBR","period":"2023","value":1}`, csv: "who.NOPE,GBR,2023,1,",
			wantCode: gateway.ConflictUnknownIndicator, wantField: "indicator", errContains: `"who.NOPE" is not in the catalogue`},
		{name: "indicator not granted", row: `{"indicator":"owid.co2","geo":"GBR","period":"2023","value":1}`, csv: "owid.co2,GBR,2023,1,",
			wantCode: gateway.ConflictIndicatorNotGranted, wantField: "indicator", errContains: `"owid.co2" is not granted`},
		{name: "place not granted", row: `{"indicator":"who.NCD_PAA","geo":"FRA","period":"2023","value":1}`, csv: "who.NCD_PAA,FRA,2023,1,",
			wantCode: gateway.ConflictPlaceNotGranted, wantField: "geo", errContains: `place "FRA" is not granted`},
		{name: "value not a number", row: `{"indicator":"who.NCD_PAA","geo":"GBR","period":"2023","value":"12,5"}`, csv: `who.NCD_PAA,GBR,2023,"12,5",`,
			wantCode: gateway.ConflictValueNotNumber, wantField: "value", errContains: "not a finite number"},
		{name: "value NaN", row: `{"indicator":"who.NCD_PAA","geo":"GBR","period":"2023","value":"NaN"}`, csv: "who.NCD_PAA,GBR,2023,NaN,",
			wantCode: gateway.ConflictValueNotNumber, wantField: "value"},
		{name: "value in hex", row: `{"indicator":"who.NCD_PAA","geo":"GBR","period":"2023","value":"0x1p3"}`, csv: "who.NCD_PAA,GBR,2023,0x1p3,",
			wantCode: gateway.ConflictValueNotNumber, wantField: "value", errContains: "plain decimal"},
		{name: "value with an underscore", row: `{"indicator":"who.NCD_PAA","geo":"GBR","period":"2023","value":"1_0"}`, csv: "who.NCD_PAA,GBR,2023,1_0,",
			wantCode: gateway.ConflictValueNotNumber, wantField: "value", errContains: `"1_0"`},
		{name: "value Inf", row: `{"indicator":"who.NCD_PAA","geo":"GBR","period":"2023","value":"Inf"}`, csv: "who.NCD_PAA,GBR,2023,Inf,",
			wantCode: gateway.ConflictValueNotNumber, wantField: "value"},
		{name: "value beyond float64", row: `{"indicator":"who.NCD_PAA","geo":"GBR","period":"2023","value":1e400}`, csv: "who.NCD_PAA,GBR,2023,1e400,",
			wantCode: gateway.ConflictValueNotNumber, wantField: "value"},
		{name: "percentage above 100", row: `{"indicator":"who.NCD_PAA","geo":"GBR","period":"2023","value":140}`, csv: "who.NCD_PAA,GBR,2023,140,",
			wantCode: gateway.ConflictValueOutOfRange, wantField: "value", errContains: "0 to 100"},
		{name: "negative count of people", row: `{"indicator":"SP.POP.TOTL","geo":"GBR","period":"2023","value":-5}`, csv: "SP.POP.TOTL,GBR,2023,-5,",
			wantCode: gateway.ConflictValueOutOfRange, wantField: "value", errContains: "0 to 1e+10"},
		{name: "people beyond the plausible ceiling", row: `{"indicator":"SP.POP.TOTL","geo":"GBR","period":"2023","value":1e308}`, csv: "SP.POP.TOTL,GBR,2023,1e308,",
			wantCode: gateway.ConflictValueOutOfRange, wantField: "value", errContains: "plausible values are 0 to 1e+10"},
		{name: "period malformed", row: `{"indicator":"who.NCD_PAA","geo":"GBR","period":"2023-Q5","value":1}`, csv: "who.NCD_PAA,GBR,2023-Q5,1,",
			wantCode: gateway.ConflictPeriodMalformed, wantField: "period", errContains: "2018-Q1"},
		{name: "period object end wrong", row: `{"indicator":"who.NCD_PAA","geo":"GBR","period":{"grain":"year","start":"2023-01-01","end":"2023-06-01"},"value":1}`,
			wantCode: gateway.ConflictPeriodMalformed, wantField: "period", errContains: "start plus one year"},
		{name: "period in the future", row: `{"indicator":"who.NCD_PAA","geo":"GBR","period":"2026-07","value":1}`, csv: "who.NCD_PAA,GBR,2026-07,1,",
			wantCode: gateway.ConflictPeriodInFuture, wantField: "period", errContains: "2026-07 starts after the push"},
		{name: "wrong unit", row: `{"indicator":"who.NCD_PAA","geo":"GBR","period":"2023","value":1,"unit":"per 1000"}`, csv: "who.NCD_PAA,GBR,2023,1,per 1000",
			wantCode: gateway.ConflictWrongUnit, wantField: "unit", errContains: `measured in "%", not "per 1000"`},
		{name: "unknown field", row: `{"indicator":"who.NCD_PAA","geo":"GBR","period":"2023","value":1,"comment":"x"}`,
			wantCode: gateway.ConflictUnknownField, wantField: "comment", errContains: `"comment" is not a field`},
		{name: "wrong JSON type", row: `{"indicator":"who.NCD_PAA","geo":7,"period":"2023","value":1}`,
			wantCode: gateway.ConflictMalformedRow, wantField: "geo", errContains: "geo must be a JSON string"},
		{name: "not an object", row: `[1,2]`,
			wantCode: gateway.ConflictMalformedRow, errContains: "not a JSON object"},
		{name: "bad dims key", row: `{"indicator":"who.NCD_PAA","geo":"GBR","period":"2023","value":1,"dims":{"Sex":"f"}}`,
			wantCode: gateway.ConflictInvalidField, wantField: "dims.Sex", errContains: "snake_case"},
		{name: "NUL in a dims value", row: `{"indicator":"who.NCD_PAA","geo":"GBR","period":"2023","value":1,"dims":{"site":"a\u0000b"}}`,
			wantCode: gateway.ConflictInvalidField, wantField: "dims.site", errContains: "control character"},
		{name: "escape sequence in a dims value", row: `{"indicator":"who.NCD_PAA","geo":"GBR","period":"2023","value":1,"dims":{"site":"\u001b[31mred"}}`,
			wantCode: gateway.ConflictInvalidField, wantField: "dims.site", errContains: "control character"},
		{name: "control character in a unit", row: `{"indicator":"who.NCD_PAA","geo":"GBR","period":"2023","value":1,"unit":"%\u0007"}`,
			wantCode: gateway.ConflictWrongUnit, wantField: "unit", errContains: `not "%\a"`},
		{name: "bad version", row: `{"indicator":"who.NCD_PAA","geo":"GBR","period":"2023","value":1,"version":-1}`,
			wantCode: gateway.ConflictInvalidField, wantField: "version", errContains: "positive integer"},
	}
	const csvHeader = "indicator,geo,period,value,unit\n"
	for _, tt := range tests {
		bodies := map[string][]byte{
			gateway.FormatJSON:   jsonBody(good, tt.row),
			gateway.FormatNDJSON: []byte(good + "\n" + tt.row + "\n"),
		}
		if tt.csv != "" {
			bodies[gateway.FormatCSV] = []byte(csvHeader + "who.NCD_PAA,GBR,2024,31.2,\n" + tt.csv + "\n")
		}
		for format, body := range bodies {
			t.Run(tt.name+"/"+format, func(t *testing.T) {
				rec := f.push(t, f.keyA, format, "dry_run=true", body)
				require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
				s := summary(t, rec)
				require.Equal(t, gateway.StatusWarning, s.Status)
				require.Equal(t, gateway.Counts{Received: 2, Accepted: 1, Rejected: 1}, s.Counts)
				require.Len(t, s.Conflicts, 1, rec.Body.String())
				c := s.Conflicts[0]
				require.Equal(t, tt.wantCode, c.Code, c.Message)
				require.Equal(t, tt.wantField, c.Field, c.Message)
				require.Contains(t, c.Message, tt.errContains)
				require.Equal(t, []int{2}, c.Rows)
				require.Equal(t, 1, c.RowCount)
			})
		}
	}
	require.Zero(t, f.streamMessages(t), "dry runs publish nothing")
}

// An NDJSON line must hold one object and nothing else: text after it,
// even a stray ']' that a JSON decoder would stop before, rejects the row.
func TestNDJSONLineWithTrailingText(t *testing.T) {
	f := newFixture(t, gateway.Config{})
	for _, tail := range []string{" ]", " }", " x", ` {"geo":"FRA"}`} {
		body := []byte(good + "\n" + `{"indicator":"who.NCD_PAA","geo":"GBR","period":"2023","value":1}` + tail + "\n")
		rec := f.push(t, f.keyA, gateway.FormatNDJSON, "dry_run=true", body)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		s := summary(t, rec)
		require.Equal(t, gateway.Counts{Received: 2, Accepted: 1, Rejected: 1}, s.Counts, "tail %q", tail)
		require.Equal(t, gateway.ConflictMalformedRow, s.Conflicts[0].Code)
		require.Contains(t, s.Conflicts[0].Message, "data after the object")
		require.Equal(t, []int{2}, s.Conflicts[0].Rows)
	}
}

func TestDuplicateKeysAreRejectedTogether(t *testing.T) {
	f := newFixture(t, gateway.Config{})
	dup := `{"indicator":"who.NCD_PAA","geo":"GBR","period":"2023","value":1,"dims":{"sex":"f"}}`
	dup2 := `{"indicator":"who.NCD_PAA","geo":"GBR","period":{"grain":"year","start":"2023-01-01"},"value":2,"dims":{"sex":"f"}}`
	rec := f.push(t, f.keyA, gateway.FormatJSON, "", jsonBody(good, dup, dup2))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	s := summary(t, rec)
	require.Equal(t, gateway.Counts{Received: 3, Accepted: 1, Rejected: 2, Ignored: new(int)}, s.Counts)
	require.Len(t, s.Conflicts, 1)
	require.Equal(t, gateway.ConflictDuplicateKey, s.Conflicts[0].Code)
	require.Equal(t, []int{2, 3}, s.Conflicts[0].Rows)
}

// TestConflictsAreGrouped: a thousand rows with the same problem make one
// entry, its row list capped, its count complete.
func TestConflictsAreGrouped(t *testing.T) {
	f := newFixture(t, gateway.Config{})
	var b strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&b, `{"indicator":"who.NCD_PAA","geo":"FRA","period":"%d","value":1}`+"\n", 1020+i)
	}
	rec := f.push(t, f.keyA, gateway.FormatNDJSON, "", []byte(b.String()))
	require.Equal(t, http.StatusUnprocessableEntity, rec.Code, rec.Body.String())
	s := summary(t, rec)
	require.Equal(t, gateway.StatusError, s.Status)
	require.Empty(t, s.BatchID)
	require.Len(t, s.Conflicts, 1)
	require.Equal(t, gateway.ConflictPlaceNotGranted, s.Conflicts[0].Code)
	require.Equal(t, 1000, s.Conflicts[0].RowCount)
	require.Len(t, s.Conflicts[0].Rows, gateway.MaxRowsInConflict)
	require.Equal(t, 1, s.Conflicts[0].Rows[0])
	require.Zero(t, f.streamMessages(t))
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, err := w.Write(b)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

// TestStatusCodes covers each status of the push route.
func TestStatusCodes(t *testing.T) {
	f := newFixture(t, gateway.Config{MaxBodyBytes: 4096, MaxDecoded: 8192, RateLimit: 1000, RateBurst: 1000})
	big := bytes.Repeat([]byte(good+"\n"), 200) // ≈ 14 KB, gzips to little
	tests := []struct {
		name       string
		key        string
		ct         string
		query      string
		body       []byte
		headers    []string
		wantStatus int
		wantCode   httpapi.Code
		wantField  string
	}{
		{name: "all accepted", key: f.keyA, ct: "application/json; charset=utf-8", body: jsonBody(good), wantStatus: 200},
		{name: "gzip", key: f.keyA, ct: gateway.FormatNDJSON, body: gz(t, []byte(good)), headers: []string{"Content-Encoding", "gzip"}, wantStatus: 200},
		{name: "none accepted", key: f.keyA, ct: gateway.FormatJSON, body: jsonBody(`{"indicator":"x.y","geo":"GBR","period":"2020","value":1}`), wantStatus: 422},
		{name: "no key", ct: gateway.FormatJSON, body: jsonBody(good), wantStatus: 401, wantCode: httpapi.CodeUnauthorized, wantField: "Authorization"},
		{name: "bad key", key: "ounce_clinic-a_forged", ct: gateway.FormatJSON, body: jsonBody(good), wantStatus: 401, wantCode: httpapi.CodeUnauthorized, wantField: "Authorization"},
		{name: "writes as a feed", key: f.keyA, ct: gateway.FormatJSON,
			body: jsonBody(`{"indicator":"who.NCD_PAA","geo":"GBR","period":"2020","value":1,"source":"owid-co2"}`), wantStatus: 403, wantCode: httpapi.CodeForbidden, wantField: "source"},
		{name: "unparseable JSON", key: f.keyA, ct: gateway.FormatJSON, body: []byte(`{"observations":[{"a":}]}`), wantStatus: 400, wantCode: httpapi.CodeBadRequest},
		{name: "CSV without value column", key: f.keyA, ct: gateway.FormatCSV, body: []byte("indicator,geo,period\nx,y,2020\n"), wantStatus: 400, wantCode: httpapi.CodeBadRequest},
		{name: "empty body", key: f.keyA, ct: gateway.FormatNDJSON, body: nil, wantStatus: 400, wantCode: httpapi.CodeBadRequest},
		{name: "not gzip", key: f.keyA, ct: gateway.FormatNDJSON, body: []byte(good), headers: []string{"Content-Encoding", "gzip"}, wantStatus: 400, wantCode: httpapi.CodeBadRequest, wantField: "Content-Encoding"},
		{name: "unknown parameter", key: f.keyA, ct: gateway.FormatJSON, query: "dryrun=1", body: jsonBody(good), wantStatus: 400, wantCode: httpapi.CodeBadRequest, wantField: "dryrun"},
		{name: "too large", key: f.keyA, ct: gateway.FormatNDJSON, body: big, wantStatus: 413, wantCode: httpapi.CodePayloadTooLarge},
		{name: "too large inflated", key: f.keyA, ct: gateway.FormatNDJSON, body: gz(t, bytes.Repeat(big, 2)), headers: []string{"Content-Encoding", "gzip"}, wantStatus: 413, wantCode: httpapi.CodePayloadTooLarge},
		{name: "wrong content type", key: f.keyA, ct: "text/plain", body: []byte(good), wantStatus: 415, wantCode: httpapi.CodeUnsupportedMediaType, wantField: "Content-Type"},
		{name: "no content type", key: f.keyA, body: []byte(good), wantStatus: 415, wantCode: httpapi.CodeUnsupportedMediaType, wantField: "Content-Type"},
		{name: "brotli", key: f.keyA, ct: gateway.FormatNDJSON, body: []byte(good), headers: []string{"Content-Encoding", "br"}, wantStatus: 415, wantCode: httpapi.CodeUnsupportedMediaType, wantField: "Content-Encoding"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := f.push(t, tt.key, tt.ct, tt.query, tt.body, tt.headers...)
			require.Equal(t, tt.wantStatus, rec.Code, rec.Body.String())
			if tt.wantCode != "" {
				e := envelope(t, rec)
				require.Equal(t, tt.wantCode, e.Code)
				require.Equal(t, tt.wantField, e.Field)
				require.NotEmpty(t, e.Message)
			}
		})
	}
}

func TestRateLimitSaysWhenToRetry(t *testing.T) {
	f := newFixture(t, gateway.Config{RateLimit: 0.5, RateBurst: 2})
	for range 2 {
		require.Equal(t, http.StatusOK, f.push(t, f.keyA, gateway.FormatJSON, "dry_run=true", jsonBody(good)).Code)
	}
	rec := f.push(t, f.keyA, gateway.FormatJSON, "dry_run=true", jsonBody(good))
	require.Equal(t, http.StatusTooManyRequests, rec.Code)
	require.Equal(t, httpapi.CodeRateLimited, envelope(t, rec).Code)
	require.Equal(t, "2", rec.Header().Get("Retry-After"))
	// Another key has its own budget.
	good2 := `{"indicator":"who.NCD_PAA","geo":"FRA","period":"2024","value":31.2}`
	require.Equal(t, http.StatusOK, f.push(t, f.keyB, gateway.FormatJSON, "dry_run=true", jsonBody(good2)).Code)
}

// TestRateLimitIsSharedByReplicas: two gateway replicas on one NATS draw
// on one budget per key.
func TestRateLimitIsSharedByReplicas(t *testing.T) {
	cfg := gateway.Config{RateLimit: 0.5, RateBurst: 3}
	f := newFixture(t, cfg)
	second := *f
	second.h = startReplica(t, f, cfg)
	replicas := []*fixture{f, &second}
	for i := range 3 {
		rec := replicas[i%2].push(t, f.keyA, gateway.FormatJSON, "dry_run=true", jsonBody(good))
		require.Equal(t, http.StatusOK, rec.Code, "push %d", i+1)
	}
	for _, r := range replicas {
		rec := r.push(t, f.keyA, gateway.FormatJSON, "dry_run=true", jsonBody(good))
		require.Equal(t, http.StatusTooManyRequests, rec.Code, "the budget of 3 is spent across both replicas")
		require.Equal(t, "2", rec.Header().Get("Retry-After"))
	}
}

// TestRateLimitWithoutTheSharedBucketIsPerReplica: a replica that finds
// no shared budget limits keys on its own rather than refusing pushes.
func TestRateLimitWithoutTheSharedBucketIsPerReplica(t *testing.T) {
	cfg := gateway.Config{RateLimit: 0.5, RateBurst: 2}
	f := newFixture(t, cfg)
	require.NoError(t, f.nats.JS.DeleteKeyValue(context.Background(), extnats.BucketGatewayRates))
	alone := *f
	alone.h = startReplica(t, f, cfg)
	for range 2 {
		require.Equal(t, http.StatusOK, alone.push(t, f.keyA, gateway.FormatJSON, "dry_run=true", jsonBody(good)).Code)
	}
	rec := alone.push(t, f.keyA, gateway.FormatJSON, "dry_run=true", jsonBody(good))
	require.Equal(t, http.StatusTooManyRequests, rec.Code)
	require.Equal(t, "2", rec.Header().Get("Retry-After"))
}

func TestIdempotencyKey(t *testing.T) {
	f := newFixture(t, gateway.Config{})
	body := jsonBody(good, `{"indicator":"who.NCD_PAA","geo":"GB-MAN","period":"2024","value":29}`)
	first := f.push(t, f.keyA, gateway.FormatJSON, "", body, "Idempotency-Key", "upload-1")
	require.Equal(t, http.StatusOK, first.Code, first.Body.String())
	require.Empty(t, first.Header().Get("Idempotent-Replayed"))
	msgs := f.streamMessages(t)
	require.NotZero(t, msgs)

	again := f.push(t, f.keyA, gateway.FormatJSON, "", body, "Idempotency-Key", "upload-1")
	require.Equal(t, http.StatusOK, again.Code)
	require.Equal(t, "true", again.Header().Get("Idempotent-Replayed"))
	require.JSONEq(t, first.Body.String(), again.Body.String())
	require.Equal(t, msgs, f.streamMessages(t), "a replay publishes nothing")

	other := f.push(t, f.keyA, gateway.FormatJSON, "", jsonBody(good), "Idempotency-Key", "upload-1")
	require.Equal(t, http.StatusConflict, other.Code)
	require.Equal(t, httpapi.CodeIdempotencyKeyReused, envelope(t, other).Code)

	// Options are part of the push: the same body as a dry run is another push.
	dry := f.push(t, f.keyA, gateway.FormatJSON, "dry_run=true", body, "Idempotency-Key", "upload-1")
	require.Equal(t, http.StatusConflict, dry.Code)

	// Keys are per partner: another partner's same key is its own.
	good2 := `{"indicator":"who.NCD_PAA","geo":"FRA","period":"2024","value":31.2}`
	require.Equal(t, http.StatusOK, f.push(t, f.keyB, gateway.FormatJSON, "", jsonBody(good2), "Idempotency-Key", "upload-1").Code)

	// A push refused before it ran (401) does not claim the key.
	require.Equal(t, http.StatusOK, f.push(t, f.keyA, gateway.FormatJSON, "", jsonBody(good), "Idempotency-Key", "upload-2").Code)
}

// TestAtomicPushLeavesNothing: one bad row in an atomic push rejects all,
// and the stream stays empty.
func TestAtomicPushLeavesNothing(t *testing.T) {
	f := newFixture(t, gateway.Config{})
	body := jsonBody(good, `{"indicator":"who.NCD_PAA","geo":"GBR","period":"2023","value":101}`)
	rec := f.push(t, f.keyA, gateway.FormatJSON, "atomic=true", body)
	require.Equal(t, http.StatusUnprocessableEntity, rec.Code, rec.Body.String())
	s := summary(t, rec)
	require.Equal(t, gateway.StatusError, s.Status)
	require.Equal(t, gateway.Counts{Received: 2, Accepted: 0, Rejected: 1}, s.Counts)
	require.Contains(t, s.Message, "atomic push: nothing was published")
	require.Empty(t, s.BatchID)
	require.Zero(t, f.streamMessages(t))

	// Without atomic the good row goes in.
	rec = f.push(t, f.keyA, gateway.FormatJSON, "", body)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, gateway.StatusWarning, summary(t, rec).Status)
	require.Equal(t, uint64(1), f.streamMessages(t))
}

// TestPartnersCannotWriteEachOthersData: keys are scoped to their partner's
// source, grants and batches.
func TestPartnersCannotWriteEachOthersData(t *testing.T) {
	f := newFixture(t, gateway.Config{})
	// B writes A's place and indicator: rejected row by row.
	rec := f.push(t, f.keyB, gateway.FormatJSON, "", jsonBody(good))
	require.Equal(t, http.StatusUnprocessableEntity, rec.Code)
	require.Equal(t, gateway.ConflictPlaceNotGranted, summary(t, rec).Conflicts[0].Code)
	rec = f.push(t, f.keyB, gateway.FormatJSON, "", jsonBody(`{"indicator":"SP.POP.TOTL","geo":"FRA","period":"2024","value":5}`))
	require.Equal(t, gateway.ConflictIndicatorNotGranted, summary(t, rec).Conflicts[0].Code)
	// B writes as A: refused whole.
	rec = f.push(t, f.keyB, gateway.FormatJSON, "", jsonBody(`{"indicator":"who.NCD_PAA","geo":"FRA","period":"2024","value":5,"source":"partner:clinic-a"}`))
	require.Equal(t, http.StatusForbidden, rec.Code)
	require.Zero(t, f.streamMessages(t))

	// A's batch is invisible to B.
	rec = f.push(t, f.keyA, gateway.FormatJSON, "", jsonBody(good))
	require.Equal(t, http.StatusOK, rec.Code)
	id := summary(t, rec).BatchID
	require.NotEmpty(t, id)
	rec = f.get(t, f.keyA, "/v1/batches/"+id)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	rec = f.get(t, f.keyB, "/v1/batches/"+id)
	require.Equal(t, http.StatusNotFound, rec.Code)
	require.Equal(t, httpapi.CodeNotFound, envelope(t, rec).Code)

	// What A published is partner:clinic-a on obs.v1.partner.clinic-a.
	s, err := f.nats.JS.Stream(t.Context(), "OBS")
	require.NoError(t, err)
	m, err := s.GetLastMsgForSubject(t.Context(), "obs.v1.partner.clinic-a")
	require.NoError(t, err)
	require.Contains(t, string(m.Data), `"source":"partner:clinic-a"`)
	require.Contains(t, string(m.Data), `"batch_id":"`+id+`"`)
}

// TestRotateAndRevoke: a rotated key works through its grace period only; a
// revoked partner's keys stop at once, on a running gateway.
func TestRotateAndRevoke(t *testing.T) {
	f := newFixture(t, gateway.Config{})
	newKey, err := f.reg.Rotate(t.Context(), "clinic-a", 0)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return f.push(t, f.keyA, gateway.FormatJSON, "dry_run=true", jsonBody(good)).Code == http.StatusUnauthorized
	}, 5*time.Second, 10*time.Millisecond, "the old key stops after a rotation without grace")
	require.Equal(t, http.StatusOK, f.push(t, newKey, gateway.FormatJSON, "dry_run=true", jsonBody(good)).Code)

	graced, err := f.reg.Rotate(t.Context(), "clinic-a", time.Hour)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return f.push(t, graced, gateway.FormatJSON, "dry_run=true", jsonBody(good)).Code == http.StatusOK
	}, 5*time.Second, 10*time.Millisecond)
	require.Equal(t, http.StatusOK, f.push(t, newKey, gateway.FormatJSON, "dry_run=true", jsonBody(good)).Code, "within the grace period")

	require.NoError(t, f.reg.Revoke(t.Context(), "clinic-a"))
	require.Eventually(t, func() bool {
		return f.push(t, graced, gateway.FormatJSON, "dry_run=true", jsonBody(good)).Code == http.StatusUnauthorized
	}, 5*time.Second, 10*time.Millisecond)
	require.Equal(t, http.StatusUnauthorized, f.push(t, newKey, gateway.FormatJSON, "dry_run=true", jsonBody(good)).Code)
}

// However large and varied the bad input, the answer stays small: each
// conflict quotes at most a short prefix of the bad value, and a summary
// has at most MaxConflicts entries.
func TestBadValuesAreQuotedShort(t *testing.T) {
	f := newFixture(t, gateway.Config{})
	var rows []string
	for i := range 400 {
		long := fmt.Sprintf("%03d", i) + strings.Repeat("x", 60_000)
		switch i % 4 {
		case 0:
			rows = append(rows, fmt.Sprintf(`{"indicator":%q,"geo":"GBR","period":"2023","value":1}`, long))
		case 1:
			rows = append(rows, fmt.Sprintf(`{"indicator":"who.NCD_PAA","geo":%q,"period":"2023","value":1}`, long))
		case 2:
			rows = append(rows, fmt.Sprintf(`{"indicator":"who.NCD_PAA","geo":"GBR","period":%q,"value":1}`, long))
		case 3:
			rows = append(rows, fmt.Sprintf(`{"indicator":"who.NCD_PAA","geo":"GBR","period":"2023","value":%q}`, long))
		}
	}
	body := jsonBody(rows...)
	require.Greater(t, len(body), 20<<20)
	rec := f.push(t, f.keyA, gateway.FormatJSON, "dry_run=true", body)
	require.Equal(t, http.StatusRequestEntityTooLarge, rec.Code, "the default body limit applies first")

	f = newFixture(t, gateway.Config{MaxBodyBytes: 64 << 20, MaxDecoded: 64 << 20})
	rec = f.push(t, f.keyA, gateway.FormatJSON, "dry_run=true", body)
	require.Equal(t, http.StatusUnprocessableEntity, rec.Code)
	require.Less(t, rec.Body.Len(), 64<<10, "a %d-byte push of bad values answers in under 64 KiB", len(body))
	s := summary(t, rec)
	require.Equal(t, 400, s.Counts.Rejected)
	require.Len(t, s.Conflicts, gateway.MaxConflicts)
	require.Equal(t, 400-gateway.MaxConflicts, s.ConflictsOmitted)
	for _, c := range s.Conflicts {
		require.Less(t, len(c.Message), 600, c.Message)
		require.Contains(t, c.Message, "(60003 bytes)", c.Message)
	}
}

// A body trickling in slower than --read-timeout is refused with 408 once
// the timeout passes, over a real connection; nothing is published.
func TestSlowBodyIsRefusedAfterTheReadTimeout(t *testing.T) {
	f := newFixture(t, gateway.Config{ReadTimeout: 300 * time.Millisecond})
	srv := httptest.NewServer(f.h)
	t.Cleanup(srv.Close)
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	body := jsonBody(good)
	_, err = fmt.Fprintf(conn, "POST /v1/observations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		f.keyA, len(body), body[:10])
	require.NoError(t, err)
	start := time.Now()
	go func() { // a byte every 100 ms: the whole body would take minutes
		for _, b := range body[10:] {
			time.Sleep(100 * time.Millisecond)
			if _, err := conn.Write([]byte{b}); err != nil {
				return
			}
		}
	}()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusRequestTimeout, resp.StatusCode)
	require.Less(t, time.Since(start), 5*time.Second)
	var env httpapi.Envelope
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&env))
	require.Equal(t, httpapi.CodeRequestTimeout, env.Error.Code)
	require.Contains(t, env.Error.Message, "not received within 300ms")
	require.Zero(t, f.streamMessages(t))
}

// Every format reads its edges alike: a leading byte-order mark is
// skipped, and white space around a field is not part of it.
func TestBOMAndWhiteSpaceAreReadAlikeInEveryFormat(t *testing.T) {
	f := newFixture(t, gateway.Config{})
	const bom = "\xef\xbb\xbf"
	row := `{"indicator":" who.NCD_PAA ","geo":"GBR\t","period":" 2023 ","value":" 31.5 ","dims":{"sex":" female "}}`
	for format, body := range map[string]string{
		gateway.FormatJSON:   bom + `{"observations":[` + row + `]}`,
		gateway.FormatNDJSON: bom + row + "\n",
		gateway.FormatCSV:    bom + "indicator,geo,period,value,dim.sex\n who.NCD_PAA ,GBR\t, 2023 , 31.5 , female \n",
	} {
		rec := f.push(t, f.keyA, format, "dry_run=true", []byte(body))
		require.Equal(t, http.StatusOK, rec.Code, "%s: %s", format, rec.Body.String())
		s := summary(t, rec)
		require.Equal(t, gateway.StatusSuccess, s.Status, "%s: %+v", format, s.Conflicts)
		require.Equal(t, 1, s.Counts.Accepted, format)
	}
}

// Until the gateway has read the partner registry (just after a start), a
// valid key is not refused as unknown: the push and the batch status answer
// 503 with Retry-After, and the retried push succeeds once it is read.
func TestValidKeyIsNotRefusedBeforeTheRegistryIsRead(t *testing.T) {
	f := newFixture(t, gateway.Config{})
	svc, err := gateway.New(context.Background(), gateway.Config{RateLimit: 1e6, RateBurst: 1e6, Now: func() time.Time { return testNow }},
		f.nats.JS, f.cat, zerolog.Nop(), prometheus.NewRegistry())
	require.NoError(t, err)
	body := jsonBody(`{"indicator":"who.NCD_PAA","geo":"GBR","period":"2020","value":31.2}`)
	for _, target := range []string{"/v1/observations", "/v1/batches/any"} {
		method := http.MethodGet
		if target == "/v1/observations" {
			method = http.MethodPost
		}
		req := httptest.NewRequest(method, target, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+f.keyA)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		svc.Handler().ServeHTTP(rec, req)
		require.Equal(t, http.StatusServiceUnavailable, rec.Code, "%s %s: %s", method, target, rec.Body)
		require.Equal(t, "1", rec.Header().Get("Retry-After"))
		require.Equal(t, httpapi.CodeUnavailable, envelope(t, rec).Code)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.RunRegistry(ctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })
	require.NoError(t, svc.WaitReady(ctx))
	req := httptest.NewRequest(http.MethodPost, "/v1/observations", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+f.keyA)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	svc.Handler().ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
}

// The gateway's metrics, once a push has filled them, follow Prometheus'
// naming conventions (promlint).
func TestMetricsFollowConventions(t *testing.T) {
	f := newFixture(t, gateway.Config{})
	require.Equal(t, http.StatusOK, f.push(t, f.keyA, gateway.FormatJSON, "", jsonBody(good)).Code)
	require.Equal(t, http.StatusUnauthorized, f.push(t, "ounce_nobody_x", gateway.FormatJSON, "", jsonBody(good)).Code)
	families, err := f.metrics.Gather()
	require.NoError(t, err)
	require.NotEmpty(t, families)
	problems, err := promlint.NewWithMetricFamilies(families).Lint()
	require.NoError(t, err)
	require.Empty(t, problems)
}
