package dev

import (
	"testing"

	"github.com/ounce-data/ounce/pkg/testenv"
)

// TestMain fails the package when a test leaves goroutines behind: when
// ounce dev returns, every service it ran has stopped.
func TestMain(m *testing.M) {
	testenv.Main(m)
}
