// Package extnats extends nats.go for Ounce: how a service dials NATS (URL,
// credentials, TLS, with secrets kept out of logs), and the streams, consumer
// and buckets every service expects. The embedded server of single-process
// runs is pkg/natsserver, so that services do not link a NATS server.
package extnats

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// DefaultURL is where ounce dev's embedded server listens.
const DefaultURL = "nats://127.0.0.1:4222"

// Client is how a service reaches NATS: where, and as whom. A password may
// sit in the URL (nats://user:pass@host:4222); prefer a credentials file
// (decentralised auth, a user JWT and its nkey seed) or an nkey seed file.
// Neither the password nor any secret is ever logged or put in an error.
type Client struct {
	URL     string // one server or a comma-separated cluster list
	Creds   string // .creds file: user JWT and nkey seed
	NKey    string // nkey seed file (SU…)
	TLSCA   string // PEM file of the CA that signed the servers' certificates
	TLSCert string // PEM client certificate, for servers that verify clients
	TLSKey  string // its PEM key
}

// Flags names the shared flags of Client, which read the unprefixed
// OUNCE_NATS_* environment variables in every service (envflag.Parse).
var Flags = []string{"nats-url", "nats-creds", "nats-nkey", "nats-tls-ca", "nats-tls-cert", "nats-tls-key"}

// RegisterFlags declares --nats-url (defaulting to url), --nats-creds,
// --nats-nkey and --nats-tls-{ca,cert,key} on fs.
func (c *Client) RegisterFlags(fs *flag.FlagSet, url, urlUsage string) {
	fs.StringVar(&c.URL, "nats-url", url, urlUsage)
	fs.StringVar(&c.Creds, "nats-creds", "", "NATS credentials file (user JWT and nkey seed)")
	fs.StringVar(&c.NKey, "nats-nkey", "", "NATS nkey seed file (ounce dev writes its services seed to <data-dir>/nats-services.nk)")
	fs.StringVar(&c.TLSCA, "nats-tls-ca", "", "PEM CA certificate to verify the NATS servers with (implies TLS)")
	fs.StringVar(&c.TLSCert, "nats-tls-cert", "", "PEM client certificate for NATS (with --nats-tls-key)")
	fs.StringVar(&c.TLSKey, "nats-tls-key", "", "PEM key of --nats-tls-cert")
}

// OrSeedFile is c, authenticating with the nkey seed in path when c names no
// credentials of its own (no --nats-creds, --nats-nkey or user in the URL)
// and that file exists: how `ounce partners` and `ounce backfill` reach the
// embedded server of an `ounce dev` on the same data directory.
func (c Client) OrSeedFile(path string) Client {
	if c.Creds != "" || c.NKey != "" || strings.Contains(c.URL, "@") {
		return c
	}
	if _, err := os.Stat(path); err == nil {
		c.NKey = path
	}
	return c
}

// Validate checks that the files named exist and that the options agree.
func (c Client) Validate() error {
	var errs []error
	if c.Creds != "" && c.NKey != "" {
		errs = append(errs, errors.New("--nats-creds and --nats-nkey: give one way to authenticate, not both"))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("--nats-tls-cert and --nats-tls-key go together: give both or neither"))
	}
	for _, f := range []struct{ flag, path string }{
		{"--nats-creds", c.Creds}, {"--nats-nkey", c.NKey}, {"--nats-tls-ca", c.TLSCA}, {"--nats-tls-cert", c.TLSCert}, {"--nats-tls-key", c.TLSKey},
	} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.flag, err))
		}
	}
	return errors.Join(errs...)
}

// Redacted is the URL for logs and errors: every password replaced.
func (c Client) Redacted() string { return RedactURL(c.URL) }

// RedactURL replaces the password of every URL in a comma-separated list
// with "xxxxx", and a user part without a password (a token) as a whole; a
// URL that does not parse is shown as its host part only.
func RedactURL(list string) string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		u, err := url.Parse(p)
		if err != nil {
			if at := strings.LastIndexByte(p, '@'); at >= 0 {
				p = "xxxxx@" + p[at+1:]
			}
			parts[i] = p
			continue
		}
		if u.User != nil {
			if _, has := u.User.Password(); has {
				u.User = url.UserPassword(u.User.Username(), "xxxxx")
			} else { // nats://<token>@host: the user part is the secret
				u.User = url.User("xxxxx")
			}
		}
		parts[i] = u.String()
	}
	return strings.Join(parts, ",")
}

// options are the nats.go options of c's authentication and TLS.
func (c Client) options() ([]nats.Option, error) {
	var opts []nats.Option
	switch {
	case c.Creds != "":
		opts = append(opts, nats.UserCredentials(c.Creds))
	case c.NKey != "":
		o, err := nats.NkeyOptionFromSeed(c.NKey)
		if err != nil {
			return nil, fmt.Errorf("--nats-nkey %s: %w", c.NKey, err)
		}
		opts = append(opts, o)
	}
	if c.TLSCA != "" || c.TLSCert != "" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if c.TLSCA != "" {
			pem, err := os.ReadFile(c.TLSCA)
			if err != nil {
				return nil, fmt.Errorf("--nats-tls-ca: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("--nats-tls-ca %s: no PEM certificate in the file", c.TLSCA)
			}
			cfg.RootCAs = pool
		}
		if c.TLSCert != "" {
			cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
			if err != nil {
				return nil, fmt.Errorf("--nats-tls-cert/--nats-tls-key: %w", err)
			}
			cfg.Certificates = []tls.Certificate{cert}
		}
		opts = append(opts, nats.Secure(cfg))
	}
	return opts, nil
}

// Connect dials c as client name, reconnecting forever, and returns the
// connection and its JetStream context.
func Connect(c Client, name string, log zerolog.Logger) (*nats.Conn, jetstream.JetStream, error) {
	shown := c.Redacted()
	auth, err := c.options()
	if err != nil {
		return nil, nil, err
	}
	opts := append([]nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.Timeout(5 * time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err == nil { // closed on purpose, by Drain or Close
				return
			}
			log.Warn().Err(err).Str("nats_url", shown).Msg("nats disconnected")
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			log.Info().Str("nats_url", RedactURL(c.ConnectedUrlRedacted())).Msg("nats reconnected")
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			ev := log.Error().Err(err).Str("nats_url", shown)
			if sub != nil {
				ev = ev.Str("subject", sub.Subject)
			}
			ev.Msg("nats error")
		}),
	}, auth...)
	nc, err := nats.Connect(c.URL, opts...)
	if err != nil {
		hint := "start NATS there or set --nats-url"
		if errors.Is(err, nats.ErrAuthorization) || strings.Contains(err.Error(), "Authorization") {
			hint = "give the credentials of a services user: --nats-nkey, --nats-creds or a user and password in --nats-url"
		}
		return nil, nil, fmt.Errorf("connect to nats %s: %s (%s)", shown, redactErr(err, c.URL), hint)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream on %s: %s", shown, redactErr(err, c.URL))
	}
	return nc, js, nil
}

// redactErr is err's text with any password of the URLs in list removed;
// nats.go sometimes quotes the URL it dialled.
func redactErr(err error, list string) string {
	msg := err.Error()
	for _, p := range strings.Split(list, ",") {
		u, perr := url.Parse(strings.TrimSpace(p))
		if perr != nil || u.User == nil {
			continue
		}
		secret, has := u.User.Password()
		if !has {
			secret = u.User.Username()
		}
		if secret != "" {
			msg = strings.ReplaceAll(msg, secret, "xxxxx")
		}
	}
	return msg
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
