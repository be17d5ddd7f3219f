// Package partners is `ounce partners`: register partners of the gateway,
// list them, rotate and revoke their keys, in the registry the running
// stack's gateways read (a JetStream key-value bucket).
package partners

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"

	"github.com/ounce-data/ounce/pkg/envflag"
	"github.com/ounce-data/ounce/pkg/extnats"
	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/natsserver"
	"github.com/ounce-data/ounce/pkg/places"
	"github.com/ounce-data/ounce/pkg/userindicators"
	"github.com/ounce-data/ounce/services/gateway/registry"
)

// Usage of `ounce partners`.
const Usage = `usage: ounce partners <command> [flags]

commands:
  add --id ID --name NAME --indicators CODE,… --places GEO,… [--licence L] [--url U] [--nats]
            register a partner; prints its API key once, alone on the last line.
            CODE is a catalogue code or a user indicator (user.<namespace>.<name>,
            registered with POST /v1/indicators on the query service)
            (with --nats, also the nkey seed of its NATS user, printed once before it)
  list      list partners, their grants and key state
  rotate ID [--grace 24h]
            give the partner a new key (printed on the last line); the old one works for --grace
  revoke ID stop every key of the partner at once, its NATS user's too
  nats ID   give the partner a NATS user (or a new nkey, the old one stops at once);
            prints the nkey seed once, alone on the last line

Every command takes --nats-url (env OUNCE_NATS_URL, default nats://127.0.0.1:4222):
the NATS of the running stack (ounce dev or a cluster), and the services user's
credentials (--nats-creds or --nats-nkey, TLS with --nats-tls-*); without them, the
services nkey of the ounce dev on --data-dir (default ./.ounce) when it is there.
`

// Run runs `ounce partners` with args (after "partners"), writing results
// to stdout.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, Usage)
		return envflag.Usagef("name a command: add, list, rotate, revoke or nats")
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet("ounce partners "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var natsc extnats.Client
	natsc.RegisterFlags(fs, extnats.DefaultURL, "NATS of the running stack")
	dataDir := fs.String("data-dir", "./.ounce", "data directory of the ounce dev whose services nkey to use when no NATS credentials are given")
	var (
		id, name, codes, grants, licence, url string
		grace                                 time.Duration
		withNATS                              bool
	)
	switch cmd {
	case "add":
		fs.StringVar(&id, "id", "", "partner id: lower-case letters, digits and '-' (default: from --name)")
		fs.StringVar(&name, "name", "", "partner name")
		fs.StringVar(&codes, "indicators", "", "comma-separated codes the key may write: catalogue codes, or user indicators registered with POST /v1/indicators (user.<namespace>.<name>)")
		fs.StringVar(&grants, "places", "", "comma-separated place catalogue codes the key may write (GBR, GB-MAN; GET /v1/places lists them)")
		fs.StringVar(&licence, "licence", "CC BY 4.0", "licence of the partner's data, written into its observations' provenance")
		fs.StringVar(&url, "url", "", "partner's page about the data, written into provenance")
		fs.BoolVar(&withNATS, "nats", false, "also give the partner a NATS user allowed to publish only obs.v1.partner.<id>[.…]")
	case "rotate":
		fs.DurationVar(&grace, "grace", registry.DefaultGrace, "how long the current key keeps working")
	case "list", "revoke", "nats":
	case "-h", "--help", "help":
		fmt.Fprint(stdout, Usage)
		return nil
	default:
		fmt.Fprint(stderr, Usage)
		return envflag.Usagef("unknown command %q", cmd)
	}
	fs.Usage = envflag.Usage(fs, "")
	// The partner id of rotate and revoke comes first: `ounce partners rotate acme --grace 1h`.
	if (cmd == "rotate" || cmd == "revoke" || cmd == "nats") && len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		id, args = args[0], args[1:]
	}
	if err := envflag.Parse(fs, "", args); err != nil {
		return err
	}
	if (cmd == "rotate" || cmd == "revoke" || cmd == "nats") && id == "" {
		if fs.NArg() != 1 {
			return envflag.Usagef("%s: name one partner id", cmd)
		}
		id = fs.Arg(0)
	} else if err := envflag.NoArgs(fs); err != nil {
		return err
	}
	natsc = natsc.OrSeedFile(filepath.Join(*dataDir, natsserver.ServicesNKeyFile))
	if err := natsc.Validate(); err != nil {
		return envflag.AsUsage(err)
	}
	nc, js, err := extnats.Connect(natsc, "ounce-partners", zerolog.Nop())
	if err != nil {
		return err
	}
	defer nc.Close()
	if err := (extnats.Topology{}).Ensure(ctx, js); err != nil {
		return err
	}
	reg, err := registry.Open(ctx, js)
	if err != nil {
		return err
	}
	switch cmd {
	case "add":
		cat, err := indicators.Load()
		if err != nil {
			return err
		}
		pl, err := places.Load()
		if err != nil {
			return err
		}
		if id == "" {
			id = idFromName(name)
		}
		// Grants name catalogue codes or user indicators, read from their
		// bucket in the NATS of the running stack.
		inds := userindicators.Union{Catalogue: cat, Users: userindicators.NewWatcher(userindicators.NewStore(js), zerolog.Nop())}
		p, key, err := reg.Add(ctx, registry.Spec{ID: id, Name: name, Indicators: split(codes), Places: split(grants), Licence: licence, URL: url}, inds.Lookup(ctx), pl)
		if err != nil {
			return fmt.Errorf("partners add: %w", err)
		}
		fmt.Fprintf(stdout, "registered partner %s (%s): source %s, NATS subject obs.v1.partner.%s\n", p.ID, p.Name, p.Source(), p.ID)
		fmt.Fprintf(stdout, "indicators: %s\nplaces: %s\n", strings.Join(p.Indicators, ", "), strings.Join(p.Places, ", "))
		if withNATS {
			seed, err := reg.IssueNATSKey(ctx, p.ID)
			if err != nil {
				return fmt.Errorf("partners add: %w", err)
			}
			printNATSSeed(stdout, p.ID, seed)
		}
		fmt.Fprintln(stdout, "API key (shown once; only its hash is stored):")
		fmt.Fprintln(stdout, key)
	case "list":
		ps, err := reg.List(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tSTATE\tKEYS\tNATS\tINDICATORS\tPLACES")
		for _, p := range ps {
			state := "active"
			if !p.Active() {
				state = "revoked " + p.RevokedAt.Format(time.RFC3339)
			}
			natsUser := "-"
			if p.NATSKey != "" {
				natsUser = p.NATSKey[:8] + "…"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.ID, p.Name, state, keyState(p.Keys, time.Now()), natsUser,
				strings.Join(p.Indicators, ","), strings.Join(p.Places, ","))
		}
		return tw.Flush()
	case "rotate":
		key, err := reg.Rotate(ctx, id, grace)
		if err != nil {
			return fmt.Errorf("partners rotate: %w", err)
		}
		fmt.Fprintf(stdout, "new key for %s; the previous key works until %s\n", id, time.Now().Add(grace).UTC().Format(time.RFC3339))
		fmt.Fprintln(stdout, key)
	case "nats":
		seed, err := reg.IssueNATSKey(ctx, id)
		if err != nil {
			return fmt.Errorf("partners nats: %w", err)
		}
		printNATSSeed(stdout, id, seed)
	case "revoke":
		if err := reg.Revoke(ctx, id); err != nil {
			return fmt.Errorf("partners revoke: %w", err)
		}
		fmt.Fprintf(stdout, "revoked every key of %s\n", id)
	}
	return nil
}

func keyState(keys []registry.Key, now time.Time) string {
	current, graced := 0, 0
	for _, k := range keys {
		switch {
		case k.ExpiresAt.IsZero():
			current++
		case k.ExpiresAt.After(now):
			graced++
		}
	}
	if graced == 0 {
		return fmt.Sprintf("%d", current)
	}
	return fmt.Sprintf("%d (+%d in grace)", current, graced)
}

func split(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// idFromName makes an id from a name: "Clinic Network A" → clinic-network-a.
func idFromName(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case b.Len() > 0 && !dash:
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

// printNATSSeed shows a partner's NATS nkey seed once, alone on the last
// line, with how the partner connects.
func printNATSSeed(w io.Writer, id, seed string) {
	fmt.Fprintf(w, "NATS user: publish to obs.v1.partner.%s (or below it), connect with this nkey seed and the inbox prefix _INBOX_%s;\n", id, id)
	fmt.Fprintln(w, "nkey seed (shown once; only its public key is stored):")
	fmt.Fprintln(w, seed)
}
