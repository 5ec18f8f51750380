package engagement

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestAskQuestionRules(t *testing.T) {
	f := newHostFixture(t, 0)
	ctx := context.Background()
	if _, err := f.svc.Moderate(ctx, f.host1, "s1", ModerationAction{Action: ModMute, User: "muted", DurationS: 60}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Moderate(ctx, f.host1, "s1", ModerationAction{Action: ModBan, User: "banned"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Moderate(ctx, f.host1, "s1", ModerationAction{Action: ModBannedWords, Words: []string{"scam"}}); err != nil {
		t.Fatal(err)
	}
	ended := Actor{User: "host3", Role: RoleHost}
	if _, err := f.svc.CreateStream(ctx, ended, StreamSpec{ID: "s3", Title: "Over"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.EndStream(ctx, ended, "s3"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		actor  Actor
		stream string
		text   string
		code   Code
		field  string
	}{
		{"fine", viewer("ann"), "s1", "  Is it vegan?  ", "", ""},
		{"empty", viewer("ann"), "s1", "   ", CodeInvalid, "text"},
		{"201 runes", viewer("ann"), "s1", strings.Repeat("好", 201), CodeInvalid, "text"},
		{"200 runes", viewer("bob"), "s1", strings.Repeat("好", 200), "", ""},
		{"muted", viewer("muted"), "s1", "Hello?", CodeForbidden, ""},
		{"banned", viewer("banned"), "s1", "Hello?", CodeForbidden, ""},
		{"banned word", viewer("ann"), "s1", "Is this a SCAM?", CodeInvalid, "text"},
		{"ended stream", viewer("ann"), "s3", "Still there?", CodeClosed, ""},
		{"unknown stream", viewer("ann"), "nope", "Hello?", CodeNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, out, err := f.svc.AskQuestion(ctx, tt.actor, tt.stream, tt.text)
			wantHostCode(t, err, tt.code)
			if tt.field != "" && FieldOf(err) != tt.field {
				t.Errorf("field = %q, want %q", FieldOf(err), tt.field)
			}
			if err == nil && (q.Text != strings.TrimSpace(tt.text) || out.Reply["question_id"] != q.ID || q.User != tt.actor.User) {
				t.Errorf("question = %+v, reply %v", q, out.Reply)
			}
		})
	}
	if got := len(f.eventsOf(EventQuestionAsked)); got != 2 {
		t.Errorf("%d question.asked events, want 2", got)
	}
	var data map[string]any
	if err := json.Unmarshal(f.eventsOf(EventQuestionAsked)[0].Data, &data); err != nil || data["text"] != "Is it vegan?" || data["stream"] != "s1" || data["question_id"] == "" {
		t.Errorf("question.asked data = %v, %v", data, err)
	}
}

func TestAskQuestionRateLimitAndPoints(t *testing.T) {
	f := newHostFixture(t, 0)
	ctx := context.Background()
	ann := viewer("ann")
	var codes []Code
	var points []int64
	for i := range 7 { // burst 5 at 1/s (the limiter runs on real time, which barely moves here)
		_, out, err := f.svc.AskQuestion(ctx, ann, "s1", fmt.Sprintf("Question %d?", i))
		if err != nil {
			codes = append(codes, CodeOf(err))
		} else {
			codes = append(codes, "ok")
			points = append(points, pointsDelta(out))
		}
		if i == 0 {
			f.clock.Advance(31 * time.Second) // past the ask rule's 30 s interval: the second ask scores too
		}
	}
	if want := []Code{"ok", "ok", "ok", "ok", "ok", CodeRateLimited, CodeRateLimited}; !slices.Equal(codes, want) {
		t.Fatalf("codes = %v, want %v", codes, want)
	}
	// The ask rule (2 points, one scored per 30 s): the first ask scores, the second (31 s later) scores,
	// the quick ones after it do not.
	if !slices.Equal(points, []int64{2, 2, 0, 0, 0}) {
		t.Errorf("points = %v, want [2 2 0 0 0]", points)
	}
	// The host's own questions are not moderated or limited, and score nothing.
	for i := range 8 {
		_, out, err := f.svc.AskQuestion(ctx, f.host1, "s1", fmt.Sprintf("Host note %d", i))
		if err != nil || pointsDelta(out) != 0 {
			t.Fatalf("host ask %d: %v, points %d", i, err, pointsDelta(out))
		}
	}
}

// pointsDelta returns the delta of the points frame in out, 0 without one.
func pointsDelta(out Outcome) int64 {
	for _, d := range out.Direct {
		if d.Frame.Type == "points" {
			if m, ok := d.Frame.Data.(map[string]any); ok {
				if n, ok := m["delta"].(int64); ok {
					return n
				}
			}
		}
	}
	return 0
}

func TestUpvoteQuestionRules(t *testing.T) {
	f := newHostFixture(t, 0)
	ctx := context.Background()
	q, _, err := f.svc.AskQuestion(ctx, viewer("ann"), "s1", "Which sizes?")
	if err != nil {
		t.Fatal(err)
	}
	hidden, _, err := f.svc.AskQuestion(ctx, viewer("cy"), "s1", "Off topic")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.MarkQuestion(ctx, f.host1, "s1", hidden.ID, QuestionHide, true); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Moderate(ctx, f.host1, "s1", ModerationAction{Action: ModBan, User: "banned"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		user  string
		id    string
		code  Code
		votes any
	}{
		{"first", "bob", q.ID, "", int64(1)},
		{"again", "bob", q.ID, CodeDuplicate, nil},
		{"own question", "ann", q.ID, CodeForbidden, nil},
		{"hidden question", "bob", hidden.ID, CodeNotFound, nil},
		{"unknown", "bob", "nope", CodeNotFound, nil},
		{"no id", "bob", "", CodeInvalid, nil},
		{"banned", "banned", q.ID, CodeForbidden, nil},
		{"second voter", "dee", q.ID, "", int64(2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := f.svc.UpvoteQuestion(ctx, viewer(tt.user), "s1", tt.id)
			wantHostCode(t, err, tt.code)
			if err == nil && out.Reply["votes"] != tt.votes {
				t.Errorf("reply votes = %v, want %v", out.Reply["votes"], tt.votes)
			}
		})
	}
	evs := f.eventsOf(EventQuestionUpvoted)
	if len(evs) != 2 {
		t.Fatalf("%d question.upvoted events, want 2", len(evs))
	}
	var data map[string]any
	if err := json.Unmarshal(evs[1].Data, &data); err != nil || data["votes"] != float64(2) || data["question_id"] != q.ID {
		t.Errorf("question.upvoted = %v, %v", data, err)
	}
}

func TestConcurrentUpvotesCountOncePerUserInOrder(t *testing.T) {
	f := newHostFixture(t, 0)
	ctx := context.Background()
	// Three questions asked a minute apart; 200 users upvote at once, each twice, so that the counts must
	// come out exactly 100, 60 and 40.
	var ids []string
	for i, text := range []string{"Old question?", "Middle question?", "New question?"} {
		q, _, err := f.svc.AskQuestion(ctx, viewer(fmt.Sprint("asker", i)), "s1", text)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, q.ID)
		f.clock.Advance(time.Minute)
	}
	target := func(i int) string {
		switch {
		case i < 40:
			return ids[0]
		case i < 100:
			return ids[2]
		}
		return ids[1]
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[Code]int{}
	for i := range 400 {
		wg.Go(func() {
			_, err := f.svc.UpvoteQuestion(ctx, viewer(fmt.Sprintf("u%03d", i%200)), "s1", target(i%200))
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				codes["ok"]++
			} else {
				codes[CodeOf(err)]++
			}
		})
	}
	wg.Wait()
	if codes["ok"] != 200 || codes[CodeDuplicate] != 200 {
		t.Fatalf("results = %v, want 200 ok and 200 duplicate", codes)
	}
	list, err := f.svc.Questions(ctx, viewer("someone"), "s1", 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, q := range list.Questions {
		got = append(got, fmt.Sprint(q.Text, "=", q.Votes))
	}
	want := []string{"Middle question?=100", "New question?=60", "Old question?=40"}
	if !slices.Equal(got, want) {
		t.Errorf("list = %v, want %v", got, want)
	}
	if n := len(f.eventsOf(EventQuestionUpvoted)); n != 200 {
		t.Errorf("%d question.upvoted events, want 200", n)
	}
}

func TestQuestionListOrderPinHide(t *testing.T) {
	f := newHostFixture(t, 0)
	ctx := context.Background()
	ask := func(user, text string) Question {
		t.Helper()
		q, _, err := f.svc.AskQuestion(ctx, viewer(user), "s1", text)
		if err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(time.Second)
		return q
	}
	a, b, c := ask("ann", "A?"), ask("bob", "B?"), ask("cy", "C?")
	if _, err := f.svc.UpvoteQuestion(ctx, viewer("dee"), "s1", a.ID); err != nil {
		t.Fatal(err)
	}
	texts := func(l QuestionList) string {
		var s []string
		for _, q := range l.Questions {
			flags := ""
			if q.Pinned {
				flags += "p"
			}
			if q.Answered {
				flags += "a"
			}
			if q.Hidden {
				flags += "h"
			}
			s = append(s, q.Text+flags)
		}
		return strings.Join(s, " ")
	}
	viewerList := func() QuestionList {
		t.Helper()
		l, err := f.svc.Questions(ctx, viewer("eve"), "s1", 0)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	if got := texts(viewerList()); got != "A? C? B?" { // votes, then newest first
		t.Fatalf("list = %q, want %q", got, "A? C? B?")
	}

	steps := []struct {
		name   string
		actor  Actor
		id     string
		action string
		on     bool
		code   Code
		want   string
	}{
		{"pin b", f.host1, b.ID, QuestionPin, true, "", "A? C? B?p"},
		{"pin c moves the pin", f.host1, c.ID, QuestionPin, true, "", "A? C?p B?"},
		{"answer a", f.host1, a.ID, QuestionAnswer, true, "", "A?a C?p B?"},
		{"hide c", f.host1, c.ID, QuestionHide, true, "", "A?a B?"},
		{"viewer may not pin", viewer("eve"), a.ID, QuestionPin, true, CodeForbidden, "A?a B?"},
		{"other host may not hide", f.host2, a.ID, QuestionHide, true, CodeForbidden, "A?a B?"},
		{"unknown action", f.host1, a.ID, "star", true, CodeInvalid, "A?a B?"},
		{"unknown question", f.host1, "nope", QuestionPin, true, CodeNotFound, "A?a B?"},
	}
	for _, st := range steps {
		_, _, err := f.svc.MarkQuestion(ctx, st.actor, "s1", st.id, st.action, st.on)
		wantHostCode(t, err, st.code)
		if got := texts(viewerList()); got != st.want {
			t.Errorf("%s: list = %q, want %q", st.name, got, st.want)
		}
	}
	if l := viewerList(); l.Hidden != 1 || l.Total != 2 {
		t.Errorf("viewer list hidden %d total %d, want 1 and 2", l.Hidden, l.Total)
	}
	host, err := f.svc.Questions(ctx, f.host1, "s1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(host); got != "A?a C?h B?" || host.Hidden != 1 || host.Total != 3 {
		t.Errorf("host list = %q hidden %d total %d, want %q, 1, 3", got, host.Hidden, host.Total, "A?a C?h B?")
	}
	// The asker of the hidden question is told; question.answered went out once.
	_, out, err := f.svc.MarkQuestion(ctx, f.host1, "s1", b.ID, QuestionHide, true)
	if err != nil || len(out.Direct) != 1 || out.Direct[0].User != "bob" || out.Direct[0].Frame.Type != "notice" {
		t.Errorf("hide outcome = %+v, %v; want a notice to bob", out, err)
	}
	if _, _, err := f.svc.MarkQuestion(ctx, f.host1, "s1", a.ID, QuestionAnswer, true); err != nil {
		t.Fatal(err)
	}
	evs := f.eventsOf(EventQuestionAnswered)
	var data map[string]any
	if len(evs) != 1 || json.Unmarshal(evs[0].Data, &data) != nil || data["by"] != "host1" || data["question_id"] != a.ID {
		t.Errorf("question.answered events = %d (%v), want one by host1", len(evs), data)
	}
}

func TestQuestionsFrameTopTwentyKeepsPinned(t *testing.T) {
	f := newHostFixture(t, 0)
	ctx := context.Background()
	frames, err := snapshotQuestions(ctx, f.svc, "s1")
	if err != nil || len(frames) != 0 {
		t.Fatalf("snapshot with no questions = %v, %v; want nothing", frames, err)
	}
	var first Question
	for i := range 25 {
		q, _, err := f.svc.AskQuestion(ctx, viewer(fmt.Sprint("u", i)), "s1", fmt.Sprint("Q", i))
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = q
		}
		f.clock.Advance(time.Second)
		f.svc.ForgetStream("s1") // fresh rate limiters: each user asks once anyway
	}
	if _, _, err := f.svc.MarkQuestion(ctx, f.host1, "s1", first.ID, QuestionPin, true); err != nil {
		t.Fatal(err)
	}
	frames, err = snapshotQuestions(ctx, f.svc, "s1")
	if err != nil || len(frames) != 1 || frames[0].Type != "questions" {
		t.Fatalf("snapshot = %v, %v", frames, err)
	}
	list := frames[0].Data.(QuestionList)
	if len(list.Questions) != QuestionListSize || list.Total != 25 {
		t.Fatalf("frame has %d questions (total %d), want %d of 25", len(list.Questions), list.Total, QuestionListSize)
	}
	if last := list.Questions[QuestionListSize-1]; last.ID != first.ID || !last.Pinned {
		t.Errorf("last = %+v, want the pinned oldest question kept in the list", last)
	}
	w, err := f.svc.Join(ctx, viewer("late"), "s1")
	if err != nil {
		t.Fatal(err)
	}
	if wl, ok := w.Questions.(QuestionList); !ok || len(wl.Questions) != QuestionListSize {
		t.Errorf("welcome questions = %#v", w.Questions)
	}
}

func testQuestion(id, user string) Question {
	return Question{ID: id, User: user, Name: "Name " + user, Text: "Does " + id + " fit?", At: conformanceT0}
}

func questionByID(t *testing.T, s Store, stream, id string) Question {
	t.Helper()
	qs, err := s.Questions(context.Background(), stream)
	if err != nil {
		t.Fatalf("Questions: %v", err)
	}
	for _, q := range qs {
		if q.ID == id {
			return q
		}
	}
	t.Fatalf("question %s not in %v", id, qs)
	return Question{}
}

func testAddQuestion(t *testing.T, s Store) {
	ctx := context.Background()
	in := testQuestion("q1", "ann")
	in.Votes, in.Pinned, in.Hidden = 7, true, true // a store starts every question clean
	if err := s.AddQuestion(ctx, "s1", in, 2); err != nil {
		t.Fatalf("AddQuestion: %v", err)
	}
	want := testQuestion("q1", "ann")
	sameJSON(t, "stored question", questionByID(t, s, "s1", "q1"), want)
	wantCode(t, "same id", s.AddQuestion(ctx, "s1", testQuestion("q1", "bob"), 2), ErrDuplicate)
	if err := s.AddQuestion(ctx, "s1", testQuestion("q2", "bob"), 2); err != nil {
		t.Fatalf("AddQuestion q2: %v", err)
	}
	wantCode(t, "over max", s.AddQuestion(ctx, "s1", testQuestion("q3", "cy"), 2), ErrClosed)
	if qs, err := s.Questions(ctx, "s2"); err != nil || len(qs) != 0 {
		t.Errorf("Questions(other stream) = %v, %v; want none", qs, err)
	}
}

func testUpvoteQuestion(t *testing.T, s Store) {
	ctx := context.Background()
	if err := s.AddQuestion(ctx, "s1", testQuestion("q1", "ann"), 10); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		id, user  string
		want      *Error
		wantVotes int64
	}{
		{"first vote", "q1", "bob", nil, 1},
		{"second voter", "q1", "cy", nil, 2},
		{"same voter again", "q1", "bob", ErrDuplicate, 2},
		{"own question", "q1", "ann", ErrForbidden, 2},
		{"unknown question", "nope", "bob", ErrNotFound, 2},
	}
	for _, tt := range tests {
		q, err := s.UpvoteQuestion(ctx, "s1", tt.id, tt.user)
		if tt.want != nil {
			wantCode(t, tt.name, err, tt.want)
		} else if err != nil || q.Votes != tt.wantVotes {
			t.Errorf("%s: votes %d, err %v; want %d", tt.name, q.Votes, err, tt.wantVotes)
		}
		if got := questionByID(t, s, "s1", "q1").Votes; got != tt.wantVotes {
			t.Errorf("%s: stored votes = %d, want %d", tt.name, got, tt.wantVotes)
		}
	}
	if _, _, err := s.SetQuestionFlag(ctx, "s1", "q1", FlagHidden, true); err != nil {
		t.Fatal(err)
	}
	_, err := s.UpvoteQuestion(ctx, "s1", "q1", "dee")
	wantCode(t, "hidden question", err, ErrNotFound)
}

func testUpvoteQuestionConcurrent(t *testing.T, s Store) {
	ctx := context.Background()
	if err := s.AddQuestion(ctx, "s1", testQuestion("q1", "ann"), 10); err != nil {
		t.Fatal(err)
	}
	const voters = 50
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted, dups := 0, 0
	for i := range voters * 2 { // every voter twice, at once
		wg.Go(func() {
			_, err := s.UpvoteQuestion(ctx, "s1", "q1", fmt.Sprintf("u%02d", i%voters))
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
	if accepted != voters || dups != voters {
		t.Errorf("accepted %d, duplicates %d; want %d each", accepted, dups, voters)
	}
	if got := questionByID(t, s, "s1", "q1").Votes; got != voters {
		t.Errorf("votes = %d, want %d", got, voters)
	}
}

func testQuestionFlags(t *testing.T, s Store) {
	ctx := context.Background()
	for _, id := range []string{"q1", "q2"} {
		if err := s.AddQuestion(ctx, "s1", testQuestion(id, "ann"), 10); err != nil {
			t.Fatal(err)
		}
	}
	pinned := func() []string {
		qs, err := s.Questions(ctx, "s1")
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, q := range qs {
			if q.Pinned {
				ids = append(ids, q.ID)
			}
		}
		return ids
	}
	steps := []struct {
		name        string
		id, flag    string
		on          bool
		want        *Error
		wantChanged bool
		wantPinned  []string
	}{
		{"pin q1", "q1", FlagPinned, true, nil, true, []string{"q1"}},
		{"pin q1 again", "q1", FlagPinned, true, nil, false, []string{"q1"}},
		{"pin q2 unpins q1", "q2", FlagPinned, true, nil, true, []string{"q2"}},
		{"answer q1", "q1", FlagAnswered, true, nil, true, []string{"q2"}},
		{"answer q1 again", "q1", FlagAnswered, true, nil, false, []string{"q2"}},
		{"hide q2 unpins it", "q2", FlagHidden, true, nil, true, nil},
		{"pin hidden q2", "q2", FlagPinned, true, ErrInvalid, false, nil},
		{"unhide q2", "q2", FlagHidden, false, nil, true, nil},
		{"pin q2", "q2", FlagPinned, true, nil, true, []string{"q2"}},
		{"unpin q2", "q2", FlagPinned, false, nil, true, nil},
		{"unknown question", "q9", FlagPinned, true, ErrNotFound, false, nil},
		{"unknown flag", "q1", "starred", true, ErrInvalid, false, nil},
	}
	for _, st := range steps {
		q, changed, err := s.SetQuestionFlag(ctx, "s1", st.id, st.flag, st.on)
		if st.want != nil {
			wantCode(t, st.name, err, st.want)
		} else if err != nil || changed != st.wantChanged || q.ID != st.id {
			t.Errorf("%s: q %s changed %v err %v; want changed %v", st.name, q.ID, changed, err, st.wantChanged)
		}
		if got := pinned(); !slices.Equal(got, st.wantPinned) {
			t.Errorf("%s: pinned = %v, want %v", st.name, got, st.wantPinned)
		}
	}
	q1 := questionByID(t, s, "s1", "q1")
	if !q1.Answered || q1.Hidden {
		t.Errorf("q1 = %+v, want answered and visible", q1)
	}
}

// questionStoreSuite is QuestionStore's part of the Store conformance suite (runStoreSuite).
var questionStoreSuite = []storeCase{
	{"AddQuestion", testAddQuestion},
	{"UpvoteQuestion", testUpvoteQuestion},
	{"UpvoteQuestionConcurrent", testUpvoteQuestionConcurrent},
	{"QuestionFlags", testQuestionFlags},
}
