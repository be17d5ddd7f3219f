package loader

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves goroutines behind: a loader
// that returned from Run must not leave its puller, inserter or lag watcher.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
