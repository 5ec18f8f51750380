package engagement

import (
	"encoding/json"
	"errors"
	"github.com/kudos-live/kudos/internal/testenv"
	"testing"
	"time"
)

// storeCase is one case of the Store conformance suite: it gets an empty store of its own.
type storeCase struct {
	name string
	run  func(t *testing.T, s Store)
}

// agedCase is a case of the suite about lifetimes (store.go, "Lifetimes"): it also gets the store's age
// function, which moves the store's time forward by d, so that whatever it keeps for no more than d longer is
// gone. On Redis it takes d off every key's TTL (deleting the keys with no more than d left); in memory it
// advances the store's clock, so that state carrying its own expiry reads as gone at once, and what a prune
// drops is gone after the next write to its concept (the cases write before they look).
type agedCase struct {
	name string
	run  func(t *testing.T, s Store, age func(d time.Duration))
}

// runStoreSuite is the one conformance suite of Store: every implementation must pass it. It is composed of
// one suite per concept, each declared beside its concept's tests (pollStoreSuite in poll_test.go, …);
// newStore returns an empty store for one case and its age function (above), with the default lifetimes
// (DefaultStreamTTL, DefaultRetention). The Redis-only cases (an unreachable server, the key layout, two
// nodes) are in redis_test.go and redis_keys_test.go.
func runStoreSuite(t *testing.T, newStore func(t *testing.T) (Store, func(time.Duration))) {
	t.Helper()
	suites := []struct {
		name  string
		cases []storeCase
		aged  []agedCase
	}{
		{"Stream", streamStoreSuite, streamAgedSuite},
		{"Chat", chatStoreSuite, chatAgedSuite},
		{"Like", likeStoreSuite, nil},
		{"Score", scoreStoreSuite, scoreAgedSuite},
		{"Poll", pollStoreSuite, pollAgedSuite},
		{"Quiz", quizStoreSuite, nil},
		{"Feedback", feedbackStoreSuite, nil},
		{"Coupon", couponStoreSuite, couponAgedSuite},
		{"Draw", drawStoreSuite, nil},
		{"Question", questionStoreSuite, nil},
		{"Timeline", timelineStoreSuite, timelineAgedSuite},
		{"Notification", notificationStoreSuite, notificationAgedSuite},
		{"Product", productStoreSuite, productAgedSuite},
		{"Sales", salesStoreSuite, salesAgedSuite},
		{"Privacy", privacyStoreSuite, nil},
		{"Daily", dailyStoreSuite, nil},
	}
	for _, s := range suites {
		t.Run(s.name, func(t *testing.T) {
			for _, c := range s.cases {
				t.Run(c.name, func(t *testing.T) {
					st, _ := newStore(t)
					c.run(t, st)
				})
			}
			for _, c := range s.aged {
				t.Run(c.name, func(t *testing.T) {
					st, age := newStore(t)
					c.run(t, st, age)
				})
			}
		})
	}
}

func TestMemoryStoreSuite(t *testing.T) {
	runStoreSuite(t, func(*testing.T) (Store, func(time.Duration)) {
		clock := testenv.NewClock(conformanceT0)
		return NewMemoryStoreWith(MemoryConfig{Now: clock.Now}), clock.Advance
	})
}

// storeT0 is the instant the item suites (polls, quizzes, coupons, draws) start at.
var storeT0 = time.Date(2026, 3, 1, 20, 0, 0, 0, time.UTC)

// conformanceT0 is a fixed instant on a whole millisecond, so that every store keeps it exactly.
var conformanceT0 = time.Date(2026, 3, 14, 15, 9, 26, 535_000_000, time.UTC)

var errFromFn = errors.New("fn refused")

// sameJSON fails the test unless got and want encode to the same JSON: stores may return an equal time.Time
// in another representation (location pointer, no monotonic reading), which JSON ignores.
func sameJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	g, err := json.Marshal(got)
	if err != nil {
		t.Fatalf("encode %s: %v", what, err)
	}
	w, err := json.Marshal(want)
	if err != nil {
		t.Fatalf("encode want %s: %v", what, err)
	}
	if string(g) != string(w) {
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
}

// wantCode checks that a store's err matches sentinel and is not worded: stores return sentinels, the
// Service words the message.
func wantCode(t *testing.T, what string, err error, sentinel *Error) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Errorf("%s: err = %v, want code %s", what, err, sentinel.Code)
	}
	if sentinel != ErrUnavailable && !bare(err) {
		t.Errorf("%s: err = %v, want a bare sentinel (the Service words messages)", what, err)
	}
}

// isErr fails the test now unless err matches target.
func isErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("err = %v, want %v", err, target)
	}
	if target != ErrUnavailable && !bare(err) {
		t.Fatalf("err = %v, want a bare sentinel (the Service words messages)", err)
	}
}

// noErr fails the test now if err is not nil.
func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
