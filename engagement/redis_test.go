package engagement

import (
	"context"
	"errors"
	"fmt"
	"github.com/kudos-live/kudos/internal/testenv"
	"github.com/redis/go-redis/v9"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testRedis returns a client of the test Redis and a key prefix of the test's own (see testenv.Redis).
func testRedis(t *testing.T) (*redis.Client, string) {
	t.Helper()
	return testenv.Redis(t)
}

func newTestRedisStore(t *testing.T) Store {
	t.Helper()
	rdb, prefix := testRedis(t)
	return NewRedisStore(rdb, RedisConfig{Prefix: prefix})
}

// TestRedisStoreSuite runs the one Store conformance suite on Redis.
func TestRedisStoreSuite(t *testing.T) {
	newTestRedisStore(t) // skip or fail once, up front
	// Every script's keys in one hash slot, as a Redis Cluster requires.
	guard := &testenv.SlotGuard{}
	runStoreSuite(t, func(t *testing.T) (Store, func(time.Duration)) {
		rdb, prefix := testRedis(t)
		rdb.AddHook(guard)
		return NewRedisStore(rdb, RedisConfig{Prefix: prefix}), ageRedis(t, rdb, prefix)
	})
	checkSlotGuard(t, guard)
}

// ageRedis returns the age function (runStoreSuite) of the keys under prefix: d off every key's TTL, the keys
// with no more than d left deleted, the keys without a TTL left alone; one script, so that a test may age its
// keys often.
func ageRedis(t *testing.T, rdb *redis.Client, prefix string) func(time.Duration) {
	return func(d time.Duration) {
		t.Helper()
		if err := ageScript.Run(context.Background(), rdb, nil, prefix+"*", d.Milliseconds()).Err(); err != nil {
			t.Fatalf("age the keys %s*: %v", prefix, err)
		}
	}
}

// ageScript ages the keys matching ARGV[1] by ARGV[2] ms (ageRedis). Test keys only: it lists them with KEYS.
var ageScript = redis.NewScript(`
local d = tonumber(ARGV[2])
for _, k in ipairs(redis.call('KEYS', ARGV[1])) do
  local left = redis.call('PTTL', k)
  if left >= 0 then
    if left <= d then redis.call('DEL', k) else redis.call('PEXPIRE', k, left - d) end
  end
end
return 0`)

// twoRedisNodes returns two stores over separate clients of one Redis and the client of the first: two nodes.
func twoRedisNodes(t *testing.T) (a, b *RedisStore, rdb *redis.Client, prefix string) {
	t.Helper()
	rdb, prefix = testRedis(t)
	opts := *rdb.Options()
	opts.PoolSize = 64
	other := redis.NewClient(&opts)
	t.Cleanup(func() { _ = other.Close() })
	return NewRedisStore(rdb, RedisConfig{Prefix: prefix}), NewRedisStore(other, RedisConfig{Prefix: prefix}), rdb, prefix
}

// TestRedisStoreTwoNodes checks that two stores on separate clients (two nodes) see one state, and that the
// atomic rules hold when the two race.
func TestRedisStoreTwoNodes(t *testing.T) {
	t.Run("StreamChatLikes", twoNodesShareState)
	t.Run("QuestionsNotificationsTimeline", twoNodesRaceExtras)
	t.Run("VotesCouponsQuizAnswers", twoNodesRaceItems)
}

// twoNodesShareState: streams, comments, likes and slow-mode slots written on one node are seen on the other.
func twoNodesShareState(t *testing.T) {
	rdb, prefix := testRedis(t)
	opts := *rdb.Options()
	other := redis.NewClient(&opts)
	t.Cleanup(func() { _ = other.Close() })
	a := NewRedisStore(rdb, RedisConfig{Prefix: prefix})
	b := NewRedisStore(other, RedisConfig{Prefix: prefix})
	ctx := context.Background()

	if err := a.CreateStream(ctx, testStream("s1")); err != nil {
		t.Fatalf("CreateStream on a: %v", err)
	}
	wantCode(t, "CreateStream of the same id on b", b.CreateStream(ctx, testStream("s1")), ErrDuplicate)
	if err := a.AddComment(ctx, "s1", testComment(1), 10); err != nil {
		t.Fatalf("AddComment on a: %v", err)
	}
	if removed, err := b.RemoveComment(ctx, "s1", "c1"); err != nil || !removed {
		t.Errorf("RemoveComment on b = %v, %v; want true, nil", removed, err)
	}
	if _, err := a.AddLikes(ctx, "s1", 5); err != nil {
		t.Fatalf("AddLikes on a: %v", err)
	}
	if n, err := b.AddLikes(ctx, "s1", 1); err != nil || n != 6 {
		t.Errorf("AddLikes on b = %d, %v; want 6, nil", n, err)
	}
	if ok, _, err := a.TakeSlot(ctx, "s1", "u1", time.Minute, conformanceT0); err != nil || !ok {
		t.Fatalf("TakeSlot on a = %v, %v; want true, nil", ok, err)
	}
	if ok, left, err := b.TakeSlot(ctx, "s1", "u1", time.Minute, conformanceT0.Add(time.Second)); err != nil || ok || left != 59*time.Second {
		t.Errorf("TakeSlot on b = %v, %v, %v; want false, 59s, nil", ok, left, err)
	}
}

// twoNodesRaceExtras: 200 users upvote on both nodes at once, daily caps and timeline de-duplication hold.
func twoNodesRaceExtras(t *testing.T) {
	a, b, _, _ := twoRedisNodes(t)
	nodes := []*RedisStore{a, b}
	ctx := context.Background()

	t.Run("upvotes", func(t *testing.T) {
		if err := a.AddQuestion(ctx, "s1", testQuestion("q1", "ann"), 10); err != nil {
			t.Fatal(err)
		}
		const users = 200
		var wg sync.WaitGroup
		var mu sync.Mutex
		accepted, dups := 0, 0
		for i := range users * 2 {
			wg.Go(func() {
				_, err := nodes[i%2].UpvoteQuestion(ctx, "s1", "q1", fmt.Sprintf("u%03d", i/2))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					accepted++
				case CodeOf(err) == CodeDuplicate:
					dups++
				default:
					t.Errorf("UpvoteQuestion: %v", err)
				}
			})
		}
		wg.Wait()
		if accepted != users || dups != users {
			t.Errorf("accepted %d, duplicates %d; want %d each", accepted, dups, users)
		}
		for _, s := range nodes {
			if got := questionByID(t, s, "s1", "q1").Votes; got != users {
				t.Errorf("votes = %d, want %d", got, users)
			}
		}
	})

	t.Run("daily cap", func(t *testing.T) {
		const attempts, limit = 8, 3
		var wg sync.WaitGroup
		var mu sync.Mutex
		sent := 0
		for i := range attempts {
			wg.Go(func() {
				d, replayed, err := nodes[i%2].DecideNotification(ctx, "shop", fmt.Sprint("n", i), "bob", "2026-03-14", limit)
				if err != nil || replayed {
					t.Errorf("DecideNotification: %s, replayed %v, %v", d, replayed, err)
					return
				}
				if d == NotificationSent {
					mu.Lock()
					sent++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if sent != limit {
			t.Errorf("sent %d of %d, want %d", sent, attempts, limit)
		}
		if n, err := b.NotificationsSent(ctx, "bob", "2026-03-14"); err != nil || n != limit {
			t.Errorf("NotificationsSent = %d, %v; want %d", n, err, limit)
		}
	})

	t.Run("timeline", func(t *testing.T) {
		if ok, err := a.AppendTimeline(ctx, "s1", timelineItem(1000, "likes:1"), 10); err != nil || !ok {
			t.Fatalf("append on a: %v, %v", ok, err)
		}
		if ok, err := b.AppendTimeline(ctx, "s1", timelineItem(1000, "likes:1"), 10); err != nil || ok {
			t.Errorf("append of the same sample on b: %v, %v; want false", ok, err)
		}
		if err := b.AddParticipant(ctx, "s1", "cy", conformanceT0); err != nil {
			t.Fatal(err)
		}
		if st, err := a.LastStream(ctx, "cy"); err != nil || st != "s1" {
			t.Errorf("LastStream on a = %q, %v; want s1", st, err)
		}
	})
}

// twoNodesRaceItems races many callers on two nodes against the atomic counters of polls, coupons and quizzes.
func twoNodesRaceItems(t *testing.T) {
	newTestRedisStore(t) // skip or fail once, up front
	t0 := time.Date(2026, 3, 1, 20, 0, 0, 0, time.UTC)
	ctx := context.Background()

	t.Run("votes", func(t *testing.T) {
		a, b, rdb, prefix := twoRedisNodes(t)
		const calls, users = 500, 300
		p := Poll{ID: "p1", Question: "Q", Options: []string{"a", "b", "c"}, Status: PollOpen, OpensAt: t0}
		if err := a.OpenPoll(ctx, "st", p); err != nil {
			t.Fatalf("OpenPoll: %v", err)
		}
		var accepted, duplicate atomic.Int64
		var wg sync.WaitGroup
		for i := range calls {
			node := a
			if i%2 == 1 {
				node = b
			}
			wg.Go(func() {
				_, err := node.VotePoll(ctx, "st", "p1", fmt.Sprintf("u%03d", i%users), i%3, t0.Add(time.Second))
				switch {
				case err == nil:
					accepted.Add(1)
				case errors.Is(err, ErrDuplicate):
					duplicate.Add(1)
				default:
					t.Errorf("vote %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		if accepted.Load() != users || duplicate.Load() != calls-users {
			t.Errorf("accepted %d, duplicate %d; want %d, %d", accepted.Load(), duplicate.Load(), users, calls-users)
		}
		got, err := b.Poll(ctx, "st", "p1")
		if err != nil {
			t.Fatalf("Poll: %v", err)
		}
		var sum int64
		for _, n := range got.Counts {
			sum += n
		}
		if got.Total != users || sum != users {
			t.Errorf("poll total %d, counts %v (sum %d); want %d", got.Total, got.Counts, sum, users)
		}
		if n, err := rdb.SCard(ctx, prefix+"stream:{st}:poll:p1:voters").Result(); err != nil || n != users {
			t.Errorf("voter set holds %d (%v), want %d", n, err, users)
		}
	})

	t.Run("coupon", func(t *testing.T) {
		a, b, rdb, prefix := twoRedisNodes(t)
		const calls, stock = 200, 10
		c := Coupon{ID: "c1", Title: "T", Stock: stock, OpensAt: t0, ExpiresAt: t0.Add(time.Minute)}
		if err := a.CreateCoupon(ctx, "st", c); err != nil {
			t.Fatalf("CreateCoupon: %v", err)
		}
		var claimed, soldOut atomic.Int64
		var wg sync.WaitGroup
		for i := range calls {
			node := a
			if i%2 == 1 {
				node = b
			}
			wg.Go(func() {
				got, _, err := node.ClaimCoupon(ctx, "st", "c1", fmt.Sprintf("u%d", i), fmt.Sprintf("CODE%d", i), t0.Add(time.Second))
				switch {
				case err == nil:
					claimed.Add(1)
					if got.Remaining < 0 {
						t.Errorf("claim %d left remaining %d", i, got.Remaining)
					}
				case errors.Is(err, ErrClosed):
					soldOut.Add(1)
				default:
					t.Errorf("claim %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		if claimed.Load() != stock || soldOut.Load() != calls-stock {
			t.Errorf("claimed %d, refused %d; want %d, %d", claimed.Load(), soldOut.Load(), stock, calls-stock)
		}
		got, err := b.Coupon(ctx, "st", "c1")
		if err != nil {
			t.Fatalf("Coupon: %v", err)
		}
		if got.Remaining != 0 || got.Stock != stock {
			t.Errorf("coupon after the rush = %+v, want remaining 0 of %d", got, stock)
		}
		codes, err := rdb.HGetAll(ctx, prefix+"stream:{st}:coupon:c1:claims").Result()
		if err != nil || len(codes) != stock {
			t.Fatalf("claims hash holds %d codes (%v), want %d", len(codes), err, stock)
		}
		for user, code := range codes {
			if code != "CODE"+strings.TrimPrefix(user, "u") {
				t.Errorf("claim of %s stored code %s", user, code)
			}
		}
	})

	t.Run("quiz answers", func(t *testing.T) {
		a, b, _, _ := twoRedisNodes(t)
		const calls, users = 200, 120
		q := Quiz{ID: "q1", Count: 1, Current: -1, Status: QuizReady, Questions: []QuizItem{{Text: "A?", Choices: []string{"x", "y"}, Answer: 1, TimeLimitS: 10}}}
		if err := a.CreateQuiz(ctx, "st", q); err != nil {
			t.Fatalf("CreateQuiz: %v", err)
		}
		if _, err := a.UpdateQuiz(ctx, "st", "q1", func(q *Quiz) error {
			q.Current, q.Status, q.OpensAt, q.Deadline = 0, QuizRunning, t0, t0.Add(10*time.Second)
			return nil
		}); err != nil {
			t.Fatalf("UpdateQuiz: %v", err)
		}
		var wg sync.WaitGroup
		for i := range calls {
			node := a
			if i%2 == 1 {
				node = b
			}
			wg.Go(func() {
				r := QuizResponse{User: fmt.Sprintf("u%d", i%users), Question: 0, Choice: i % 2, At: t0.Add(time.Second)}
				if err := node.AnswerQuiz(ctx, "st", "q1", r, r.At); err != nil && !errors.Is(err, ErrDuplicate) {
					t.Errorf("answer %d: %v", i, err)
				}
			})
		}
		// An update racing the answers must neither lose nor reset their counts.
		wg.Go(func() {
			if _, err := b.UpdateQuiz(ctx, "st", "q1", func(q *Quiz) error { q.Title = "renamed"; return nil }); err != nil {
				t.Errorf("UpdateQuiz: %v", err)
			}
		})
		wg.Wait()
		got, err := b.Quiz(ctx, "st", "q1")
		if err != nil {
			t.Fatalf("Quiz: %v", err)
		}
		answers, err := a.QuizAnswers(ctx, "st", "q1", 0)
		if err != nil {
			t.Fatalf("QuizAnswers: %v", err)
		}
		if c := got.Questions[0].Counts; c[0]+c[1] != users || len(answers) != users || got.Title != "renamed" {
			t.Errorf("quiz %q counts %v, %d answers; want %d", got.Title, c, len(answers), users)
		}
	})
}

// TestRedisStoreUnavailable checks that every Store method on a Redis that cannot be reached yields an error
// that matches ErrUnavailable, carries the cause for logs, and shows clients nothing of it. It needs no Redis.
func TestRedisStoreUnavailable(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond, MaxRetries: -1, DialerRetries: 1, DialerRetryTimeout: time.Millisecond})
	t.Cleanup(func() { _ = rdb.Close() })
	s := NewRedisStore(rdb, RedisConfig{})
	ctx := context.Background()
	now := time.Now()
	tests := []struct {
		name string
		call func() error
	}{
		{"CreateStream", func() error { return s.CreateStream(ctx, testStream("s1")) }},
		{"Stream", func() error { _, err := s.Stream(ctx, "s1"); return err }},
		{"UpdateStream", func() error {
			_, err := s.UpdateStream(ctx, "s1", func(*Stream) error { return nil })
			return err
		}},
		{"AddComment", func() error { return s.AddComment(ctx, "s1", testComment(1), 10) }},
		{"RecentComments", func() error { _, err := s.RecentComments(ctx, "s1", 10); return err }},
		{"RemoveComment", func() error { _, err := s.RemoveComment(ctx, "s1", "c1"); return err }},
		{"Moderation", func() error { _, err := s.Moderation(ctx, "s1"); return err }},
		{"UpdateModeration", func() error {
			_, err := s.UpdateModeration(ctx, "s1", func(*Moderation) error { return nil })
			return err
		}},
		{"TakeSlot", func() error { _, _, err := s.TakeSlot(ctx, "s1", "u1", time.Second, time.Now()); return err }},
		{"AddLikes", func() error { _, err := s.AddLikes(ctx, "s1", 1); return err }},
		{"Likes", func() error { _, err := s.Likes(ctx, "s1"); return err }},
		{"OpenPoll", func() error { return s.OpenPoll(ctx, "s1", Poll{ID: "p1", Options: []string{"a", "b"}}) }},
		{"Poll", func() error { _, err := s.Poll(ctx, "s1", "p1"); return err }},
		{"CurrentPoll", func() error { _, err := s.CurrentPoll(ctx, "s1"); return err }},
		{"VotePoll", func() error { _, err := s.VotePoll(ctx, "s1", "p1", "u1", 0, now); return err }},
		{"ClosePoll", func() error { _, _, err := s.ClosePoll(ctx, "s1", "p1", now); return err }},
		{"HasVoted", func() error { _, err := s.HasVoted(ctx, "s1", "u1"); return err }},
		{"CreateQuiz", func() error { return s.CreateQuiz(ctx, "s1", Quiz{ID: "q1"}) }},
		{"Quiz", func() error { _, err := s.Quiz(ctx, "s1", "q1"); return err }},
		{"ActiveQuiz", func() error { _, err := s.ActiveQuiz(ctx, "s1"); return err }},
		{"UpdateQuiz", func() error {
			_, err := s.UpdateQuiz(ctx, "s1", "q1", func(*Quiz) error { return nil })
			return err
		}},
		{"AnswerQuiz", func() error { return s.AnswerQuiz(ctx, "s1", "q1", QuizResponse{User: "u1"}, now) }},
		{"QuizAnswers", func() error { _, err := s.QuizAnswers(ctx, "s1", "q1", 0); return err }},
		{"QuizPlayers", func() error { _, err := s.QuizPlayers(ctx, "s1", "q1"); return err }},
		{"SaveQuizPlayers", func() error { return s.SaveQuizPlayers(ctx, "s1", "q1", []QuizPlayer{{User: "u1"}}) }},
		{"AddFeedback", func() error { _, err := s.AddFeedback(ctx, "s1", "u1", FeedbackRating, 5); return err }},
		{"Feedback", func() error { _, err := s.Feedback(ctx, "s1"); return err }},
		{"CreateCoupon", func() error { return s.CreateCoupon(ctx, "s1", Coupon{ID: "c1", Stock: 1}) }},
		{"Coupon", func() error { _, err := s.Coupon(ctx, "s1", "c1"); return err }},
		{"Coupons", func() error { _, err := s.Coupons(ctx, "s1"); return err }},
		{"ClaimCoupon", func() error { _, _, err := s.ClaimCoupon(ctx, "s1", "c1", "u1", "C", now); return err }},
		{"CouponByCode", func() error { _, err := s.CouponByCode(ctx, "CODE-1"); return err }},
		{"RedeemCouponCode", func() error { _, err := s.RedeemCouponCode(ctx, "CODE-1", "o1", now); return err }},
		{"CreateDraw", func() error { return s.CreateDraw(ctx, "s1", Draw{ID: "d1"}) }},
		{"Draw", func() error { _, err := s.Draw(ctx, "s1", "d1"); return err }},
		{"CurrentDraw", func() error { _, err := s.CurrentDraw(ctx, "s1"); return err }},
		{"UpdateDraw", func() error {
			_, err := s.UpdateDraw(ctx, "s1", "d1", func(*Draw) error { return nil })
			return err
		}},
		{"EnterDraw", func() error { return s.EnterDraw(ctx, "s1", "d1", DrawEntrant{User: "u1"}, now) }},
		{"DrawEntrants", func() error { _, err := s.DrawEntrants(ctx, "s1", "d1"); return err }},
		{"MarkCommenter", func() error { return s.MarkCommenter(ctx, "s1", "u1") }},
		{"HasCommented", func() error { _, err := s.HasCommented(ctx, "s1", "u1"); return err }},
		{"AddQuestion", func() error { return s.AddQuestion(ctx, "s1", testQuestion("q1", "ann"), 10) }},
		{"Questions", func() error { _, err := s.Questions(ctx, "s1"); return err }},
		{"UpvoteQuestion", func() error { _, err := s.UpvoteQuestion(ctx, "s1", "q1", "bob"); return err }},
		{"SetQuestionFlag", func() error { _, _, err := s.SetQuestionFlag(ctx, "s1", "q1", FlagPinned, true); return err }},
		{"AppendTimeline", func() error { _, err := s.AppendTimeline(ctx, "s1", timelineItem(1, "a"), 10); return err }},
		{"HideTimeline", func() error { return s.HideTimeline(ctx, "s1", "a") }},
		{"TimelineItems", func() error {
			_, err := s.TimelineItems(ctx, "s1", 0, math.MaxInt64, math.MinInt64, -1, 10)
			return err
		}},
		{"AddParticipant", func() error { return s.AddParticipant(ctx, "s1", "ann", conformanceT0) }},
		{"Participants", func() error { _, err := s.Participants(ctx, "s1", 10); return err }},
		{"LastStream", func() error { _, err := s.LastStream(ctx, "ann"); return err }},
		{"DecideNotification", func() error {
			_, _, err := s.DecideNotification(ctx, "shop", "n1", "ann", "2026-03-14", 3)
			return err
		}},
		{"NotificationsSent", func() error { _, err := s.NotificationsSent(ctx, "ann", "2026-03-14"); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if !errors.Is(err, ErrUnavailable) {
				t.Fatalf("err = %v, want one matching ErrUnavailable", err)
			}
			if got := CodeOf(err); got != CodeUnavailable {
				t.Errorf("CodeOf = %s, want %s", got, CodeUnavailable)
			}
			if msg := MessageOf(err); strings.Contains(msg, "127.0.0.1") {
				t.Errorf("MessageOf = %q shows the backend to clients", msg)
			}
			if !strings.Contains(err.Error(), "127.0.0.1:1") {
				t.Errorf("err = %q, want the cause kept for logs", err)
			}
		})
	}
}
