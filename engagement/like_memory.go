package engagement

import (
	"context"
	"sync"
)

// likeMemory is MemoryStore's LikeStore: like totals, under a lock of its own. A stream's total goes
// StreamTTL after its last like.
type likeMemory struct {
	mu    sync.Mutex
	life  *memLife
	prune memPrune
	likes map[string]int64
}

var _ LikeStore = (*likeMemory)(nil)

func newLikeMemory(life *memLife) *likeMemory {
	return &likeMemory{
		life:  life,
		prune: newMemPrune(),
		likes: map[string]int64{},
	}
}

// AddLikes implements LikeStore.
func (m *likeMemory) AddLikes(_ context.Context, stream string, n int64) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	dropStreams(m.likes, m.prune.write(stream, m.life.now(), m.life.ttl))
	m.likes[stream] += n
	return m.likes[stream], nil
}

// Likes implements LikeStore.
func (m *likeMemory) Likes(_ context.Context, stream string) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.likes[stream], nil
}
