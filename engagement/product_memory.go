package engagement

import (
	"context"
	"slices"
	"sync"
	"time"
)

// productMemory is MemoryStore's ProductStore: the shelves and the click marks, under a lock of its own. A
// stream's shelf goes StreamTTL after the last write to it; a click mark ProductClickWindow after it was made
// (absent to a read at once, dropped by the next prune).
type productMemory struct {
	mu      sync.Mutex
	life    *memLife
	prune   memPrune
	shelves map[string]*memShelf // stream → its shelf
	clicks  map[string]time.Time // memKey(stream, product+"\x00"+user) → when the mark expires
}

var _ ProductStore = (*productMemory)(nil)

type memShelf struct {
	order  []string // product ids, in the order added
	byID   map[string]Product
	pinned string
}

func newProductMemory(life *memLife) *productMemory {
	return &productMemory{life: life, prune: newMemPrune(), shelves: map[string]*memShelf{}, clicks: map[string]time.Time{}}
}

// write records a write to stream's shelf ("" for none: a click mark); a due prune drops the shelves of idle
// streams and the expired click marks.
func (m *productMemory) write(stream string) {
	now := m.life.now()
	gone := m.prune.write(stream, now, m.life.ttl)
	if gone == nil {
		return
	}
	dropStreams(m.shelves, gone)
	for k, until := range m.clicks {
		if !now.Before(until) {
			delete(m.clicks, k)
		}
	}
}

// shelf returns stream's shelf, creating it if create.
// onShelf returns stream's shelf and its product id, or ErrNotFound. The caller holds m.mu.
func (m *productMemory) onShelf(stream, id string) (*memShelf, Product, error) {
	sh := m.shelf(stream, false)
	if sh == nil {
		return nil, Product{}, ErrNotFound
	}
	p, ok := sh.byID[id]
	if !ok {
		return nil, Product{}, ErrNotFound
	}
	return sh, p, nil
}

func (m *productMemory) shelf(stream string, create bool) *memShelf {
	sh := m.shelves[stream]
	if sh == nil && create {
		sh = &memShelf{byID: map[string]Product{}}
		m.shelves[stream] = sh
	}
	return sh
}

// AddProduct implements ProductStore.
func (m *productMemory) AddProduct(_ context.Context, stream string, p Product, max int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.write(stream)
	sh := m.shelf(stream, true)
	if _, ok := sh.byID[p.ID]; ok {
		return ErrDuplicate
	}
	if len(sh.order) >= max {
		return ErrFull
	}
	sh.byID[p.ID] = p
	sh.order = append(sh.order, p.ID)
	return nil
}

// Products implements ProductStore.
func (m *productMemory) Products(_ context.Context, stream string) ([]Product, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sh := m.shelf(stream, false)
	if sh == nil {
		return []Product{}, nil
	}
	ps := make([]Product, 0, len(sh.order))
	for _, id := range sh.order {
		ps = append(ps, sh.byID[id])
	}
	return ps, nil
}

// Product implements ProductStore.
func (m *productMemory) Product(_ context.Context, stream, id string) (Product, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if sh := m.shelf(stream, false); sh != nil {
		if p, ok := sh.byID[id]; ok {
			return p, nil
		}
	}
	return Product{}, ErrNotFound
}

// RemoveProduct implements ProductStore.
func (m *productMemory) RemoveProduct(_ context.Context, stream, id string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.write(stream)
	sh, _, err := m.onShelf(stream, id)
	if err != nil {
		return false, err
	}
	delete(sh.byID, id)
	sh.order = slices.DeleteFunc(sh.order, func(v string) bool { return v == id })
	pinned := sh.pinned == id
	if pinned {
		sh.pinned = ""
	}
	return pinned, nil
}

// PinProduct implements ProductStore.
func (m *productMemory) PinProduct(_ context.Context, stream, id string) (Product, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.write(stream)
	sh, p, err := m.onShelf(stream, id)
	if err != nil {
		return Product{}, err
	}
	sh.pinned = id
	return p, nil
}

// UnpinProduct implements ProductStore.
func (m *productMemory) UnpinProduct(_ context.Context, stream, id string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.write(stream)
	sh, _, err := m.onShelf(stream, id)
	if err != nil {
		return false, err
	}
	was := sh.pinned == id
	if was {
		sh.pinned = ""
	}
	return was, nil
}

// Pinned implements ProductStore.
func (m *productMemory) Pinned(_ context.Context, stream string) (Product, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if sh := m.shelf(stream, false); sh != nil && sh.pinned != "" {
		return sh.byID[sh.pinned], nil
	}
	return Product{}, ErrNotFound
}

// MarkProductClick implements ProductStore.
func (m *productMemory) MarkProductClick(_ context.Context, stream, id, user string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.write("")
	now := m.life.now()
	k := memKey(stream, id+"\x00"+user)
	if until, ok := m.clicks[k]; ok && now.Before(until) {
		return false, nil
	}
	m.clicks[k] = now.Add(ProductClickWindow)
	return true, nil
}
