package engagement

import (
	"context"
	"maps"
	"sync"
	"time"
)

// scoreMemory is MemoryStore's ScoreStore: the scorer's per-user state, under a lock of its own. Each state
// expires scoreStateTTL after it was stored, as on Redis.
type scoreMemory struct {
	mu     sync.Mutex
	life   *memLife
	prune  memPrune
	scores map[string]memScore // stream, user, kind → state
}

// memScore is a stored LimitState and when it expires.
type memScore struct {
	st      LimitState
	expires time.Time
}

var _ ScoreStore = (*scoreMemory)(nil)

func newScoreMemory(life *memLife) *scoreMemory {
	return &scoreMemory{
		life:   life,
		prune:  newMemPrune(),
		scores: map[string]memScore{},
	}
}

// UpdateScoreState implements ScoreStore.
func (m *scoreMemory) UpdateScoreState(_ context.Context, stream, user, kind string, fn func(*LimitState) bool) (LimitState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.life.now()
	if m.prune.write("", now, m.life.ttl) != nil {
		maps.DeleteFunc(m.scores, func(_ string, s memScore) bool { return !now.Before(s.expires) })
	}
	key := stream + "\x00" + user + "\x00" + kind
	var st LimitState
	if s, ok := m.scores[key]; ok && now.Before(s.expires) {
		st = s.st
	}
	if fn(&st) {
		m.scores[key] = memScore{st: st, expires: now.Add(scoreStateTTL(stream, kind, m.life.ttl, m.life.retention))}
	}
	return st, nil
}
