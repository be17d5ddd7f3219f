package ingest_test

import (
	"testing"

	"github.com/ounce-data/ounce/pkg/testenv"
)

// TestMain fails the package when a test leaves goroutines behind: a feed
// run that returned must not leave fetches or publishes running.
func TestMain(m *testing.M) {
	testenv.Main(m)
}
