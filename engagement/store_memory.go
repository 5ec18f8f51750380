package engagement

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"
)

// MemoryStore is the single-node Store: everything in this process, lost on restart.
type MemoryStore struct {
	mu       sync.Mutex
	streams  map[string]Stream
	comments map[string][]Comment
	removed  map[string]map[string]bool
	mods     map[string]Moderation
	slots    map[string]time.Time
	likes    map[string]int64
	scores   map[string]LimitState
	*hostMemory
	*extrasMemory
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{
		streams:  map[string]Stream{},
		comments: map[string][]Comment{},
		removed:  map[string]map[string]bool{},
		mods:     map[string]Moderation{},
		slots:    map[string]time.Time{},
		likes:    map[string]int64{},
		scores:   map[string]LimitState{},

		hostMemory:   newHostMemory(),
		extrasMemory: newExtrasMemory(),
	}
}

// CreateStream implements StreamStore.
func (m *MemoryStore) CreateStream(_ context.Context, st Stream) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.streams[st.ID]; ok {
		return Errorf(CodeDuplicate, "stream %q exists", st.ID)
	}
	m.streams[st.ID] = st
	return nil
}

// Stream implements StreamStore.
func (m *MemoryStore) Stream(_ context.Context, id string) (Stream, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.streams[id]
	if !ok {
		return Stream{}, Errorf(CodeNotFound, "no stream %q", id)
	}
	return st, nil
}

// UpdateStream implements StreamStore.
func (m *MemoryStore) UpdateStream(_ context.Context, id string, fn func(*Stream) error) (Stream, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.streams[id]
	if !ok {
		return Stream{}, Errorf(CodeNotFound, "no stream %q", id)
	}
	if err := fn(&st); err != nil {
		return Stream{}, err
	}
	m.streams[id] = st
	return st, nil
}

// AddComment implements ChatStore.
func (m *MemoryStore) AddComment(_ context.Context, stream string, c Comment, keep int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	cs := append(m.comments[stream], c)
	if len(cs) > keep {
		cs = slices.Clone(cs[len(cs)-keep:]) // clone so the dropped head can be collected
	}
	m.comments[stream] = cs
	return nil
}

// RecentComments implements ChatStore.
func (m *MemoryStore) RecentComments(_ context.Context, stream string, n int) ([]Comment, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cs := m.comments[stream]
	if len(cs) > n {
		cs = cs[len(cs)-n:]
	}
	return slices.Clone(cs), nil
}

// RemoveComment implements ChatStore.
func (m *MemoryStore) RemoveComment(_ context.Context, stream, id string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.removed[stream] == nil {
		m.removed[stream] = map[string]bool{}
	}
	m.removed[stream][id] = true
	cs := m.comments[stream]
	i := slices.IndexFunc(cs, func(c Comment) bool { return c.ID == id })
	if i < 0 {
		return false, nil
	}
	m.comments[stream] = slices.Delete(slices.Clone(cs), i, i+1)
	return true, nil
}

// Moderation implements ChatStore.
func (m *MemoryStore) Moderation(_ context.Context, stream string) (Moderation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return cloneModeration(m.mods[stream]), nil
}

// UpdateModeration implements ChatStore.
func (m *MemoryStore) UpdateModeration(_ context.Context, stream string, fn func(*Moderation) error) (Moderation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mod := cloneModeration(m.mods[stream])
	if err := fn(&mod); err != nil {
		return Moderation{}, err
	}
	m.mods[stream] = mod
	return cloneModeration(mod), nil
}

func cloneModeration(m Moderation) Moderation {
	m.BannedWords = slices.Clone(m.BannedWords)
	m.Muted = maps.Clone(m.Muted)
	m.Banned = maps.Clone(m.Banned)
	return m
}

// TakeSlot implements ChatStore.
func (m *MemoryStore) TakeSlot(_ context.Context, stream, user string, every time.Duration, now time.Time) (bool, time.Duration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := stream + "\x00" + user
	if last, ok := m.slots[key]; ok && now.Sub(last) < every {
		return false, every - now.Sub(last), nil
	}
	m.slots[key] = now
	return true, 0, nil
}

// AddLikes implements LikeStore.
func (m *MemoryStore) AddLikes(_ context.Context, stream string, n int64) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.likes[stream] += n
	return m.likes[stream], nil
}

// Likes implements LikeStore.
func (m *MemoryStore) Likes(_ context.Context, stream string) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.likes[stream], nil
}

// UpdateScoreState implements ScoreStore.
func (m *MemoryStore) UpdateScoreState(_ context.Context, stream, user, kind string, fn func(*LimitState) bool) (LimitState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := stream + "\x00" + user + "\x00" + kind
	st := m.scores[key]
	if fn(&st) {
		m.scores[key] = st
	}
	return st, nil
}
