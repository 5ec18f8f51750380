package rewards

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kudos-live/kudos/internal/testenv"
)

// testPartialRefunds: a part takes back its share of the points (cancelled inside the return window,
// reversed after it, never below zero), rounding down until the last part takes what is left; a part is
// idempotent by id; parts cannot exceed the amount; a whole refund after parts refunds the rest; and 20
// concurrent parts of one order take back exactly the order's points.
func testPartialRefunds(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	purchase := func(key string, points, amount int64) Award {
		return Award{Key: key, User: "u", Stream: "s", Source: "purchase", Points: points, Pending: true, Amount: amount}
	}
	part := func(id string, amount int64) RefundPart { return RefundPart{ID: id, Amount: amount} }
	check := func(t *testing.T, got RefundResult, err error, want RefundResult) {
		t.Helper()
		if err != nil {
			t.Fatalf("refund: %v", err)
		}
		want.OrderKey, want.User, want.Stream, want.At = got.OrderKey, "u", "s", got.At
		if got.At.IsZero() {
			t.Fatalf("refund without its time: %+v", got)
		}
		if got != want {
			t.Fatalf("refund %+v\n want %+v", got, want)
		}
	}

	t.Run("inside the window", func(t *testing.T) {
		clock := testenv.NewClock(t0)
		l := newTestLedger(t, newStore(t), clock, nil)
		mustAward(t, l, purchase("order:1", 600, 60000))
		res, err := l.RefundPart(ctx, "order:1", part("r1", 10000), time.Time{})
		check(t, res, err, RefundResult{Cancelled: 100, Amount: 10000, Refunded: 10000, Total: 60000})
		if acct := mustAccount(t, l, "u"); acct.Pending != 500 || acct.Balance != 0 || acct.EarnedThisMonth != 500 {
			t.Fatalf("after a sixth refunded: %+v", acct)
		}
		again, err := l.RefundPart(ctx, "order:1", part("r1", 10000), time.Time{})
		check(t, again, err, RefundResult{Cancelled: 100, Amount: 10000, Refunded: 10000, Total: 60000, Replayed: true})
		if _, err := l.RefundPart(ctx, "order:1", part("r1", 5000), time.Time{}); !errors.Is(err, ErrConflict) {
			t.Fatalf("part id reused for another amount: %v, want ErrConflict", err)
		}
		if _, err := l.RefundPart(ctx, "order:1", part("r2", 50001), time.Time{}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("part above what is left: %v, want ErrInvalid", err)
		}
		if acct := mustAccount(t, l, "u"); acct.Pending != 500 {
			t.Fatalf("refused parts changed the account: %+v", acct)
		}
		res, err = l.Refund(ctx, "order:1", time.Time{})
		check(t, res, err, RefundResult{Cancelled: 500, Amount: 50000, Refunded: 60000, Total: 60000, Full: true})
		if _, err := l.RefundPart(ctx, "order:1", part("r3", 1), time.Time{}); !errors.Is(err, ErrDuplicate) {
			t.Fatalf("part after the whole refund: %v, want ErrDuplicate", err)
		}
		if again, err := l.Refund(ctx, "order:1", time.Time{}); err != nil || !again.Replayed || again.Cancelled != 500 || again.At != res.At {
			t.Fatalf("whole refund twice: %+v %v, want the first result replayed", again, err)
		}
		if again, err := l.RefundPart(ctx, "order:1", part("r1", 10000), time.Time{}); err != nil || !again.Replayed || again.Cancelled != 100 {
			t.Fatalf("replay of the first part after the whole refund: %+v %v", again, err)
		}
		clock.Advance(8 * 24 * time.Hour) // the window passes: nothing is left to settle
		if acct := mustAccount(t, l, "u"); acct.Pending != 0 || acct.Balance != 0 || acct.EarnedThisMonth != 0 {
			t.Fatalf("after the whole refund and the window: %+v", acct)
		}
	})

	t.Run("rounds down until the last part", func(t *testing.T) {
		clock := testenv.NewClock(t0)
		l := newTestLedger(t, newStore(t), clock, nil)
		mustAward(t, l, purchase("order:1", 7, 1000))
		var sum int64
		for i, tc := range []struct{ amount, want int64 }{{300, 2}, {300, 2}, {400, 3}} {
			res, err := l.RefundPart(ctx, "order:1", part(fmt.Sprint("p", i), tc.amount), time.Time{})
			if err != nil || res.Cancelled != tc.want {
				t.Fatalf("part %d of %d fen: %+v %v, want %d cancelled", i, tc.amount, res, err, tc.want)
			}
			sum += res.Cancelled
			if res.Full != (i == 2) {
				t.Fatalf("part %d: Full %v", i, res.Full)
			}
		}
		if sum != 7 {
			t.Fatalf("the parts took back %d points of 7", sum)
		}
		if _, err := l.Refund(ctx, "order:1", time.Time{}); !errors.Is(err, ErrDuplicate) {
			t.Fatalf("whole refund of an order its parts refunded: %v, want ErrDuplicate", err)
		}
	})

	t.Run("after the window, never below zero", func(t *testing.T) {
		clock := testenv.NewClock(t0)
		l := newTestLedger(t, newStore(t), clock, nil)
		mustAward(t, l, purchase("order:1", 600, 60000))
		res, err := l.RefundPart(ctx, "order:1", part("early", 6000), time.Time{})
		check(t, res, err, RefundResult{Cancelled: 60, Amount: 6000, Refunded: 6000, Total: 60000})
		clock.Advance(8 * 24 * time.Hour)
		if acct := mustAccount(t, l, "u"); acct.Balance != 540 || acct.Pending != 0 {
			t.Fatalf("settled after a part: %+v, want the 540 left", acct)
		}
		if _, err := l.Redeem(ctx, "u", "mid", "r1"); err != nil { // 500 of the 540
			t.Fatal(err)
		}
		res, err = l.RefundPart(ctx, "order:1", part("late", 27000), time.Time{})
		check(t, res, err, RefundResult{Reversed: 40, Shortfall: 230, Amount: 27000, Refunded: 33000, Total: 60000})
		res, err = l.Refund(ctx, "order:1", time.Time{})
		check(t, res, err, RefundResult{Reversed: 0, Shortfall: 270, Amount: 27000, Refunded: 60000, Total: 60000, Full: true})
		if acct := mustAccount(t, l, "u"); acct.Balance != 0 || acct.Shortfall != 500 || acct.EarnedThisMonth != 0 {
			t.Fatalf("after the refunds: %+v, want balance 0, shortfall 500 (the redeemed points)", acct)
		}
	})

	t.Run("refused parts", func(t *testing.T) {
		clock := testenv.NewClock(t0)
		l := newTestLedger(t, newStore(t), clock, nil)
		mustAward(t, l, Award{Key: "order:old", User: "u", Source: "purchase", Points: 10, Pending: true}) // no amount
		if _, err := l.RefundPart(ctx, "order:old", part("p", 100), time.Time{}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("part of an order without amount: %v, want ErrInvalid", err)
		}
		if _, err := l.RefundPart(ctx, "order:none", part("p", 100), time.Time{}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("part of an unknown order: %v, want ErrNotFound", err)
		}
		mustAward(t, l, Award{Key: "watch:1", User: "u", Source: "watch", Points: 5, Participation: true})
		if _, err := l.RefundPart(ctx, "watch:1", part("p", 1), time.Time{}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("part of a participation award: %v, want ErrInvalid", err)
		}
		mustAward(t, l, Award{Key: "order:big", User: "u", Source: "purchase", Points: 100, Pending: true, Amount: 100000})
		for i := range MaxRefundParts {
			if _, err := l.RefundPart(ctx, "order:big", part(fmt.Sprint("p", i), 1), time.Time{}); err != nil {
				t.Fatalf("part %d: %v", i, err)
			}
		}
		if _, err := l.RefundPart(ctx, "order:big", part("one-more", 1), time.Time{}); !errors.Is(err, ErrLimitReached) {
			t.Fatalf("part %d: %v, want ErrLimitReached", MaxRefundParts+1, err)
		}
		if res, err := l.Refund(ctx, "order:big", time.Time{}); err != nil || res.Cancelled != 100 || !res.Full {
			t.Fatalf("whole refund after the limit: %+v %v", res, err)
		}
	})

	t.Run("concurrent parts", func(t *testing.T) {
		clock := testenv.NewClock(t0)
		l := newTestLedger(t, newStore(t), clock, nil)
		mustAward(t, l, purchase("order:1", 100, 10000))
		var (
			wg              sync.WaitGroup
			mu              sync.Mutex
			ok, refused     int
			cancelled, full int64
		)
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := l.RefundPart(ctx, "order:1", part(fmt.Sprint("c", i), 1000), time.Time{})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
					cancelled += res.Cancelled
					if res.Full {
						full++
					}
				case errors.Is(err, ErrInvalid), errors.Is(err, ErrDuplicate):
					refused++
				default:
					t.Errorf("part %d: %v", i, err)
				}
			}()
		}
		wg.Wait()
		if ok != 10 || refused != 10 || cancelled != 100 || full != 1 {
			t.Fatalf("20 concurrent parts of a tenth: %d applied, %d refused, %d points cancelled, %d full; want 10, 10, 100, 1", ok, refused, cancelled, full)
		}
		if acct := mustAccount(t, l, "u"); acct.Pending != 0 {
			t.Fatalf("after the parts: %+v", acct)
		}
	})
}
