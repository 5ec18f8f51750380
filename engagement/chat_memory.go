package engagement

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"
)

// chatMemory is MemoryStore's ChatStore: recent comments, removed ids, moderation and slow-mode slots, under a
// lock of its own. A stream's chat goes StreamTTL after its last write; a slot once its gap has passed.
type chatMemory struct {
	mu       sync.Mutex
	life     *memLife
	prune    memPrune
	modPrune memPrune                   // moderation lives Retention after its last change: a ban outlasts the show's replay
	comments map[string][]Comment       // stream → recent comments, oldest first
	removed  map[string]map[string]bool // stream → removed comment ids
	mods     map[string]Moderation
	slots    map[string]memSlot // stream + "\x00" + user → last slow-mode slot
}

// memSlot is when a user last took a slow-mode slot, and when the gap after it ends (when Redis expires it).
type memSlot struct{ at, until time.Time }

var _ ChatStore = (*chatMemory)(nil)

func newChatMemory(life *memLife) *chatMemory {
	return &chatMemory{
		life:     life,
		prune:    newMemPrune(),
		modPrune: newMemPrune(),
		comments: map[string][]Comment{},
		removed:  map[string]map[string]bool{},
		mods:     map[string]Moderation{},
		slots:    map[string]memSlot{},
	}
}

// write records a write to stream's chat and, when a prune is due, drops the chat of idle streams and the
// slots whose gap has passed. It returns the store's clock reading.
func (m *chatMemory) write(stream string) time.Time {
	now := m.life.now()
	if gone := m.modPrune.write("", now, m.life.retention); gone != nil {
		dropStreams(m.mods, gone)
	}
	gone := m.prune.write(stream, now, m.life.ttl)
	if gone == nil {
		return now
	}
	dropStreams(m.comments, gone)
	dropStreams(m.removed, gone)
	maps.DeleteFunc(m.slots, func(_ string, s memSlot) bool { return !now.Before(s.until) })
	return now
}

// AddComment implements ChatStore.
func (m *chatMemory) AddComment(_ context.Context, stream string, c Comment, keep int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.write(stream)
	cs := append(m.comments[stream], c)
	if len(cs) > keep {
		cs = slices.Clone(cs[len(cs)-keep:]) // clone so the dropped head can be collected
	}
	m.comments[stream] = cs
	return nil
}

// RecentComments implements ChatStore.
func (m *chatMemory) RecentComments(_ context.Context, stream string, n int) ([]Comment, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cs := m.comments[stream]
	if len(cs) > n {
		cs = cs[len(cs)-n:]
	}
	return slices.Clone(cs), nil
}

// RemoveComment implements ChatStore.
func (m *chatMemory) RemoveComment(_ context.Context, stream, id string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.write(stream)
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
func (m *chatMemory) Moderation(_ context.Context, stream string) (Moderation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return cloneModeration(m.mods[stream]), nil
}

// UpdateModeration implements ChatStore.
func (m *chatMemory) UpdateModeration(_ context.Context, stream string, fn func(*Moderation) error) (Moderation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.write(stream)
	if gone := m.modPrune.write(stream, now, m.life.retention); gone != nil {
		dropStreams(m.mods, gone)
	}
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
func (m *chatMemory) TakeSlot(_ context.Context, stream, user string, every time.Duration, now time.Time) (bool, time.Duration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	clock := m.write(stream)
	key := stream + "\x00" + user
	if last, ok := m.slots[key]; ok && now.Sub(last.at) < every {
		return false, every - now.Sub(last.at), nil
	}
	m.slots[key] = memSlot{at: now, until: clock.Add(every)}
	return true, 0, nil
}
