package main

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when run leaves goroutines behind after exit.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
