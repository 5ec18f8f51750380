package engagement

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestRedisHostStoreConformance(t *testing.T) {
	newTestRedisStore(t) // skip or fail once, up front
	runHostStoreConformance(t, newTestRedisStore)
}

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

// TestRedisHostStoreConcurrent races many callers on two nodes against the atomic counters.
func TestRedisHostStoreConcurrent(t *testing.T) {
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
				got, err := node.ClaimCoupon(ctx, "st", "c1", fmt.Sprintf("u%d", i), fmt.Sprintf("CODE%d", i), t0.Add(time.Second))
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

// TestRedisHostStoreKeys checks the documented layout, that every key expires StreamTTL after a write, and
// that the draw's seed, which Draw's JSON leaves out, is stored.
func TestRedisHostStoreKeys(t *testing.T) {
	rdb, prefix := testRedis(t)
	const ttl = time.Hour
	s := NewRedisStore(rdb, RedisConfig{Prefix: prefix, StreamTTL: ttl})
	ctx := context.Background()
	t0 := time.Now().UTC()
	steps := []struct {
		name string
		do   func() error
	}{
		{"OpenPoll", func() error {
			return s.OpenPoll(ctx, "s1", Poll{ID: "p1", Question: "Q", Options: []string{"a", "b"}, Status: PollOpen, OpensAt: t0})
		}},
		{"VotePoll", func() error { _, err := s.VotePoll(ctx, "s1", "p1", "u1", 1, t0); return err }},
		{"CreateQuiz", func() error {
			return s.CreateQuiz(ctx, "s1", Quiz{ID: "q1", Current: -1, Status: QuizReady, Questions: []QuizItem{{Text: "A?", Choices: []string{"x", "y"}}}})
		}},
		{"UpdateQuiz", func() error {
			_, err := s.UpdateQuiz(ctx, "s1", "q1", func(q *Quiz) error {
				q.Current, q.Status, q.OpensAt, q.Deadline = 0, QuizRunning, t0, t0.Add(time.Minute)
				return nil
			})
			return err
		}},
		{"AnswerQuiz", func() error {
			return s.AnswerQuiz(ctx, "s1", "q1", QuizResponse{User: "u1", Question: 0, Choice: 1, At: t0}, t0)
		}},
		{"SaveQuizPlayers", func() error { return s.SaveQuizPlayers(ctx, "s1", "q1", []QuizPlayer{{User: "u1", Score: 90}}) }},
		{"AddFeedback", func() error { _, err := s.AddFeedback(ctx, "s1", "u1", FeedbackNPS, 9); return err }},
		{"CreateCoupon", func() error {
			return s.CreateCoupon(ctx, "s1", Coupon{ID: "c1", Stock: 3, OpensAt: t0, ExpiresAt: t0.Add(time.Minute)})
		}},
		{"ClaimCoupon", func() error { _, err := s.ClaimCoupon(ctx, "s1", "c1", "u1", "X1", t0); return err }},
		{"CreateDraw", func() error {
			return s.CreateDraw(ctx, "s1", Draw{ID: "d1", Winners: 1, Eligible: DrawAll, Status: DrawOpen, OpensAt: t0, Seed: "5eed"})
		}},
		{"EnterDraw", func() error { return s.EnterDraw(ctx, "s1", "d1", DrawEntrant{User: "u1"}, t0) }},
		{"MarkCommenter", func() error { return s.MarkCommenter(ctx, "s1", "u1") }},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
	}
	keys := []struct{ key, typ string }{
		{"stream:{s1}:poll", "hash"},
		{"stream:{s1}:poll:p1", "hash"},
		{"stream:{s1}:poll:p1:counts", "hash"},
		{"stream:{s1}:poll:p1:voters", "set"},
		{"stream:{s1}:voters", "set"},
		{"stream:{s1}:quiz", "string"},
		{"stream:{s1}:quiz:q1", "hash"},
		{"stream:{s1}:quiz:q1:counts", "hash"},
		{"stream:{s1}:quiz:q1:answers:0", "list"},
		{"stream:{s1}:quiz:q1:answered:0", "set"},
		{"stream:{s1}:quiz:q1:players", "hash"},
		{"stream:{s1}:feedback", "hash"},
		{"stream:{s1}:feedback:given", "set"},
		{"stream:{s1}:coupons", "list"},
		{"stream:{s1}:coupon:c1", "hash"},
		{"stream:{s1}:coupon:c1:claims", "hash"},
		{"stream:{s1}:draw", "string"},
		{"stream:{s1}:draw:d1", "hash"},
		{"stream:{s1}:draw:d1:entrants", "hash"},
		{"stream:{s1}:commenters", "set"},
	}
	for _, k := range keys {
		key := prefix + k.key
		typ, err := rdb.Type(ctx, key).Result()
		if err != nil {
			t.Fatalf("TYPE %s: %v", k.key, err)
		}
		if typ != k.typ {
			t.Errorf("TYPE %s = %s, want %s", k.key, typ, k.typ)
		}
		if got, err := rdb.PTTL(ctx, key).Result(); err != nil || got <= ttl-time.Minute || got > ttl {
			t.Errorf("PTTL %s = %v (%v), want in (%v, %v]", k.key, got, err, ttl-time.Minute, ttl)
		}
	}
	if seed, err := rdb.HGet(ctx, prefix+"stream:{s1}:draw:d1", "seed").Result(); err != nil || seed != "5eed" {
		t.Errorf("stored seed = %q (%v), want 5eed", seed, err)
	}
}

// TestRedisHostStoreItemIDs checks that an id which could name another item's key is refused, not looked up.
func TestRedisHostStoreItemIDs(t *testing.T) {
	rdb, prefix := testRedis(t)
	s := NewRedisStore(rdb, RedisConfig{Prefix: prefix})
	ctx := context.Background()
	t0 := time.Now().UTC()
	if err := s.OpenPoll(ctx, "s1", Poll{ID: "p1", Question: "Q", Options: []string{"a", "b"}, Status: PollOpen, OpensAt: t0}); err != nil {
		t.Fatalf("OpenPoll: %v", err)
	}
	if _, err := s.VotePoll(ctx, "s1", "p1", "u1", 0, t0); err != nil {
		t.Fatalf("VotePoll: %v", err)
	}
	tests := []struct {
		name string
		call func() error
		want *Error
	}{
		{"vote in the voter set", func() error { _, err := s.VotePoll(ctx, "s1", "p1:voters", "u2", 0, t0); return err }, ErrNotFound},
		{"read the counts", func() error { _, err := s.Poll(ctx, "s1", "p1:counts"); return err }, ErrNotFound},
		{"claim a brace id", func() error { _, err := s.ClaimCoupon(ctx, "s1", "{x}", "u1", "C", t0); return err }, ErrNotFound},
		{"enter an empty id", func() error { return s.EnterDraw(ctx, "s1", "", DrawEntrant{User: "u1"}, t0) }, ErrNotFound},
		{"create a colon id", func() error { return s.CreateCoupon(ctx, "s1", Coupon{ID: "c:1", Stock: 1}) }, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantCode(t, tt.name, tt.call(), tt.want) })
	}
}

// TestRedisHostStoreUnavailable checks that every HostStore call on an unreachable Redis fails as
// unavailable, with the cause kept for logs. It needs no Redis.
func TestRedisHostStoreUnavailable(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond, MaxRetries: -1, DialerRetries: 1, DialerRetryTimeout: time.Millisecond})
	t.Cleanup(func() { _ = rdb.Close() })
	s := NewRedisStore(rdb, RedisConfig{})
	ctx := context.Background()
	now := time.Now()
	tests := []struct {
		name string
		call func() error
	}{
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
		{"ClaimCoupon", func() error { _, err := s.ClaimCoupon(ctx, "s1", "c1", "u1", "C", now); return err }},
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if !errors.Is(err, ErrUnavailable) {
				t.Fatalf("err = %v, want one matching ErrUnavailable", err)
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
