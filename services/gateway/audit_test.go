package gateway_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/httpapi"
	"github.com/ounce-data/ounce/services/gateway"
)

// auditLine is the part of a push's audit line the tests read.
type auditLine struct {
	Audit     bool   `json:"audit"`
	Partner   string `json:"partner"`
	Status    string `json:"status"`
	Code      string `json:"code"`
	BatchID   string `json:"batch_id"`
	RequestID string `json:"request_id"`
	Received  int    `json:"received"`
	Accepted  int    `json:"accepted"`
	Rejected  int    `json:"rejected"`
	DryRun    bool   `json:"dry_run"`
	Replayed  bool   `json:"replayed"`
}

func auditLines(t *testing.T, f *fixture) []auditLine {
	t.Helper()
	var out []auditLine
	for _, line := range strings.Split(strings.TrimSpace(f.logs.String()), "\n") {
		var a auditLine
		require.NoError(t, json.Unmarshal([]byte(line), &a), line)
		if a.Audit {
			out = append(out, a)
		}
	}
	return out
}

// Every push, accepted or refused, leaves one audit line: who pushed, what
// came of it, how many rows, the batch id and the request id.
func TestPushesAudited(t *testing.T) {
	f := newFixture(t, gateway.Config{})
	bad := `{"indicator":"who.NCD_PAA","geo":"GBR","period":"2024","value":"lots"}`
	rec := f.push(t, f.keyA, gateway.FormatJSON, "", jsonBody(good, bad), httpapi.RequestIDHeader, "push-1", "Idempotency-Key", "k-1")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	batch := summary(t, rec).BatchID
	rec = f.push(t, f.keyA, gateway.FormatJSON, "", jsonBody(good, bad), "Idempotency-Key", "k-1")
	require.Equal(t, "true", rec.Header().Get("Idempotent-Replayed"))
	rec = f.push(t, "", gateway.FormatJSON, "", jsonBody(good))
	require.Equal(t, http.StatusUnauthorized, rec.Code)

	lines := auditLines(t, f)
	require.Len(t, lines, 3)
	require.Equal(t, auditLine{Audit: true, Partner: "clinic-a", Status: gateway.StatusWarning, BatchID: batch, RequestID: "push-1",
		Received: 2, Accepted: 1, Rejected: 1}, lines[0])
	require.True(t, lines[1].Replayed)
	require.Equal(t, batch, lines[1].BatchID)
	require.Equal(t, "", lines[2].Partner)
	require.Equal(t, "refused", lines[2].Status)
	require.Equal(t, string(httpapi.CodeUnauthorized), lines[2].Code)
}
