package userindicators

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/ounce-data/ounce/pkg/indicators"
)

// DefaultMissInterval is how long Watcher.Lookup trusts that a code is
// not registered before asking the bucket again.
const DefaultMissInterval = 250 * time.Millisecond

// maxMisses bounds the codes Lookup remembers as not registered.
const maxMisses = 4096

// Watcher keeps an in-memory view of the user indicators, current within
// the latency of the bucket's watch: a registration, change or deletion
// reaches every service that runs one without a restart.
//
// Lookup also reads through to the bucket when a code of the user
// namespace is not in the view, so that a row of an indicator registered a
// moment ago is not refused because the watch has not delivered it yet;
// a code found not registered is not asked again for MissInterval.
type Watcher struct {
	store *Store
	log   zerolog.Logger
	now   func() time.Time

	// MissInterval, when set before Run or the first Lookup, replaces
	// DefaultMissInterval.
	MissInterval time.Duration
	// OnChange, when set before Run, is called after the initial values
	// are read and after every change the watch delivers, from Run's
	// goroutine.
	OnChange func()

	mu      sync.RWMutex
	entries map[string]*entry // by code, deletions included
	missed  map[string]time.Time
	ready   chan struct{}
	readyFn func()
}

// entry is one code's newest revision, with its catalogue form.
type entry struct {
	st  Stored
	ind *indicators.Indicator // nil when deleted
}

// NewWatcher returns an empty view of store's bucket; Run fills it.
func NewWatcher(store *Store, log zerolog.Logger) *Watcher {
	w := &Watcher{store: store, log: log, now: time.Now, entries: map[string]*entry{}, missed: map[string]time.Time{}, ready: make(chan struct{})}
	w.readyFn = sync.OnceFunc(func() { close(w.ready) })
	return w
}

// Run watches the bucket until ctx ends.
func (w *Watcher) Run(ctx context.Context) error {
	kv, err := w.store.bucket(ctx)
	if err != nil {
		return err
	}
	watch, err := kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("watch user indicators: %w", err)
	}
	defer func() { _ = watch.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-watch.Updates():
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return errors.New("watch user indicators: the watch closed")
			}
			if e == nil { // the initial values are in
				w.readyFn()
				w.changed()
				continue
			}
			st, err := decodeEntry(e)
			if err != nil {
				w.log.Warn().Err(err).Str("code", e.Key()).Msg("user indicator unreadable; left out")
				st = Stored{Document: Document{Code: e.Key()}, Revision: e.Revision(), Updated: e.Created().UTC(), Deleted: true}
			}
			if w.Apply(st) && w.Ready(ctx) == nil {
				w.changed()
			}
		}
	}
}

func (w *Watcher) changed() {
	if w.OnChange != nil {
		w.OnChange()
	}
}

// Apply takes st into the view unless the view holds a newer revision of
// its code, and reports whether it did. The watch applies every change; a
// service that wrote st itself applies it at once, so that its next read
// sees its own write.
func (w *Watcher) Apply(st Stored) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if cur, ok := w.entries[st.Code]; ok && cur.st.Revision >= st.Revision && !(cur.st.Revision == st.Revision && st.Deleted && !cur.st.Deleted) {
		return false
	}
	e := &entry{st: st}
	if !st.Deleted {
		ind := st.Indicator()
		e.ind = &ind
		delete(w.missed, st.Code)
	}
	w.entries[st.Code] = e
	return true
}

// Ready reports whether the initial values have been read.
func (w *Watcher) Ready(context.Context) error {
	select {
	case <-w.ready:
		return nil
	default:
		return errors.New("user indicators not read yet")
	}
}

// WaitReady blocks until the initial values have been read or ctx ends.
func (w *Watcher) WaitReady(ctx context.Context) error {
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Get returns the registered indicator code from the view.
func (w *Watcher) Get(code string) (Stored, bool) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	e, ok := w.entries[code]
	if !ok || e.st.Deleted {
		return Stored{}, false
	}
	return e.st, true
}

// Lookup is Get, reading through to the bucket when the view lacks a
// code of the user namespace (at most once per MissInterval per code). A
// failed read counts as not registered.
func (w *Watcher) Lookup(ctx context.Context, code string) (Stored, bool) {
	if st, ok := w.Get(code); ok {
		return st, true
	}
	if !w.readThrough(ctx, code) {
		return Stored{}, false
	}
	return w.Get(code)
}

// indicator is the catalogue form of code, reading through as Lookup.
func (w *Watcher) indicator(ctx context.Context, code string) (*indicators.Indicator, bool) {
	w.mu.RLock()
	e, ok := w.entries[code]
	w.mu.RUnlock()
	if ok && e.ind != nil {
		return e.ind, true
	}
	if !w.readThrough(ctx, code) {
		return nil, false
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	if e, ok := w.entries[code]; ok && e.ind != nil {
		return e.ind, true
	}
	return nil, false
}

// readThrough asks the bucket for code, unless it is outside the user
// namespace or was found missing within MissInterval; it reports whether
// it found it.
func (w *Watcher) readThrough(ctx context.Context, code string) bool {
	if !ValidCode(code) {
		return false
	}
	interval := w.MissInterval
	if interval <= 0 {
		interval = DefaultMissInterval
	}
	now := w.now()
	w.mu.Lock()
	if at, ok := w.missed[code]; ok && now.Sub(at) < interval {
		w.mu.Unlock()
		return false
	}
	if len(w.missed) >= maxMisses {
		clear(w.missed)
	}
	w.missed[code] = now
	w.mu.Unlock()
	st, err := w.store.Get(ctx, code)
	if err != nil {
		if !errors.Is(err, ErrNotFound) {
			w.log.Warn().Err(err).Str("code", code).Msg("read user indicator")
		}
		return false
	}
	w.Apply(st)
	return true
}

// List returns every registered indicator in the view, sorted by code.
func (w *Watcher) List() []Stored {
	w.mu.RLock()
	defer w.mu.RUnlock()
	out := make([]Stored, 0, len(w.entries))
	for _, e := range w.entries {
		if !e.st.Deleted {
			out = append(out, e.st)
		}
	}
	slices.SortFunc(out, func(a, b Stored) int { return strings.Compare(a.Code, b.Code) })
	return out
}

// Snapshot returns every code the view holds, deleted ones included (with
// Deleted set and the time of the deletion), sorted by code.
func (w *Watcher) Snapshot() []Stored {
	w.mu.RLock()
	defer w.mu.RUnlock()
	out := make([]Stored, 0, len(w.entries))
	for _, e := range w.entries {
		out = append(out, e.st)
	}
	slices.SortFunc(out, func(a, b Stored) int { return strings.Compare(a.Code, b.Code) })
	return out
}

// Union is the catalogue and the user indicators as one: the lookup every
// service uses for an indicator code. Users nil is the catalogue alone.
type Union struct {
	Catalogue *indicators.Catalogue
	Users     *Watcher
}

// Lookup is the union as an indicators.Lookup for the calls of one
// request or message: a user code missing from the view is read through
// under ctx.
func (u Union) Lookup(ctx context.Context) Bound { return Bound{u: u, ctx: ctx} }

// Origin is "catalogue" or "user": where the indicator code is defined.
func Origin(code string) string {
	if IsUser(code) {
		return OriginUser
	}
	return OriginCatalogue
}

// Origins of an indicator.
const (
	OriginCatalogue = "catalogue"
	OriginUser      = "user"
)

// Indicators returns every catalogue entry and every user indicator in the
// view, sorted by code.
func (u Union) Indicators() []indicators.Indicator {
	out := u.Catalogue.Indicators()
	if u.Users == nil {
		return out
	}
	for _, st := range u.Users.List() {
		out = append(out, st.Indicator())
	}
	slices.SortFunc(out, func(a, b indicators.Indicator) int { return strings.Compare(a.Code, b.Code) })
	return out
}

// Bound is a Union with the context its reads through run under.
type Bound struct {
	u   Union
	ctx context.Context
}

// Indicator finds code in the catalogue, else among the user indicators.
// The result is shared: do not modify it.
func (b Bound) Indicator(code string) (*indicators.Indicator, bool) {
	if ind, ok := b.u.Catalogue.Indicator(code); ok {
		return ind, true
	}
	if b.u.Users == nil || !IsUser(code) {
		return nil, false
	}
	return b.u.Users.indicator(b.ctx, code)
}

// IsWhole reports whether some indicator is declared part_of code: only
// catalogue entries declare part_of.
func (b Bound) IsWhole(code string) bool { return b.u.Catalogue.IsWhole(code) }
