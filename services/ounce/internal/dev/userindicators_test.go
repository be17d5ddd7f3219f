package dev

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/testenv"
	"github.com/ounce-data/ounce/services/ounce/internal/partners"
)

// A council measures what the catalogue lacks, end to end through real
// servers and no restart: it registers user.testcouncil.screening_rate
// (a ratio of two user indicators of its own) on the query API, registers
// itself as a partner granted it (`ounce partners add`), pushes its rows
// through the gateway, which the loader loads; GET /v1/series serves them
// back, and an initiative targeting the indicator computes its savings.
// The values are synthetic: a test council's own, not open data.
func TestIntegrationDevUserIndicatorEndToEnd(t *testing.T) {
	ch := testenv.StartClickHouse(t)
	dataDir := t.TempDir()
	queryAddr, gatewayAddr := testenv.FreeAddr(t), testenv.FreeAddr(t)
	const token = "analyst-token-for-dev-tests-0123"
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var logs testenv.SyncBuffer
	go func() {
		done <- Run(ctx, []string{
			"--data-dir", dataDir, "--nats-port", "-1", "--clickhouse-dsn", ch.DSN, "--no-ingest", "--analyst-token", token,
			"--query-addr", queryAddr, "--gateway-addr", gatewayAddr, "--log-format", "json",
		}, &logs)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err, logs.String())
		case <-time.After(60 * time.Second):
			t.Error("ounce dev did not stop within 60s")
		}
	})
	var natsURL string
	require.Eventually(t, func() bool {
		natsURL = logField(logs.String(), "embedded nats started", "nats_url")
		return natsURL != "" && strings.Contains(logs.String(), "ounce dev is up")
	}, 60*time.Second, 20*time.Millisecond, "ounce dev did not come up:\n%s", &logs)

	send := func(method, url, body string, header ...string) (int, []byte) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, b
	}
	analyst := []string{"Authorization", "Bearer " + token}
	query := "http://" + queryAddr

	// 1. The council registers its indicator, and the parts it is a ratio of.
	registered := time.Now()
	for _, doc := range []string{
		`{"code": "user.testcouncil.screened", "name": "Residents screened (synthetic)", "unit": "people",
		  "polarity": "higher", "domain": "health", "aggregation": {"method": "sum"}, "licence": "OGL-UK-3.0"}`,
		`{"code": "user.testcouncil.eligible", "name": "Residents eligible (synthetic)", "unit": "people",
		  "polarity": "neutral", "domain": "health", "aggregation": {"method": "sum"}, "licence": "OGL-UK-3.0"}`,
		`{"code": "user.testcouncil.screening_rate", "name": "Bowel screening uptake (synthetic)",
		  "description": "Share of the eligible residents screened in the year; synthetic test data.",
		  "unit": "% of eligible", "scale": 100, "polarity": "higher", "domain": "health",
		  "aggregation": {"method": "ratio", "numerator": "user.testcouncil.screened", "denominator": "user.testcouncil.eligible"},
		  "licence": "OGL-UK-3.0", "range": {"min": 0, "max": 100}}`,
	} {
		status, body := send(http.MethodPost, query+"/v1/indicators", doc, analyst...)
		require.Equal(t, http.StatusCreated, status, "%s", body)
	}

	// 2. It registers as a partner granted the indicator: `ounce partners
	// add` checks the grant against the user indicators in NATS.
	var out, errOut bytes.Buffer
	err := partners.Run(ctx, []string{"add", "--id", "testcouncil", "--name", "Test Council",
		"--indicators", "user.testcouncil.screening_rate", "--places", "GB-MAN", "--licence", "OGL-UK-3.0",
		"--nats-url", natsURL, "--data-dir", dataDir}, &out, &errOut)
	require.NoError(t, err, errOut.String())
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	key := lines[len(lines)-1]
	require.True(t, strings.HasPrefix(key, "ounce_testcouncil_"), out.String())

	// 3. It pushes its rows through the gateway.
	values := []float64{52, 53.5, 54, 55.5, 56.5, 59, 60.5, 62}
	var rows []string
	for i, v := range values {
		rows = append(rows, fmt.Sprintf(`{"indicator":"user.testcouncil.screening_rate","geo":"GB-MAN","period":"%d","value":%g}`, 2015+i, v))
	}
	push := `{"observations":[` + strings.Join(rows, ",") + `]}`
	var batch string
	require.Eventually(t, func() bool { // the partner's key reaches the gateway's registry cache
		status, body := send(http.MethodPost, "http://"+gatewayAddr+"/v1/observations", push, "Authorization", "Bearer "+key)
		if status == http.StatusUnauthorized {
			return false
		}
		require.Equal(t, http.StatusOK, status, "%s", body)
		var sum struct {
			Status  string `json:"status"`
			BatchID string `json:"batch_id"`
			Counts  struct {
				Accepted int `json:"accepted"`
			} `json:"counts"`
		}
		require.NoError(t, json.Unmarshal(body, &sum))
		require.Equal(t, "SUCCESS", sum.Status, "%s", body)
		require.Equal(t, len(values), sum.Counts.Accepted)
		batch = sum.BatchID
		return true
	}, 10*time.Second, 20*time.Millisecond)

	// 4. The loader loads them: the batch says so.
	require.Eventually(t, func() bool {
		status, body := send(http.MethodGet, "http://"+gatewayAddr+"/v1/batches/"+batch, "", "Authorization", "Bearer "+key)
		var st struct {
			State      string `json:"state"`
			RowsLoaded int    `json:"rows_loaded"`
		}
		return status == http.StatusOK && json.Unmarshal(body, &st) == nil && st.State == "loaded" && st.RowsLoaded == len(values)
	}, 30*time.Second, 20*time.Millisecond, "the batch was never loaded:\n%s", &logs)
	t.Logf("registered to loaded in %s", time.Since(registered).Round(time.Millisecond))

	// 5. GET /v1/series serves them back, with the partner's provenance.
	status, body := send(http.MethodGet, query+"/v1/series?indicator=user.testcouncil.screening_rate&geo=GB-MAN", "")
	require.Equal(t, http.StatusOK, status, "%s", body)
	var series struct {
		Indicator struct {
			Code, Name, Unit string
		} `json:"indicator"`
		seriesBody
	}
	require.NoError(t, json.Unmarshal(body, &series))
	require.Equal(t, "% of eligible", series.Indicator.Unit)
	require.Len(t, series.Series, 1)
	require.Len(t, series.Series[0].Points, len(values))
	for i, p := range series.Series[0].Points {
		require.Equal(t, fmt.Sprint(2015+i), p.Period)
		require.Equal(t, values[i], p.Value)
		require.Equal(t, "partner:testcouncil", p.Source)
		require.Equal(t, "OGL-UK-3.0", p.Provenance.Licence)
	}
	status, body = send(http.MethodGet, query+"/v1/indicators/user.testcouncil.screening_rate", "")
	require.Equal(t, http.StatusOK, status)
	var entry struct {
		Origin   string `json:"origin"`
		Coverage struct {
			Rows  int    `json:"rows"`
			First string `json:"first"`
			Last  string `json:"last"`
		} `json:"coverage"`
	}
	require.NoError(t, json.Unmarshal(body, &entry))
	require.Equal(t, "user", entry.Origin)
	require.Equal(t, len(values), entry.Coverage.Rows)
	require.Equal(t, "2015", entry.Coverage.First)

	// 6. An initiative targets it, and its savings report computes.
	status, body = send(http.MethodPost, query+"/v1/initiatives", `{"id": "testcouncil-reminders",
	  "name": "Screening reminder letters (synthetic)", "domain": "health",
	  "indicator": "user.testcouncil.screening_rate", "geo": "GB-MAN", "start_year": 2019, "method": "its",
	  "population": {"value": 20000}, "scale": 0.01,
	  "unit_costs": [{"agency": "NHS", "amount": 250, "currency": "GBP", "price_year": 2020}],
	  "costs": [{"year": 2019, "amount": 15000}, {"year": 2020, "amount": 15000}],
	  "cba": {"horizon": 4, "discount": 0.035}}`, analyst...)
	require.Equal(t, http.StatusCreated, status, "%s", body)
	status, body = send(http.MethodGet, query+"/v1/initiatives/testcouncil-reminders/savings", "")
	require.Equal(t, http.StatusOK, status, "%s", body)
	var report struct {
		Method string `json:"method"`
		Years  []struct {
			Observed       *float64 `json:"observed"`
			Counterfactual *float64 `json:"counterfactual"`
		} `json:"years"`
		Totals struct {
			PVBenefits json.Number `json:"pv_benefits"`
			PVCosts    json.Number `json:"pv_costs"`
		} `json:"totals"`
	}
	require.NoError(t, json.Unmarshal(body, &report))
	require.Equal(t, "its", report.Method)
	require.NotEmpty(t, report.Years)
	require.NotNil(t, report.Years[0].Observed)
	require.Equal(t, values[2019-2015], *report.Years[0].Observed, "2019's pushed value")
	require.NotNil(t, report.Years[0].Counterfactual)
	require.NotEmpty(t, report.Totals.PVCosts.String())

	// In use now, it cannot be deleted.
	status, body = send(http.MethodDelete, query+"/v1/indicators/user.testcouncil.screening_rate", "", analyst...)
	require.Equal(t, http.StatusConflict, status, "%s", body)
	require.Contains(t, string(body), "8 from partner:testcouncil")
	require.Contains(t, string(body), "testcouncil-reminders")
}
