package extnats

import "testing"

func TestSupportsAtomicPublish(t *testing.T) {
	for v, want := range map[string]bool{
		"2.12.0": true, "2.15.2": true, "3.0.0": true, "2.11.9": false, "2.10.22": false, "1.4.1": false, "": false, "dev": false,
	} {
		if got := supportsAtomicPublish(v); got != want {
			t.Errorf("supportsAtomicPublish(%q) = %v, want %v", v, got, want)
		}
	}
}
