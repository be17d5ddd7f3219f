package query

import "testing"

func TestDefuseCell(t *testing.T) {
	for in, want := range map[string]string{
		"":               "",
		"GBR":            "GBR",
		"-1.5":           "-1.5",
		"+3":             "+3",
		"=HYPERLINK(1)":  "'=HYPERLINK(1)",
		"@SUM(A1)":       "'@SUM(A1)",
		"-cmd|' /C calc": "'-cmd|' /C calc",
		"\tx":            "'\tx",
	} {
		if got := defuseCell(in); got != want {
			t.Errorf("defuseCell(%q) = %q, want %q", in, got, want)
		}
	}
}
