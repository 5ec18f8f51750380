package engagement

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestRoomReadsNeverOlderThanTheJoin: under a storm of joins on two streams, each join's read began after the
// join arrived. A counter ticks before every join; each read notes the counter when it begins; a join must get
// a read that noted at least the counter's value at its arrival.
func TestRoomReadsNeverOlderThanTheJoin(t *testing.T) {
	rr := newRoomReads()
	var clock atomic.Int64
	read := func(_ context.Context, stream string) (Welcome, error) {
		began := clock.Load()
		time.Sleep(time.Duration(rand.IntN(200)) * time.Microsecond)
		return Welcome{Viewers: int(began), Stream: Stream{ID: stream}}, nil
	}
	var wg sync.WaitGroup
	var reads atomic.Int64
	for i := range 400 {
		wg.Go(func() {
			stream := []string{"s1", "s2"}[i%2]
			arrived := clock.Add(1)
			w, err := rr.read(context.Background(), stream, read)
			if err != nil {
				t.Error(err)
				return
			}
			reads.Add(1)
			if int64(w.Viewers) < arrived || w.Stream.ID != stream {
				t.Errorf("a join that arrived at %d on %s got a read of %s that began at %d", arrived, stream, w.Stream.ID, w.Viewers)
			}
		})
	}
	wg.Wait()
	if reads.Load() != 400 {
		t.Fatalf("%d joins answered, want 400", reads.Load())
	}
	rr.mu.Lock()
	defer rr.mu.Unlock()
	if len(rr.streams) != 0 {
		t.Errorf("%d queues left, want 0", len(rr.streams))
	}
}

// TestRoomReadsFirstWaiterCancelling: the first join to queue for a read gives up before the read begins; the
// read still runs with a live context and the joins that stayed get it.
func TestRoomReadsFirstWaiterCancelling(t *testing.T) {
	rr := newRoomReads()
	release := make(chan struct{})
	var reads atomic.Int64
	read := func(ctx context.Context, _ string) (Welcome, error) {
		n := reads.Add(1)
		if n == 1 {
			<-release
		}
		if err := ctx.Err(); err != nil {
			return Welcome{}, err
		}
		return Welcome{Viewers: int(n)}, nil
	}
	go func() { _, _ = rr.read(context.Background(), "s1", read) }()
	waitFor(t, "the first read", func() bool { return reads.Load() == 1 })
	cctx, cancel := context.WithCancel(context.Background())
	gaveUp := make(chan error, 1)
	go func() { _, err := rr.read(cctx, "s1", read); gaveUp <- err }()
	waitFor(t, "the first waiter", func() bool { return rr.queued("s1") == 1 })
	stayed := make(chan Welcome, 1)
	go func() {
		w, err := rr.read(context.Background(), "s1", read)
		if err != nil {
			t.Error(err)
		}
		stayed <- w
	}()
	waitFor(t, "the second waiter", func() bool { return rr.queued("s1") == 2 })
	cancel()
	<-gaveUp
	close(release)
	select {
	case w := <-stayed:
		if w.Viewers != 2 {
			t.Errorf("the join that stayed got read %d, want 2", w.Viewers)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the join that stayed never got its read")
	}
}

// exactLikeRate is the like meter without dropped samples: the rate since the newest reading at least a
// window old (or the oldest reading), to now.
func exactLikeRate(at []time.Time, totals []int64, now time.Time, total int64) (float64, time.Time) {
	anchor := 0
	for i := len(at) - 1; i >= 0; i-- {
		if now.Sub(at[i]) >= likeWindow {
			anchor = i
			break
		}
	}
	dt := now.Sub(at[anchor]).Seconds()
	if dt <= 0 {
		return 0, at[anchor]
	}
	return float64(total-totals[anchor]) / dt, at[anchor]
}

// TestLikeMeterWithinAGapOfExact: at random read times and bursts, the meter's window starts no later than
// the exact one's and at most likeSampleGap earlier, so its rate differs from the exact one only by the
// likes of that slice.
func TestLikeMeterWithinAGapOfExact(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 20 {
		m := newLikeMeter()
		now := time.Unix(1_700_000_000, 0)
		var at []time.Time
		var totals []int64
		var total int64
		for range 2000 {
			now = now.Add(time.Duration(r.IntN(30_000)) * time.Microsecond)
			total += int64(r.IntN(100))
			got := m.observe("s1", total, now)
			at, totals = append(at, now), append(totals, total)
			want, anchor := exactLikeRate(at, totals, now, total)
			kept := m.samples["s1"][0] // the sample the meter measured from: it keeps no older one
			if kept.at.After(anchor) || anchor.Sub(kept.at) >= likeSampleGap {
				t.Fatalf("round %d: window from %v, exact from %v (gap %v)", round, kept.at, anchor, likeSampleGap)
			}
			dt := now.Sub(kept.at).Seconds()
			if dt > 0 {
				if exp := float64(total-kept.total) / dt; math.Abs(got-exp) > 1e-9 {
					t.Fatalf("round %d: rate %v, want %v from its window", round, got, exp)
				}
			}
			if anchor.Equal(kept.at) && math.Abs(got-want) > 1e-9 {
				t.Fatalf("round %d: same window, rate %v, exact %v", round, got, want)
			}
		}
	}
}

// TestSharedRoomReadKeepsEachJoinOwn: a coupon's claimer, another viewer and the host join while a read of
// the room is held, and share the next read. Each gets their own user, role and claimed code (the claimer's
// code reaches nobody else), and the shared coupon list is left as the read made it.
func TestSharedRoomReadKeepsEachJoinOwn(t *testing.T) {
	f := newHostFixture(t, 0)
	ctx := context.Background()
	c, _, err := f.svc.DropCoupon(ctx, f.host1, "s1", CouponSpec{Title: "Bundle", Stock: 3, ExpiresS: 60})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ClaimCoupon(ctx, viewer("a"), "s1", c.ID); err != nil {
		t.Fatal(err)
	}
	g := &gatedRecent{Store: f.svc.store, release: make(chan struct{})}
	f.svc.store = g
	early := make(chan error, 1)
	go func() { _, err := f.svc.Join(ctx, viewer("early"), "s1"); early <- err }()
	waitFor(t, "the first read", func() bool { return g.reads.Load() == 1 })
	actors := []Actor{viewer("a"), viewer("b"), f.host1}
	got := make([]Welcome, len(actors))
	var wg sync.WaitGroup
	for i, a := range actors {
		wg.Go(func() {
			w, err := f.svc.Join(ctx, a, "s1")
			if err != nil {
				t.Error(err)
			}
			got[i] = w
		})
	}
	waitFor(t, "the joins to queue", func() bool { return f.svc.rooms.queued("s1") == len(actors) })
	close(g.release)
	wg.Wait()
	if err := <-early; err != nil {
		t.Fatal(err)
	}
	if n := g.reads.Load(); n != 2 {
		t.Fatalf("%d reads of the room, want 2 (the three joins share one)", n)
	}
	var code string
	for i, w := range got {
		cs, ok := w.Coupons.([]welcomeCoupon)
		if w.User != actors[i].User || w.Role != actors[i].Role || !ok || len(cs) != 1 {
			t.Fatalf("join of %s: user %q role %q coupons %#v", actors[i].User, w.User, w.Role, w.Coupons)
		}
		switch actors[i].User {
		case "a":
			code = cs[0].YourCode
			if len(code) < 6 {
				t.Errorf("the claimer's welcome has code %q", code)
			}
		default:
			if cs[0].YourCode != "" {
				t.Errorf("%s's welcome has the code %q they never claimed", actors[i].User, cs[0].YourCode)
			}
		}
	}
	if b, _ := json.Marshal(got[1]); strings.Contains(string(b), code) {
		t.Errorf("another viewer's welcome carries the claimer's code: %s", b)
	}
}
