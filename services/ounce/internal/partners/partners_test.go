package partners_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nkeys"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/envflag"
	"github.com/ounce-data/ounce/pkg/extnats"
	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/testenv"
	"github.com/ounce-data/ounce/services/gateway"
	"github.com/ounce-data/ounce/services/gateway/registry"
	"github.com/ounce-data/ounce/services/loader"
	"github.com/ounce-data/ounce/services/ounce/internal/partners"
	"github.com/ounce-data/ounce/services/query"
)

// run runs `ounce partners args…` and returns its output.
func run(t *testing.T, nc extnats.Client, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := partners.Run(context.Background(), append(args, "--nats-url", nc.URL, "--nats-nkey", nc.NKey), &out, &errOut)
	return out.String(), err
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

func TestAddListRotateRevoke(t *testing.T) {
	ns := testenv.StartNATS(t)
	out, err := run(t, ns.Client, "add", "--name", "Clinic Network A", "--indicators", "who.NCD_PAA", "--places", "GBR,GB-MAN")
	require.NoError(t, err)
	key := lastLine(out)
	require.True(t, strings.HasPrefix(key, "ounce_clinic-network-a_"), out)
	require.NotContains(t, strings.TrimSuffix(out, key+"\n"), key, "the key is printed once")

	_, err = run(t, ns.Client, "add", "--name", "Clinic Network A", "--indicators", "who.NCD_PAA", "--places", "GBR")
	require.ErrorContains(t, err, "already exists")
	_, err = run(t, ns.Client, "add", "--name", "X", "--indicators", "who.NOPE", "--places", "GBR")
	require.ErrorContains(t, err, `indicator "who.NOPE" is not in the catalogue`)

	out, err = run(t, ns.Client, "list")
	require.NoError(t, err)
	require.Contains(t, out, "clinic-network-a")
	require.Contains(t, out, "GB-MAN,GBR")
	require.NotContains(t, out, key)

	out, err = run(t, ns.Client, "rotate", "clinic-network-a", "--grace", "1h")
	require.NoError(t, err)
	require.NotEqual(t, key, lastLine(out))
	out, err = run(t, ns.Client, "list")
	require.NoError(t, err)
	require.Contains(t, out, "1 (+1 in grace)")

	_, err = run(t, ns.Client, "revoke", "clinic-network-a")
	require.NoError(t, err)
	out, err = run(t, ns.Client, "list")
	require.NoError(t, err)
	require.Contains(t, out, "revoked")
	_, err = run(t, ns.Client, "revoke", "nobody")
	require.ErrorContains(t, err, "no such partner")
}

// A grant naming places the catalogue lacks is refused, each place with
// what it may mean; the command exits 1, as for any refused registration
// (an unknown indicator too), and registers nothing.
func TestAddRefusesUnknownPlaces(t *testing.T) {
	ns := testenv.StartNATS(t)
	out, err := run(t, ns.Client, "add", "--id", "council-x", "--name", "Council X", "--indicators", "who.NCD_PAA", "--places", "GBR,France,UK")
	require.Error(t, err)
	require.Empty(t, out, "no key is printed")
	var stderr bytes.Buffer
	require.Equal(t, envflag.ExitFailure, envflag.ExitCode("ounce partners", err, &stderr))
	for _, want := range []string{
		`ounce partners: partners add: place "France" is not in the place catalogue; did you mean FRA (France)? GET /v1/places on the query service lists them`,
		`place "UK" is not in the place catalogue; did you mean GBR (United Kingdom)?`,
		"is added to schemas/places before it is granted",
	} {
		require.Contains(t, stderr.String(), want)
	}
	require.NotContains(t, stderr.String(), `place "GBR"`, "a catalogue place is granted")

	out, err = run(t, ns.Client, "list")
	require.NoError(t, err)
	require.NotContains(t, out, "council-x", "nothing registered")
	_, err = run(t, ns.Client, "rotate", "council-x")
	require.ErrorContains(t, err, "no such partner")
}

// A partner given a NATS user gets an nkey seed printed once; only its
// public key is in the registry; `nats ID` re-keys it; revoke removes it.
func TestNATSUserOfAPartner(t *testing.T) {
	ns := testenv.StartNATS(t)
	out, err := run(t, ns.Client, "add", "--id", "clinic-b", "--name", "Clinic B", "--indicators", "who.NCD_PAA", "--places", "GBR", "--nats")
	require.NoError(t, err)
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	var seed string
	for i, l := range lines {
		if strings.HasPrefix(l, "nkey seed") {
			seed = lines[i+1]
		}
	}
	require.True(t, strings.HasPrefix(seed, "SU"), out)
	require.Contains(t, out, "obs.v1.partner.clinic-b")
	kp, err := nkeys.FromSeed([]byte(seed))
	require.NoError(t, err)
	public, err := kp.PublicKey()
	require.NoError(t, err)

	reg, err := registry.Open(t.Context(), ns.JS)
	require.NoError(t, err)
	p, err := reg.Get(t.Context(), "clinic-b")
	require.NoError(t, err)
	require.Equal(t, public, p.NATSKey, "the registry holds the public key")
	raw, err := json.Marshal(p)
	require.NoError(t, err)
	require.NotContains(t, string(raw), seed, "and never the seed")

	out, err = run(t, ns.Client, "list")
	require.NoError(t, err)
	require.Contains(t, out, public[:8]+"…")

	out, err = run(t, ns.Client, "nats", "clinic-b")
	require.NoError(t, err)
	again := lastLine(out)
	require.True(t, strings.HasPrefix(again, "SU"), out)
	require.NotEqual(t, seed, again)
	p, err = reg.Get(t.Context(), "clinic-b")
	require.NoError(t, err)
	require.NotEqual(t, public, p.NATSKey, "re-keying replaces the public key")

	_, err = run(t, ns.Client, "revoke", "clinic-b")
	require.NoError(t, err)
	p, err = reg.Get(t.Context(), "clinic-b")
	require.NoError(t, err)
	require.Empty(t, p.NATSKey)
	_, err = run(t, ns.Client, "nats", "clinic-b")
	require.ErrorContains(t, err, "is revoked")

	// Without credentials, and no ounce dev data directory to read them from, NATS refuses.
	var stdout, stderr bytes.Buffer
	err = partners.Run(t.Context(), []string{"list", "--nats-url", ns.URL, "--data-dir", t.TempDir()}, &stdout, &stderr)
	require.ErrorContains(t, err, "Authorization Violation")
}

// TestIntegrationPartnerPushReachesClickHouse is the gateway end to end: a
// partner registered with `ounce partners add` pushes JSON, NDJSON and CSV
// through the gateway; the real loader puts the rows into a real
// ClickHouse; the batch says loaded; the values come back from ClickHouse.
// An atomic push with a bad row leaves nothing in either.
func TestIntegrationPartnerPushReachesClickHouse(t *testing.T) {
	ch := testenv.StartClickHouse(t)
	ns := testenv.StartNATS(t)
	out, err := run(t, ns.Client, "add", "--id", "clinic-a", "--name", "Clinic A", "--indicators", "who.NCD_PAA,SP.POP.TOTL", "--places", "GBR,GB-MAN")
	require.NoError(t, err)
	key := lastLine(out)

	ctx, cancel := context.WithCancel(context.Background())
	cat, err := indicators.Load()
	require.NoError(t, err)
	ld, err := loader.New(loader.Config{FlushInterval: 100 * time.Millisecond}, ns.JS, ch.Conn, zerolog.Nop(), prometheus.NewRegistry())
	require.NoError(t, err)
	gw, err := gateway.New(ctx, gateway.Config{BatchBytes: 8 << 10}, ns.JS, cat, zerolog.Nop(), prometheus.NewRegistry())
	require.NoError(t, err)
	loaderDone, regDone := make(chan error, 1), make(chan error, 1)
	go func() { loaderDone <- ld.Run(ctx) }()
	go func() { regDone <- gw.RunRegistry(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-loaderDone)
		require.NoError(t, <-regDone)
	})
	require.NoError(t, gw.WaitReady(ctx))
	srv := httptest.NewServer(gw.Handler())
	t.Cleanup(srv.Close)

	push := func(contentType, query, body string) (int, gateway.ImportSummary) {
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/v1/observations?"+query, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", contentType)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var s gateway.ImportSummary
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&s))
		return resp.StatusCode, s
	}

	// An atomic push with one bad row: nothing anywhere.
	status, s := push("application/json", "atomic=true",
		`{"observations":[{"indicator":"who.NCD_PAA","geo":"GBR","period":"2019","value":40},{"indicator":"who.NCD_PAA","geo":"GBR","period":"2019-Q1","value":140}]}`)
	require.Equal(t, http.StatusUnprocessableEntity, status)
	require.Equal(t, gateway.StatusError, s.Status)

	want := map[string]float64{}
	pushes := []struct{ ct, body string }{
		{"application/json", `{"observations":[
			{"indicator":"who.NCD_PAA","geo":"GBR","period":"2020","value":31.5,"dims":{"sex":"female"}},
			{"indicator":"who.NCD_PAA","geo":"GB-MAN","period":"2020","value":35.25,"dims":{"sex":"female"}}]}`},
		{"application/x-ndjson", `{"indicator":"SP.POP.TOTL","geo":"GB-MAN","period":"2021","value":2867800}
{"indicator":"who.NCD_PAA","geo":"GBR","period":"2021-Q2","value":"30.75"}
{"indicator":"who.NCD_PAA","geo":"FRA","period":"2021","value":1}`},
		{"text/csv", "indicator,geo,period,value,dim.sex\nwho.NCD_PAA,GBR,2022-03,29.5,male\nSP.POP.TOTL,GBR,2022,67026000,\n"},
	}
	want["who.NCD_PAA|GBR|2020"] = 31.5
	want["who.NCD_PAA|GB-MAN|2020"] = 35.25
	want["SP.POP.TOTL|GB-MAN|2021"] = 2867800
	want["who.NCD_PAA|GBR|2021-Q2"] = 30.75
	want["who.NCD_PAA|GBR|2022-03"] = 29.5
	want["SP.POP.TOTL|GBR|2022"] = 67026000

	var batches []string
	for _, p := range pushes {
		status, s := push(p.ct, "", p.body)
		require.Equal(t, http.StatusOK, status, "%+v", s)
		require.NotEmpty(t, s.BatchID)
		batches = append(batches, s.BatchID)
	}
	require.Equal(t, gateway.StatusWarning, func() string { _, s := push("application/x-ndjson", "dry_run=true", pushes[1].body); return s.Status }())

	loaded := func(id string, rows int) gateway.BatchStatus {
		t.Helper()
		var st gateway.BatchStatus
		require.Eventually(t, func() bool {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/batches/"+id, nil)
			req.Header.Set("Authorization", "Bearer "+key)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			st = gateway.BatchStatus{}
			if json.NewDecoder(resp.Body).Decode(&st) != nil {
				return false
			}
			return st.State == gateway.BatchLoaded && st.RowsLoaded == st.RowsPublished && st.RowsPublished == rows
		}, 20*time.Second, 50*time.Millisecond, "batch %s loaded", id)
		return st
	}
	for _, id := range batches {
		st := loaded(id, 2)
		// Every key is new: nothing was stored before.
		require.NotNil(t, st.RowsImported, "the loader classifies a partner's rows")
		require.Equal(t, [3]int{2, 0, 0}, [3]int{*st.RowsImported, *st.RowsUpdated, *st.RowsIgnored})
	}

	// A correction: one value repeated, one changed, one new.
	status, s = push("application/json", "", `{"observations":[
			{"indicator":"who.NCD_PAA","geo":"GBR","period":"2020","value":31.5,"dims":{"sex":"female"}},
			{"indicator":"who.NCD_PAA","geo":"GB-MAN","period":"2020","value":36,"dims":{"sex":"female"}},
			{"indicator":"who.NCD_PAA","geo":"GBR","period":"2023","value":28,"dims":{"sex":"female"}}]}`)
	require.Equal(t, http.StatusOK, status, "%+v", s)
	st := loaded(s.BatchID, 3)
	require.NotNil(t, st.RowsImported)
	require.Equal(t, [3]int{1, 1, 1}, [3]int{*st.RowsImported, *st.RowsUpdated, *st.RowsIgnored}, "imported, updated, ignored")
	want["who.NCD_PAA|GB-MAN|2020"] = 36
	want["who.NCD_PAA|GBR|2023"] = 28

	// The same rows with the same versions pushed twice: JetStream keeps
	// one copy; the repeat's batch settles to "duplicate", its rows loaded
	// (by the first push) and ignored.
	repeat := `{"observations":[{"indicator":"who.NCD_PAA","geo":"GBR","period":"2024","value":27.5,"version":7}]}`
	status, s = push("application/json", "", repeat)
	require.Equal(t, http.StatusOK, status, "%+v", s)
	st = loaded(s.BatchID, 1)
	require.Zero(t, st.MessagesDuplicate)
	status, s = push("application/json", "", repeat)
	require.Equal(t, http.StatusOK, status, "%+v", s)
	require.NotNil(t, s.Counts.Ignored)
	require.Equal(t, 1, *s.Counts.Ignored, "JetStream held the message already")
	var dup gateway.BatchStatus
	require.Eventually(t, func() bool {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/batches/"+s.BatchID, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		dup = gateway.BatchStatus{}
		return json.NewDecoder(resp.Body).Decode(&dup) == nil && dup.State == gateway.BatchDuplicate
	}, 20*time.Second, 50*time.Millisecond, "the repeat's batch never settled: %+v", dup)
	require.Equal(t, 1, dup.MessagesDuplicate)
	require.Equal(t, 1, dup.MessagesLoaded)
	require.Equal(t, 1, dup.RowsLoaded)
	require.NotNil(t, dup.LoadedAt)
	require.Equal(t, [3]int{0, 0, 1}, [3]int{*dup.RowsImported, *dup.RowsUpdated, *dup.RowsIgnored})
	want["who.NCD_PAA|GBR|2024"] = 27.5

	// An atomic push of several NATS messages (one JetStream atomic
	// batch) is loaded and reported like any other.
	var nd strings.Builder
	for y := 1800; y < 2000; y++ {
		fmt.Fprintf(&nd, "{\"indicator\":\"SP.POP.TOTL\",\"geo\":\"GB-MAN\",\"period\":\"%d\",\"value\":%d}\n", y, 1000*y)
		want[fmt.Sprintf("SP.POP.TOTL|GB-MAN|%d", y)] = float64(1000 * y)
	}
	status, s = push("application/x-ndjson", "atomic=true", nd.String())
	require.Equal(t, http.StatusOK, status, "%+v", s)
	require.Greater(t, s.Messages, 1, "the push spans several messages")
	st = loaded(s.BatchID, 200)
	require.Equal(t, s.Messages, st.MessagesLoaded)
	require.NotNil(t, st.RowsImported)
	require.Equal(t, 200, *st.RowsImported)

	rows, err := ch.Conn.Query(context.Background(), fmt.Sprintf(
		"SELECT indicator, geo, grain, period_start, value, source FROM %s.observations FINAL WHERE source = 'partner:clinic-a'", ch.Database))
	require.NoError(t, err)
	got := map[string]float64{}
	for rows.Next() {
		var ind, geo, grain, source string
		var start int64
		var v float64
		require.NoError(t, rows.Scan(&ind, &geo, &grain, &start, &v, &source))
		code := periodCode(grain, start)
		got[ind+"|"+geo+"|"+code] = v
	}
	require.NoError(t, rows.Err())
	require.Equal(t, want, got, "the atomic push's 2019 rows are absent; FRA was rejected")

	// And back out of the query API, with the partner as their source.
	q, err := query.New(query.Config{}, ch.Conn, cat, zerolog.Nop(), prometheus.NewRegistry())
	require.NoError(t, err)
	fromAPI := map[string]float64{}
	for _, ind := range []string{"who.NCD_PAA", "SP.POP.TOTL"} {
		rec := httptest.NewRecorder()
		q.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/series?indicator="+ind+"&geo=GBR,GB-MAN", nil))
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		var body query.SeriesResponse
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
		for _, se := range body.Series {
			for _, p := range se.Points {
				require.Equal(t, "partner:clinic-a", p.Source)
				require.NotNil(t, p.Value)
				fromAPI[ind+"|"+se.Geo+"|"+p.Period] = *p.Value
			}
		}
	}
	require.Equal(t, want, fromAPI, "the query API answers what the partner pushed")
}

func periodCode(grain string, start int64) string {
	t := time.Unix(start, 0).UTC()
	switch grain {
	case "year":
		return t.Format("2006")
	case "quarter":
		return fmt.Sprintf("%d-Q%d", t.Year(), (int(t.Month())-1)/3+1)
	case "month":
		return t.Format("2006-01")
	}
	return t.Format("2006-01-02")
}
