package ingest_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves goroutines behind: a feed
// run that returned must not leave fetches or publishes running.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
