package engagement

import (
	"maps"
	"strings"
	"time"
)

// MemoryStore is the single-node Store: everything in this process, lost on restart. It is the composition
// of one memory store per concept (pollMemory in poll_memory.go, …), each with its own lock, so that a
// burst of votes does not queue behind chat.
//
// It forgets what Redis would have expired (the lifetimes in store.go), on its own clock: state that carries
// its own expiry (stream records, score state, slow-mode slots, a user's last stream) is absent to a read the
// moment it expires, and is dropped from its map by the next prune; the state of a stream in one concept's
// store (its polls, its comments, …) is dropped by the first prune after it has gone StreamTTL (a timeline:
// Retention) without a write. Each concept's store prunes during a write, at most once per pruneEvery of the
// clock, in one pass over its maps: no goroutine, and never a full scan per call.
type MemoryStore struct {
	*streamMemory
	*chatMemory
	*likeMemory
	*scoreMemory
	*pollMemory
	*quizMemory
	*feedbackMemory
	*couponMemory
	*drawMemory
	*questionMemory
	*timelineMemory
	*notificationMemory
	*productMemory
	*salesMemory
	*privacyMemory
	*dailyMemory
}

var _ Store = (*MemoryStore)(nil)

// MemoryConfig configures a MemoryStore. The zero value gives the defaults, as RedisConfig's.
type MemoryConfig struct {
	// Now is the clock the store expires state by. nil → time.Now.
	Now func() time.Time
	// StreamTTL is how long a stream's hot state lives after its last write (RedisConfig.StreamTTL).
	// 0 → DefaultStreamTTL.
	StreamTTL time.Duration
	// Retention is how long a stream's record, timeline and replay marks live (RedisConfig.Retention).
	// 0 → DefaultRetention; never less than StreamTTL.
	Retention time.Duration
	// TextRetention is how long the personal text of a replay's comments and of questions is kept
	// (RedisConfig.TextRetention). 0 → DefaultTextRetention.
	TextRetention time.Duration
}

// NewMemoryStore returns an empty MemoryStore on the real clock with the default lifetimes.
func NewMemoryStore() *MemoryStore { return NewMemoryStoreWith(MemoryConfig{}) }

// NewMemoryStoreWith returns an empty MemoryStore configured by cfg.
func NewMemoryStoreWith(cfg MemoryConfig) *MemoryStore {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	life := &memLife{now: cfg.Now}
	life.ttl, life.retention = lifetimes(cfg.StreamTTL, cfg.Retention)
	life.textRetention = textRetention(cfg.TextRetention)
	return &MemoryStore{
		streamMemory:       newStreamMemory(life),
		chatMemory:         newChatMemory(life),
		likeMemory:         newLikeMemory(life),
		scoreMemory:        newScoreMemory(life),
		pollMemory:         newPollMemory(life),
		quizMemory:         newQuizMemory(life),
		feedbackMemory:     newFeedbackMemory(life),
		couponMemory:       newCouponMemory(life),
		drawMemory:         newDrawMemory(life),
		questionMemory:     newQuestionMemory(life),
		timelineMemory:     newTimelineMemory(life),
		notificationMemory: newNotificationMemory(life),
		productMemory:      newProductMemory(life),
		salesMemory:        newSalesMemory(life),
		privacyMemory:      newPrivacyMemory(life),
		dailyMemory:        newDailyMemory(life),
	}
}

// memKey is the map key of an item (poll, quiz, coupon, draw) of a stream.
func memKey(stream, id string) string { return stream + "\x00" + id }

// memLife is what every concept's memory store shares: the clock and the lifetimes. Read-only once built.
type memLife struct {
	now       func() time.Time
	ttl       time.Duration // StreamTTL
	retention time.Duration
	// textRetention is how long personal text lives (MemoryConfig.TextRetention, text_retention.go).
	textRetention time.Duration
}

// pruneEvery is how often, at most, by its clock, a concept's memory store prunes (during a write).
const pruneEvery = time.Minute

// memPrune is a concept memory store's pruning state: when it last pruned and when each stream's state in it
// was last written. It is guarded by the concept store's lock.
type memPrune struct {
	last    time.Time
	written map[string]time.Time // stream → the last write to its state in this store
}

func newMemPrune() memPrune { return memPrune{written: map[string]time.Time{}} }

// write records a write to stream's state at now (stream "" records none). When a prune is due (at the first
// write pruneEvery or more after the last one, or after the clock went back) it first removes and returns the
// streams whose state was last written ttl or longer before now, the written one too (its old state goes
// before the new write, as on Redis): the caller drops their state, and expired entries of its own. When no
// prune is due it returns nil.
func (p *memPrune) write(stream string, now time.Time, ttl time.Duration) (gone map[string]bool) {
	if !p.last.IsZero() && now.Sub(p.last) < pruneEvery && !now.Before(p.last) {
		if stream != "" {
			p.written[stream] = now
		}
		return nil
	}
	p.last = now
	gone = map[string]bool{}
	for st, at := range p.written {
		if now.Sub(at) >= ttl {
			gone[st] = true
			delete(p.written, st)
		}
	}
	if stream != "" {
		p.written[stream] = now
	}
	return gone
}

// dropStreams deletes the entries of the streams in gone from m, a map keyed by stream.
func dropStreams[V any](m map[string]V, gone map[string]bool) {
	for st := range gone {
		delete(m, st)
	}
}

// dropItems deletes the entries of the streams in gone from m, a map keyed by memKey (stream first).
func dropItems[V any](m map[string]V, gone map[string]bool) {
	if len(gone) == 0 {
		return
	}
	maps.DeleteFunc(m, func(k string, _ V) bool {
		st, _, _ := strings.Cut(k, "\x00")
		return gone[st]
	})
}
