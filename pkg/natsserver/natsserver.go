// Package natsserver runs an embedded NATS server with JetStream for
// single-process runs (ounce dev) and tests. It is its own package so that
// only the binaries that embed a server link nats-server; the services dial
// NATS through pkg/extnats.
//
// The server always authenticates. Its users are those of
// deploy/nats/accounts.conf, by nkey instead of password:
//
//   - the services user (every Ounce service and `ounce partners`), allowed
//     everything, including the JetStream API and the key-value buckets;
//   - one user per partner that publishes over NATS, allowed to publish only
//     obs.v1.partner.<id> and obs.v1.partner.<id>.>, and to subscribe only to
//     its inbox _INBOX_<id>.> (where JetStream's acknowledgements arrive).
//
// Anonymous connections are refused. Partner users change while the server
// runs (SetPartners), without a restart: a revoked partner is disconnected.
package natsserver

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/ounce-data/ounce/pkg/observation"
)

// ServicesNKeyFile is where, under its data directory, ounce dev keeps the
// nkey seed of its embedded server's services user. `ounce partners` and
// `ounce backfill` read it from there when given no other credentials.
const ServicesNKeyFile = "nats-services.nk"

// Config configures an embedded server.
type Config struct {
	Host     string // default 127.0.0.1
	Port     int    // 0 means 4222; -1 picks a free port
	StoreDir string // JetStream file store; required
	// PortFlag names the flag that sets Port, for the error when it is taken.
	PortFlag string
	// ServicesKey is the public nkey (U…) of the services user; required.
	ServicesKey string
}

// Partner is a partner allowed to publish over NATS: its id and the public
// nkey (U…) it authenticates with.
type Partner struct {
	ID   string
	NKey string
}

// Server is a running embedded server.
type Server struct {
	*server.Server
	mu       sync.Mutex
	opts     *server.Options // as started; cloned for every reload
	partners []Partner
}

// Start starts the server and waits until it accepts connections. Stop it
// with Shutdown and WaitForShutdown.
func Start(cfg Config) (*Server, error) {
	if cfg.StoreDir == "" {
		return nil, errors.New("start embedded nats: store directory is required")
	}
	if !nkeys.IsValidPublicUserKey(cfg.ServicesKey) {
		return nil, errors.New("start embedded nats: the services user's public nkey is missing or not a user key (U…)")
	}
	host := cfg.Host
	if host == "" {
		host = "127.0.0.1"
	}
	port := cfg.Port
	if port == 0 {
		port = 4222
	}
	if port > 0 {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			flag := cfg.PortFlag
			if flag == "" {
				flag = "--nats-port"
			}
			return nil, fmt.Errorf("start embedded nats: %s:%d is taken (%w); choose another port with %s or point at that server with --nats-url", host, port, err, flag)
		}
		if err := ln.Close(); err != nil {
			return nil, fmt.Errorf("start embedded nats: release port probe: %w", err)
		}
	}
	opts := &server.Options{
		ServerName: "ounce-embedded",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		NoSigs:     true,
		NoLog:      true,
		// Partners' batches and feed pages stay under the default 1 MiB.
		MaxPayload: 1 << 20,
		Nkeys:      []*server.NkeyUser{{Nkey: cfg.ServicesKey}},
	}
	s, err := server.NewServer(opts.Clone())
	if err != nil {
		return nil, fmt.Errorf("start embedded nats: %w", err)
	}
	s.Start()
	if !s.ReadyForConnections(15 * time.Second) {
		s.Shutdown()
		return nil, errors.New("start embedded nats: not ready for connections after 15s")
	}
	if opts.Port < 0 {
		opts.Port = s.Addr().(*net.TCPAddr).Port
	}
	return &Server{Server: s, opts: opts}, nil
}

// SetPartners replaces the partner users. A partner no longer listed (or
// listed with another key) is disconnected. Invalid entries are refused
// as a whole, leaving the users as they were.
func (s *Server) SetPartners(ps []Partner) error {
	ps = slices.Clone(ps)
	slices.SortFunc(ps, func(a, b Partner) int { return strings.Compare(a.ID, b.ID) })
	users := []*server.NkeyUser{s.opts.Nkeys[0]}
	for _, p := range ps {
		if !nkeys.IsValidPublicUserKey(p.NKey) {
			return fmt.Errorf("nats user of partner %s: %q is not a public user nkey (U…)", p.ID, p.NKey)
		}
		subject, err := observation.Subject("partner", "partner:"+p.ID)
		if err != nil {
			return fmt.Errorf("nats user of partner %s: %w", p.ID, err)
		}
		users = append(users, &server.NkeyUser{Nkey: p.NKey, Permissions: PartnerPermissions(p.ID, subject)})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if slices.Equal(ps, s.partners) {
		return nil
	}
	next := s.opts.Clone()
	next.Nkeys = users
	if err := s.ReloadOptions(next); err != nil {
		return fmt.Errorf("reload nats users: %w", err)
	}
	s.partners = ps
	return nil
}

// PartnerPermissions are a partner user's rights, as in
// deploy/nats/accounts.conf: publish its subject and below, subscribe to
// its own inbox prefix (it connects with nats.CustomInboxPrefix("_INBOX_<id>")).
func PartnerPermissions(id, subject string) *server.Permissions {
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: []string{subject, subject + ".>"}},
		Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX_" + id + ".>"}},
	}
}

// ServicesSeed returns the services user's nkey seed kept in path, creating
// the file (mode 0600) with a new seed when it does not exist, and the
// seed's public key. A data directory keeps its seed across restarts, so
// `ounce partners` run beside `ounce dev` reads the same file.
func ServicesSeed(path string) (seed []byte, public string, err error) {
	seed, err = os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		kp, cerr := nkeys.CreateUser()
		if cerr != nil {
			return nil, "", fmt.Errorf("create services nkey: %w", cerr)
		}
		if seed, err = kp.Seed(); err != nil {
			return nil, "", fmt.Errorf("create services nkey: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, "", fmt.Errorf("create services nkey: %w", err)
		}
		if err := os.WriteFile(path, append(seed, '\n'), 0o600); err != nil {
			return nil, "", fmt.Errorf("write services nkey: %w", err)
		}
	} else if err != nil {
		return nil, "", fmt.Errorf("read services nkey: %w", err)
	}
	kp, err := nkeys.FromSeed([]byte(strings.TrimSpace(string(seed))))
	if err != nil {
		return nil, "", fmt.Errorf("services nkey %s: %w; delete the file to generate a new one", path, err)
	}
	public, err = kp.PublicKey()
	if err != nil {
		return nil, "", fmt.Errorf("services nkey %s: %w", path, err)
	}
	return seed, public, nil
}
