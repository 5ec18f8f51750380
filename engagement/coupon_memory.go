package engagement

import (
	"context"
	"crypto/rand"
	"maps"
	"slices"
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
	codes     map[string]*ClaimedCode // couponCodeKey(m.codeKey, code) → the claimed code's record
	codeKey   []byte                  // random per process: the index dies with it
	mine      map[string][]UserCoupon // user → the codes they claimed, oldest first (at most MaxUserCoupons)
}

var _ CouponStore = (*couponMemory)(nil)

func newCouponMemory(life *memLife) *couponMemory {
	return &couponMemory{
		life:      life,
		prune:     newMemPrune(),
		coupons:   map[string]*memCoupon{},
		couponIDs: map[string][]string{},
		codes:     map[string]*ClaimedCode{},
		codeKey:   []byte(rand.Text()),
		mine:      map[string][]UserCoupon{},
	}
}

// write records a write to stream's coupons; a due prune drops the coupons of idle streams.
func (m *couponMemory) write(stream string) {
	gone := m.prune.write(stream, m.life.now(), m.life.ttl)
	dropItems(m.coupons, gone)
	dropStreams(m.couponIDs, gone)
	if len(gone) > 0 {
		maps.DeleteFunc(m.codes, func(_ string, r *ClaimedCode) bool { return gone[r.StreamID] })
		m.dropMine(gone)
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
	if k := couponCodeKey(m.codeKey, code); m.codes[k] == nil {
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
	if k := couponCodeKey(m.codeKey, code); m.codes[k] == nil {
		r := claimedCode(stream, user, mc.c)
		m.codes[k] = &r
	}
	m.addMine(user, userCoupon(stream, mc.c, code, now))
	return mc.c, code, nil
}

// CouponByCode implements CouponStore: one map get, found or not.
func (m *couponMemory) CouponByCode(_ context.Context, code string) (ClaimedCode, error) {
	k := couponCodeKey(m.codeKey, code)
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
	k := couponCodeKey(m.codeKey, code)
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

// addMine adds a claimed code to user's list, in ClaimedAt order; the list keeps the last MaxUserCoupons.
func (m *couponMemory) addMine(user string, e UserCoupon) {
	l := m.mine[user]
	i := len(l)
	for i > 0 && l[i-1].ClaimedAt.After(e.ClaimedAt) {
		i--
	}
	l = slices.Insert(l, i, e)
	if len(l) > MaxUserCoupons {
		l = slices.Delete(l, 0, len(l)-MaxUserCoupons)
	}
	m.mine[user] = l
}

// dropMine removes from the users' lists the codes of the streams in gone (their index records went with
// them), and the lists left empty.
func (m *couponMemory) dropMine(gone map[string]bool) {
	for user, l := range m.mine {
		l = slices.DeleteFunc(l, func(e UserCoupon) bool { return gone[e.StreamID] })
		if len(l) == 0 {
			delete(m.mine, user)
			continue
		}
		m.mine[user] = l
	}
}

// UserCoupons implements CouponStore.
func (m *couponMemory) UserCoupons(_ context.Context, user string, n int) ([]UserCoupon, error) {
	if n <= 0 {
		return nil, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	l := m.mine[user]
	out := make([]UserCoupon, 0, min(n, len(l)))
	for i := len(l) - 1; i >= 0 && len(out) < n; i-- {
		r, ok := m.codes[couponCodeKey(m.codeKey, l[i].Code)]
		if !ok {
			continue
		}
		e := l[i]
		e.Record = *r
		out = append(out, e)
	}
	return out, nil
}
