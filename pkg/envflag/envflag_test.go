package envflag

import (
	"flag"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseEnvironmentFallback(t *testing.T) {
	newFS := func() (*flag.FlagSet, *int, *string) {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		return fs, fs.Int("batch-rows", 5, ""), fs.String("nats-url", "default", "")
	}
	t.Setenv("OUNCE_LOADER_BATCH_ROWS", "42")
	t.Setenv("OUNCE_NATS_URL", "nats://shared:4222")

	fs, rows, url := newFS()
	require.NoError(t, Parse(fs, "LOADER", nil, "nats-url"))
	require.Equal(t, 42, *rows)
	require.Equal(t, "nats://shared:4222", *url)

	fs, rows, _ = newFS()
	require.NoError(t, Parse(fs, "LOADER", []string{"--batch-rows", "7"}, "nats-url"))
	require.Equal(t, 7, *rows, "the command line wins over the environment")

	t.Setenv("OUNCE_LOADER_NATS_URL", "nats://own:4222")
	fs, _, url = newFS()
	require.NoError(t, Parse(fs, "LOADER", nil, "nats-url"))
	require.Equal(t, "nats://own:4222", *url, "the service's own variable wins over the shared one")

	t.Setenv("OUNCE_LOADER_BATCH_ROWS", "many")
	fs, _, _ = newFS()
	require.ErrorContains(t, Parse(fs, "LOADER", nil), `environment OUNCE_LOADER_BATCH_ROWS="many" for --batch-rows`)
}
