package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/time/rate"

	"github.com/ounce-data/ounce/pkg/httpapi"
	"github.com/ounce-data/ounce/services/gateway/registry"
)

// rateLimit refuses a request over the key's rate, saying when to retry.
func (s *Service) rateLimit(ctx context.Context, w http.ResponseWriter, p *registry.Partner) *httpapi.Error {
	delay := s.take(ctx, p.ID)
	if delay <= 0 {
		return nil
	}
	secs := max(int(math.Ceil(delay.Seconds())), 1)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	return httpapi.Errorf(httpapi.CodeRateLimited, "", "this key may send %g requests a second (bursts of %d); retry after %d s",
		s.cfg.RateLimit, s.cfg.RateBurst, secs)
}

// take spends one request of partner id's budget and returns 0, or how long
// to wait when the budget is spent. The budget is a token bucket in the
// BucketGatewayRates KV bucket, so every replica draws on the same one;
// when NATS does not answer in time, or replicas keep racing on the same
// key, this replica's own limiter decides rather than refusing the push.
func (s *Service) take(ctx context.Context, id string) time.Duration {
	if s.rates != nil {
		ctx, cancel := context.WithTimeout(ctx, sharedRateTimeout)
		defer cancel()
		for range 5 {
			delay, err := s.takeShared(ctx, id)
			if err == nil {
				return delay
			}
			if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) && !errors.Is(err, jetstream.ErrKeyExists) {
				s.log.Warn().Err(err).Str("partner", id).Msg("shared rate budget unreadable; this replica's limiter decides")
				break
			}
		}
	}
	res := s.limiter(id).Reserve()
	if delay := res.Delay(); delay > 0 {
		res.Cancel()
		return delay
	}
	return 0
}

// sharedRateTimeout bounds what a push waits for the shared budget.
const sharedRateTimeout = 500 * time.Millisecond

// rateState is one key's token bucket as stored.
type rateState struct {
	Tokens float64 `json:"tokens"`
	At     int64   `json:"at"` // Unix nanoseconds the tokens were counted at
}

// takeShared is one optimistic read-modify-write of id's bucket; a
// concurrent writer makes it fail with a revision error.
func (s *Service) takeShared(ctx context.Context, id string) (time.Duration, error) {
	now := s.cfg.Now()
	perSec, burst := s.cfg.RateLimit, float64(s.cfg.RateBurst)
	st := rateState{Tokens: burst, At: now.UnixNano()}
	var rev uint64
	e, err := s.rates.Get(ctx, id)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
	case err != nil:
		return 0, err
	default:
		rev = e.Revision()
		var stored rateState
		if json.Unmarshal(e.Value(), &stored) == nil {
			st = stored
		}
	}
	if elapsed := now.Sub(time.Unix(0, st.At)); elapsed > 0 {
		st.Tokens = min(burst, st.Tokens+elapsed.Seconds()*perSec)
		st.At = now.UnixNano()
	}
	if st.Tokens < 1 {
		return time.Duration((1 - st.Tokens) / perSec * float64(time.Second)), nil
	}
	st.Tokens--
	data, err := json.Marshal(st)
	if err != nil {
		return 0, err
	}
	if rev == 0 {
		_, err = s.rates.Create(ctx, id, data)
	} else {
		_, err = s.rates.Update(ctx, id, data, rev)
	}
	return 0, err
}

// limiter is the rate limiter of one partner on this replica, used when
// the shared budget cannot be read.
func (s *Service) limiter(id string) *rate.Limiter {
	s.limitMu.Lock()
	defer s.limitMu.Unlock()
	l := s.limiters[id]
	if l == nil {
		l = rate.NewLimiter(rate.Limit(s.cfg.RateLimit), s.cfg.RateBurst)
		s.limiters[id] = l
	}
	return l
}
