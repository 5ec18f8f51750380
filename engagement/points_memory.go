package engagement

import (
	"context"
	"sync"
)

// scoreMemory is MemoryStore's ScoreStore: the scorer's per-user state, under a lock of its own.
type scoreMemory struct {
	mu     sync.Mutex
	scores map[string]LimitState // stream, user, kind → state
}

var _ ScoreStore = (*scoreMemory)(nil)

func newScoreMemory() *scoreMemory {
	return &scoreMemory{
		scores: map[string]LimitState{},
	}
}

// UpdateScoreState implements ScoreStore.
func (m *scoreMemory) UpdateScoreState(_ context.Context, stream, user, kind string, fn func(*LimitState) bool) (LimitState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := stream + "\x00" + user + "\x00" + kind
	st := m.scores[key]
	if fn(&st) {
		m.scores[key] = st
	}
	return st, nil
}
