package httpapi

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// CORS lets pages served from other origins (a notebook, a dashboard on
// another host) call an API from the browser. The zero value allows no
// origin: no Access-Control-* header is ever written.
type CORS struct {
	// Origins are the allowed origins, such as https://dash.example.org,
	// or "*" for any. Empty allows none.
	Origins []string
	// Writes extends CORS to the methods that change data (POST, PUT,
	// PATCH, DELETE); without it only GET and HEAD are allowed, so a page
	// elsewhere can read but never write.
	Writes bool
	// MaxAge is how long a browser may cache a preflight answer
	// (DefaultCORSMaxAge when zero).
	MaxAge time.Duration
}

// DefaultCORSMaxAge is how long browsers may cache a preflight answer.
const DefaultCORSMaxAge = 10 * time.Minute

var (
	corsReadMethods  = []string{http.MethodGet, http.MethodHead}
	corsWriteMethods = []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}
	// Request headers a cross-origin call may send: bearer tokens,
	// conditional requests, a request id and a JSON or CSV body.
	corsAllowHeaders = "Authorization, Accept, Content-Type, If-None-Match, If-Match, X-Request-Id"
	// Response headers a cross-origin page may read.
	corsExposeHeaders = "ETag, Location, Retry-After, X-Request-Id, Content-Disposition"
)

// ParseOrigins reads a comma-separated list of origins ("*", or
// scheme://host[:port] each) as a flag gives it; empty allows none.
func ParseOrigins(list string) ([]string, error) {
	var out []string
	for _, o := range strings.Split(list, ",") {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		if o != "*" {
			u, err := url.Parse(o)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
				return nil, fmt.Errorf("origin %q: want * or scheme://host[:port], such as https://dash.example.org", o)
			}
			o = u.Scheme + "://" + u.Host
		}
		out = append(out, o)
	}
	return out, nil
}

// Middleware answers preflight requests from allowed origins and adds the
// Access-Control-* headers to their requests. A request from an origin or
// with a method that is not allowed passes through without them, so the
// browser withholds the answer from the page.
func (c CORS) Middleware(next http.Handler) http.Handler {
	if len(c.Origins) == 0 {
		return next
	}
	anyOrigin := slices.Contains(c.Origins, "*")
	methods := corsReadMethods
	if c.Writes {
		methods = append(slices.Clone(corsReadMethods), corsWriteMethods...)
	}
	allowMethods := strings.Join(methods, ", ")
	maxAge := c.MaxAge
	if maxAge <= 0 {
		maxAge = DefaultCORSMaxAge
	}
	maxAgeSecs := strconv.Itoa(int(maxAge.Seconds()))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Add("Vary", "Origin")
		allowed := anyOrigin || slices.Contains(c.Origins, origin)
		allowOrigin := origin
		if anyOrigin {
			allowOrigin = "*"
		}
		preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
		if preflight {
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			if allowed && slices.Contains(methods, r.Header.Get("Access-Control-Request-Method")) {
				h.Set("Access-Control-Allow-Origin", allowOrigin)
				h.Set("Access-Control-Allow-Methods", allowMethods)
				h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
				h.Set("Access-Control-Max-Age", maxAgeSecs)
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if allowed && slices.Contains(methods, r.Method) {
			h.Set("Access-Control-Allow-Origin", allowOrigin)
			h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
		}
		next.ServeHTTP(w, r)
	})
}
