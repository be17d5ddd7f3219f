package extnats_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/extnats"
	"github.com/ounce-data/ounce/pkg/testenv"
)

func TestRedactURLHidesEveryPassword(t *testing.T) {
	for in, want := range map[string]string{
		"nats://127.0.0.1:4222":                             "nats://127.0.0.1:4222",
		"nats://svc:s3cret@a:4222,nats://svc:s3cret@b:4222": "nats://svc:xxxxx@a:4222,nats://svc:xxxxx@b:4222",
		"nats://s3cret@a:4222":                              "nats://xxxxx@a:4222",
		"nats://svc:s3cret@[::1:4222":                       "xxxxx@[::1:4222",
		"nats://a:4222, tls://svc:p%40ss@b:4443":            "nats://a:4222,tls://svc:xxxxx@b:4443",
	} {
		got := extnats.RedactURL(in)
		require.Equal(t, want, got, in)
		require.NotContains(t, got, "s3cret")
	}
}

// A password in the URL never reaches an error, whatever the failure.
func TestConnectErrorsCarryNoPassword(t *testing.T) {
	closed := "nats://svc:s3cret-pw@" + testenv.FreeAddr(t)
	_, _, err := extnats.Connect(extnats.Client{URL: closed}, "t", zerolog.Nop())
	require.Error(t, err)
	require.NotContains(t, err.Error(), "s3cret-pw")
	require.Contains(t, err.Error(), "svc:xxxxx@")

	ns := testenv.StartNATS(t)
	wrong := "nats://svc:s3cret-pw@" + ns.Server.Addr().String()
	_, _, err = extnats.Connect(extnats.Client{URL: wrong}, "t", zerolog.Nop())
	require.ErrorContains(t, err, "Authorization Violation")
	require.ErrorContains(t, err, "--nats-nkey, --nats-creds")
	require.NotContains(t, err.Error(), "s3cret-pw")
}

func TestClientValidateNamesTheFlag(t *testing.T) {
	dir := t.TempDir()
	seed := filepath.Join(dir, "svc.nk")
	require.NoError(t, os.WriteFile(seed, []byte("x"), 0o600))
	require.NoError(t, extnats.Client{URL: "nats://a", NKey: seed}.Validate())
	err := extnats.Client{URL: "nats://a", NKey: seed, Creds: seed, TLSCert: seed, TLSCA: filepath.Join(dir, "nope.pem")}.Validate()
	require.ErrorContains(t, err, "--nats-creds and --nats-nkey: give one way")
	require.ErrorContains(t, err, "--nats-tls-cert and --nats-tls-key go together")
	require.ErrorContains(t, err, "--nats-tls-ca: stat "+filepath.Join(dir, "nope.pem"))

	// The seed-file fallback applies only when no credentials are given.
	require.Equal(t, seed, extnats.Client{URL: "nats://a"}.OrSeedFile(seed).NKey)
	require.Empty(t, extnats.Client{URL: "nats://u:p@a"}.OrSeedFile(seed).NKey)
	require.Equal(t, "/other", extnats.Client{URL: "nats://a", NKey: "/other"}.OrSeedFile(seed).NKey)
	require.Empty(t, extnats.Client{URL: "nats://a"}.OrSeedFile(filepath.Join(dir, "absent")).NKey)
}

// A CA file that holds no certificate is refused before dialling, naming the flag.
func TestConnectRefusesABadCAFile(t *testing.T) {
	ns := testenv.StartNATS(t)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(ca, []byte("not pem"), 0o600))
	_, _, err := extnats.Connect(extnats.Client{URL: ns.URL, NKey: ns.Client.NKey, TLSCA: ca}, "t", zerolog.Nop())
	require.ErrorContains(t, err, "--nats-tls-ca "+ca+": no PEM certificate")
}
