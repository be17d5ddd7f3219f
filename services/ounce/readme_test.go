package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ounce-data/ounce/pkg/testenv"
)

// example is one curl command of the README with the status it promises.
type example struct {
	line    int    // where it starts in the README
	command string // the whole command, continuation lines joined
	want    int    // 0: any 2xx
}

var expectedStatus = regexp.MustCompile(`#\s*→\s*(\d{3})`)

// readmeExamples returns every curl command in the README's sh blocks. A
// comment "# → 422 …" after a command says the status it answers; without
// one it must succeed.
func readmeExamples(t *testing.T, path string) []example {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var (
		out     []example
		inSh    bool
		cur     *example
		lineNum int
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lineNum++
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "```sh"):
			inSh = true
			continue
		case strings.HasPrefix(line, "```"):
			inSh = false
			continue
		case !inSh:
			continue
		}
		if cur == nil {
			if !strings.HasPrefix(line, "curl ") {
				continue
			}
			cur = &example{line: lineNum}
		}
		cur.command += line + "\n"
		if strings.HasSuffix(line, `\`) || strings.Count(cur.command, "'")%2 == 1 {
			continue // a continued line, or inside a quoted body
		}
		if m := expectedStatus.FindStringSubmatch(line); m != nil {
			cur.want, _ = strconv.Atoi(m[1])
		}
		out = append(out, *cur)
		cur = nil
	}
	require.NoError(t, sc.Err())
	return out
}

// withoutComment cuts a trailing "# …" comment off the last line of cmd.
func withoutComment(cmd string) string {
	cmd = strings.TrimRight(cmd, "\n")
	lines := strings.Split(cmd, "\n")
	last := lines[len(lines)-1]
	if i := strings.Index(last, "  #"); i >= 0 {
		lines[len(lines)-1] = strings.TrimRight(last[:i], " ")
	}
	return strings.Join(lines, "\n")
}

// Every curl command of the README runs against `ounce dev` on the
// recorded mirror, in the README's order, and answers the status it
// promises; the ones piped into jq give jq something to print.
func TestIntegrationREADMEExamples(t *testing.T) {
	mirror := testenv.SharedDataDir(t)
	if _, err := exec.LookPath("curl"); err != nil {
		if os.Getenv(testenv.EnvIntegration) == "1" {
			t.Fatal("curl is needed to run the README's examples")
		}
		t.Skip("no curl")
	}
	_, jqErr := exec.LookPath("jq")
	examples := readmeExamples(t, filepath.Join("..", "..", "README.md"))
	require.GreaterOrEqual(t, len(examples), 8, "the README's walkthrough has its curl commands")

	bin := build(t)
	queryAddr, gatewayAddr := testenv.FreeAddr(t), testenv.FreeAddr(t)
	const token = "readme-examples-token-0123456789"
	cmd := exec.Command(bin, "dev", "--data-dir", filepath.Join(t.TempDir(), "data"), "--mirror", mirror,
		"--nats-port", "-1", "--clickhouse-tcp-port", "-1", "--clickhouse-http-port", "-1",
		"--query-addr", queryAddr, "--gateway-addr", gatewayAddr, "--log-level", "warn")
	cmd.Env = append(os.Environ(), "OUNCE_ANALYST_TOKEN="+token)
	var logs testenv.SyncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	waitLoaded(t, "http://"+queryAddr, done, &logs)

	for _, ex := range examples {
		command := withoutComment(ex.command)
		command = strings.ReplaceAll(command, "http://127.0.0.1:8080", "http://"+queryAddr)
		command = strings.ReplaceAll(command, "http://127.0.0.1:8081", "http://"+gatewayAddr)
		request, pipe, piped := strings.Cut(command, " | ")
		name := fmt.Sprintf("README.md:%d", ex.line)

		body := filepath.Join(t.TempDir(), "body")
		out, err := shell(token, request+` -o `+body+` -w '%{http_code}'`)
		require.NoError(t, err, "%s: %s\n%s", name, command, out)
		status, err := strconv.Atoi(strings.TrimSpace(out))
		require.NoError(t, err, "%s: curl printed %q", name, out)
		answer, _ := os.ReadFile(body)
		if ex.want != 0 {
			require.Equal(t, ex.want, status, "%s: %s\n%s", name, command, answer)
		} else {
			require.True(t, status >= 200 && status < 300, "%s answered %d: %s\n%s", name, status, command, answer)
		}
		if piped && jqErr == nil {
			out, err := shell(token, "cat "+body+" | "+pipe)
			require.NoError(t, err, "%s: %s\n%s", name, pipe, out)
			require.NotEmpty(t, strings.TrimSpace(out), name)
			require.NotEqual(t, "null", strings.TrimSpace(out), "%s: %s prints null", name, pipe)
		}
	}
}

func shell(token, command string) (string, error) {
	c := exec.Command("bash", "-o", "pipefail", "-c", command)
	c.Env = append(os.Environ(), "OUNCE_ANALYST_TOKEN="+token)
	out, err := c.CombinedOutput()
	return string(out), err
}

// waitLoaded waits until every feed of the mirror has run and the loader
// has nothing left to load, as /metrics and /v1/feeds tell.
func waitLoaded(t *testing.T, base string, exited <-chan error, logs *testenv.SyncBuffer) {
	t.Helper()
	get := func(path string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return ""
		}
		return string(b)
	}
	idle := regexp.MustCompile(`(?m)^ounce_loader_(consumer_pending_messages|consumer_ack_pending_messages|open_batch_rows) 0$`)
	deadline := time.Now().Add(3 * time.Minute)
	for {
		select {
		case err := <-exited:
			t.Fatalf("ounce dev exited (%v):\n%s", err, logs.String())
		default:
		}
		feeds := get("/v1/feeds")
		if feeds != "" && !strings.Contains(feeds, `"never_run"`) && len(idle.FindAllString(get("/metrics"), -1)) == 3 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the mirror was not loaded within 3 minutes:\n%s", logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}
