package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// --help prints the command's own flags and exits 0; an unknown flag or a
// stray argument exits 2 with a message naming it.
func TestHelpAndUsageMistakes(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "ounce-gateway")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, string(out))

	out, err = exec.Command(bin, "--help").CombinedOutput()
	require.NoError(t, err, string(out))
	require.Contains(t, string(out), "Usage of ounce-gateway:")
	require.Contains(t, string(out), "--nats-url")

	for args, says := range map[string]string{
		"--no-such-flag": "flag provided but not defined: -no-such-flag",
		"stray":          `unexpected arguments ["stray"]`,
		"--max-rows=-1":  "max-rows -1",
	} {
		cmd := exec.Command(bin, args)
		cmd.Env = append(os.Environ(), "OUNCE_NATS_URL=nats://127.0.0.1:1")
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit, string(out))
		require.Equal(t, 2, exit.ExitCode(), string(out))
		require.Contains(t, string(out), says)
	}
}
