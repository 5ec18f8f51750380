package engagement

import (
	"context"
	"sync"
	"time"
)

// couponMemory is MemoryStore's CouponStore: coupon drops and claims, under a lock of its own. A stream's
// coupons go StreamTTL after the last write to any of them.
type couponMemory struct {
	mu        sync.Mutex
	life      *memLife
	prune     memPrune
	coupons   map[string]*memCoupon // memKey(stream, id)
	couponIDs map[string][]string   // stream → coupon ids, oldest first
}

var _ CouponStore = (*couponMemory)(nil)

func newCouponMemory(life *memLife) *couponMemory {
	return &couponMemory{
		life:      life,
		prune:     newMemPrune(),
		coupons:   map[string]*memCoupon{},
		couponIDs: map[string][]string{},
	}
}

// write records a write to stream's coupons; a due prune drops the coupons of idle streams.
func (m *couponMemory) write(stream string) {
	gone := m.prune.write(stream, m.life.now(), m.life.ttl)
	dropItems(m.coupons, gone)
	dropStreams(m.couponIDs, gone)
}

type memCoupon struct {
	c     Coupon
	codes map[string]string // user → code
}

// CreateCoupon implements CouponStore.
func (m *couponMemory) CreateCoupon(_ context.Context, stream string, c Coupon) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.write(stream)
	k := memKey(stream, c.ID)
	if _, ok := m.coupons[k]; ok {
		return ErrDuplicate
	}
	c.Remaining = c.Stock
	m.coupons[k] = &memCoupon{c: c, codes: map[string]string{}}
	m.couponIDs[stream] = append(m.couponIDs[stream], c.ID)
	return nil
}

// Coupon implements CouponStore.
func (m *couponMemory) Coupon(_ context.Context, stream, id string) (Coupon, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mc, ok := m.coupons[memKey(stream, id)]
	if !ok {
		return Coupon{}, ErrNotFound
	}
	return mc.c, nil
}

// Coupons implements CouponStore.
func (m *couponMemory) Coupons(_ context.Context, stream string) ([]Coupon, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ids := m.couponIDs[stream]
	cs := make([]Coupon, 0, len(ids))
	for _, id := range ids {
		cs = append(cs, m.coupons[memKey(stream, id)].c)
	}
	return cs, nil
}

// ClaimCoupon implements CouponStore.
func (m *couponMemory) ClaimCoupon(_ context.Context, stream, id, user, code string, now time.Time) (Coupon, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.write(stream)
	mc, ok := m.coupons[memKey(stream, id)]
	if !ok {
		return Coupon{}, ErrNotFound
	}
	if _, ok := mc.codes[user]; ok {
		return Coupon{}, ErrDuplicate
	}
	if err := mc.c.claimable(now); err != nil {
		return Coupon{}, err
	}
	mc.codes[user] = code
	mc.c.Remaining--
	return mc.c, nil
}

// CouponCode implements CouponStore.
func (m *couponMemory) CouponCode(_ context.Context, stream, id, user string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mc, ok := m.coupons[memKey(stream, id)]
	if !ok {
		return "", nil
	}
	return mc.codes[user], nil
}
