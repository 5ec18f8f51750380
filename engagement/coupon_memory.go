package engagement

import (
	"context"
	"maps"
	"sync"
	"time"
)

// couponMemory is MemoryStore's CouponStore: coupon drops and claims, under a lock of its own. A stream's
// coupons, and the index records of the codes claimed of them, go StreamTTL after the last write to any of
// them (a claim or a redemption).
type couponMemory struct {
	mu        sync.Mutex
	life      *memLife
	prune     memPrune
	coupons   map[string]*memCoupon   // memKey(stream, id)
	couponIDs map[string][]string     // stream → coupon ids, oldest first
	codes     map[string]*ClaimedCode // couponCodeKey(code) → the claimed code's record
}

var _ CouponStore = (*couponMemory)(nil)

func newCouponMemory(life *memLife) *couponMemory {
	return &couponMemory{
		life:      life,
		prune:     newMemPrune(),
		coupons:   map[string]*memCoupon{},
		couponIDs: map[string][]string{},
		codes:     map[string]*ClaimedCode{},
	}
}

// write records a write to stream's coupons; a due prune drops the coupons of idle streams.
func (m *couponMemory) write(stream string) {
	gone := m.prune.write(stream, m.life.now(), m.life.ttl)
	dropItems(m.coupons, gone)
	dropStreams(m.couponIDs, gone)
	if len(gone) > 0 {
		maps.DeleteFunc(m.codes, func(_ string, r *ClaimedCode) bool { return gone[r.StreamID] })
	}
	if gone != nil { // a prune: points-store codes (no stream) go StreamTTL after their expiry
		now := m.life.now()
		maps.DeleteFunc(m.codes, func(_ string, r *ClaimedCode) bool {
			return r.StreamID == "" && !now.Before(r.ExpiresAt.Add(m.life.ttl))
		})
	}
}

// IndexCouponCode implements CouponStore.
func (m *couponMemory) IndexCouponCode(_ context.Context, code string, r ClaimedCode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.write("")
	if k := couponCodeKey(code); m.codes[k] == nil {
		r.Code = ""
		m.codes[k] = &r
	}
	return nil
}

type memCoupon struct {
	c     Coupon
	codes map[string]string // user → code
	pool  []string          // the shop's codes, if any: the next claim takes pool[Stock-Remaining]
}

// CreateCoupon implements CouponStore.
func (m *couponMemory) CreateCoupon(_ context.Context, stream string, c Coupon, codes ...string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.write(stream)
	k := memKey(stream, c.ID)
	if _, ok := m.coupons[k]; ok {
		return ErrDuplicate
	}
	c.Remaining = c.Stock
	m.coupons[k] = &memCoupon{c: c, codes: map[string]string{}, pool: append([]string(nil), codes...)}
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
func (m *couponMemory) ClaimCoupon(_ context.Context, stream, id, user, code string, now time.Time) (Coupon, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.write(stream)
	mc, ok := m.coupons[memKey(stream, id)]
	if !ok {
		return Coupon{}, "", ErrNotFound
	}
	if _, ok := mc.codes[user]; ok {
		return Coupon{}, "", ErrDuplicate
	}
	if err := mc.c.claimable(now); err != nil {
		return Coupon{}, "", err
	}
	if mc.pool != nil {
		code = mc.pool[mc.c.Stock-mc.c.Remaining]
	}
	mc.codes[user] = code
	mc.c.Remaining--
	if k := couponCodeKey(code); m.codes[k] == nil {
		r := claimedCode(stream, user, mc.c)
		m.codes[k] = &r
	}
	return mc.c, code, nil
}

// CouponByCode implements CouponStore: one map get, found or not.
func (m *couponMemory) CouponByCode(_ context.Context, code string) (ClaimedCode, error) {
	k := couponCodeKey(code)
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.codes[k]
	if !ok {
		return ClaimedCode{}, ErrNotFound
	}
	return *r, nil
}

// RedeemCouponCode implements CouponStore.
func (m *couponMemory) RedeemCouponCode(_ context.Context, code, order string, now time.Time) (ClaimedCode, error) {
	k := couponCodeKey(code)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.write("") // a due prune first, so that a record it drops is not redeemed
	r, ok := m.codes[k]
	switch {
	case !ok:
		return ClaimedCode{}, ErrNotFound
	case r.OrderID != "" && r.OrderID == order:
		return *r, nil
	case r.OrderID != "":
		return ClaimedCode{}, ErrConflict
	case !now.Before(r.ExpiresAt):
		return ClaimedCode{}, ErrExpired
	}
	m.write(r.StreamID)
	at := now.UTC()
	r.OrderID, r.RedeemedAt, r.Status = order, &at, CodeStatusRedeemed
	return *r, nil
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
