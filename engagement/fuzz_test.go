package engagement_test

import (
	"bytes"
	"context"
	"github.com/kudos-live/kudos/engagement"
	"github.com/kudos-live/kudos/stream"
	"golang.org/x/time/rate"
	"log/slog"
	"reflect"
	"testing"
	"time"
)

// fuzzWorld is a Service over a MemoryStore with two live streams, each with an open poll, a running quiz
// question, a coupon drop, an open draw and a viewer question: everything a client frame can touch.
type fuzzWorld struct {
	svc   *engagement.Service
	store *engagement.MemoryStore
	ids   map[string]string // placeholder in the fuzz input → real item id
}

// fuzzStreams are the streams of a fuzzWorld; frames arrive on the first one's socket.
var fuzzStreams = [2]string{"s1", "s2"}

func newFuzzWorld(t *testing.T) *fuzzWorld {
	t.Helper()
	now := time.Date(2026, 3, 1, 20, 0, 0, 0, time.UTC)
	store := engagement.NewMemoryStore()
	svc := engagement.New(engagement.Config{
		Now:          func() time.Time { return now },
		CommentRate:  rate.Inf,
		CommentBurst: 1,
		Logger:       slog.New(slog.DiscardHandler),
	}, store, engagement.NewMemorySink())
	w := &fuzzWorld{svc: svc, store: store, ids: map[string]string{}}
	ctx := context.Background()
	asker := engagement.Actor{User: "asker", Name: "Asker", Role: engagement.RoleViewer}
	for i, id := range fuzzStreams {
		host := engagement.Actor{User: "host-" + id, Name: "Host", Role: engagement.RoleHost}
		suffix := []string{"", "2"}[i]
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatalf("set up %s: %v", id, err)
			}
		}
		_, err := svc.CreateStream(ctx, host, engagement.StreamSpec{ID: id, Title: "Show " + id})
		must(err)
		p, _, err := svc.OpenPoll(ctx, host, id, engagement.PollSpec{Question: "Colour?", Options: []string{"red", "blue", "green"}})
		must(err)
		q, err := svc.CreateQuiz(ctx, host, id, engagement.QuizSpec{Questions: []engagement.QuizItem{
			{Text: "2+2?", Choices: []string{"3", "4", "5"}, Answer: 1, TimeLimitS: 120},
		}})
		must(err)
		_, _, err = svc.NextQuestion(ctx, host, id, q.ID)
		must(err)
		c, _, err := svc.DropCoupon(ctx, host, id, engagement.CouponSpec{Title: "10% off", Stock: 5, ExpiresS: 600})
		must(err)
		d, _, err := svc.OpenDraw(ctx, host, id, engagement.DrawSpec{Prize: "A hat", Winners: 1})
		must(err)
		qa, _, err := svc.AskQuestion(ctx, asker, id, "Does it come in red?")
		must(err)
		w.ids["$POLL"+suffix] = p.ID
		w.ids["$QUIZ"+suffix] = q.ID
		w.ids["$COUPON"+suffix] = c.ID
		w.ids["$DRAW"+suffix] = d.ID
		w.ids["$QUESTION"+suffix] = qa.ID
	}
	return w
}

// fill replaces the placeholders of msg ("$POLL", "$QUIZ2"…) by the world's item ids, longest first so
// that "$POLL2" is not read as "$POLL" followed by "2".
func (w *fuzzWorld) fill(msg []byte) []byte {
	for _, k := range []string{"$POLL2", "$QUIZ2", "$COUPON2", "$DRAW2", "$QUESTION2", "$POLL", "$QUIZ", "$COUPON", "$DRAW", "$QUESTION"} {
		msg = bytes.ReplaceAll(msg, []byte(k), []byte(w.ids[k]))
	}
	return msg
}

// worldState is every counter a client frame may move, per stream, and the fuzzing viewer's account.
type worldState struct {
	PollCounts   [2][]int64
	PollTotal    [2]int64
	QuizCounts   [2][]int64
	Comments     [2]int
	Likes        [2]int64
	Remaining    [2]int64
	DrawEntrants [2]int
	Questions    [2]int
	QuestionVote [2]int64
	Feedback     [2]engagement.FeedbackCounts
	Balance      int64
	Earned       int64
}

func (w *fuzzWorld) state(t *testing.T, viewer engagement.Actor) worldState {
	t.Helper()
	ctx := context.Background()
	var s worldState
	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("read state: %v", err)
		}
	}
	for i, id := range fuzzStreams {
		suffix := []string{"", "2"}[i]
		p, err := w.store.Poll(ctx, id, w.ids["$POLL"+suffix])
		check(err)
		s.PollCounts[i], s.PollTotal[i] = p.Counts, p.Total
		q, err := w.store.Quiz(ctx, id, w.ids["$QUIZ"+suffix])
		check(err)
		s.QuizCounts[i] = q.Questions[0].Counts
		cs, err := w.svc.RecentComments(ctx, id)
		check(err)
		s.Comments[i] = len(cs)
		l, err := w.svc.Likes(ctx, id)
		check(err)
		s.Likes[i] = l.Total
		c, err := w.store.Coupon(ctx, id, w.ids["$COUPON"+suffix])
		check(err)
		s.Remaining[i] = c.Remaining
		es, err := w.store.DrawEntrants(ctx, id, w.ids["$DRAW"+suffix])
		check(err)
		s.DrawEntrants[i] = len(es)
		ql, err := w.svc.Questions(ctx, engagement.Actor{User: "host-" + id, Role: engagement.RoleHost}, id, 0)
		check(err)
		s.Questions[i] = ql.Total
		for _, q := range ql.Questions {
			s.QuestionVote[i] += q.Votes
		}
		s.Feedback[i], err = w.store.Feedback(ctx, id)
		check(err)
	}
	acc, err := w.svc.Account(ctx, viewer, viewer.User)
	check(err)
	s.Balance, s.Earned = acc.Balance+acc.Pending, acc.EarnedThisMonth
	return s
}

// stableCodes are the error codes a client frame may be answered with (docs/protocol.md, "Errors"); internal
// is deliberately absent: the memory store never fails, so an internal error would be a bug.
var stableCodes = map[engagement.Code]bool{
	engagement.CodeBadFrame: true, engagement.CodeUnknownType: true, engagement.CodeTooLarge: true,
	engagement.CodeRateLimited: true, engagement.CodeUnauthorized: true, engagement.CodeForbidden: true,
	engagement.CodeNotFound: true, engagement.CodeClosed: true, engagement.CodeDuplicate: true,
	engagement.CodeInvalid: true, engagement.CodeUnavailable: true,
}

// onceOnly are the actions a user may do once per item: a second identical frame must be a duplicate.
var onceOnly = map[string]bool{
	"poll.vote": true, "quiz.answer": true, "feedback.send": true, "draw.enter": true, "coupon.claim": true,
	"question.upvote": true,
}

// FuzzHandleFrame decodes any bytes as a client frame on stream s1 and runs it, twice, through a real
// Service. Every rejection carries a stable code and changes nothing; an accepted frame moves each counter
// by at most one step and never touches the other stream; a second copy of a once-only action is a duplicate.
func FuzzHandleFrame(f *testing.F) {
	for _, s := range []string{
		`{"type":"poll.vote","id":"v1","data":{"poll_id":"$POLL","option":1}}`,
		`{"type":"poll.vote","id":"v2","data":{"poll_id":"$POLL2","option":0}}`,
		`{"type":"poll.vote","id":"v3","data":{"poll_id":"$POLL","option":3}}`,
		`{"type":"poll.vote","id":"v4","data":{"poll_id":"$POLL","option":-1}}`,
		`{"type":"poll.vote","id":"v5","data":{"poll_id":"$POLL","option":1e308}}`,
		`{"type":"poll.vote","id":"v6","data":{"poll_id":"$POLL","option":-0}}`,
		`{"type":"poll.vote","id":"v7","data":{"poll_id":"$POLL","option":1,"option":2}}`,
		`{"type":"quiz.answer","id":"q1","data":{"quiz_id":"$QUIZ","question_id":"q0","choice":1}}`,
		`{"type":"quiz.answer","id":"q2","data":{"quiz_id":"$QUIZ2","question_id":"q0","choice":1}}`,
		`{"type":"quiz.answer","id":"q3","data":{"quiz_id":"$QUIZ","question_id":"q-1","choice":0}}`,
		`{"type":"quiz.answer","id":"q4","data":{"quiz_id":"$QUIZ","question_id":"q99999999999999999999","choice":0}}`,
		`{"type":"coupon.claim","id":"c1","data":{"coupon_id":"$COUPON"}}`,
		`{"type":"coupon.claim","id":"c2","data":{"coupon_id":"$COUPON2"}}`,
		`{"type":"draw.enter","id":"d1","data":{"draw_id":"$DRAW"}}`,
		`{"type":"draw.enter","id":"d2","data":{"draw_id":"$DRAW2"}}`,
		`{"type":"question.upvote","id":"u1","data":{"question_id":"$QUESTION"}}`,
		`{"type":"question.upvote","id":"u2","data":{"question_id":"$QUESTION2"}}`,
		`{"type":"question.ask","id":"a1","data":{"text":"Is it machine washable?"}}`,
		`{"type":"feedback.send","id":"f1","data":{"kind":"rating","score":5}}`,
		`{"type":"feedback.send","id":"f2","data":{"kind":"nps","score":11}}`,
		`{"type":"feedback.send","id":"f3","data":{"kind":"NaN","score":"NaN"}}`,
		`{"type":"comment.send","id":"m1","data":{"text":"مرحبا 👋🏽 e\u0301 \u200d\u200f"}}`,
		`{"type":"comment.send","id":"m2","data":{"text":"\u0000"}}`,
		`{"type":"comment.send","id":"m3","data":{"text":["nested",["array"]]}}`,
		"{\"type\":\"comment.send\",\"id\":\"m4\",\"data\":{\"text\":\"\xed\xa0\x80\"}}",
		`{"type":"like.send","data":{"count":50}}`,
		`{"type":"like.send","data":{"count":9223372036854775808}}`,
		`{"type":"ping","id":"p"}`,
		`{"type":"teleport"}`, `{}`, `[]`, `null`, "\xff\xfe",
	} {
		f.Add([]byte(s))
	}
	viewer := engagement.Actor{User: "fuzzer", Name: "Fuzzer", Role: engagement.RoleViewer}
	f.Fuzz(func(t *testing.T, raw []byte) {
		w := newFuzzWorld(t)
		env, act, err := stream.DecodeClient(w.fill(raw))
		if err != nil {
			if c := engagement.CodeOf(err); !stableCodes[c] {
				t.Fatalf("decode %q: code %s is not a stable code", raw, c)
			}
			return
		}
		if act == nil {
			return // ping: the transport answers it
		}
		ctx := context.Background()
		for round := range 2 {
			before := w.state(t, viewer)
			out, err := w.svc.Handle(ctx, viewer, fuzzStreams[0], act)
			after := w.state(t, viewer)
			if err != nil {
				if c := engagement.CodeOf(err); !stableCodes[c] {
					t.Fatalf("%s %q (round %d): code %s (%v) is not a stable code", env.Type, raw, round, c, err)
				}
				if !reflect.DeepEqual(before, after) {
					t.Fatalf("%s %q (round %d) was refused with %v but changed state:\nbefore %+v\nafter  %+v", env.Type, raw, round, err, before, after)
				}
				continue
			}
			if round == 1 && onceOnly[env.Type] {
				t.Fatalf("%s %q was accepted twice (%+v)", env.Type, raw, out.Reply)
			}
			checkStep(t, env.Type, raw, before, after)
		}
	})
}

// checkStep asserts an accepted frame moved counters on the first stream only, each by at most one step.
func checkStep(t *testing.T, typ string, raw []byte, before, after worldState) {
	t.Helper()
	fail := func(what string) {
		t.Helper()
		t.Fatalf("%s %q: %s:\nbefore %+v\nafter  %+v", typ, raw, what, before, after)
	}
	if !reflect.DeepEqual(before.PollCounts[1], after.PollCounts[1]) || before.QuizCounts[1] != nil && !reflect.DeepEqual(before.QuizCounts[1], after.QuizCounts[1]) ||
		before.Comments[1] != after.Comments[1] || before.Likes[1] != after.Likes[1] || before.Remaining[1] != after.Remaining[1] ||
		before.DrawEntrants[1] != after.DrawEntrants[1] || before.Questions[1] != after.Questions[1] ||
		before.QuestionVote[1] != after.QuestionVote[1] || before.Feedback[1] != after.Feedback[1] {
		fail("a frame on s1 changed s2")
	}
	if d := after.PollTotal[0] - before.PollTotal[0]; d < 0 || d > 1 {
		fail("poll total moved by more than one vote")
	}
	if d := sum(after.QuizCounts[0]) - sum(before.QuizCounts[0]); d < 0 || d > 1 {
		fail("quiz answers moved by more than one")
	}
	if d := before.Remaining[0] - after.Remaining[0]; d < 0 || d > 1 {
		fail("coupon stock moved by more than one")
	}
	if d := after.Comments[0] - before.Comments[0]; d < 0 || d > 1 {
		fail("comments moved by more than one")
	}
	if d := after.Likes[0] - before.Likes[0]; d < 0 || d > engagement.MaxLikesPerFrame {
		fail("likes moved by more than one frame's worth")
	}
	if after.Balance < before.Balance || after.Earned < before.Earned {
		fail("points went down")
	}
}

func sum(xs []int64) int64 {
	var n int64
	for _, x := range xs {
		n += x
	}
	return n
}
