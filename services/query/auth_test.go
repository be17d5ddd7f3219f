package query

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestTokensGuard(t *testing.T) {
	const (
		analyst = "analyst-token-0123456789"
		reader  = "reader-token-0123456789"
	)
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	call := func(tk tokens, level access, auth string) (int, string) {
		req := httptest.NewRequest(http.MethodGet, "/v1/x", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		tk.guard(level, ok).ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	both := newTokens(analyst, reader)
	onlyAnalyst := newTokens(analyst, "")
	none := newTokens("", "")

	for _, tc := range []struct {
		name   string
		tk     tokens
		level  access
		auth   string
		status int
		says   string
	}{
		{"open routes need nothing", both, accessOpen, "", 204, ""},
		{"reads open without a read token", onlyAnalyst, accessRead, "", 204, ""},
		{"reads need the read token when set", both, accessRead, "", 401, "read token"},
		{"read token reads", both, accessRead, "Bearer " + reader, 204, ""},
		{"analyst token reads", both, accessRead, "Bearer " + analyst, 204, ""},
		{"scheme is case-insensitive", both, accessRead, "bearer " + reader, 204, ""},
		{"wrong token", both, accessRead, "Bearer nope", 401, "not valid"},
		{"basic auth is refused", both, accessRead, "Basic " + reader, 401, "must be"},
		{"writes need a token", onlyAnalyst, accessWrite, "", 401, "analyst token"},
		{"analyst token writes", onlyAnalyst, accessWrite, "Bearer " + analyst, 204, ""},
		{"read token cannot write", both, accessWrite, "Bearer " + reader, 401, "cannot write"},
		{"no analyst token: writes disabled", none, accessWrite, "Bearer " + analyst, 401, "writes are disabled"},
		{"a prefix of the token is not the token", onlyAnalyst, accessWrite, "Bearer " + analyst[:10], 401, "not valid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := call(tc.tk, tc.level, tc.auth)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			if tc.says != "" && !strings.Contains(body, tc.says) {
				t.Fatalf("body %s does not say %q", body, tc.says)
			}
			if status == 401 && !strings.Contains(body, `"code":"unauthorized"`) {
				t.Fatalf("body %s lacks the unauthorized code", body)
			}
		})
	}
}

func TestConfigRefusesWeakTokens(t *testing.T) {
	for _, c := range []Config{
		{AnalystToken: "short"},
		{ReadToken: "short"},
		{AnalystToken: "same-token-0123456789", ReadToken: "same-token-0123456789"},
	} {
		if err := c.WithDefaults().Validate(); err == nil {
			t.Errorf("config %+v accepted", c)
		}
	}
	if err := (Config{AnalystToken: "analyst-token-0123456789", ReadToken: "reader-token-0123456789"}).WithDefaults().Validate(); err != nil {
		t.Errorf("good tokens refused: %v", err)
	}
}
