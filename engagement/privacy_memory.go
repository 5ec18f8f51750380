package engagement

import (
	"context"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
)

// privacyMemory is MemoryStore's part of PrivacyStore: the erased marks, under a lock of their own. The
// memory store needs no index of a user's streams: export and erasure look through every concept's maps,
// each under its own lock in turn (MemoryStore.ExportUser, MemoryStore.EraseUser below).
type privacyMemory struct {
	mu     sync.Mutex
	life   *memLife
	erased map[string]time.Time // user → when the mark expires
}

func newPrivacyMemory(life *memLife) *privacyMemory {
	return &privacyMemory{life: life, erased: map[string]time.Time{}}
}

// NoteParticipant implements PrivacyStore: nothing to note, the memory store looks through all its state.
func (m *privacyMemory) NoteParticipant(context.Context, string, string, time.Time) error { return nil }

// MarkErased implements PrivacyStore.
func (m *privacyMemory) MarkErased(_ context.Context, user string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.life.now()
	maps.DeleteFunc(m.erased, func(_ string, until time.Time) bool { return !now.Before(until) })
	m.erased[user] = now.Add(ErasedMarkTTL)
	return nil
}

// Erased implements PrivacyStore.
func (m *privacyMemory) Erased(_ context.Context, user string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	until, ok := m.erased[user]
	return ok && m.life.now().Before(until), nil
}

// ExportUser implements PrivacyStore.
func (s *MemoryStore) ExportUser(ctx context.Context, user string) (UserData, error) {
	d := newUserData(user)
	name := func(n string) {
		if n != "" {
			d.Names = append(d.Names, n)
		}
	}
	func() {
		m := s.chatMemory
		m.mu.Lock()
		defer m.mu.Unlock()
		for st, cs := range m.comments {
			for _, c := range cs {
				if c.User == user && !m.removed[st][c.ID] {
					d.Comments = append(d.Comments, UserComment{Stream: st, Comment: c})
					name(c.Name)
				}
			}
		}
	}()
	// The replay, after the recent history: its comments that are no longer recent.
	tstreams := func() []string {
		m := s.timelineMemory
		m.mu.Lock()
		defer m.mu.Unlock()
		return slices.Collect(maps.Keys(m.timelines))
	}()
	for _, st := range tstreams {
		items, err := s.timelineMemory.TimelineItems(ctx, st, 0, math.MaxInt64, math.MinInt64, -1, MaxTimelineItems)
		if err != nil {
			return UserData{}, err
		}
		d.addReplayComments(st, user, items)
	}
	qstreams := func() []string {
		m := s.questionMemory
		m.mu.Lock()
		defer m.mu.Unlock()
		return slices.Collect(maps.Keys(m.questions))
	}()
	for _, st := range qstreams {
		qs, err := s.questionMemory.Questions(ctx, st)
		if err != nil {
			return UserData{}, err
		}
		for _, q := range qs {
			if q.User == user {
				d.Questions = append(d.Questions, UserQuestion{Stream: st, Question: q})
				name(q.Name)
			}
		}
	}
	func() {
		m := s.pollMemory
		m.mu.Lock()
		defer m.mu.Unlock()
		for k, p := range m.polls {
			if p.voted[user] {
				st, id, _ := strings.Cut(k, "\x00")
				d.Votes = append(d.Votes, UserVote{Stream: st, Poll: id})
			}
		}
	}()
	func() {
		m := s.quizMemory
		m.mu.Lock()
		defer m.mu.Unlock()
		for k, q := range m.quizzes {
			st, id, _ := strings.Cut(k, "\x00")
			for _, rs := range q.answers {
				for _, r := range rs {
					if r.User == user {
						d.QuizAnswers = append(d.QuizAnswers, UserQuizAnswer{Stream: st, Quiz: id, QuizResponse: r})
						name(r.Name)
					}
				}
			}
			if p, ok := q.players[user]; ok {
				d.QuizScores = append(d.QuizScores, UserQuizScore{Stream: st, Quiz: id, QuizPlayer: p})
			}
		}
	}()
	func() {
		m := s.feedbackMemory
		m.mu.Lock()
		defer m.mu.Unlock()
		for st, f := range m.feedback {
			for g := range f.given {
				if kind, u, _ := strings.Cut(g, "\x00"); u == user {
					d.Feedback = append(d.Feedback, UserFeedback{Stream: st, Kind: kind})
				}
			}
		}
	}()
	func() {
		m := s.couponMemory
		m.mu.Lock()
		defer m.mu.Unlock()
		for k, c := range m.coupons {
			if code, ok := c.codes[user]; ok {
				st, id, _ := strings.Cut(k, "\x00")
				d.CouponClaims = append(d.CouponClaims, UserCouponClaim{Stream: st, Coupon: id, Code: code})
			}
		}
	}()
	wallet, err := s.couponMemory.UserCoupons(ctx, user, MaxUserCoupons)
	if err != nil {
		return UserData{}, err
	}
	d.Coupons = append(d.Coupons, wallet...)
	func() {
		m := s.drawMemory
		m.mu.Lock()
		defer m.mu.Unlock()
		for k, dr := range m.draws {
			e, ok := dr.entrants[user]
			if !ok {
				continue
			}
			st, id, _ := strings.Cut(k, "\x00")
			ud := UserDraw{Stream: st, Draw: id, Prize: dr.d.Prize, Name: e.Name}
			if r := dr.d.Result; r != nil {
				ud.Won = slices.ContainsFunc(r.Winners, func(w DrawEntrant) bool { return w.User == user })
			}
			d.Draws = append(d.Draws, ud)
			name(e.Name)
		}
	}()
	func() {
		m := s.salesMemory
		m.mu.Lock()
		defer m.mu.Unlock()
		for st, sh := range m.sheets {
			for _, o := range sh.orderByID {
				if o.order.User == user {
					d.Purchases = append(d.Purchases, UserPurchase{Stream: st, SaleOrder: o.order})
				}
			}
		}
	}()
	func() {
		m := s.notificationMemory
		m.mu.Lock()
		defer m.mu.Unlock()
		now := m.life.now()
		for k, n := range m.notifSentDays {
			if u, day, _ := strings.Cut(k, "\x00"); u == user && now.Before(n.expires) {
				d.Notifications = append(d.Notifications, UserNotification{Day: day, Sent: int64(n.sent)})
			}
		}
		for st, us := range m.participants {
			if us[user] {
				d.Streams = append(d.Streams, st)
			}
		}
	}()
	d.sort()
	return d, nil
}

// EraseUser implements PrivacyStore.
func (s *MemoryStore) EraseUser(_ context.Context, user, label string) (Erased, error) {
	var e Erased
	func() {
		m := s.chatMemory
		m.mu.Lock()
		defer m.mu.Unlock()
		for st, cs := range m.comments {
			kept := cs[:0:0]
			for _, c := range cs {
				if c.User == user {
					e.addComment(st, c.ID)
					continue
				}
				kept = append(kept, c)
			}
			m.comments[st] = kept
		}
	}()
	func() {
		m := s.questionMemory
		m.mu.Lock()
		defer m.mu.Unlock()
		for st, qs := range m.questions {
			for id, mq := range qs {
				if mq.q.User == user {
					delete(qs, id)
					if m.pinned[st] == id {
						delete(m.pinned, st)
					}
					e.addQuestion(st, id)
				}
			}
		}
	}()
	func() {
		m := s.quizMemory
		m.mu.Lock()
		defer m.mu.Unlock()
		for _, q := range m.quizzes {
			for _, rs := range q.answers {
				for i := range rs {
					if rs[i].User == user && rs[i].Name != label {
						rs[i].Name = label
						e.Records++
					}
				}
			}
			if p, ok := q.players[user]; ok && p.Name != label {
				p.Name = label
				q.players[user] = p
				e.Records++
			}
		}
	}()
	func() {
		m := s.drawMemory
		m.mu.Lock()
		defer m.mu.Unlock()
		for _, dr := range m.draws {
			if en, ok := dr.entrants[user]; ok && en.Name != label {
				en.Name = label
				dr.entrants[user] = en
				e.Records++
			}
			if r := dr.d.Result; r != nil {
				for i := range r.Winners {
					if r.Winners[i].User == user && r.Winners[i].Name != label {
						r.Winners[i].Name = label
						e.Records++
					}
				}
			}
		}
	}()
	func() {
		m := s.timelineMemory
		m.mu.Lock()
		defer m.mu.Unlock()
		for _, tl := range m.timelines {
			kept := tl.items[:0:0]
			for _, it := range tl.items {
				raw, drop, changed := scrubJSON(it.Data, user, label)
				switch {
				case drop:
					e.Records++
					continue
				case changed:
					it.Data = raw
					e.Records++
				}
				kept = append(kept, it)
			}
			tl.items = kept
		}
	}()
	func() {
		m := s.couponMemory
		m.mu.Lock()
		defer m.mu.Unlock()
		if len(m.mine[user]) > 0 {
			e.Records += len(m.mine[user])
			delete(m.mine, user)
		}
	}()
	func() {
		m := s.notificationMemory
		m.mu.Lock()
		defer m.mu.Unlock()
		if _, ok := m.lastStream[user]; ok {
			delete(m.lastStream, user)
			e.Records++
		}
		for k := range m.notifSentDays {
			if u, _, _ := strings.Cut(k, "\x00"); u == user {
				delete(m.notifSentDays, k)
				e.Records++
			}
		}
		for k := range m.notifDecided {
			if k.user == user {
				delete(m.notifDecided, k)
				e.Records++
			}
		}
	}()
	return e, nil
}
