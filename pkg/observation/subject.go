package observation

import (
	"fmt"
	"strings"
)

// Subject prefixes on NATS.
const (
	SubjectPrefix = "obs.v1"   // obs.v1.<domain>.<source>
	SubjectAll    = "obs.v1.>" // every observation subject
	DeadLetterAll = "dlq.obs.v1.>"
)

// Domains an observation subject may name.
var Domains = []string{"health", "waste", "carbon", "cost", "partner"}

// Subject is the NATS subject for observations of source in domain:
// obs.v1.<domain>.<source>, with partner:<id> written as obs.v1.partner.<id>.
func Subject(domain, source string) (string, error) {
	if id, ok := strings.CutPrefix(source, "partner:"); ok {
		domain, source = "partner", id
	}
	if !knownDomain(domain) {
		return "", fmt.Errorf("domain %q is not one of %s", domain, strings.Join(Domains, ", "))
	}
	if !sourceRE.MatchString(source) {
		return "", fmt.Errorf("source %q is not a valid subject token", source)
	}
	return SubjectPrefix + "." + domain + "." + source, nil
}

func knownDomain(d string) bool {
	for _, k := range Domains {
		if k == d {
			return true
		}
	}
	return false
}
