package engagement

import (
	"context"
	"testing"
	"time"
)

// policyWorld is a live stream s1 with one of everything a viewer can take part in: an open poll, a quiz
// question being asked, a coupon, a draw anyone may enter, and a question by ann to upvote.
type policyWorld struct {
	*hostFixture
	poll, quiz, coupon, draw, question string
}

func newPolicyWorld(t *testing.T) *policyWorld {
	t.Helper()
	f := newHostFixture(t, 0)
	w := &policyWorld{hostFixture: f}
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	p, _, err := f.svc.OpenPoll(ctx, f.host1, "s1", PollSpec{Question: "Which colour?", Options: []string{"red", "blue"}})
	must(err)
	q, err := f.svc.CreateQuiz(ctx, f.host1, "s1", QuizSpec{Questions: []QuizItem{{Text: "2+2?", Choices: []string{"3", "4"}, Answer: 1, TimeLimitS: 60}}})
	must(err)
	_, _, err = f.svc.NextQuestion(ctx, f.host1, "s1", q.ID)
	must(err)
	c, _, err := f.svc.DropCoupon(ctx, f.host1, "s1", CouponSpec{Title: "10% off", Stock: 100, ExpiresS: 600})
	must(err)
	d, _, err := f.svc.OpenDraw(ctx, f.host1, "s1", DrawSpec{Prize: "Mug", Winners: 1})
	must(err)
	qq, _, err := f.svc.AskQuestion(ctx, viewer("ann"), "s1", "Is it waterproof?")
	must(err)
	w.poll, w.quiz, w.coupon, w.draw, w.question = p.ID, q.ID, c.ID, d.ID, qq.ID
	return w
}

func (w *policyWorld) moderate(t *testing.T, a ModerationAction) {
	t.Helper()
	if _, err := w.svc.Moderate(context.Background(), w.host1, "s1", a); err != nil {
		t.Fatal(err)
	}
}

// participation is one kind of viewer action, as a socket frame and as a direct method call (the path an
// HTTP handler takes).
type participation struct {
	name   string
	frame  Action                                   // with a valid body
	bad    Action                                   // with an invalid body (nil: no such thing)
	direct func(ctx context.Context, a Actor) error // nil: the action has a socket path only
}

func (w *policyWorld) participations() []participation {
	s := w.svc
	return []participation{
		{"comment", &CommentSend{Text: "hello"}, &CommentSend{Text: " "},
			func(ctx context.Context, a Actor) error { _, err := s.PostComment(ctx, a, "s1", "hello"); return err }},
		{"like", &LikeSend{Count: 3}, &LikeSend{Count: 0},
			func(ctx context.Context, a Actor) error { return s.Like(ctx, a, "s1", 3) }},
		{"vote", &PollVote{PollID: w.poll, Option: 1}, &PollVote{Option: -1},
			func(ctx context.Context, a Actor) error { _, err := s.Vote(ctx, a, "s1", w.poll, 1); return err }},
		{"answer", &QuizAnswer{QuizID: w.quiz, QuestionID: "q0", Choice: 1}, &QuizAnswer{QuestionID: "x"},
			func(ctx context.Context, a Actor) error {
				_, err := s.Answer(ctx, a, "s1", w.quiz, "q0", 1)
				return err
			}},
		{"claim", &CouponClaim{CouponID: w.coupon}, &CouponClaim{},
			func(ctx context.Context, a Actor) error { _, err := s.ClaimCoupon(ctx, a, "s1", w.coupon); return err }},
		{"enter", &DrawEnter{DrawID: w.draw}, &DrawEnter{},
			func(ctx context.Context, a Actor) error { _, err := s.EnterDraw(ctx, a, "s1", w.draw); return err }},
		{"feedback", &FeedbackSend{Kind: FeedbackRating, Score: 5}, &FeedbackSend{Kind: "stars", Score: 99},
			func(ctx context.Context, a Actor) error {
				_, err := s.SendFeedback(ctx, a, "s1", FeedbackNPS, 9)
				return err
			}},
		{"ask", &QuestionAsk{Text: "Other sizes?"}, &QuestionAsk{},
			func(ctx context.Context, a Actor) error {
				_, _, err := s.AskQuestion(ctx, a, "s1", "Other colours?")
				return err
			}},
		{"upvote", &QuestionUpvote{QuestionID: w.question}, &QuestionUpvote{},
			func(ctx context.Context, a Actor) error {
				_, err := s.UpvoteQuestion(ctx, a, "s1", w.question)
				return err
			}},
	}
}

// TestBanStopsEveryParticipation: a ban used to stop chat only (and upvotes); a banned viewer could still
// vote, answer, claim coupons, enter draws, like, give feedback and collect the points of all that. Now
// every action is refused as forbidden by the one policy, on the socket and by the direct (HTTP) path, and
// before its body is looked at.
func TestBanStopsEveryParticipation(t *testing.T) {
	w := newPolicyWorld(t)
	ctx := context.Background()
	w.moderate(t, ModerationAction{Action: ModBan, User: "mal"})
	mal := viewer("mal")
	before := len(w.sink.Events())
	likes, _ := w.svc.Likes(ctx, "s1")

	for _, p := range w.participations() {
		t.Run(p.name, func(t *testing.T) {
			_, err := w.svc.Handle(ctx, mal, "s1", p.frame)
			wantHostCode(t, err, CodeForbidden)
			if p.bad != nil { // authorisation before validation: the ban answers, not the bad body
				_, err = w.svc.Handle(ctx, mal, "s1", p.bad)
				wantHostCode(t, err, CodeForbidden)
			}
			if p.direct != nil {
				wantHostCode(t, p.direct(ctx, mal), CodeForbidden)
			}
		})
	}
	for _, e := range w.sink.Events()[before:] {
		t.Errorf("a banned viewer's action published %s", e.Type)
	}
	if after, _ := w.svc.Likes(ctx, "s1"); after.Total != likes.Total {
		t.Errorf("likes %d → %d: a banned viewer's likes counted", likes.Total, after.Total)
	}
	if acc, err := w.svc.Account(ctx, mal, "mal"); err != nil || acc.Balance != 0 || acc.Pending != 0 {
		t.Errorf("banned viewer's account %+v, %v; want no points", acc, err)
	}

	// The same actions by a viewer in good standing go through: the refusals above are the ban's.
	bob := viewer("bob")
	for _, p := range w.participations() {
		if _, err := w.svc.Handle(ctx, bob, "s1", p.frame); err != nil {
			t.Errorf("%s by bob: %v", p.name, err)
		}
	}

	// After the show: no feedback, no replay answer (the HTTP path) from a banned viewer either.
	if _, _, err := w.svc.EndStream(ctx, w.host1, "s1"); err != nil {
		t.Fatal(err)
	}
	_, err := w.svc.Handle(ctx, mal, "s1", &FeedbackSend{Kind: FeedbackRating, Score: 1})
	wantHostCode(t, err, CodeForbidden)
	_, err = w.svc.Handle(ctx, mal, "s1", &QuizAnswer{QuizID: w.quiz, QuestionID: "q0", Choice: 1})
	wantHostCode(t, err, CodeForbidden)
	_, err = w.svc.ReplayAnswer(ctx, mal, "s1", w.quiz, "q0", 1)
	wantHostCode(t, err, CodeForbidden)
	_, err = w.svc.ReplayAnswer(ctx, viewer("cy"), "s1", w.quiz, "q0", 1)
	wantHostCode(t, err, "")

	// Unbanned, mal takes part again.
	w2 := newPolicyWorld(t)
	w2.moderate(t, ModerationAction{Action: ModBan, User: "mal"})
	w2.moderate(t, ModerationAction{Action: ModUnban, User: "mal"})
	if _, err := w2.svc.Vote(ctx, mal, "s1", w2.poll, 0); err != nil {
		t.Fatalf("vote after unban: %v", err)
	}
}

// TestMuteStopsChatOnly keeps the mute's meaning: a muted viewer may not post text everyone reads (comments,
// product questions) until the mute ends, and takes part in everything else.
func TestMuteStopsChatOnly(t *testing.T) {
	w := newPolicyWorld(t)
	ctx := context.Background()
	w.moderate(t, ModerationAction{Action: ModMute, User: "mut", DurationS: 60})
	mut := viewer("mut")
	chat := map[string]bool{"comment": true, "ask": true}
	for _, p := range w.participations() {
		t.Run(p.name, func(t *testing.T) {
			want := Code("")
			if chat[p.name] {
				want = CodeForbidden
			}
			_, err := w.svc.Handle(ctx, mut, "s1", p.frame)
			wantHostCode(t, err, want)
		})
	}
	w.clock.Advance(61 * time.Second)
	if _, err := w.svc.Handle(ctx, mut, "s1", &CommentSend{Text: "back"}); err != nil {
		t.Fatalf("comment after the mute ended: %v", err)
	}
}

// TestStaffCannotEnterDraws: a host, an admin or the shop's backend could enter a draw (by draw.enter, or by
// commenting a keyword draw's keyword) and so win the prize of a show they run. Now they cannot.
func TestStaffCannotEnterDraws(t *testing.T) {
	w := newPolicyWorld(t)
	ctx := context.Background()
	staff := []Actor{
		w.host1, // the show's host
		w.host2, // another show's host
		{User: "root", Name: "Admin", Role: RoleAdmin},
		{User: "shop", Name: "Shop", Role: RoleService},
	}
	for _, a := range staff {
		t.Run(a.Role+"/"+a.User, func(t *testing.T) {
			_, err := w.svc.Handle(ctx, a, "s1", &DrawEnter{DrawID: w.draw})
			wantHostCode(t, err, CodeForbidden)
			_, err = w.svc.EnterDraw(ctx, a, "s1", w.draw)
			wantHostCode(t, err, CodeForbidden)
		})
	}
	if _, err := w.svc.EnterDraw(ctx, viewer("ann"), "s1", w.draw); err != nil {
		t.Fatalf("viewer's entry: %v", err)
	}

	kw, _, err := w.svc.OpenDraw(ctx, w.host1, "s1", DrawSpec{Prize: "Bag", Winners: 1, Eligible: DrawKeyword, Keyword: "lucky"})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []Actor{w.host1, viewer("bob")} {
		if _, err := w.svc.PostComment(ctx, a, "s1", "lucky me"); err != nil {
			t.Fatalf("comment by %s: %v", a.User, err)
		}
	}
	es, err := w.store.DrawEntrants(ctx, "s1", kw.ID)
	if err != nil || len(es) != 1 || es[0].User != "bob" {
		t.Fatalf("keyword draw entrants %+v, %v; want bob only (the host's comment enters nobody)", es, err)
	}
}

// countingStore counts the reads the participation policy makes.
type countingStore struct {
	*MemoryStore
	streams, moderations int
}

func (c *countingStore) Stream(ctx context.Context, id string) (Stream, error) {
	c.streams++
	return c.MemoryStore.Stream(ctx, id)
}

func (c *countingStore) Moderation(ctx context.Context, stream string) (Moderation, error) {
	c.moderations++
	return c.MemoryStore.Moderation(ctx, stream)
}

// TestPolicyLoadsOnce: a frame is decided on one read of the stream and one of its moderation, though both
// Handle and the action's method ask the policy.
func TestPolicyLoadsOnce(t *testing.T) {
	store := &countingStore{MemoryStore: NewMemoryStore()}
	svc := New(Config{}, store, NewMemorySink())
	ctx := context.Background()
	host := Actor{User: "h", Role: RoleHost}
	if _, err := svc.CreateStream(ctx, host, StreamSpec{ID: "s1", Title: "Show"}); err != nil {
		t.Fatal(err)
	}
	p, _, err := svc.OpenPoll(ctx, host, "s1", PollSpec{Question: "Q", Options: []string{"a", "b"}})
	if err != nil {
		t.Fatal(err)
	}
	store.streams, store.moderations = 0, 0
	if _, err := svc.Handle(ctx, viewer("ann"), "s1", &PollVote{PollID: p.ID, Option: 1}); err != nil {
		t.Fatal(err)
	}
	if store.streams != 1 || store.moderations != 1 {
		t.Fatalf("a vote read the stream %d times and its moderation %d times, want once each", store.streams, store.moderations)
	}
}

// TestBannedViewerEarnsNoWatchPoints: the minutes a banned viewer's socket stays open pay nothing.
func TestBannedViewerEarnsNoWatchPoints(t *testing.T) {
	ctx := context.Background()
	s, _, clk := newTestService(t)
	bob := Actor{User: "bob", Name: "Bob", Role: RoleViewer}
	if _, err := s.Moderate(ctx, testHost, "s1", ModerationAction{Action: ModBan, User: "ann"}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		clk.Advance(time.Minute)
		s.Watched(ctx, testViewer, "s1")
		s.Watched(ctx, bob, "s1")
	}
	if got := balanceOf(t, s, "ann"); got != 0 {
		t.Errorf("banned ann earned %d watching, want 0", got)
	}
	if got := balanceOf(t, s, "bob"); got <= 0 {
		t.Errorf("bob earned %d watching, want the watch points", got)
	}
}
