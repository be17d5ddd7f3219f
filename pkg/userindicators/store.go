package userindicators

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ounce-data/ounce/pkg/extnats"
)

// Errors callers tell apart.
var (
	ErrNotFound = errors.New("no such user indicator")
	ErrExists   = errors.New("user indicator already registered")
	// ErrChanged: the indicator's revision is not the one the write was
	// based on (someone else changed or deleted it meanwhile).
	ErrChanged = errors.New("user indicator changed meanwhile")
)

// Stored is one revision of a user indicator in the bucket.
type Stored struct {
	Document
	// Revision is the bucket's revision of the key: it grows with every
	// write to the bucket, so a later write of a code has a higher one.
	Revision uint64
	// Updated is when the NATS server stored the revision.
	Updated time.Time
	// Deleted marks the deletion of the code (Document then holds only
	// Code); only Watcher.Snapshot returns such entries.
	Deleted bool
}

// Store reads and writes user indicators in the bucket
// extnats.BucketUserIndicators (extnats.Topology.Ensure creates it). It
// opens the bucket on first use, so it can be built before NATS answers.
type Store struct {
	js jetstream.JetStream

	mu sync.Mutex
	kv jetstream.KeyValue
}

// NewStore returns the store of user indicators in js.
func NewStore(js jetstream.JetStream) *Store { return &Store{js: js} }

func (s *Store) bucket(ctx context.Context) (jetstream.KeyValue, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.kv != nil {
		return s.kv, nil
	}
	kv, err := s.js.KeyValue(ctx, extnats.BucketUserIndicators)
	if err != nil {
		return nil, fmt.Errorf("open user indicators (bucket %s): %w", extnats.BucketUserIndicators, err)
	}
	s.kv = kv
	return kv, nil
}

// Encode is the stored form of d.
func Encode(d Document) ([]byte, error) {
	b, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encode user indicator %s: %w", d.Code, err)
	}
	return b, nil
}

// decodeEntry reads a bucket entry. Stored documents were checked when
// written, so it reads leniently: a field a later version adds is skipped.
func decodeEntry(e jetstream.KeyValueEntry) (Stored, error) {
	st := Stored{Revision: e.Revision(), Updated: e.Created().UTC()}
	if e.Operation() != jetstream.KeyValuePut {
		st.Code, st.Deleted = e.Key(), true
		return st, nil
	}
	if err := json.Unmarshal(e.Value(), &st.Document); err != nil {
		return st, fmt.Errorf("decode user indicator %s (revision %d): %w", e.Key(), e.Revision(), err)
	}
	if st.Code != e.Key() {
		return st, fmt.Errorf("user indicator under key %s holds code %q", e.Key(), st.Code)
	}
	return st, nil
}

// Create stores d, which must not be registered (ErrExists otherwise; a
// deleted code may be registered again), and returns it as stored.
func (s *Store) Create(ctx context.Context, d Document) (Stored, error) {
	kv, data, err := s.prepare(ctx, d)
	if err != nil {
		return Stored{}, err
	}
	rev, err := kv.Create(ctx, d.Code, data)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return Stored{}, fmt.Errorf("user indicator %s: %w", d.Code, ErrExists)
	}
	if err != nil {
		return Stored{}, fmt.Errorf("store user indicator %s: %w", d.Code, err)
	}
	return s.stored(ctx, kv, d, rev)
}

// Update replaces d's code with d while its revision is rev (ErrChanged
// otherwise, ErrNotFound when it is not registered).
func (s *Store) Update(ctx context.Context, d Document, rev uint64) (Stored, error) {
	kv, data, err := s.prepare(ctx, d)
	if err != nil {
		return Stored{}, err
	}
	next, err := kv.Update(ctx, d.Code, data, rev)
	switch {
	case errors.Is(err, jetstream.ErrKeyRevisionMismatch), errors.Is(err, jetstream.ErrKeyExists):
		if _, gerr := s.Get(ctx, d.Code); errors.Is(gerr, ErrNotFound) {
			return Stored{}, fmt.Errorf("user indicator %s: %w", d.Code, ErrNotFound)
		}
		return Stored{}, fmt.Errorf("user indicator %s (revision %d): %w", d.Code, rev, ErrChanged)
	case err != nil:
		return Stored{}, fmt.Errorf("store user indicator %s: %w", d.Code, err)
	}
	return s.stored(ctx, kv, d, next)
}

func (s *Store) prepare(ctx context.Context, d Document) (jetstream.KeyValue, []byte, error) {
	if !ValidCode(d.Code) {
		return nil, nil, fmt.Errorf("user indicator code %q: not user.<namespace>.<name>", d.Code)
	}
	data, err := Encode(d)
	if err != nil {
		return nil, nil, err
	}
	kv, err := s.bucket(ctx)
	return kv, data, err
}

// stored is d as written at revision rev, with the server's time of it.
func (s *Store) stored(ctx context.Context, kv jetstream.KeyValue, d Document, rev uint64) (Stored, error) {
	st := Stored{Document: d, Revision: rev, Updated: time.Now().UTC()}
	if e, err := kv.GetRevision(ctx, d.Code, rev); err == nil {
		st.Updated = e.Created().UTC()
	}
	return st, nil
}

// Delete removes code while its revision is rev (ErrChanged otherwise,
// ErrNotFound when it is not registered). The bucket keeps its history.
func (s *Store) Delete(ctx context.Context, code string, rev uint64) error {
	if !ValidCode(code) {
		return fmt.Errorf("user indicator %q: %w", code, ErrNotFound)
	}
	kv, err := s.bucket(ctx)
	if err != nil {
		return err
	}
	err = kv.Delete(ctx, code, jetstream.LastRevision(rev))
	switch {
	case errors.Is(err, jetstream.ErrKeyRevisionMismatch), errors.Is(err, jetstream.ErrKeyExists):
		if _, gerr := s.Get(ctx, code); errors.Is(gerr, ErrNotFound) {
			return fmt.Errorf("user indicator %s: %w", code, ErrNotFound)
		}
		return fmt.Errorf("user indicator %s (revision %d): %w", code, rev, ErrChanged)
	case err != nil:
		return fmt.Errorf("delete user indicator %s: %w", code, err)
	}
	return nil
}

// Get returns the registered indicator code (ErrNotFound when it is not).
func (s *Store) Get(ctx context.Context, code string) (Stored, error) {
	if !ValidCode(code) {
		return Stored{}, fmt.Errorf("user indicator %q: %w", code, ErrNotFound)
	}
	kv, err := s.bucket(ctx)
	if err != nil {
		return Stored{}, err
	}
	e, err := kv.Get(ctx, code)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Stored{}, fmt.Errorf("user indicator %s: %w", code, ErrNotFound)
	}
	if err != nil {
		return Stored{}, fmt.Errorf("read user indicator %s: %w", code, err)
	}
	return decodeEntry(e)
}

// List returns every registered indicator, sorted by code.
func (s *Store) List(ctx context.Context) ([]Stored, error) {
	kv, err := s.bucket(ctx)
	if err != nil {
		return nil, err
	}
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("list user indicators: %w", err)
	}
	defer func() { _ = w.Stop() }()
	var out []Stored
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("list user indicators: %w", ctx.Err())
		case e, ok := <-w.Updates():
			if !ok {
				return nil, errors.New("list user indicators: the watch closed")
			}
			if e == nil { // every current value is in
				slices.SortFunc(out, func(a, b Stored) int { return strings.Compare(a.Code, b.Code) })
				return out, nil
			}
			st, err := decodeEntry(e)
			if err != nil {
				return nil, err
			}
			out = append(out, st)
		}
	}
}

// IsUser reports whether code is in the user namespace (whether or not it
// is registered).
func IsUser(code string) bool { return strings.HasPrefix(code, Prefix) }
