package loader

import (
	"testing"

	"github.com/ounce-data/ounce/pkg/testenv"
)

// TestMain fails the package when a test leaves goroutines behind: a loader
// that returned from Run must not leave its puller, inserter or lag watcher.
func TestMain(m *testing.M) {
	testenv.Main(m)
}
