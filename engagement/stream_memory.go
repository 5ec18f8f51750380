package engagement

import (
	"context"
	"maps"
	"sync"
	"time"
)

// streamMemory is MemoryStore's StreamStore: the streams, under a lock of its own. A record expires as on
// Redis (store.go, "Lifetimes"): a read after its expiry finds nothing, and a prune drops it.
type streamMemory struct {
	mu      sync.Mutex
	life    *memLife
	prune   memPrune
	streams map[string]memStream
}

// memStream is a stored stream and when it expires.
type memStream struct {
	st      Stream
	expires time.Time
}

var _ StreamStore = (*streamMemory)(nil)

func newStreamMemory(life *memLife) *streamMemory {
	return &streamMemory{
		life:    life,
		prune:   newMemPrune(),
		streams: map[string]memStream{},
	}
}

// get returns the stream if it is stored and has not expired at now.
func (m *streamMemory) get(id string, now time.Time) (memStream, bool) {
	ms, ok := m.streams[id]
	if !ok || !now.Before(ms.expires) {
		return memStream{}, false
	}
	return ms, true
}

// write readies a write at now: it prunes expired records when a prune is due.
func (m *streamMemory) write(now time.Time) {
	if m.prune.write("", now, m.life.retention) != nil {
		maps.DeleteFunc(m.streams, func(_ string, ms memStream) bool { return !now.Before(ms.expires) })
	}
}

// CreateStream implements StreamStore.
func (m *streamMemory) CreateStream(_ context.Context, st Stream) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.life.now()
	m.write(now)
	if _, ok := m.get(st.ID, now); ok {
		return ErrDuplicate
	}
	m.streams[st.ID] = memStream{st: st, expires: now.Add(m.life.retention)}
	return nil
}

// Stream implements StreamStore.
func (m *streamMemory) Stream(_ context.Context, id string) (Stream, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ms, ok := m.get(id, m.life.now())
	if !ok {
		return Stream{}, ErrNotFound
	}
	return ms.st, nil
}

// UpdateStream implements StreamStore.
func (m *streamMemory) UpdateStream(_ context.Context, id string, fn func(*Stream) error) (Stream, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.life.now()
	m.write(now)
	ms, ok := m.get(id, now)
	if !ok {
		return Stream{}, ErrNotFound
	}
	st := ms.st
	if err := fn(&st); err != nil {
		return Stream{}, err
	}
	if ms.st.Live() { // a live stream's write, or the one that ended it: Retention from now
		ms.expires = now.Add(m.life.retention)
	}
	ms.st = st
	m.streams[id] = ms
	return st, nil
}

// RenewStream implements StreamStore.
func (m *streamMemory) RenewStream(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.life.now()
	m.write(now)
	if ms, ok := m.get(id, now); ok && ms.st.Live() {
		ms.expires = now.Add(m.life.retention)
		m.streams[id] = ms
	}
	return nil
}
