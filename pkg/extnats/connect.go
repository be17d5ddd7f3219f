package extnats

import (
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// Connect dials url (one server or a comma-separated cluster list) as client
// name, reconnecting forever, and returns the connection and its JetStream
// context.
func Connect(url, name string, log zerolog.Logger) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := nats.Connect(url,
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.Timeout(5*time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err == nil { // closed on purpose, by Drain or Close
				return
			}
			log.Warn().Err(err).Str("nats_url", url).Msg("nats disconnected")
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			log.Info().Str("nats_url", c.ConnectedUrl()).Msg("nats reconnected")
		}),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to nats %s: %w (start NATS there or set --nats-url)", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream on %s: %w", url, err)
	}
	return nc, js, nil
}

// Drain drains nc — pending publishes and acks are flushed, subscriptions
// finish — and waits up to timeout for the connection to close.
func Drain(nc *nats.Conn, timeout time.Duration) error {
	closed := make(chan struct{})
	nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
	if err := nc.Drain(); err != nil {
		if nc.IsClosed() {
			return nil
		}
		return fmt.Errorf("drain nats connection: %w", err)
	}
	select {
	case <-closed:
		return nil
	case <-time.After(timeout):
		nc.Close()
		return fmt.Errorf("drain nats connection: not closed after %s", timeout)
	}
}
