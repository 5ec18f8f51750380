package engagement

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/kudos-live/kudos/rewards"
)

// Every balance change is an event. The ledger's own changes — purchase points settling, points expiring,
// the expiry notice, every tier change — happen inside the store, whichever call touches the user (or the
// sweep, for users who do nothing). The store records each as a fact in the user's outbox in the same
// atomic step (rewards/facts.go); publishFacts turns the outbox into events whose ids derive from the user
// and the fact's number, publishes them, and only then acknowledges the facts. A crash between the store's
// write and the publication leaves the facts in the outbox, and the next touch or sweep publishes them;
// a crash between the publication and the acknowledgement publishes them again with the same ids, which
// consumers drop. So each fact becomes exactly one event downstream.

// Ledger sweep timing (RunAwards runs it): every ledgerSweepEvery, at most ledgerSweepBatch users brought up
// to date and ledgerSweepBatch users' facts published.
const (
	ledgerSweepEvery = 10 * time.Second
	ledgerSweepBatch = 200
)

// publishFacts publishes user's unacknowledged ledger facts as events, then acknowledges them. Failures are
// logged: the facts stay in the outbox for the next call or sweep. The events go straight to the sink, not
// into the caller's batch: they are the ledger's, not the action's, and wait for no answer.
func (s *Service) publishFacts(ctx context.Context, user string) {
	ctx = context.WithoutCancel(ctx)
	facts, err := s.ledger.Facts(ctx, user)
	if err != nil {
		s.log.Error("read ledger facts", "user", user, "err", err)
		return
	}
	if len(facts) == 0 {
		return
	}
	evs := make([]Event, 0, len(facts))
	for _, f := range facts {
		ev, err := s.factEvent(f)
		if err != nil {
			s.log.Error("build ledger fact event", "user", user, "seq", f.Seq, "err", err)
			return
		}
		evs = append(evs, ev)
	}
	if err := s.sink.Publish(ctx, evs...); err != nil {
		s.log.Error("publish ledger facts (kept for the next sweep)", "user", user, "count", len(evs), "err", err)
		return
	}
	if err := s.ledger.AckFacts(ctx, user, facts[len(facts)-1].Seq); err != nil {
		s.log.Error("acknowledge ledger facts (they will be published again, same ids)", "user", user, "err", err)
	}
	for _, f := range facts {
		if f.Kind == rewards.FactSettled && f.Points > 0 {
			s.forfeitLate(ctx, user, "settled:"+strconv.FormatInt(f.Seq, 10)) // settled after an erasure
		}
	}
}

// factEvent is the event of one fact; its id derives from the user and the fact's number (and type and time),
// so every publication of the fact is the same event.
func (s *Service) factEvent(f rewards.Fact) (Event, error) {
	var typ, stream string
	var data map[string]any
	switch f.Kind {
	case rewards.FactSettled:
		typ, stream = EventPointsSettled, f.Stream
		data = map[string]any{"key": f.Key, "order_id": strings.TrimPrefix(f.Key, "order:"), "stream": f.Stream,
			"points": f.Points, "balance": f.Balance}
	case rewards.FactExpired:
		typ = EventPointsExpired
		data = map[string]any{"points": f.Points, "balance": f.Balance}
	case rewards.FactExpiring:
		typ = EventPointsExpiring
		data = map[string]any{"points": f.Points, "expires_by": f.ExpiresBy.UTC(), "balance": f.Balance}
	default: // rewards.FactTier
		typ = EventTierChanged
		data = map[string]any{"from": f.From, "to": f.To, "reason": f.Reason, "seq": f.Seq}
	}
	ev, err := NewEvent("kudos/"+s.cfg.Node, typ, stream, f.User, s.scorer.ForUser(f.User).Arm(), f.At, data)
	if err != nil {
		return Event{}, err
	}
	ev.ID = DerivedEventID(f.At, typ+"\x00fact:"+f.User+":"+strconv.FormatInt(f.Seq, 10))
	return ev, nil
}

// SweepLedger runs one ledger sweep: brings up to ledgerSweepBatch users up to date (settling, expiry,
// notices, tiers after a month left the window) and publishes the facts of up to as many users. It returns
// how many users' facts it published.
func (s *Service) SweepLedger(ctx context.Context) (int, error) {
	res, err := s.ledger.Sweep(ctx, ledgerSweepBatch)
	if err != nil {
		return 0, err
	}
	for _, u := range res.Users {
		if ctx.Err() != nil {
			break
		}
		s.publishFacts(ctx, u)
	}
	return len(res.Users), nil
}
