package engagement

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/kudos-live/kudos/rewards"
)

// How an award travels, so that none is lost and no ledger change is left without its events:
//
//  1. award records it in the AwardQueue, durably, before anything else (it is now owed);
//  2. the ledger applies it, idempotent by its key;
//  3. its events (points.awarded, points.capped) go to the sink with ids derived from the key and the award's
//     time, so a second publication has the same ids and consumers drop it; a tier change (tier.changed) is a
//     fact of the ledger, published from the user's outbox (points_facts.go);
//  4. once the sink has them (Publish returned), the queue forgets the award.
//
// A failure at 2 or 3 (the ledger's Redis down, the spool full) or a crash anywhere leaves the award in the
// queue; RunAwards pays it later, whatever became of its stream or this process: the ledger applies it once
// (or says it already had, with the original result) and the events are published again, same ids.

// QueuedAward is an award owed to a user: what the ledger needs, and what the points frame says.
type QueuedAward struct {
	Key    string    `json:"key"`
	User   string    `json:"user"`
	Stream string    `json:"stream,omitempty"`
	Source string    `json:"source"`
	Points int64     `json:"points"`
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at"` // when it was earned: the month whose cap it counts against
}

// AwardQueue keeps every award from the moment it is earned until its ledger change and its events are
// durable. Implementations: MemoryAwardQueue (this process only: development, tests) and FileAwardQueue (a
// local append-only file, fsynced: survives a restart).
//
// Add is durable when it returns nil, and replaces an award of the same key. Done forgets an award; it is
// idempotent and need not be durable (an award done twice is paid once: the ledger is idempotent). Pending
// returns the awards not done, oldest first. Methods are safe for concurrent use.
type AwardQueue interface {
	Add(ctx context.Context, a QueuedAward) error
	Done(ctx context.Context, key string) error
	Pending(ctx context.Context) ([]QueuedAward, error)
	Close() error
}

// ErrAwardQueueFull is returned by Add when the queue holds MaxQueuedAwards: the ledger has been down long
// enough that this is an outage to fix, not a queue to grow.
var ErrAwardQueueFull = errors.New("award queue full")

// MaxQueuedAwards bounds an AwardQueue.
const MaxQueuedAwards = 100_000

// Retry timing of RunAwards: it looks at the queue every awardRetryEvery, and an award that failed waits
// longer after each failure, up to awardRetryMax.
const (
	awardRetryEvery = time.Second
	awardRetryMax   = 30 * time.Second
)

// award pays a scored interaction to actor and returns the points frame for them (empty when nothing is
// paid). Failures are logged, not returned: points follow from an accepted interaction, never reject it; the
// queue pays a failed award later.
func (s *Service) award(ctx context.Context, actor Actor, stream string, sc Scored) Outcome {
	if sc.Points <= 0 || actor.IsStaff() { // hosts and admins do not earn from the shows they run
		return Outcome{Stream: stream}
	}
	a := QueuedAward{Key: sc.Key, User: actor.User, Stream: stream, Source: sc.Source, Points: sc.Points, Reason: sc.Reason, At: s.now().UTC()}
	if !s.inflight.begin(a.Key) {
		return Outcome{Stream: stream} // the same key is being paid right now (RunAwards, or a twin action): theirs
	}
	if err := s.awards.Add(ctx, a); err != nil {
		// Without the queue the award still goes to the ledger now, but a failure there loses it: say so loudly.
		s.log.Error("queue award: paying it without a retry", "stream", stream, "user", actor.User, "key", sc.Key, "err", err)
	}
	out, _ := s.batched(ctx, func(ctx context.Context) (Outcome, error) {
		o, _ := s.payAward(ctx, a)
		return o, nil
	})
	return out
}

// payAward applies a to the ledger and emits its events; the award is done once they are published (see
// batched). The events go out even when the ledger says it had already applied the award (a retry from the
// queue, or an action reusing the key of an award still owed): a crash or a full spool may have come between
// the two, and the ids are derived, so a second copy is dropped by consumers. An award the ledger refuses as
// invalid is done too (paid reports that the queue may forget it).
func (s *Service) payAward(ctx context.Context, a QueuedAward) (out Outcome, paid bool) {
	out = Outcome{Stream: a.Stream}
	res, err := s.ledger.Award(ctx, rewards.Award{
		Key:           a.Key,
		User:          a.User,
		Stream:        a.Stream,
		Source:        a.Source,
		Points:        a.Points,
		Participation: a.Source != SourcePurchase,
		Pending:       a.Source == SourcePurchase,
		At:            a.At,
	})
	if errors.Is(err, rewards.ErrInvalid) {
		// Refused for good, never paid: retrying cannot help. An award still owed once the month after the one
		// it was earned in has ended is refused, because the ledger may have forgotten whether it paid it.
		s.log.Error("award refused by the ledger; dropped from the queue", "stream", a.Stream, "user", a.User, "key", a.Key, "at", a.At, "err", err)
		s.awardDone(ctx, a.Key)
		return out, true
	}
	if err != nil {
		s.log.Error("award points; the queue will retry", "stream", a.Stream, "user", a.User, "key", a.Key, "err", err)
		s.inflight.end(a.Key)
		return out, false
	}
	s.emitAward(ctx, a.User, a.Stream, Scored{Key: a.Key, Source: a.Source, Points: a.Points}, res)
	s.publishFacts(ctx, a.User)
	if res.Applied && res.Granted > 0 && a.Source != SourcePurchase {
		s.forfeitLate(ctx, a.User, "award:"+a.Key) // paid after an erasure of the user: not theirs to keep
	}
	s.awardDone(ctx, a.Key)
	if res.Applied {
		out.Direct = append(out.Direct, Direct{User: a.User, Frame: Frame{Type: "points", Data: map[string]any{
			"balance": res.Balance, "tier": res.Tier, "delta": res.Granted, "reason": a.Reason, "source": a.Source,
			"capped": res.Capped, "pending": a.Source == SourcePurchase,
		}}})
	}
	return out, true
}

// emitAward publishes the point movements of one applied award, with ids derived from its key and time.
func (s *Service) emitAward(ctx context.Context, user, stream string, sc Scored, res rewards.AwardResult) {
	at := res.At
	if at.IsZero() {
		at = s.now()
	}
	if res.Granted > 0 {
		s.emitOnce(ctx, sc.Key, at, EventPointsAwarded, stream, user, map[string]any{
			"key": sc.Key, "source": sc.Source, "points": res.Granted, "base_points": sc.Points, "balance": res.Balance,
			"stream": stream, "pending": sc.Source == SourcePurchase, "tier": res.Tier,
		})
	}
	if res.Capped > 0 {
		s.emitOnce(ctx, sc.Key, at, EventPointsCapped, stream, user, map[string]any{"key": sc.Key, "source": sc.Source, "capped": res.Capped, "stream": stream})
	}
	// A tier change (res.TierChanged) is published from the ledger's facts (publishFacts), with its reason.
}

// RunAwards pays the queued awards that were not paid when they were earned (the ledger failed, the events
// could not be published, the process stopped), until ctx ends: at once for what an earlier process left,
// then every awardRetryEvery. deliver, if not nil, receives the points frames of the awards it pays. Every
// ledgerSweepEvery it also sweeps the ledger (SweepLedger), so that points settle and expire with their
// events for users who do nothing.
func (s *Service) RunAwards(ctx context.Context, deliver func(context.Context, Outcome)) {
	backoff := map[string]retryState{}
	t := time.NewTicker(awardRetryEvery)
	defer t.Stop()
	var swept time.Time
	for {
		s.retryAwards(ctx, backoff, deliver)
		if now := time.Now(); now.Sub(swept) >= ledgerSweepEvery && ctx.Err() == nil {
			swept = now
			if _, err := s.SweepLedger(ctx); err != nil {
				s.log.Error("sweep the ledger", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// retryState is when a failing award may be tried again.
type retryState struct {
	tries int
	next  time.Time
}

// retryAwards makes one pass over the queue (see RunAwards).
func (s *Service) retryAwards(ctx context.Context, backoff map[string]retryState, deliver func(context.Context, Outcome)) {
	pending, err := s.awards.Pending(ctx)
	if err != nil {
		s.log.Error("read the award queue", "err", err)
		return
	}
	now := s.now()
	seen := make(map[string]bool, len(pending))
	for _, a := range pending {
		if ctx.Err() != nil {
			return
		}
		seen[a.Key] = true
		if st := backoff[a.Key]; now.Before(st.next) || !s.inflight.begin(a.Key) {
			continue // waiting after a failure, or an action is paying it right now
		}
		out, err := s.batched(ctx, func(ctx context.Context) (Outcome, error) {
			o, paid := s.payAward(ctx, a)
			if !paid {
				return o, errAwardUnpaid
			}
			return o, nil
		})
		if err != nil {
			st := backoff[a.Key]
			st.tries++
			st.next = now.Add(min(time.Duration(st.tries)*awardRetryEvery, awardRetryMax))
			backoff[a.Key] = st
			s.inflight.end(a.Key)
			continue
		}
		delete(backoff, a.Key)
		if deliver != nil && !out.Empty() {
			deliver(ctx, out)
		}
	}
	for k := range backoff {
		if !seen[k] {
			delete(backoff, k)
		}
	}
}

// errAwardUnpaid: the ledger refused an award for now (logged where it happened).
var errAwardUnpaid = errors.New("award not paid")

// awardDone marks key done once the events emitted so far are durable: at the end of the batch, or now when
// there is none.
func (s *Service) awardDone(ctx context.Context, key string) {
	if b, ok := ctx.Value(eventBatchKey{}).(*eventBatch); ok {
		b.awards = append(b.awards, key)
		return
	}
	s.finishAward(ctx, key, true)
}

// finishAward ends an award's flight: published, it leaves the queue; otherwise it stays for RunAwards.
func (s *Service) finishAward(ctx context.Context, key string, published bool) {
	defer s.inflight.end(key)
	if !published {
		return
	}
	if err := s.awards.Done(context.WithoutCancel(ctx), key); err != nil {
		s.log.Error("mark award done (it will be paid again, once)", "key", key, "err", err)
	}
}

// inflightAwards are the award keys an action of this process is paying now, so that RunAwards leaves them
// alone.
type inflightAwards struct {
	mu   sync.Mutex
	keys map[string]bool
}

// begin marks key in flight; false if it already was.
func (f *inflightAwards) begin(key string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.keys == nil {
		f.keys = map[string]bool{}
	}
	if f.keys[key] {
		return false
	}
	f.keys[key] = true
	return true
}

func (f *inflightAwards) end(key string) {
	f.mu.Lock()
	delete(f.keys, key)
	f.mu.Unlock()
}
