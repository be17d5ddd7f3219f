package feeds

import "strings"

// SnakeCase is s in lower-case ASCII letters and digits, every other run of
// characters one '_', none at either end: how a publisher's dimension type
// becomes a dims key (SEX → sex, "Residence Area Type" → residence_area_type)
// and how Socrata writes names into field names (North Carolina →
// north_carolina).
func SnakeCase(s string) string { return words(s, '_') }

// Slug is s in lower-case ASCII letters and digits, every other run of
// characters one '-', none at either end: a place code made of a name
// (Asia (excl. China & India) → asia-excl-china-india).
func Slug(s string) string { return words(s, '-') }

// words is s in lower-case ASCII letters and digits, every other run of
// characters one sep, none at either end.
func words(s string, sep byte) string {
	var b strings.Builder
	b.Grow(len(s))
	cut := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		default:
			cut = b.Len() > 0
			continue
		}
		if cut {
			b.WriteByte(sep)
			cut = false
		}
		b.WriteByte(c)
	}
	return b.String()
}
