package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ounce-data/ounce/pkg/httpapi"
)

// MaxIdempotencyKeyLen bounds the Idempotency-Key header.
const MaxIdempotencyKeyLen = 255

// idemRecord is what the idempotency bucket holds for one partner and key:
// the push's fingerprint, and its answer once there is one.
type idemRecord struct {
	Fingerprint string    `json:"fingerprint"`
	ClaimedAt   time.Time `json:"claimed_at"`
	Answer      *answer   `json:"answer,omitempty"`
}

// idemClaim is a key this request holds until it stores its answer.
type idemClaim struct {
	kvKey       string
	revision    uint64
	fingerprint string
}

// idemKVKey keys the bucket by partner and a hash of the client's key, so
// any header value is a valid bucket key and partners cannot collide.
func idemKVKey(partner, key string) string {
	sum := sha256.Sum256([]byte(key))
	return partner + "." + hex.EncodeToString(sum[:])
}

// claimIdempotency claims key for this request, or returns the stored
// answer of an earlier request with the same body. The bucket is shared by
// every replica, so a retry reaching another replica is answered alike.
func (s *Service) claimIdempotency(ctx context.Context, partner, key, fp string) (*idemClaim, *answer, *httpapi.Error) {
	if len(key) > MaxIdempotencyKeyLen {
		return nil, nil, httpapi.BadRequest(IdempotencyKeyHeader, "is %d characters; at most %d", len(key), MaxIdempotencyKeyLen)
	}
	kvKey := idemKVKey(partner, key)
	now := s.cfg.Now()
	rec, _ := json.Marshal(idemRecord{Fingerprint: fp, ClaimedAt: now})
	for range 3 {
		rev, err := s.idem.Create(ctx, kvKey, rec)
		if err == nil {
			return &idemClaim{kvKey: kvKey, revision: rev, fingerprint: fp}, nil, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, nil, unavailable(err)
		}
		e, err := s.idem.Get(ctx, kvKey)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // released meanwhile: claim again
		}
		if err != nil {
			return nil, nil, unavailable(err)
		}
		var old idemRecord
		if err := json.Unmarshal(e.Value(), &old); err != nil {
			return nil, nil, httpapi.Errorf(httpapi.CodeInternal, "", "idempotency record of %s is corrupt", IdempotencyKeyHeader)
		}
		if old.Fingerprint != fp {
			return nil, nil, httpapi.Errorf(httpapi.CodeIdempotencyKeyReused, IdempotencyKeyHeader,
				"this %s was used for a push with another body or other options; use a new key for a new push", IdempotencyKeyHeader)
		}
		if old.Answer != nil {
			return nil, old.Answer, nil
		}
		if now.Sub(old.ClaimedAt) < s.cfg.PendingTimeout {
			return nil, nil, httpapi.Errorf(httpapi.CodeIdempotencyKeyInUse, IdempotencyKeyHeader,
				"a push with this %s is still being processed; retry in a few seconds", IdempotencyKeyHeader)
		}
		// The request that claimed it died: take it over.
		rev, err = s.idem.Update(ctx, kvKey, rec, e.Revision())
		if err == nil {
			return &idemClaim{kvKey: kvKey, revision: rev, fingerprint: fp}, nil, nil
		}
	}
	return nil, nil, httpapi.Errorf(httpapi.CodeIdempotencyKeyInUse, IdempotencyKeyHeader,
		"a push with this %s is being processed concurrently; retry in a few seconds", IdempotencyKeyHeader)
}

// keepClaim renews c's claim every third of PendingTimeout while the push
// runs, so that a replica that died holding a key is known within
// PendingTimeout however long a live push takes. The returned stop ends the
// renewal; call it before storing or releasing c.
func (s *Service) keepClaim(ctx context.Context, c *idemClaim) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(s.cfg.PendingTimeout / 3)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
			}
			rec, _ := json.Marshal(idemRecord{Fingerprint: c.fingerprint, ClaimedAt: s.cfg.Now()})
			rev, err := s.idem.Update(context.WithoutCancel(ctx), c.kvKey, rec, c.revision)
			if err != nil {
				s.log.Warn().Err(err).Msg("renew idempotency claim; a retry may run this push again")
				return
			}
			c.revision = rev
		}
	}()
	return func() { close(quit); <-done }
}

// storeIdempotency records the answer of a claimed key.
func (s *Service) storeIdempotency(ctx context.Context, c *idemClaim, a answer) {
	rec, err := json.Marshal(idemRecord{Fingerprint: c.fingerprint, ClaimedAt: s.cfg.Now(), Answer: &a})
	if err == nil {
		_, err = s.idem.Update(context.WithoutCancel(ctx), c.kvKey, rec, c.revision)
	}
	if err != nil {
		s.log.Warn().Err(err).Msg("store idempotency answer; a retry will be processed again")
		s.releaseIdempotency(ctx, c)
	}
}

// releaseIdempotency frees a claimed key whose push did not finish, so a
// retry is processed again.
func (s *Service) releaseIdempotency(ctx context.Context, c *idemClaim) {
	if err := s.idem.Delete(context.WithoutCancel(ctx), c.kvKey, jetstream.LastRevision(c.revision)); err != nil {
		s.log.Warn().Err(err).Msg("release idempotency key")
	}
}
