package query

import "testing"

func TestIndicatorTagMatch(t *testing.T) {
	for _, tc := range []struct {
		ifMatch string
		rev     uint64
		want    bool
	}{
		{`"v7"`, 7, true},
		{`"v7-3q2-7wAJFvA0f8B4bq4FHFbA"`, 7, true}, // the tag GET answers
		{`"v70"`, 7, false},
		{`"v7"`, 8, false},
		{`W/"v7"`, 7, false}, // If-Match compares strongly
		{`*`, 7, true},
		{`"v1", "v7"`, 7, true},
		{`v7`, 7, false},
		{``, 7, false},
	} {
		if got := indicatorTagMatch(tc.ifMatch, tc.rev); got != tc.want {
			t.Errorf("indicatorTagMatch(%q, %d) = %v, want %v", tc.ifMatch, tc.rev, got, tc.want)
		}
	}
}
