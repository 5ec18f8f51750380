package engagement

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kudos-live/kudos/internal/testenv"
	"github.com/kudos-live/kudos/rewards"
	"github.com/redis/go-redis/v9"
)

// failingSink refuses every Publish while down, as a full spool would.
type failingSink struct {
	*MemorySink
	mu   sync.Mutex
	down bool
}

func (f *failingSink) setDown(down bool) {
	f.mu.Lock()
	f.down = down
	f.mu.Unlock()
}

func (f *failingSink) Publish(ctx context.Context, events ...Event) error {
	f.mu.Lock()
	down := f.down
	f.mu.Unlock()
	if down {
		return errors.New("event spool full")
	}
	return f.MemorySink.Publish(ctx, events...)
}

// TestAwardOwedAcrossRestart: the ledger is down when a quiz is revealed, the stream ends and the process
// restarts; once the ledger is back, the award queue of the new process pays each winner exactly once.
func TestAwardOwedAcrossRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clk := testenv.NewClock(time.Date(2026, 3, 1, 20, 0, 0, 0, time.UTC))
	ledgerStore := &flakyLedgerStore{Store: rewards.NewMemoryStore()} // outlives the "process", as Redis does
	state := NewMemoryStore()
	start := func() (*Service, *MemorySink, AwardQueue) {
		t.Helper()
		ledger, err := rewards.NewLedger(ledgerStore, rewards.Config{Now: clk.Now})
		noErr(t, err)
		q, err := OpenFileAwardQueue(dir)
		noErr(t, err)
		sink := NewMemorySink()
		return New(Config{Now: clk.Now, Ledger: ledger, Awards: q}, state, sink), sink, q
	}

	s, _, q := start()
	host := Actor{User: "host1", Name: "Host", Role: RoleHost}
	_, err := s.CreateStream(ctx, host, StreamSpec{ID: "s1", Title: "Quiz night"})
	noErr(t, err)
	quiz, err := s.CreateQuiz(ctx, host, "s1", QuizSpec{Questions: []QuizItem{{Text: "2+2?", Choices: []string{"3", "4"}, Answer: 1, TimeLimitS: 10}}})
	noErr(t, err)
	_, _, err = s.NextQuestion(ctx, host, "s1", quiz.ID)
	noErr(t, err)
	for _, v := range []Actor{viewer("ann"), viewer("bob")} {
		_, err := s.Answer(ctx, v, "s1", quiz.ID, "q0", 1)
		noErr(t, err)
	}
	ledgerStore.down.Store(true) // Redis paused
	clk.Advance(2 * time.Second)
	_, _, err = s.NextQuestion(ctx, host, "s1", quiz.ID) // reveals: the winners' awards fail
	noErr(t, err)
	_, _, err = s.EndStream(ctx, host, "s1")
	noErr(t, err)
	if p, _ := q.Pending(ctx); len(p) != 2 {
		t.Fatalf("%d awards owed after the outage, want 2 (ann and bob)", len(p))
	}
	noErr(t, q.Close()) // the process stops

	ledgerStore.down.Store(false) // Redis back
	s, sink, q := start()         // a new process
	defer q.Close()
	clk.Advance(time.Minute)
	for range 3 { // several passes (and nodes) pay once
		s.retryAwards(ctx, map[string]retryState{}, nil)
	}
	for _, user := range []string{"ann", "bob"} {
		if b := balanceOf(t, s, user); b <= 0 {
			t.Errorf("%s's balance %d after the restart, want the quiz points", user, b)
		}
	}
	awarded := 0
	for _, ev := range sink.Events() {
		if ev.Type == EventPointsAwarded {
			awarded++
		}
	}
	if awarded != 2 {
		t.Errorf("%d points.awarded events, want 2", awarded)
	}
	if p, _ := q.Pending(ctx); len(p) != 0 {
		t.Errorf("%d awards still owed, want none", len(p))
	}
}

// TestAwardTooOldLeavesTheQueue: an award still owed once the month after the one it was earned in has ended
// is refused by the ledger (its key may be forgotten, so paying it could pay it twice); the queue drops it
// rather than retry it forever, and pays the rest.
func TestAwardTooOldLeavesTheQueue(t *testing.T) {
	ctx := context.Background()
	beijing := time.FixedZone("CST", 8*60*60) // the ledger's months are Beijing months by default
	clk := testenv.NewClock(time.Date(2026, 5, 1, 20, 0, 0, 0, beijing))
	q := NewMemoryAwardQueue()
	s := New(Config{Now: clk.Now, Awards: q}, NewMemoryStore(), NewMemorySink())
	for _, a := range []QueuedAward{
		{Key: "poll:p1:ann", User: "ann", Stream: "s1", Source: SourcePoll, Points: 5, At: time.Date(2026, 3, 31, 23, 0, 0, 0, beijing)},
		{Key: "poll:p2:ann", User: "ann", Stream: "s1", Source: SourcePoll, Points: 5, At: time.Date(2026, 4, 1, 0, 0, 0, 0, beijing)},
	} {
		noErr(t, q.Add(ctx, a))
	}
	s.retryAwards(ctx, map[string]retryState{}, nil)
	if p, _ := q.Pending(ctx); len(p) != 0 {
		t.Fatalf("owed after a pass: %+v, want none", p)
	}
	if b := balanceOf(t, s, "ann"); b != 5 {
		t.Fatalf("balance %d, want 5: April's award paid, March's refused", b)
	}
}

// TestAwardEventsRepublishedWithSameIDs: the ledger applies an award but its events cannot be published
// (the spool is full): the action is not acknowledged, the award stays owed, and the next pass publishes the
// events with the ids they would have had, so a consumer that saw a first copy keeps one.
func TestAwardEventsRepublishedWithSameIDs(t *testing.T) {
	ctx := context.Background()
	clk := testenv.NewClock(time.Date(2026, 3, 1, 20, 0, 0, 0, time.UTC))
	sink := &failingSink{MemorySink: NewMemorySink()}
	s := New(Config{Now: clk.Now}, NewMemoryStore(), sink)
	_, err := s.CreateStream(ctx, testHost, StreamSpec{ID: "s1", Title: "Show"})
	noErr(t, err)
	p, _, err := s.OpenPoll(ctx, testHost, "s1", PollSpec{Question: "Red or blue?", Options: []string{"red", "blue"}})
	noErr(t, err)

	sink.setDown(true)
	_, err = s.Handle(ctx, testViewer, "s1", &PollVote{PollID: p.ID, Option: 0})
	if CodeOf(err) != CodeUnavailable {
		t.Fatalf("vote while the spool refuses: %v, want unavailable (never acknowledged without its events)", err)
	}
	if b := balanceOf(t, s, "ann"); b <= 0 {
		t.Fatalf("balance %d: the ledger should have applied the award before the publication failed", b)
	}
	sink.setDown(false)
	s.retryAwards(ctx, map[string]retryState{}, nil)
	s.retryAwards(ctx, map[string]retryState{}, nil)
	var ids []string
	for _, ev := range sink.Events() {
		if ev.Type == EventPointsAwarded {
			ids = append(ids, ev.ID)
		}
	}
	key := "poll:" + p.ID + ":ann"
	want := DerivedEventID(clk.Now(), EventPointsAwarded+"\x00"+key)
	if len(ids) != 1 || ids[0] != want {
		t.Fatalf("points.awarded ids %v, want exactly [%s] (derived from the award key)", ids, want)
	}
}

func TestDerivedEventID(t *testing.T) {
	at := time.Date(2026, 3, 1, 20, 0, 0, 0, time.UTC)
	a, b := DerivedEventID(at, "x"), DerivedEventID(at, "x")
	if a != b || len(a) != 26 {
		t.Fatalf("ids %q %q, want the same 26-character ULID", a, b)
	}
	if DerivedEventID(at, "y") == a || DerivedEventID(at.Add(time.Millisecond), "x") == a {
		t.Fatal("another name or time gave the same id")
	}
}

// refusingSink is a Sink whose Admitter says no once refuse is set, as a full spool does.
type refusingSink struct {
	*MemorySink
	refuse bool
}

func (r *refusingSink) Admit() error {
	if r.refuse {
		return errors.New("event spool full")
	}
	return nil
}

// TestFullSpoolRefusesBeforeChange: when the sink cannot take an action's events, the action is refused as
// unavailable before it changes anything (the vote is not counted, no points are paid).
func TestFullSpoolRefusesBeforeChange(t *testing.T) {
	ctx := context.Background()
	sink := &refusingSink{MemorySink: NewMemorySink()}
	store := NewMemoryStore()
	s := New(Config{}, store, sink)
	_, err := s.CreateStream(ctx, testHost, StreamSpec{ID: "s1", Title: "Show"})
	noErr(t, err)
	p, _, err := s.OpenPoll(ctx, testHost, "s1", PollSpec{Question: "Red or blue?", Options: []string{"red", "blue"}})
	noErr(t, err)
	sink.refuse = true
	if _, _, err := s.DropCoupon(ctx, testHost, "s1", CouponSpec{Title: "10% off", Stock: 5, ExpiresS: 60}); CodeOf(err) != CodeUnavailable {
		t.Fatalf("a host's coupon drop with a full spool: %v, want unavailable", err)
	}
	if cs, _ := s.Coupons(ctx, "s1"); len(cs) != 0 {
		t.Fatalf("the refused drop stored %d coupons", len(cs))
	}
	_, err = s.Handle(ctx, testViewer, "s1", &PollVote{PollID: p.ID, Option: 0})
	if CodeOf(err) != CodeUnavailable {
		t.Fatalf("vote with a full spool: %v, want unavailable", err)
	}
	got, err := s.Poll(ctx, "s1", p.ID)
	noErr(t, err)
	if got.Total != 0 || balanceOf(t, s, "ann") != 0 {
		t.Fatalf("poll total %d, balance %d after a refused vote; want 0, 0", got.Total, balanceOf(t, s, "ann"))
	}
}

// TestPurchaseReplayRepublishesEvents: the ledger takes an order but its events cannot be published; the
// shop is answered unavailable, posts the order again, and the replay publishes the events, with the ids
// the first publication would have had. The same for a redemption.
func TestPurchaseReplayRepublishesEvents(t *testing.T) {
	ctx := context.Background()
	clk := testenv.NewClock(time.Date(2026, 3, 1, 20, 0, 0, 0, time.UTC))
	sink := &failingSink{MemorySink: NewMemorySink()}
	s := New(Config{Now: clk.Now}, NewMemoryStore(), sink)
	shop := Actor{User: "shop", Role: RoleService}
	order := Purchase{OrderID: "o-1", UserID: "ann", AmountFen: 12_300}

	sink.setDown(true)
	if _, _, err := s.RecordPurchase(ctx, shop, order); CodeOf(err) != CodeUnavailable {
		t.Fatalf("purchase while the spool refuses: %v, want unavailable", err)
	}
	sink.setDown(false)
	clk.Advance(time.Minute)
	res, _, err := s.RecordPurchase(ctx, shop, order)
	if err != nil || !res.Replayed || res.Points != 123 {
		t.Fatalf("the shop's retry: %+v, %v; want a replay of 123 points", res, err)
	}
	first := clk.Now().Add(-time.Minute)
	want := map[string]string{
		EventPurchaseRecorded: DerivedEventID(first, EventPurchaseRecorded+"\x00order:o-1"),
		EventPointsAwarded:    DerivedEventID(first, EventPointsAwarded+"\x00order:o-1"),
	}
	for typ, id := range want {
		var got []string
		for _, ev := range sink.Events() {
			if ev.Type == typ {
				got = append(got, ev.ID)
			}
		}
		if !slices.Equal(got, []string{id}) {
			t.Errorf("%s ids %v, want [%s]", typ, got, id)
		}
	}
}

// TestOwedAwardKeyReusedStillPublishes: an award whose events failed stays owed; an action reusing its key
// (feedback pays once per stream, rating or NPS) publishes those events rather than forgetting them.
func TestOwedAwardKeyReusedStillPublishes(t *testing.T) {
	ctx := context.Background()
	clk := testenv.NewClock(time.Date(2026, 3, 1, 20, 0, 0, 0, time.UTC))
	sink := &failingSink{MemorySink: NewMemorySink()}
	q := NewMemoryAwardQueue()
	s := New(Config{Now: clk.Now, Awards: q}, NewMemoryStore(), sink)
	_, err := s.CreateStream(ctx, testHost, StreamSpec{ID: "s1", Title: "Show"})
	noErr(t, err)
	clk.Advance(time.Minute)
	s.Watched(ctx, testViewer, "s1") // feedback pays only someone who watched
	sink.setDown(true)
	if _, err := s.Handle(ctx, testViewer, "s1", &FeedbackSend{Kind: FeedbackRating, Score: 5}); CodeOf(err) != CodeUnavailable {
		t.Fatalf("rating while the spool refuses: %v, want unavailable", err)
	}
	sink.setDown(false)
	if _, err := s.Handle(ctx, testViewer, "s1", &FeedbackSend{Kind: FeedbackNPS, Score: 9}); err != nil {
		t.Fatal(err)
	}
	key := "feedback:s1:ann"
	var found bool
	for _, ev := range sink.Events() {
		if ev.Type == EventPointsAwarded && strings.Contains(string(ev.Data), key) {
			found = true
		}
	}
	if p, _ := q.Pending(ctx); !found || len(p) != 0 {
		t.Fatalf("points.awarded for %s published: %v; %d awards still owed; want published and none owed", key, found, len(p))
	}
}

// TestAwardBacklogRefusesActions: with the award queue nearly full (the ledger down for long), new actions
// are refused unavailable before they change anything, so no award is ever paid without the queue.
func TestAwardBacklogRefusesActions(t *testing.T) {
	ctx := context.Background()
	q := NewMemoryAwardQueue()
	s := New(Config{Awards: q}, NewMemoryStore(), NewMemorySink())
	_, err := s.CreateStream(ctx, testHost, StreamSpec{ID: "s1", Title: "Show"})
	noErr(t, err)
	p, _, err := s.OpenPoll(ctx, testHost, "s1", PollSpec{Question: "Red or blue?", Options: []string{"red", "blue"}})
	noErr(t, err)
	for i := range awardAdmitLimit {
		noErr(t, q.Add(ctx, QueuedAward{Key: fmt.Sprint("owed-", i), User: "u", Points: 1}))
	}
	if _, err := s.Handle(ctx, testViewer, "s1", &PollVote{PollID: p.ID, Option: 0}); CodeOf(err) != CodeUnavailable {
		t.Fatalf("vote with %d awards owed: %v, want unavailable", awardAdmitLimit, err)
	}
	if got, _ := s.Poll(ctx, "s1", p.ID); got.Total != 0 {
		t.Fatalf("the refused vote was counted: total %d", got.Total)
	}
	noErr(t, q.Done(ctx, "owed-0"))
	if _, err := s.Handle(ctx, testViewer, "s1", &PollVote{PollID: p.ID, Option: 0}); err != nil {
		t.Fatalf("vote once the backlog is under the limit: %v", err)
	}
}

// TestAwardOwedWhileRedisPaused is TestAwardOwedAcrossRestart with the ledger on a real redis-server that is
// paused (SIGSTOP) while the quiz is revealed and the stream ends, the process restarting before it resumes.
func TestAwardOwedWhileRedisPaused(t *testing.T) {
	ctx := context.Background()
	srv := testenv.StartRedis(t)
	dir := t.TempDir()
	state := NewMemoryStore()
	var sink *MemorySink
	start := func() (*Service, AwardQueue, *redis.Client) {
		t.Helper()
		rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, ReadTimeout: 300 * time.Millisecond, WriteTimeout: 300 * time.Millisecond, MaxRetries: -1})
		ledger, err := rewards.NewLedger(rewards.NewRedisStore(rdb, rewards.RedisConfig{}), rewards.Config{})
		noErr(t, err)
		q, err := OpenFileAwardQueue(dir)
		noErr(t, err)
		sink = NewMemorySink()
		return New(Config{Ledger: ledger, Awards: q}, state, sink), q, rdb
	}
	s, q, rdb := start()
	host := Actor{User: "host1", Name: "Host", Role: RoleHost}
	_, err := s.CreateStream(ctx, host, StreamSpec{ID: "s1", Title: "Quiz night"})
	noErr(t, err)
	quiz, err := s.CreateQuiz(ctx, host, "s1", QuizSpec{Questions: []QuizItem{{Text: "2+2?", Choices: []string{"3", "4"}, Answer: 1, TimeLimitS: 5}}})
	noErr(t, err)
	_, _, err = s.NextQuestion(ctx, host, "s1", quiz.ID)
	noErr(t, err)
	for _, v := range []Actor{viewer("ann"), viewer("bob")} {
		_, err := s.Answer(ctx, v, "s1", quiz.ID, "q0", 1)
		noErr(t, err)
	}
	srv.Pause(t)
	_, _, err = s.NextQuestion(ctx, host, "s1", quiz.ID) // the reveal: the ledger does not answer
	noErr(t, err)
	_, _, err = s.EndStream(ctx, host, "s1")
	noErr(t, err)
	if p, _ := q.Pending(ctx); len(p) != 2 {
		t.Fatalf("%d awards owed after the reveal, want 2", len(p))
	}
	noErr(t, q.Close()) // the process stops
	_ = rdb.Close()

	s, q, rdb = start() // a new process, Redis still paused
	defer q.Close()
	defer rdb.Close()
	s.retryAwards(ctx, map[string]retryState{}, nil)
	if p, _ := q.Pending(ctx); len(p) != 2 {
		t.Fatalf("%d awards owed while Redis is still paused, want 2", len(p))
	}
	srv.Resume(t)
	for range 3 {
		s.retryAwards(ctx, map[string]retryState{}, nil)
	}
	for _, user := range []string{"ann", "bob"} {
		acc, err := s.ledger.Account(ctx, user)
		noErr(t, err)
		if acc.Balance <= 0 || len(acc.Recent) != 1 {
			t.Errorf("%s: balance %d, %d entries; want the quiz points, paid once", user, acc.Balance, len(acc.Recent))
		}
	}
	if p, _ := q.Pending(ctx); len(p) != 0 {
		t.Errorf("%d awards still owed, want none", len(p))
	}
}
