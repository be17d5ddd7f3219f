package gho

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

var scanSeeds = []string{
	`{}`, `[]`, `null`, `true`, `false`, `0`, `-0`, `-0.5e+10`, `1E5`, `01`, `1.`, `.5`, `-`, `+1`,
	`"a"`, `"\u00e9\n\"\\\/"`, `"\u12"`, `"\x"`, "\"a\x01\"", "\"\xff\"", `"é"`,
	`{"a":[1,2,{"b":null}],"c":"d"}`, `{"a" 1}`, `{"a":1,}`, `[1,]`, `[1 2]`, `{1:2}`,
	`  [ 1 , 2 ]  `, `nul`, `tru`, `[`, `{"a":`, `"abc`, "0\x00", "\x00",
}

// checkSkip: skip reads a value followed only by white space exactly when
// encoding/json calls the input valid.
func checkSkip(t *testing.T, in []byte) {
	s := scanner{buf: in}
	_, err := s.skip()
	ok := err == nil && s.atEnd()
	require.Equal(t, json.Valid(in), ok, "%q: skip error %v", in, err)
}

func TestSkipMatchesValid(t *testing.T) {
	for _, in := range scanSeeds {
		checkSkip(t, []byte(in))
	}
}

// FuzzSkip checks the scanner's grammar against encoding/json's.
func FuzzSkip(f *testing.F) {
	for _, in := range scanSeeds {
		f.Add([]byte(in))
	}
	f.Fuzz(checkSkip)
}

// FuzzString checks decoded strings against encoding/json's.
func FuzzString(f *testing.F) {
	for _, in := range scanSeeds {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		s := scanner{buf: in}
		got, err := s.str()
		var want string
		werr := json.Unmarshal(in[:s.pos], &want)
		if err != nil {
			return
		}
		require.NoError(t, werr, "%q", in)
		require.Equal(t, want, string(got))
	})
}
