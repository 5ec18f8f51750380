package rewards

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kudos-live/kudos/internal/testenv"
)

// testKeyReusedAfterExpiry: a key whose record was gone (by the ledger's clock) and is applied again by its
// user is recorded anew for as long as the new award's record is kept: another user's award under it then is
// a replay of it, never a second grant.
func testKeyReusedAfterExpiry(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	clock := testenv.NewClock(t0) // 2026-03-10: the record lives to 2026-05-02
	l := newTestLedger(t, newStore(t), clock, nil)
	mustAward(t, l, Award{Key: "order:77", User: "u", Points: 5})
	clock.Set(time.Date(2026, time.June, 1, 12, 0, 0, 0, time.UTC))
	if res := mustAward(t, l, Award{Key: "order:77", User: "u", Points: 5}); !res.Applied {
		t.Fatalf("the key reused once its record was gone: %+v, want applied", res)
	}
	clock.Set(time.Date(2026, time.June, 5, 12, 0, 0, 0, time.UTC)) // the new record lives to 2026-08-02
	if ok, err := l.Recorded(ctx, "order:77"); err != nil || !ok {
		t.Fatalf("Recorded after the reuse: %v, %v; want true", ok, err)
	}
	if res := mustAward(t, l, Award{Key: "order:77", User: "v", Points: 5}); res.Applied {
		t.Fatalf("another user's award under the reused key: %+v, want a replay", res)
	}
	if b := mustAccount(t, l, "v").Balance; b != 0 {
		t.Fatalf("v's balance %d, want 0: the key is paid once", b)
	}
}

// testLeaderboardAfterExpiry: a stream's leaderboard that is gone (the record of its last participation award
// expired) starts again from nothing: a new award on the stream counts only its own points.
func testLeaderboardAfterExpiry(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	clock := testenv.NewClock(t0) // the board lives to 2026-05-02
	l := newTestLedger(t, newStore(t), clock, nil)
	mustAward(t, l, Award{Key: "poll:p1:u", User: "u", Stream: "s", Points: 5, Participation: true})
	clock.Set(time.Date(2026, time.June, 1, 12, 0, 0, 0, time.UTC))
	res := mustAward(t, l, Award{Key: "poll:p2:u", User: "u", Stream: "s", Points: 7, Participation: true})
	st, err := l.Leaderboard(ctx, "s", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 1 || st[0].User != "u" || st[0].Points != res.Granted {
		t.Fatalf("the board after it expired and a new award: %+v, want u with %d", st, res.Granted)
	}
}

// testLeaderboardKeptByOthers: a user's points stay on a board that other users' awards keep, though the
// user's own last award there is past its record (an award of the user's on another stream meanwhile drops
// nothing of it); once the board is gone, all of it is, and it starts again from the next award.
func testLeaderboardKeptByOthers(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	clock := testenv.NewClock(t0)
	l := newTestLedger(t, newStore(t), clock, nil)
	board := func(want ...Standing) {
		t.Helper()
		got, err := l.Leaderboard(ctx, "s1", 10)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("s1 at %s: %+v, want %+v", clock.Now().Format(time.DateOnly), got, want)
		}
	}
	u1 := mustAward(t, l, Award{Key: "poll:a:u", User: "u", Stream: "s1", Points: 5, Participation: true}) // u's last, to 2026-05-02
	clock.Set(time.Date(2026, time.April, 20, 12, 0, 0, 0, time.UTC))
	w := mustAward(t, l, Award{Key: "poll:b:w", User: "w", Stream: "s1", Points: 4, Participation: true}) // the board, to 2026-06-02
	clock.Set(time.Date(2026, time.May, 10, 12, 0, 0, 0, time.UTC))
	mustAward(t, l, Award{Key: "poll:c:u", User: "u", Stream: "s2", Points: 3, Participation: true})
	clock.Set(time.Date(2026, time.May, 11, 12, 0, 0, 0, time.UTC))
	u2 := mustAward(t, l, Award{Key: "poll:d:u", User: "u", Stream: "s1", Points: 7, Participation: true}) // the board, to 2026-07-02
	board(Standing{"u", u1.Granted + u2.Granted, 1}, Standing{"w", w.Granted, 2})
	clock.Set(time.Date(2026, time.August, 10, 12, 0, 0, 0, time.UTC))
	mustAward(t, l, Award{Key: "poll:e:u", User: "u", Stream: "s2", Points: 3, Participation: true})
	u3 := mustAward(t, l, Award{Key: "poll:f:u", User: "u", Stream: "s1", Points: 2, Participation: true})
	board(Standing{"u", u3.Granted, 1})
}
