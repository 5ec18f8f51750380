package engagement

import (
	"context"
	"slices"
	"sync"
)

// MemoryAwardQueue is the AwardQueue of one process: it survives a ledger outage and the end of a stream,
// not a restart. The default for development and tests.
type MemoryAwardQueue struct {
	mu    sync.Mutex
	byKey map[string]QueuedAward
	order []string // keys, oldest first; may hold done keys until the next compaction
}

var _ AwardQueue = (*MemoryAwardQueue)(nil)

// NewMemoryAwardQueue returns an empty MemoryAwardQueue.
func NewMemoryAwardQueue() *MemoryAwardQueue {
	return &MemoryAwardQueue{byKey: map[string]QueuedAward{}}
}

// Add implements AwardQueue.
func (q *MemoryAwardQueue) Add(_ context.Context, a QueuedAward) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, ok := q.byKey[a.Key]; !ok {
		if len(q.byKey) >= MaxQueuedAwards {
			return ErrAwardQueueFull
		}
		q.order = append(q.order, a.Key)
	}
	q.byKey[a.Key] = a
	return nil
}

// Done implements AwardQueue.
func (q *MemoryAwardQueue) Done(_ context.Context, key string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.byKey, key)
	if len(q.order) > 2*len(q.byKey)+64 { // compact, so that done keys do not pile up
		q.order = slices.DeleteFunc(q.order, func(k string) bool { _, ok := q.byKey[k]; return !ok })
	}
	return nil
}

// Pending implements AwardQueue.
func (q *MemoryAwardQueue) Pending(_ context.Context) ([]QueuedAward, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make([]QueuedAward, 0, len(q.byKey))
	seen := make(map[string]bool, len(q.byKey))
	for _, k := range q.order {
		if a, ok := q.byKey[k]; ok && !seen[k] {
			seen[k] = true
			out = append(out, a)
		}
	}
	return out, nil
}

func (q *MemoryAwardQueue) get(key string) (QueuedAward, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	a, ok := q.byKey[key]
	return a, ok
}

func (q *MemoryAwardQueue) has(key string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	_, ok := q.byKey[key]
	return ok
}

func (q *MemoryAwardQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.byKey)
}

// Close implements AwardQueue.
func (q *MemoryAwardQueue) Close() error { return nil }
