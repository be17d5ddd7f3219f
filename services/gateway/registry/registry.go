// Package registry is the partner registry of the gateway: who a partner is,
// which indicators and places its key may write, and the SHA-256 hashes of
// its keys, kept in a JetStream key-value bucket so every gateway replica
// (and `ounce partners`) sees the same registry.
package registry

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/ounce-data/ounce/pkg/extnats"
	"github.com/ounce-data/ounce/pkg/indicators"
	"github.com/ounce-data/ounce/pkg/observation"
	"github.com/ounce-data/ounce/pkg/places"
)

// KeyPrefix starts every partner API key: ounce_<partner id>_<secret>.
const KeyPrefix = "ounce_"

// DefaultGrace is how long a rotated-out key keeps working.
const DefaultGrace = 24 * time.Hour

// Errors callers tell apart.
var (
	ErrNotFound = errors.New("no such partner")
	ErrExists   = errors.New("partner already exists")
)

// Partner is one registered partner.
type Partner struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Indicators []string  `json:"indicators"` // catalogue or user indicator codes the key may write
	Places     []string  `json:"places"`     // place catalogue codes the key may write
	Licence    string    `json:"licence"`    // provenance licence of its observations
	URL        string    `json:"url,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	RevokedAt  time.Time `json:"revoked_at,omitzero"`
	Keys       []Key     `json:"keys"`
	// NATSKey is the public nkey (U…) of the partner's NATS user, for a
	// partner that publishes over NATS instead of the HTTP API; empty for
	// the others. Only the public half is stored.
	NATSKey string `json:"nats_key,omitempty"`
}

// Key is one API key of a partner, by hash only.
type Key struct {
	Hash      string    `json:"hash"` // hex SHA-256 of the whole key
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is zero for the current key; a rotated-out key expires at
	// the end of its grace period.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// Source is the observation source of the partner's data, partner:<id>.
func (p *Partner) Source() string { return "partner:" + p.ID }

// Source is the observation source of partner id.
func Source(id string) string { return "partner:" + id }

// Active reports whether the partner is not revoked.
func (p *Partner) Active() bool { return p.RevokedAt.IsZero() }

// CanWriteIndicator reports whether code is granted.
func (p *Partner) CanWriteIndicator(code string) bool { return slices.Contains(p.Indicators, code) }

// CanWritePlace reports whether geo is granted.
func (p *Partner) CanWritePlace(geo string) bool { return slices.Contains(p.Places, geo) }

// Matches reports whether key is one of the partner's keys valid at now.
func (p *Partner) Matches(key string, now time.Time) bool {
	if !p.Active() {
		return false
	}
	h := HashKey(key)
	ok := false
	for _, k := range p.Keys {
		valid := k.ExpiresAt.IsZero() || now.Before(k.ExpiresAt)
		if subtle.ConstantTimeCompare([]byte(k.Hash), []byte(h)) == 1 && valid {
			ok = true
		}
	}
	return ok
}

// Spec is what `ounce partners add` registers.
type Spec struct {
	ID         string
	Name       string
	Indicators []string
	Places     []string
	Licence    string
	URL        string
}

// Check reports every problem with s against the indicators inds finds
// (the catalogue, or the catalogue with the user indicators:
// userindicators.Union) and the place catalogue pl: every granted indicator
// and place must be among them, so that a partner writes only codes the
// rest of the stack knows. Each unknown place is named with the places it
// may mean (FRA for France, GBR for UK).
func (s Spec) Check(inds indicators.Lookup, pl *places.Catalogue) error {
	var errs []error
	if !ValidID(s.ID) {
		errs = append(errs, fmt.Errorf("id %q: want 1-64 lower-case letters, digits or '-', starting with a letter or digit", s.ID))
	}
	if strings.TrimSpace(s.Name) == "" {
		errs = append(errs, errors.New("name is missing (--name)"))
	}
	if len(s.Indicators) == 0 {
		errs = append(errs, errors.New("grant at least one indicator (--indicators code,code)"))
	}
	for _, code := range s.Indicators {
		if _, ok := inds.Indicator(code); !ok {
			if strings.HasPrefix(code, indicators.UserPrefix) {
				errs = append(errs, fmt.Errorf("indicator %q is not a registered user indicator (POST /v1/indicators on the query service registers it)", code))
			} else {
				errs = append(errs, fmt.Errorf("indicator %q is not in the catalogue (schemas/catalogue)", code))
			}
		}
	}
	if len(s.Places) == 0 {
		errs = append(errs, errors.New("grant at least one place (--places GBR,FRA)"))
	}
	unknown := false
	for _, g := range s.Places {
		if _, ok := pl.Place(g); !ok {
			errs = append(errs, unknownPlace(pl, g))
			unknown = true
		}
	}
	if unknown {
		errs = append(errs, errors.New("a place the catalogue lacks, such as a partner's local area, is added to schemas/places before it is granted"))
	}
	if s.Licence == "" {
		errs = append(errs, errors.New("licence is missing (--licence)"))
	}
	return errors.Join(errs...)
}

// unknownPlace is the error of a granted place pl does not hold, worded as
// the query service words an unknown place, with the codes it may mean.
func unknownPlace(pl *places.Catalogue, code string) error {
	hint, _ := pl.DidYouMean(code)
	if hint == "" {
		hint = ";"
	}
	return fmt.Errorf("place %q is not in the place catalogue%s GET /v1/places on the query service lists them", code, hint)
}

// ValidID reports whether id can be a partner id: a feed id, so that
// partner:<id> is a valid source and obs.v1.partner.<id> a valid subject.
func ValidID(id string) bool {
	_, err := observation.Subject("partner", Source(id))
	return err == nil && id != ""
}

// NewKey makes a fresh key for partner id: ounce_<id>_<43 characters of
// base64url randomness> (256 bits).
func NewKey(id string) string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read does not fail on supported platforms
	return KeyPrefix + id + "_" + base64.RawURLEncoding.EncodeToString(b[:])
}

// HashKey is the stored form of a key. Keys carry 256 random bits, so a
// plain SHA-256 cannot be reversed by guessing; no slow hash is needed.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// PartnerOfKey reads the partner id out of a key, or "" when key is not of
// the key format.
func PartnerOfKey(key string) string {
	rest, ok := strings.CutPrefix(key, KeyPrefix)
	if !ok {
		return ""
	}
	i := strings.IndexByte(rest, '_') // ids have no '_'; the secret may
	if i <= 0 || i == len(rest)-1 {
		return ""
	}
	return rest[:i]
}

// Registry reads and writes partners in the bucket.
type Registry struct {
	kv  jetstream.KeyValue
	now func() time.Time
}

// Open returns the registry in js's partner bucket (extnats.Topology.Ensure
// creates it).
func Open(ctx context.Context, js jetstream.JetStream) (*Registry, error) {
	kv, err := js.KeyValue(ctx, extnats.BucketPartners)
	if err != nil {
		return nil, fmt.Errorf("open partner registry (bucket %s): %w", extnats.BucketPartners, err)
	}
	return &Registry{kv: kv, now: time.Now}, nil
}

// Add registers a partner and returns it with its first key, which is not
// stored anywhere: show it once. Grants are trimmed, sorted and
// deduplicated, then checked against the indicators inds finds and the
// place catalogue pl (Spec.Check); nothing is stored when they fail.
func (r *Registry) Add(ctx context.Context, s Spec, inds indicators.Lookup, pl *places.Catalogue) (Partner, string, error) {
	s.Indicators, s.Places = sortedSet(s.Indicators), sortedSet(s.Places)
	if err := s.Check(inds, pl); err != nil {
		return Partner{}, "", err
	}
	now := r.now().UTC()
	key := NewKey(s.ID)
	p := Partner{
		ID: s.ID, Name: s.Name, Indicators: s.Indicators, Places: s.Places,
		Licence: s.Licence, URL: s.URL, CreatedAt: now,
		Keys: []Key{{Hash: HashKey(key), CreatedAt: now}},
	}
	data, err := json.Marshal(p)
	if err != nil {
		return Partner{}, "", fmt.Errorf("encode partner: %w", err)
	}
	if _, err := r.kv.Create(ctx, s.ID, data); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return Partner{}, "", fmt.Errorf("partner %s: %w; rotate its key with `ounce partners rotate %s`", s.ID, ErrExists, s.ID)
		}
		return Partner{}, "", fmt.Errorf("store partner %s: %w", s.ID, err)
	}
	return p, key, nil
}

// Get returns partner id.
func (r *Registry) Get(ctx context.Context, id string) (Partner, error) {
	p, _, err := r.get(ctx, id)
	return p, err
}

func (r *Registry) get(ctx context.Context, id string) (Partner, uint64, error) {
	if !ValidID(id) {
		return Partner{}, 0, fmt.Errorf("partner %q: %w", id, ErrNotFound)
	}
	e, err := r.kv.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Partner{}, 0, fmt.Errorf("partner %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Partner{}, 0, fmt.Errorf("read partner %s: %w", id, err)
	}
	p, err := decode(e.Value())
	if err != nil {
		return Partner{}, 0, fmt.Errorf("partner %s: %w", id, err)
	}
	return p, e.Revision(), nil
}

func decode(data []byte) (Partner, error) {
	var p Partner
	if err := json.Unmarshal(data, &p); err != nil {
		return Partner{}, fmt.Errorf("decode partner record: %w", err)
	}
	return p, nil
}

// List returns every partner, sorted by id.
func (r *Registry) List(ctx context.Context) ([]Partner, error) {
	lister, err := r.kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list partners: %w", err)
	}
	var ids []string
	for k := range lister.Keys() {
		ids = append(ids, k)
	}
	slices.Sort(ids)
	out := make([]Partner, 0, len(ids))
	for _, id := range ids {
		p, err := r.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// Rotate gives partner id a new key; its current keys keep working for
// grace (none when grace is 0). It returns the new key.
func (r *Registry) Rotate(ctx context.Context, id string, grace time.Duration) (string, error) {
	key := NewKey(id)
	err := r.update(ctx, id, func(p *Partner, now time.Time) error {
		if !p.Active() {
			return fmt.Errorf("partner %s is revoked; register it again under a new id", id)
		}
		keep := p.Keys[:0]
		for _, k := range p.Keys {
			if k.ExpiresAt.IsZero() || k.ExpiresAt.After(now.Add(grace)) {
				k.ExpiresAt = now.Add(grace)
			}
			if grace > 0 && k.ExpiresAt.After(now) {
				keep = append(keep, k)
			}
		}
		p.Keys = append(keep, Key{Hash: HashKey(key), CreatedAt: now})
		return nil
	})
	if err != nil {
		return "", err
	}
	return key, nil
}

// Revoke disables every key of partner id at once, its NATS user's too.
func (r *Registry) Revoke(ctx context.Context, id string) error {
	return r.update(ctx, id, func(p *Partner, now time.Time) error {
		if p.Active() {
			p.RevokedAt = now
		}
		p.Keys = nil
		p.NATSKey = ""
		return nil
	})
}

// IssueNATSKey gives partner id a NATS user: a new nkey whose public half
// is stored, replacing any earlier one at once (NATS servers that follow the
// registry disconnect the old key). It returns the seed (SU…), which is not
// stored anywhere: show it once.
func (r *Registry) IssueNATSKey(ctx context.Context, id string) (string, error) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		return "", fmt.Errorf("create nats key: %w", err)
	}
	seed, err := kp.Seed()
	if err != nil {
		return "", fmt.Errorf("create nats key: %w", err)
	}
	public, err := kp.PublicKey()
	if err != nil {
		return "", fmt.Errorf("create nats key: %w", err)
	}
	err = r.update(ctx, id, func(p *Partner, _ time.Time) error {
		if !p.Active() {
			return fmt.Errorf("partner %s is revoked; register it again under a new id", id)
		}
		p.NATSKey = public
		return nil
	})
	if err != nil {
		return "", err
	}
	return string(seed), nil
}

// update applies change to partner id with optimistic concurrency.
func (r *Registry) update(ctx context.Context, id string, change func(*Partner, time.Time) error) error {
	for range 5 {
		p, rev, err := r.get(ctx, id)
		if err != nil {
			return err
		}
		if err := change(&p, r.now().UTC()); err != nil {
			return err
		}
		data, err := json.Marshal(p)
		if err != nil {
			return fmt.Errorf("encode partner: %w", err)
		}
		_, err = r.kv.Update(ctx, id, data, rev)
		if err == nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return fmt.Errorf("store partner %s: %w", id, err)
		}
	}
	return fmt.Errorf("store partner %s: changed concurrently five times; try again", id)
}

func sortedSet(in []string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Cache is a live copy of the registry for authenticating requests: it
// watches the bucket, so a rotation or revocation reaches every replica
// within the watch's latency, not on the next restart.
type Cache struct {
	mu       sync.RWMutex
	partners map[string]*Partner
	ready    chan struct{}
	now      func() time.Time
	// OnChange, when set before Run, is called after the initial registry
	// is read and after every change, from Run's goroutine.
	OnChange func()
}

// NewCache returns an empty cache; Run fills it.
func NewCache() *Cache {
	return &Cache{partners: map[string]*Partner{}, ready: make(chan struct{}), now: time.Now}
}

// Run watches the partner bucket of js until ctx ends.
func (c *Cache) Run(ctx context.Context, js jetstream.JetStream) error {
	kv, err := js.KeyValue(ctx, extnats.BucketPartners)
	if err != nil {
		return fmt.Errorf("open partner registry (bucket %s): %w", extnats.BucketPartners, err)
	}
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("watch partner registry: %w", err)
	}
	defer func() { _ = w.Stop() }()
	readyOnce := sync.OnceFunc(func() { close(c.ready) })
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("watch partner registry: watcher closed")
			}
			if e == nil { // the initial values are in
				readyOnce()
				c.changed()
				continue
			}
			c.apply(e)
			if c.Ready(ctx) == nil {
				c.changed()
			}
		}
	}
}

func (c *Cache) apply(e jetstream.KeyValueEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.Operation() != jetstream.KeyValuePut {
		delete(c.partners, e.Key())
		return
	}
	p, err := decode(e.Value())
	if err != nil {
		delete(c.partners, e.Key())
		return
	}
	c.partners[e.Key()] = &p
}

func (c *Cache) changed() {
	if c.OnChange != nil {
		c.OnChange()
	}
}

// Partners returns a copy of every partner in the cache, sorted by id.
func (c *Cache) Partners() []Partner {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]Partner, 0, len(c.partners))
	for _, p := range c.partners {
		out = append(out, *p)
	}
	slices.SortFunc(out, func(a, b Partner) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Ready reports whether the initial registry has been read.
func (c *Cache) Ready(context.Context) error {
	select {
	case <-c.ready:
		return nil
	default:
		return errors.New("partner registry not read yet")
	}
}

// WaitReady blocks until the initial registry has been read or ctx ends.
func (c *Cache) WaitReady(ctx context.Context) error {
	select {
	case <-c.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Authenticate returns the partner whose valid key is key, or false.
func (c *Cache) Authenticate(key string) (*Partner, bool) {
	id := PartnerOfKey(key)
	if id == "" {
		return nil, false
	}
	c.mu.RLock()
	p := c.partners[id]
	c.mu.RUnlock()
	if p == nil || !p.Matches(key, c.now()) {
		return nil, false
	}
	return p, true
}
