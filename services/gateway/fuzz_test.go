package gateway_test

import (
	"net/http"
	"testing"

	"github.com/ounce-data/ounce/services/gateway"
)

// fuzzPush drives the handler with arbitrary bodies of one format: the
// answer is never a 5xx and the handler never panics.
func fuzzPush(f *testing.F, format string, seeds ...string) {
	for _, s := range seeds {
		f.Add([]byte(s), false)
	}
	fx := newFixture(f, gateway.Config{})
	f.Fuzz(func(t *testing.T, body []byte, atomic bool) {
		q := "dry_run=true"
		if atomic {
			q += "&atomic=true"
		}
		rec := fx.push(t, fx.keyA, format, q, body)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body.String())
		}
		if rec.Code != http.StatusOK && rec.Code != http.StatusUnprocessableEntity && rec.Code != http.StatusBadRequest && rec.Code != http.StatusForbidden {
			t.Fatalf("unexpected status %d: %s", rec.Code, rec.Body.String())
		}
	})
}

func FuzzPushJSON(f *testing.F) {
	fuzzPush(f, gateway.FormatJSON,
		string(jsonBody(good)),
		`{"observations":[{"indicator":"who.NCD_PAA","geo":"GBR","period":{"grain":"quarter","start":"2020-04-01"},"value":"1e2","dims":{"sex":"f"},"version":"7"}]}`,
		`{"observations":[1,"x",null,{"value":[]}]}`,
		`{"observations":[{"indicator":"who.NCD_PAA","geo":"GBR","period":"2019-08-25T12:30Z","value":-0}]}`,
		`{}`, `[]`, `{"observations":{}}`)
}

func FuzzPushNDJSON(f *testing.F) {
	fuzzPush(f, gateway.FormatNDJSON,
		good+"\n"+good,
		"{\"indicator\":\"SP.POP.TOTL\",\"geo\":\"GB-MAN\",\"period\":\"2020\",\"value\":1e309}\n\n{",
		"null\n[]\n\"x\"\n")
}

func FuzzPushCSV(f *testing.F) {
	fuzzPush(f, gateway.FormatCSV,
		"indicator,geo,period,value,dim.sex\nwho.NCD_PAA,GBR,2020,1,f\n",
		"\xef\xbb\xbfINDICATOR,Geo,period,value,unit\nwho.NCD_PAA,GBR,2020-Q1,\"1\"\"\",%\n",
		"indicator,geo,period,value\n\"unterminated\n",
		"indicator,geo,period,value,version\na,b,c,d,e,f\n")
}
