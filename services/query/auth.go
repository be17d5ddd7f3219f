package query

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/ounce-data/ounce/pkg/httpapi"
)

// access is who may call a route.
type access int

const (
	accessOpen  access = iota // health, metrics, this API's document, the dashboard's assets
	accessRead                // data: open unless Config.ReadToken is set
	accessWrite               // initiatives: the analyst token only
)

// tokens checks bearer tokens in constant time. Only their SHA-256 digests
// are kept, so the comparison takes the same time whatever the length.
type tokens struct {
	analyst, read [sha256.Size]byte
	hasAnalyst    bool
	hasRead       bool
}

func newTokens(analyst, read string) tokens {
	var t tokens
	if analyst != "" {
		t.analyst, t.hasAnalyst = sha256.Sum256([]byte(analyst)), true
	}
	if read != "" {
		t.read, t.hasRead = sha256.Sum256([]byte(read)), true
	}
	return t
}

// guard wraps h so that it answers 401 unauthorized unless the request
// carries a token good for level.
func (t tokens) guard(level access, h http.Handler) http.Handler {
	if level == accessOpen || (level == accessRead && !t.hasRead) {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e := t.check(level, r); e != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ounce"`)
			httpapi.WriteError(w, e)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (t tokens) check(level access, r *http.Request) *httpapi.Error {
	if level == accessWrite && !t.hasAnalyst {
		return httpapi.Errorf(httpapi.CodeUnauthorized, "Authorization",
			"writes are disabled: this server has no analyst token; start it with OUNCE_ANALYST_TOKEN set")
	}
	raw := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(raw, " ")
	if raw == "" {
		what := "the analyst token"
		if level == accessRead {
			what = "the read token (or the analyst token)"
		}
		return httpapi.Errorf(httpapi.CodeUnauthorized, "Authorization", "send %s as Authorization: Bearer <token>", what)
	}
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return httpapi.Errorf(httpapi.CodeUnauthorized, "Authorization", "the Authorization header must be \"Bearer <token>\"")
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	analyst := t.hasAnalyst && subtle.ConstantTimeCompare(sum[:], t.analyst[:]) == 1
	read := t.hasRead && subtle.ConstantTimeCompare(sum[:], t.read[:]) == 1
	if analyst || (level == accessRead && read) {
		return nil
	}
	if level == accessWrite && read {
		return httpapi.Errorf(httpapi.CodeUnauthorized, "Authorization", "the read token cannot write; use the analyst token")
	}
	return httpapi.Errorf(httpapi.CodeUnauthorized, "Authorization", "the token is not valid")
}
