package gateway_test

import (
	"testing"

	"github.com/ounce-data/ounce/pkg/testenv"
)

// TestMain fails the package when a test leaves goroutines behind: a
// gateway whose context ended must not leave its registry watch, claim
// renewals or rate-limit updates running.
func TestMain(m *testing.M) {
	testenv.Main(m)
}
