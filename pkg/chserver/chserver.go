// Package chserver runs a ClickHouse server from the local install
// (clickhouse-server, or clickhouse server) with a generated config and data
// directory: the ClickHouse that `ounce dev` and the tests start themselves.
package chserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/template"
	"time"
)

// Defaults of Config, as in the README.
const (
	DefaultTCPPort  = 19000
	DefaultHTTPPort = 18123
)

// Config says where and how to run the server.
type Config struct {
	Dir      string // data, logs and config live here; required
	Host     string // default 127.0.0.1
	TCPPort  int    // native protocol; 0 = DefaultTCPPort, -1 = a free port
	HTTPPort int    // 0 = DefaultHTTPPort, -1 = a free port
	Binary   string // path of clickhouse-server or clickhouse; found on PATH when empty
	// TCPPortFlag and HTTPPortFlag name the flags that set the ports, for errors.
	TCPPortFlag, HTTPPortFlag string
}

// Server is a running ClickHouse process.
type Server struct {
	cmd      *exec.Cmd
	done     chan struct{}
	waitErr  error
	Host     string
	TCPPort  int
	HTTPPort int
	Dir      string
}

// FindBinary returns the command that starts a ClickHouse server from the
// local install: clickhouse-server, or the single clickhouse binary with the
// server argument.
func FindBinary() (string, []string, error) {
	for _, name := range []string{"clickhouse-server", "/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil, nil
		}
	}
	for _, name := range []string{"clickhouse", "/usr/bin/clickhouse"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, []string{"server"}, nil
		}
	}
	return "", nil, errors.New("no ClickHouse server found: install clickhouse-server (Debian/Ubuntu: apt-get install clickhouse-server) or point at a running server with --clickhouse-dsn")
}

// Start writes the config, starts the server and waits until it answers on
// its native port.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Dir == "" {
		return nil, errors.New("start clickhouse: directory is required")
	}
	host := cfg.Host
	if host == "" {
		host = "127.0.0.1"
	}
	tcp, err := pickPort(host, cfg.TCPPort, DefaultTCPPort, flagName(cfg.TCPPortFlag, "--clickhouse-tcp-port"))
	if err != nil {
		return nil, err
	}
	httpPort, err := pickPort(host, cfg.HTTPPort, DefaultHTTPPort, flagName(cfg.HTTPPortFlag, "--clickhouse-http-port"))
	if err != nil {
		return nil, err
	}
	if tcp == httpPort {
		return nil, fmt.Errorf("start clickhouse: native and HTTP ports are both %d", tcp)
	}
	bin, args := cfg.Binary, []string(nil)
	if bin == "" {
		bin, args, err = FindBinary()
		if err != nil {
			return nil, err
		}
	} else if filepath.Base(bin) == "clickhouse" {
		args = []string{"server"}
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("start clickhouse: %w", err)
	}
	for _, sub := range []string{"data", "tmp", "user_files", "format_schemas", "log"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, fmt.Errorf("start clickhouse: create %s: %w", sub, err)
		}
	}
	configPath := filepath.Join(dir, "config.xml")
	if err := writeConfig(configPath, configData{Dir: dir, Host: host, TCPPort: tcp, HTTPPort: httpPort}); err != nil {
		return nil, err
	}
	args = append(args, "--config-file="+configPath)
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	logf, err := os.OpenFile(filepath.Join(dir, "log", "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start clickhouse: open log: %w", err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return nil, fmt.Errorf("start clickhouse %s: %w", bin, err)
	}
	s := &Server{cmd: cmd, done: make(chan struct{}), Host: host, TCPPort: tcp, HTTPPort: httpPort, Dir: dir}
	go func() {
		s.waitErr = cmd.Wait()
		_ = logf.Close()
		close(s.done)
	}()
	if err := s.waitReady(ctx, 60*time.Second); err != nil {
		_ = s.Stop()
		return nil, err
	}
	return s, nil
}

func flagName(f, def string) string {
	if f == "" {
		return def
	}
	return f
}

// DSN is the native-protocol DSN of database db on this server.
func (s *Server) DSN(db string) string {
	return fmt.Sprintf("clickhouse://%s/%s", net.JoinHostPort(s.Host, strconv.Itoa(s.TCPPort)), db)
}

func (s *Server) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	addr := net.JoinHostPort(s.Host, strconv.Itoa(s.TCPPort))
	for {
		select {
		case <-s.done:
			return fmt.Errorf("start clickhouse: server exited (%v); see %s", s.waitErr, s.logHint())
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			_ = c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("start clickhouse: not listening on %s after %s; see %s", addr, timeout, s.logHint())
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (s *Server) logHint() string {
	p := filepath.Join(s.Dir, "log", "clickhouse-server.err.log")
	if b, err := os.ReadFile(p); err == nil {
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if n := len(lines); n > 0 {
			return p + ": " + lines[n-1]
		}
	}
	return p
}

// Stop asks the server to shut down and waits up to 30 s before killing it.
func (s *Server) Stop() error {
	select {
	case <-s.done:
		return nil
	default:
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop clickhouse: %w", err)
	}
	select {
	case <-s.done:
		return nil
	case <-time.After(30 * time.Second):
		if err := s.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return fmt.Errorf("kill clickhouse: %w", err)
		}
		<-s.done
		return errors.New("stop clickhouse: killed after 30s without exiting")
	}
}

// Done is closed when the server process has exited.
func (s *Server) Done() <-chan struct{} { return s.done }

func pickPort(host string, want, def int, flag string) (int, error) {
	if want == 0 {
		want = def
	}
	if want < 0 {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return 0, fmt.Errorf("start clickhouse: find a free port: %w", err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		return port, ln.Close()
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(want)))
	if err != nil {
		return 0, fmt.Errorf("start clickhouse: %s:%d is taken (%w); choose another port with %s or use a running server with --clickhouse-dsn", host, want, err, flag)
	}
	return want, ln.Close()
}

type configData struct {
	Dir               string
	Host              string
	TCPPort, HTTPPort int
}

// The <yandex> root is read by 18.16 and by current releases alike; users
// live in the same file so no users.xml is needed.
var configTemplate = template.Must(template.New("config").Parse(`<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>{{.Dir}}/log/clickhouse-server.log</log>
        <errorlog>{{.Dir}}/log/clickhouse-server.err.log</errorlog>
        <size>100M</size>
        <count>3</count>
    </logger>
    <listen_host>{{.Host}}</listen_host>
    <tcp_port>{{.TCPPort}}</tcp_port>
    <http_port>{{.HTTPPort}}</http_port>
    <path>{{.Dir}}/data/</path>
    <tmp_path>{{.Dir}}/tmp/</tmp_path>
    <user_files_path>{{.Dir}}/user_files/</user_files_path>
    <format_schema_path>{{.Dir}}/format_schemas/</format_schema_path>
    <mark_cache_size>268435456</mark_cache_size>
    <max_concurrent_queries>100</max_concurrent_queries>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <users>
        <default>
            <password></password>
            <networks><ip>::1</ip><ip>127.0.0.1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <profiles><default></default></profiles>
    <quotas><default></default></quotas>
</yandex>
`))

func writeConfig(path string, d configData) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write clickhouse config: %w", err)
	}
	err = configTemplate.Execute(f, d)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write clickhouse config: %w", err)
	}
	return nil
}
