package main

import (
	"testing"

	"github.com/ounce-data/ounce/pkg/testenv"
)

// TestMain fails the package when run leaves goroutines behind after exit.
func TestMain(m *testing.M) {
	testenv.Main(m)
}
