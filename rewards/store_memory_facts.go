package rewards

import (
	"context"
	"sort"
	"time"
)

// memFacts is a user's outbox of facts (facts.go) in the memory store.
type memFacts struct {
	seq    int64
	outbox []Fact
	dirty  map[string]bool // the store's users with an outbox, shared (memSweep.dirty)
}

// memSweep is the memory store's sweep state: every user in the order first seen, visited in turn.
type memSweep struct {
	order []string
	next  int
	dirty map[string]bool // users with facts not yet acknowledged
}

// adopt registers a new user for the sweep and the outbox.
func (s *MemoryStore) adopt(id string, u *memUser) {
	if s.sweep.dirty == nil {
		s.sweep.dirty = map[string]bool{}
	}
	u.id = id
	u.facts.dirty = s.sweep.dirty
	s.sweep.order = append(s.sweep.order, id)
}

// fact records f in u's outbox, numbered, with the balance after it.
func (u *memUser) fact(at int64, f Fact) {
	u.facts.seq++
	f.Seq, f.User, f.At, f.Balance = u.facts.seq, u.id, time.UnixMilli(at).UTC(), u.balance
	u.facts.outbox = append(u.facts.outbox, f)
	u.facts.dirty[u.id] = true
}

// due brings u up to date at p: settles, expires, announces expiring lots and re-tiers after the window
// rolled (what every call touching u does first).
func (u *memUser) due(p Policy) {
	u.settle(p)
	u.expire(p)
	u.warn(p)
	u.retier(p, TierReasonWindow)
}

// warn announces, once, the lots that come within ExpiringNotice of expiring.
func (u *memUser) warn(p Policy) {
	before, by := p.warnHorizon()
	var total int64
	for i := range u.lots {
		l := &u.lots[i]
		if !l.warned && l.at <= before.UnixMilli() {
			l.warned = true
			total += l.left
		}
	}
	if total > 0 {
		u.fact(p.Now.UnixMilli(), Fact{Kind: FactExpiring, Points: total, ExpiresBy: by})
	}
}

// retier records the tier u's standing gives at p, with a fact if it changed (a user never awarded has none).
func (u *memUser) retier(p Policy, reason string) {
	if u.tier == "" {
		return
	}
	to := tierFor(p.Tiers, p.standing(u.earned12(p), u.spent12(p))).Tier
	if to != u.tier {
		u.fact(p.Now.UnixMilli(), Fact{Kind: FactTier, From: u.tier, To: to, Reason: reason})
		u.tier = to
	}
}

// Facts implements Store.
func (s *MemoryStore) Facts(_ context.Context, user string) ([]Fact, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[user]
	if !ok {
		return []Fact{}, nil
	}
	return append([]Fact{}, u.facts.outbox...), nil
}

// AckFacts implements Store.
func (s *MemoryStore) AckFacts(_ context.Context, user string, seq int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[user]
	if !ok {
		return nil
	}
	i := sort.Search(len(u.facts.outbox), func(i int) bool { return u.facts.outbox[i].Seq > seq })
	u.facts.outbox = append([]Fact{}, u.facts.outbox[i:]...)
	if len(u.facts.outbox) == 0 {
		delete(s.sweep.dirty, user)
	}
	return nil
}

// Sweep implements Store: the next limit users in turn, then up to limit users with facts, by id.
func (s *MemoryStore) Sweep(_ context.Context, p Policy, limit int) (SweepResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var res SweepResult
	for n := min(limit, len(s.sweep.order)); res.Visited < n; res.Visited++ {
		if s.sweep.next >= len(s.sweep.order) {
			s.sweep.next = 0
		}
		s.users[s.sweep.order[s.sweep.next]].due(p)
		s.sweep.next++
	}
	for user := range s.sweep.dirty {
		res.Users = append(res.Users, user)
	}
	sort.Strings(res.Users)
	if len(res.Users) > limit {
		res.Users = res.Users[:limit]
	}
	return res, nil
}
