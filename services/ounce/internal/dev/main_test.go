package dev

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves goroutines behind: when
// ounce dev returns, every service it ran has stopped.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
