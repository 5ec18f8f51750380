package rewards

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/kudos-live/kudos/internal/testenv"
)

// testRecorded: Recorded says whether Award would replay a key: not before its award, yes as long as the
// record is kept (to the end of the month after, as testIdempotencyWindow shows Award replaying), no once it
// is gone; an empty key is invalid.
func testRecorded(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	clock := testenv.NewClock(t0) // 2026-03-10
	l := newTestLedger(t, newStore(t), clock, nil)
	recorded := func(key string) bool {
		t.Helper()
		ok, err := l.Recorded(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	a := Award{Key: "shop:review:k1", User: "u", Source: "review", Points: 10, Participation: true, At: t0}
	if recorded(a.Key) {
		t.Fatal("a key never awarded is recorded")
	}
	mustAward(t, l, a)
	if !recorded(a.Key) || recorded("shop:review:k2") {
		t.Fatal("after the award: its key should be recorded, another key not")
	}
	clock.Set(time.Date(2026, time.April, 30, 23, 59, 0, 0, time.UTC)) // Award still replays it (testIdempotencyWindow)
	if !recorded(a.Key) {
		t.Fatal("at the end of the month after: not recorded, though Award replays it")
	}
	clock.Set(time.Date(2026, time.May, 2, 0, 0, 0, 0, time.UTC)) // the record's day of slack is over
	if recorded(a.Key) {
		t.Fatal("recorded after its record is gone")
	}
	if _, err := l.Recorded(ctx, ""); !errors.Is(err, ErrInvalid) {
		t.Fatalf("an empty key: %v, want ErrInvalid", err)
	}
}
