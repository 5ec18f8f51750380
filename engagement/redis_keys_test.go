package engagement

import (
	"context"
	"testing"
	"time"
)

// TestRedisItemIDs checks that an id which could name another item's key is refused, not looked up.
func TestRedisItemIDs(t *testing.T) {
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
		{"claim a brace id", func() error { _, _, err := s.ClaimCoupon(ctx, "s1", "{x}", "u1", "C", t0); return err }, ErrNotFound},
		{"enter an empty id", func() error { return s.EnterDraw(ctx, "s1", "", DrawEntrant{User: "u1"}, t0) }, ErrNotFound},
		{"create a colon id", func() error { return s.CreateCoupon(ctx, "s1", Coupon{ID: "c:1", Stock: 1}) }, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantCode(t, tt.name, tt.call(), tt.want) })
	}
}

// TestRedisStoreKeys checks the documented key layout (redis.go) and every key's expiry.
func TestRedisStoreKeys(t *testing.T) {
	t.Run("StreamChatLikesScores", keysOfStreamsAndChat)
	t.Run("PollsQuizzesFeedbackCouponsDraws", keysOfItems)
	t.Run("QuestionsTimelineNotifications", keysOfExtras)
}

// keysOfStreamsAndChat checks the documented layout and that hot keys expire StreamTTL after a write, the
// record and the replay marks Retention after it.
func keysOfStreamsAndChat(t *testing.T) {
	rdb, prefix := testRedis(t)
	const ttl = time.Hour
	s := NewRedisStore(rdb, RedisConfig{Prefix: prefix, StreamTTL: ttl})
	ctx := context.Background()
	if err := s.CreateStream(ctx, testStream("s1")); err != nil {
		t.Fatalf("CreateStream: %v", err)
	}
	if err := s.AddComment(ctx, "s1", testComment(1), 10); err != nil {
		t.Fatalf("AddComment: %v", err)
	}
	if _, err := s.RemoveComment(ctx, "s1", "c1"); err != nil {
		t.Fatalf("RemoveComment: %v", err)
	}
	if _, err := s.UpdateModeration(ctx, "s1", func(m *Moderation) error { m.SlowModeS = 5; return nil }); err != nil {
		t.Fatalf("UpdateModeration: %v", err)
	}
	if _, err := s.AddLikes(ctx, "s1", 1); err != nil {
		t.Fatalf("AddLikes: %v", err)
	}
	if err := s.AddComment(ctx, "s1", testComment(2), 10); err != nil {
		t.Fatalf("AddComment: %v", err)
	}
	if _, _, err := s.TakeSlot(ctx, "s1", "u1", 30*time.Second, time.Now()); err != nil {
		t.Fatalf("TakeSlot: %v", err)
	}
	for _, k := range [][2]string{{"s1", SourceComment}, {"s1", replayKinds + "quiz:q1:q0"}, {"", "tier-warning:2026-04"}} {
		if _, err := s.UpdateScoreState(ctx, k[0], "u1", k[1], func(*LimitState) bool { return true }); err != nil {
			t.Fatalf("UpdateScoreState: %v", err)
		}
	}
	const month = 30 * 24 * time.Hour // DefaultRetention
	tests := []struct {
		key     string
		typ     string
		ttlFrom time.Duration // a TTL in (ttlFrom, ttlTo]; -1 for none
		ttlTo   time.Duration
	}{
		{"stream:{s1}", "string", month - time.Minute, month},
		{"stream:{s1}:comments", "list", ttl - time.Minute, ttl},
		{"stream:{s1}:removed", "set", ttl - time.Minute, ttl},
		{"stream:{s1}:mod", "string", month - time.Minute, month}, // a ban lasts as long as the stream can be taken part in
		{"stream:{s1}:likes", "string", ttl - time.Minute, ttl},
		{"stream:{s1}:slot:u1", "string", 0, 30 * time.Second},
		{"stream:{s1}:score:comment:u1", "string", ttl - time.Minute, ttl},
		{"stream:{s1}:score:replay-quiz:q1:q0:u1", "string", month - time.Minute, month},
		{"stream:{}:score:tier-warning:2026-04:u1", "string", userStateTTL - time.Minute, userStateTTL},
	}
	for _, tt := range tests {
		key := prefix + tt.key
		typ, err := rdb.Type(ctx, key).Result()
		if err != nil {
			t.Fatalf("TYPE %s: %v", key, err)
		}
		if typ != tt.typ {
			t.Errorf("TYPE %s = %s, want %s", tt.key, typ, tt.typ)
		}
		got, err := rdb.PTTL(ctx, key).Result()
		if err != nil {
			t.Fatalf("PTTL %s: %v", key, err)
		}
		if tt.ttlFrom < 0 {
			if got != -1 {
				t.Errorf("PTTL %s = %v, want none", tt.key, got)
			}
			continue
		}
		if got <= tt.ttlFrom || got > tt.ttlTo {
			t.Errorf("PTTL %s = %v, want in (%v, %v]", tt.key, got, tt.ttlFrom, tt.ttlTo)
		}
	}
}

// keysOfItems checks the documented layout, that every key expires StreamTTL after a write, and
// that the draw's seed, which Draw's JSON leaves out, is stored.
func keysOfItems(t *testing.T) {
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
		{"ClaimCoupon", func() error { _, _, err := s.ClaimCoupon(ctx, "s1", "c1", "u1", "X1", t0); return err }},
		{"CreateCoupon with codes", func() error {
			return s.CreateCoupon(ctx, "s1", Coupon{ID: "c2", Stock: 2, OpensAt: t0, ExpiresAt: t0.Add(time.Minute)}, "SHOP-01", "SHOP-02")
		}},
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
		{"coupon-code:{" + couponCodeKey(DevCodeIndexKey, "X1") + "}", "hash"},
		{"user:{u1}:coupons", "zset"},
		{"stream:{s1}:coupon:c2:pool", "list"},
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

// keysOfExtras checks the documented layout and TTLs: question and audience keys live StreamTTL,
// timelines 30 days, notification counts two days.
func keysOfExtras(t *testing.T) {
	rdb, prefix := testRedis(t)
	const ttl = time.Hour
	s := NewRedisStore(rdb, RedisConfig{Prefix: prefix, StreamTTL: ttl})
	ctx := context.Background()
	for _, id := range []string{"q1", "q2"} {
		if err := s.AddQuestion(ctx, "s1", testQuestion(id, "ann"), 10); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.UpvoteQuestion(ctx, "s1", "q1", "bob"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		id, flag string
	}{{"q1", FlagPinned}, {"q1", FlagAnswered}, {"q2", FlagHidden}} {
		if _, _, err := s.SetQuestionFlag(ctx, "s1", f.id, f.flag, true); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.AppendTimeline(ctx, "s1", timelineItem(1000, "a"), 10); err != nil {
		t.Fatal(err)
	}
	if err := s.HideTimeline(ctx, "s1", "b"); err != nil {
		t.Fatal(err)
	}
	if err := s.AddParticipant(ctx, "s1", "ann", conformanceT0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.DecideNotification(ctx, "shop", "n1", "ann", "2026-03-14", 3); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.TakeDaily(ctx, "ann", "shop-award:review", "r1", "2026-03-14", 3); err != nil {
		t.Fatal(err)
	}
	if err := s.NoteParticipant(ctx, "ann", "s1", conformanceT0); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkErased(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	const month = 30 * 24 * time.Hour
	tests := []struct {
		key     string
		typ     string
		ttlFrom time.Duration // a TTL in (ttlFrom, ttlTo]
		ttlTo   time.Duration
	}{
		{"stream:{s1}:questions", "hash", ttl - time.Minute, ttl},
		{"stream:{s1}:questions:votes", "hash", ttl - time.Minute, ttl},
		{"stream:{s1}:questions:voters", "set", ttl - time.Minute, ttl},
		{"stream:{s1}:questions:answered", "set", ttl - time.Minute, ttl},
		{"stream:{s1}:questions:hidden", "set", ttl - time.Minute, ttl},
		{"stream:{s1}:questions:pinned", "string", ttl - time.Minute, ttl},
		{"stream:{s1}:timeline", "zset", month - time.Minute, month},
		{"stream:{s1}:timeline:seq", "string", month - time.Minute, month},
		{"stream:{s1}:timeline:keys", "set", month - time.Minute, month},
		{"stream:{s1}:timeline:hidden", "set", month - time.Minute, month},
		{"stream:{s1}:audience", "set", ttl - time.Minute, ttl},
		{"user:{ann}:last-stream", "string", ttl - time.Minute, ttl},
		{"user:{ann}:notify:2026-03-14", "hash", 48*time.Hour - time.Minute, 48 * time.Hour},
		{"user:{ann}:daily:shop-award:review:2026-03-14", "hash", 48*time.Hour - time.Minute, 48 * time.Hour},
		{"user:{ann}:streams", "zset", month - time.Minute, month},
		{"user:{bob}:erased", "string", ErasedMarkTTL - time.Minute, ErasedMarkTTL},
	}
	for _, tt := range tests {
		key := prefix + tt.key
		typ, err := rdb.Type(ctx, key).Result()
		if err != nil {
			t.Fatalf("TYPE %s: %v", key, err)
		}
		if typ != tt.typ {
			t.Errorf("TYPE %s = %s, want %s", tt.key, typ, tt.typ)
		}
		got, err := rdb.PTTL(ctx, key).Result()
		if err != nil {
			t.Fatalf("PTTL %s: %v", key, err)
		}
		if got <= tt.ttlFrom || got > tt.ttlTo {
			t.Errorf("PTTL %s = %v, want in (%v, %v]", tt.key, got, tt.ttlFrom, tt.ttlTo)
		}
	}
}
