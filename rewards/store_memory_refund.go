package rewards

import (
	"context"
	"time"
)

// Refund implements Store.
func (s *MemoryStore) Refund(_ context.Context, orderKey string, part RefundPart, at time.Time, p Policy) (RefundResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.record(orderKey, p.Now)
	if !ok {
		return RefundResult{}, ErrNotFound
	}
	if !rec.pending {
		return RefundResult{}, ErrInvalid
	}
	u := s.user(rec.user)
	u.expire(p)
	u.retier(p, TierReasonWindow)
	defer func() { u.settle(p); u.warn(p) }()
	o := u.orders[orderKey]
	if o == nil || o.at <= p.ExpireBefore.UnixMilli() { // its points have expired: too late to refund
		return RefundResult{}, ErrNotFound
	}
	res := RefundResult{OrderKey: orderKey, User: rec.user, Stream: o.stream, Total: o.amount, At: time.UnixMilli(at.UnixMilli()).UTC()}
	refunded := o.amount // a whole refund refunds what is left
	if part.ID != "" {
		if pr, ok := o.parts[part.ID]; ok {
			if pr.amount != part.Amount {
				return RefundResult{}, ErrConflict
			}
			res = pr.res
			res.Replayed, res.Balance = true, u.balance
			return res, nil
		}
		if o.status == "refunded" {
			return RefundResult{}, ErrDuplicate
		}
		// the share granted × refunded ÷ amount is computed exactly (by the Redis store too) only while
		// granted × amount < 2^53 (Store.Refund)
		if o.amount == 0 || part.Amount <= 0 || part.Amount > o.amount-o.refunded || o.granted > (1<<53)/o.amount {
			return RefundResult{}, ErrInvalid
		}
		if len(o.parts) >= MaxRefundParts {
			return RefundResult{}, ErrLimitReached
		}
		refunded = o.refunded + part.Amount
	} else if o.status == "refunded" {
		if pr, ok := o.parts[wholeRefundKey]; ok { // a retried whole refund answers as the first did
			res = pr.res
			res.Replayed, res.Balance = true, u.balance
			return res, nil
		}
		return RefundResult{}, ErrDuplicate
	}
	target := o.granted // points taken back in all once refunded reaches refunded
	if refunded < o.amount {
		target = o.granted * refunded / o.amount
	}
	delta := o.points - (o.granted - target)
	atMS := at.UnixMilli()
	if o.status == "pending" && atMS < o.at+p.ReturnWindow.Milliseconds() {
		u.pending -= delta
		res.Cancelled = delta
		if delta > 0 {
			u.entry(atMS, Entry{Kind: EntryRefund, Points: -delta, Key: orderKey, Stream: o.stream, Source: "purchase"})
		}
	} else {
		if o.status == "pending" {
			u.settleOrder(orderKey, p.Now.UnixMilli())
		}
		taken := u.consume(delta, orderKey)
		u.balance -= taken
		u.shortfall += delta - taken
		res.Reversed, res.Shortfall = taken, delta-taken
		if delta > 0 {
			u.entry(atMS, Entry{Kind: EntryReversal, Points: -taken, Key: orderKey, Stream: o.stream, Source: "purchase", Shortfall: res.Shortfall})
		}
	}
	o.points -= delta
	res.Amount, res.Refunded = refunded-o.refunded, refunded
	o.refunded = refunded
	if refunded >= o.amount {
		o.status, res.Full = "refunded", true
	}
	if v, ok := u.earned[o.month]; ok {
		u.earned[o.month] = max(0, v-delta)
	}
	if v, ok := u.uncapped[o.month]; ok && o.uncapped {
		u.uncapped[o.month] = max(0, v-delta)
	}
	if v, ok := u.spent[o.month]; ok {
		u.spent[o.month] = max(0, v-res.Amount)
	}
	u.retier(p, TierReasonRefund)
	if board := s.boards[o.stream]; board != nil && o.board && delta > 0 {
		board.points[rec.user] -= delta
		if board.points[rec.user] <= 0 {
			delete(board.points, rec.user)
		}
	}
	res.Balance = u.balance
	if o.parts == nil {
		o.parts = map[string]memRefundPart{}
	}
	if part.ID != "" {
		o.parts[part.ID] = memRefundPart{amount: part.Amount, res: res}
	} else {
		o.parts[wholeRefundKey] = memRefundPart{res: res}
	}
	return res, nil
}
