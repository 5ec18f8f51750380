package engagement

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"sync"
	"time"
)

// drawMemory is MemoryStore's DrawStore: draws, entrants and commenters, under a lock of its own. A stream's
// draws and commenters go StreamTTL after the last write to any of them.
type drawMemory struct {
	mu          sync.Mutex
	life        *memLife
	prune       memPrune
	draws       map[string]*memDraw        // memKey(stream, id)
	currentDraw map[string]string          // stream → draw id
	commenters  map[string]map[string]bool // stream → users
}

var _ DrawStore = (*drawMemory)(nil)

func newDrawMemory(life *memLife) *drawMemory {
	return &drawMemory{
		life:        life,
		prune:       newMemPrune(),
		draws:       map[string]*memDraw{},
		currentDraw: map[string]string{},
		commenters:  map[string]map[string]bool{},
	}
}

// write records a write to stream's draws; a due prune drops the draws and commenters of idle streams.
func (m *drawMemory) write(stream string) {
	gone := m.prune.write(stream, m.life.now(), m.life.ttl)
	dropItems(m.draws, gone)
	dropStreams(m.currentDraw, gone)
	dropStreams(m.commenters, gone)
}

type memDraw struct {
	d        Draw
	entrants map[string]DrawEntrant
}

func cloneDraw(d Draw) Draw {
	if d.Result != nil {
		r := *d.Result
		r.Winners = slices.Clone(r.Winners)
		r.Entrants = slices.Clone(r.Entrants)
		d.Result = &r
	}
	return d
}

// CreateDraw implements DrawStore.
func (m *drawMemory) CreateDraw(_ context.Context, stream string, d Draw) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.write(stream)
	k := memKey(stream, d.ID)
	if _, ok := m.draws[k]; ok {
		return ErrDuplicate
	}
	m.draws[k] = &memDraw{d: cloneDraw(d), entrants: map[string]DrawEntrant{}}
	m.currentDraw[stream] = d.ID
	return nil
}

// Draw implements DrawStore.
func (m *drawMemory) Draw(_ context.Context, stream, id string) (Draw, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	md, ok := m.draws[memKey(stream, id)]
	if !ok {
		return Draw{}, ErrNotFound
	}
	return cloneDraw(md.d), nil
}

// CurrentDraw implements DrawStore.
func (m *drawMemory) CurrentDraw(_ context.Context, stream string) (Draw, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	md, ok := m.draws[memKey(stream, m.currentDraw[stream])]
	if !ok {
		return Draw{}, ErrNotFound
	}
	return cloneDraw(md.d), nil
}

// UpdateDraw implements DrawStore.
func (m *drawMemory) UpdateDraw(_ context.Context, stream, id string, fn func(*Draw) error) (Draw, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.write(stream)
	md, ok := m.draws[memKey(stream, id)]
	if !ok {
		return Draw{}, ErrNotFound
	}
	d := cloneDraw(md.d)
	if err := fn(&d); err != nil {
		return Draw{}, err
	}
	md.d = cloneDraw(d)
	return d, nil
}

// EnterDraw implements DrawStore.
func (m *drawMemory) EnterDraw(_ context.Context, stream, id string, e DrawEntrant, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.write(stream)
	md, ok := m.draws[memKey(stream, id)]
	if !ok {
		return ErrNotFound
	}
	if md.d.Status != DrawOpen {
		return ErrClosed
	}
	if now.Before(md.d.OpensAt) {
		return ErrNotOpenYet
	}
	if _, ok := md.entrants[e.User]; ok {
		return ErrDuplicate
	}
	md.entrants[e.User] = e
	return nil
}

// DrawEntrants implements DrawStore.
func (m *drawMemory) DrawEntrants(_ context.Context, stream, id string) ([]DrawEntrant, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	md, ok := m.draws[memKey(stream, id)]
	if !ok {
		return nil, ErrNotFound
	}
	es := slices.Collect(maps.Values(md.entrants))
	slices.SortFunc(es, func(a, b DrawEntrant) int { return cmp.Compare(a.User, b.User) })
	return es, nil
}

// MarkCommenter implements DrawStore.
func (m *drawMemory) MarkCommenter(_ context.Context, stream, user string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.write(stream)
	if m.commenters[stream] == nil {
		m.commenters[stream] = map[string]bool{}
	}
	m.commenters[stream][user] = true
	return nil
}

// HasCommented implements DrawStore.
func (m *drawMemory) HasCommented(_ context.Context, stream, user string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.commenters[stream][user], nil
}
