package engagement

import (
	"context"
	"sync"
)

// streamMemory is MemoryStore's StreamStore: the streams, under a lock of its own.
type streamMemory struct {
	mu      sync.Mutex
	streams map[string]Stream
}

var _ StreamStore = (*streamMemory)(nil)

func newStreamMemory() *streamMemory {
	return &streamMemory{
		streams: map[string]Stream{},
	}
}

// CreateStream implements StreamStore.
func (m *streamMemory) CreateStream(_ context.Context, st Stream) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.streams[st.ID]; ok {
		return ErrDuplicate
	}
	m.streams[st.ID] = st
	return nil
}

// Stream implements StreamStore.
func (m *streamMemory) Stream(_ context.Context, id string) (Stream, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.streams[id]
	if !ok {
		return Stream{}, ErrNotFound
	}
	return st, nil
}

// UpdateStream implements StreamStore.
func (m *streamMemory) UpdateStream(_ context.Context, id string, fn func(*Stream) error) (Stream, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.streams[id]
	if !ok {
		return Stream{}, ErrNotFound
	}
	if err := fn(&st); err != nil {
		return Stream{}, err
	}
	m.streams[id] = st
	return st, nil
}
