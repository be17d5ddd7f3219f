package extch_test

import (
	"testing"

	"github.com/ounce-data/ounce/pkg/testenv"
)

// TestMain stops the ClickHouse the tests may have started and fails the
// package when a test leaves goroutines behind.
func TestMain(m *testing.M) {
	testenv.Main(m)
}
