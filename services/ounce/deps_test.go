package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// repoRoot is the directory of go.work above the working directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, dir, parent, "no go.work above the working directory")
		dir = parent
	}
}

// The house's dependency rules, read from the build graph: a service module
// requires no other service module (only ounce, which composes them, does);
// a standalone binary does not link the NATS server (only ounce dev embeds
// one); a binary that never talks to ClickHouse does not link its driver;
// every module names the same Go version.
func TestDependencyRules(t *testing.T) {
	root := repoRoot(t)
	const (
		natsServer = "github.com/nats-io/nats-server/v2/server"
		chDriver   = "github.com/ClickHouse/clickhouse-go/v2"
		services   = "github.com/ounce-data/ounce/services/"
	)
	for _, tc := range []struct {
		binary     string
		clickhouse bool // talks to ClickHouse
	}{
		{"./services/gateway/cmd/ounce-gateway", false},
		{"./services/ingest/cmd/ounce-ingest", false},
		{"./services/loader/cmd/ounce-loader", true},
		{"./services/query/cmd/ounce-query", true},
	} {
		cmd := exec.Command("go", "list", "-deps", tc.binary)
		cmd.Dir = root
		out, err := cmd.Output()
		require.NoError(t, err, tc.binary)
		deps := strings.Fields(string(out))
		own := services + strings.SplitN(strings.TrimPrefix(tc.binary, "./services/"), "/", 2)[0]
		for _, d := range deps {
			require.NotEqual(t, natsServer, d, "%s links the NATS server; only ounce dev embeds one (pkg/natsserver)", tc.binary)
			if !tc.clickhouse {
				require.NotEqual(t, chDriver, d, "%s links the ClickHouse driver, which it never uses", tc.binary)
			}
			if strings.HasPrefix(d, services) {
				require.True(t, d == own || strings.HasPrefix(d, own+"/"), "%s imports another service's package %s; move the contract to pkg/", tc.binary, d)
			}
		}
	}

	mods, err := filepath.Glob(filepath.Join(root, "*", "go.mod"))
	require.NoError(t, err)
	more, err := filepath.Glob(filepath.Join(root, "services", "*", "go.mod"))
	require.NoError(t, err)
	mods = append(mods, more...)
	require.GreaterOrEqual(t, len(mods), 7, "pkg, schemas and five service modules")
	goVersion := ""
	for _, m := range mods {
		cmd := exec.Command("go", "mod", "edit", "-json", m)
		out, err := cmd.Output()
		require.NoError(t, err, m)
		var mod struct {
			Module  struct{ Path string }
			Go      string
			Require []struct{ Path string }
		}
		require.NoError(t, json.Unmarshal(out, &mod), m)
		if goVersion == "" {
			goVersion = mod.Go
		}
		require.Equal(t, goVersion, mod.Go, "%s names Go %s, others %s", m, mod.Go, goVersion)
		if mod.Module.Path == services+"ounce" {
			continue // composes the services into ounce dev
		}
		for _, r := range mod.Require {
			require.False(t, strings.HasPrefix(r.Path, services), "%s requires the service module %s; move the contract to pkg/", m, r.Path)
		}
	}
}
