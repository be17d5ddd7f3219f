// Package extnats extends nats.go for Ounce: an embedded JetStream server for
// single-process runs and tests, and the streams, consumer and buckets every
// service expects.
package extnats

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// DefaultURL is where ounce dev's embedded server listens.
const DefaultURL = "nats://127.0.0.1:4222"

// EmbeddedConfig configures an in-process NATS server with JetStream.
type EmbeddedConfig struct {
	Host     string // default 127.0.0.1
	Port     int    // 0 means 4222; -1 picks a free port
	StoreDir string // JetStream file store; required
	// PortFlag names the flag that sets Port, for the error when it is taken.
	PortFlag string
}

// StartEmbedded starts a NATS server with JetStream file storage and waits
// until it accepts connections. Shut it down with Shutdown and WaitForShutdown.
func StartEmbedded(cfg EmbeddedConfig) (*server.Server, error) {
	if cfg.StoreDir == "" {
		return nil, errors.New("start embedded nats: store directory is required")
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
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("start embedded nats: %w", err)
	}
	s.Start()
	if !s.ReadyForConnections(15 * time.Second) {
		s.Shutdown()
		return nil, errors.New("start embedded nats: not ready for connections after 15s")
	}
	return s, nil
}
