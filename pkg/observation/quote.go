package observation

import (
	"strconv"
	"unicode/utf8"
)

// MaxQuoted is how many bytes of a bad value an error message quotes, so
// that an answer to bad input is never larger than a page whatever the
// input's size.
const MaxQuoted = 64

// Quote is s quoted as Go quotes it (%q), cut after MaxQuoted bytes at a
// character boundary, with the whole length said:
// "abcd…" (70000 bytes).
func Quote(s string) string {
	if len(s) <= MaxQuoted {
		return strconv.Quote(s)
	}
	cut := MaxQuoted
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]+"…") + " (" + strconv.Itoa(len(s)) + " bytes)"
}
