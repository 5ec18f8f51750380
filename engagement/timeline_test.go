package engagement

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// show plays a scripted stream on a fixture; the Service records what each step produces.
type show struct {
	t *testing.T
	f *hostFixture
}

func (sh show) at(sec int) {
	sh.t.Helper()
	start := time.Date(2026, 3, 1, 20, 0, 0, 0, time.UTC) // the fixture's streams start here
	now := sh.f.clock.Now()
	sh.f.clock.Advance(start.Add(time.Duration(sec) * time.Second).Sub(now))
}

// deliver fails on err and returns the outcome. It records nothing: the Service records what it produces.
func (sh show) deliver(out Outcome, err error) Outcome {
	sh.t.Helper()
	if err != nil {
		sh.t.Fatal(err)
	}
	return out
}

func (sh show) tick(stream string) {
	sh.t.Helper()
	sh.deliver(sh.f.svc.Tick(context.Background(), stream))
}

// itemLine is a timeline item as "offset type detail" for comparison.
func itemLine(t *testing.T, it TimelineItem) string {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal(it.Data, &d); err != nil {
		t.Fatalf("item data %s: %v", it.Data, err)
	}
	detail := ""
	switch it.Type {
	case "comment":
		detail = fmt.Sprint(d["text"])
	case "poll.opened":
		detail = fmt.Sprint(d["poll"].(map[string]any)["question"])
	case "poll.closed":
		detail = fmt.Sprint(d["counts"])
	case "quiz.question":
		detail = fmt.Sprint(d["text"])
	case "quiz.reveal":
		detail = fmt.Sprint("answer ", d["answer"], " correct ", d["correct"])
	case "coupon.drop":
		detail = fmt.Sprint(d["title"])
	case "draw.result":
		_, listed := d["entrants"] // a replay needs the winners, not every entrant
		detail = fmt.Sprint(len(d["winners"].([]any)), " winner(s) of ", d["entrants_count"], " listed ", listed)
	case TimelineLikes:
		detail = fmt.Sprint(d["total"], " @ ", d["per_second"], "/s")
	}
	return fmt.Sprintf("%d %s %s", it.OffsetMS, it.Type, detail)
}

func TestTimelineOfAScriptedShow(t *testing.T) {
	f := newHostFixture(t, 2000)
	sh := show{t: t, f: f}
	ctx := context.Background()
	ann, bob := viewer("ann"), viewer("bob")

	sh.at(5)
	sh.deliver(f.svc.PostComment(ctx, ann, "s1", "hello"))
	sh.at(6)
	spam := sh.deliver(f.svc.PostComment(ctx, bob, "s1", "buy followers"))
	sh.at(7)
	sh.deliver(f.svc.Moderate(ctx, f.host1, "s1", ModerationAction{Action: ModRemoveComment, CommentID: spam.Reply["comment_id"].(string)}))
	sh.at(10)
	p, out, err := f.svc.OpenPoll(ctx, f.host1, "s1", PollSpec{Question: "Red or blue?", Options: []string{"red", "blue"}})
	sh.deliver(out, err)
	sh.at(12)
	sh.deliver(f.svc.Vote(ctx, ann, "s1", p.ID, 0))
	sh.at(20)
	_, out, err = f.svc.ClosePoll(ctx, f.host1, "s1", p.ID)
	sh.deliver(out, err)
	sh.at(25)
	quiz, err := f.svc.CreateQuiz(ctx, f.host1, "s1", QuizSpec{Questions: []QuizItem{{Text: "2+2?", Choices: []string{"3", "4"}, Answer: 1, TimeLimitS: 10}}})
	if err != nil {
		t.Fatal(err)
	}
	_, out, err = f.svc.NextQuestion(ctx, f.host1, "s1", quiz.ID)
	sh.deliver(out, err)
	sh.at(28)
	sh.deliver(f.svc.Answer(ctx, ann, "s1", quiz.ID, "q0", 1))
	sh.at(35)
	_, out, err = f.svc.NextQuestion(ctx, f.host1, "s1", quiz.ID) // reveals the last question
	sh.deliver(out, err)
	sh.at(40)
	_, out, err = f.svc.DropCoupon(ctx, f.host1, "s1", CouponSpec{Title: "10% off", Stock: 5, ExpiresS: 60})
	sh.deliver(out, err)
	sh.at(45)
	d, out, err := f.svc.OpenDraw(ctx, f.host1, "s1", DrawSpec{Prize: "Mug", Winners: 1})
	sh.deliver(out, err)
	sh.deliver(f.svc.EnterDraw(ctx, ann, "s1", d.ID))
	sh.at(50)
	_, out, err = f.svc.RunDraw(ctx, f.host1, "s1", d.ID)
	sh.deliver(out, err)
	// Likes: sampled once a second of the stream however often nodes tick; quiet seconds are left out
	// except the first after likes stop.
	sh.at(52)
	if err := f.svc.Like(ctx, ann, "s1", 10); err != nil {
		t.Fatal(err)
	}
	sh.tick("s1")
	sh.at(53)
	if err := f.svc.Like(ctx, bob, "s1", 5); err != nil {
		t.Fatal(err)
	}
	sh.tick("s1")
	sh.tick("s1") // a second node, the same second
	sh.at(54)
	sh.tick("s1")
	sh.at(55)
	sh.tick("s1")

	// While live, the replay is not available.
	_, err = f.svc.Timeline(ctx, "s1", TimelineQuery{})
	wantHostCode(t, err, CodeClosed)

	sh.at(60)
	_, out, err = f.svc.EndStream(ctx, f.host1, "s1")
	sh.deliver(out, err)

	page, err := f.svc.Timeline(ctx, "s1", TimelineQuery{Limit: MaxTimelinePage})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range page.Items {
		got = append(got, itemLine(t, it))
	}
	want := []string{
		"5000 comment hello",
		"10000 poll.opened Red or blue?",
		"20000 poll.closed [1 0]",
		"25000 quiz.question 2+2?",
		"35000 quiz.reveal answer 1 correct 1",
		"40000 coupon.drop 10% off",
		"50000 draw.result 1 winner(s) of 1 listed false",
		"53000 likes 15 @ 5/s",
		"54000 likes 15 @ 0/s",
	}
	if !slices.Equal(got, want) {
		t.Errorf("timeline:\n got %q\nwant %q", got, want)
	}
	if page.NextCursor != "" || page.DurationMS != 60_000 || page.Stream != "s1" || !page.StartedAt.Equal(time.Date(2026, 3, 1, 20, 0, 0, 0, time.UTC)) {
		t.Errorf("page = cursor %q duration %d stream %q started %v", page.NextCursor, page.DurationMS, page.Stream, page.StartedAt)
	}

	// Paging with the cursor returns the same items, and windows cut by offset.
	var paged []string
	q := TimelineQuery{Limit: 2}
	for range 10 {
		pg, err := f.svc.Timeline(ctx, "s1", q)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range pg.Items {
			paged = append(paged, itemLine(t, it))
		}
		if pg.NextCursor == "" {
			break
		}
		q.Cursor = pg.NextCursor
	}
	if !slices.Equal(paged, want) {
		t.Errorf("paged timeline:\n got %q\nwant %q", paged, want)
	}
	windows := []struct {
		name  string
		query TimelineQuery
		want  []string
		code  Code
	}{
		{"from 20 s to 40 s", TimelineQuery{FromMS: 20_000, ToMS: 40_000}, want[2:5], ""},
		{"from the end", TimelineQuery{FromMS: 60_000}, nil, ""},
		{"negative from", TimelineQuery{FromMS: -1}, nil, CodeInvalid},
		{"to before from", TimelineQuery{FromMS: 5000, ToMS: 5000}, nil, CodeInvalid},
		{"limit too big", TimelineQuery{Limit: MaxTimelinePage + 1}, nil, CodeInvalid},
		{"forged cursor", TimelineQuery{Cursor: "abc"}, nil, CodeInvalid},
	}
	for _, w := range windows {
		t.Run(w.name, func(t *testing.T) {
			pg, err := f.svc.Timeline(ctx, "s1", w.query)
			wantHostCode(t, err, w.code)
			if err != nil {
				return
			}
			var lines []string
			for _, it := range pg.Items {
				lines = append(lines, itemLine(t, it))
			}
			if !slices.Equal(lines, w.want) {
				t.Errorf("items = %q, want %q", lines, w.want)
			}
		})
	}
}

func TestTimelineOffsetsFollowTheVideoDelay(t *testing.T) {
	f := newHostFixture(t, 2000) // s2 has a 2 s video delay
	sh := show{t: t, f: f}
	ctx := context.Background()
	sh.at(3)
	_, out, err := f.svc.DropCoupon(ctx, f.host2, "s2", CouponSpec{Title: "Flash", Stock: 1, ExpiresS: 30})
	sh.deliver(out, err)
	sh.at(4)
	sh.deliver(f.svc.PostComment(ctx, viewer("ann"), "s2", "first!"))
	sh.at(9)
	_, out, err = f.svc.EndStream(ctx, f.host2, "s2")
	sh.deliver(out, err)
	page, err := f.svc.Timeline(ctx, "s2", TimelineQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range page.Items {
		got = append(got, itemLine(t, it))
	}
	// The coupon reached viewers at 3 s + 2 s of delay, after the comment posted at 4 s.
	if want := []string{"4000 comment first!", "5000 coupon.drop Flash"}; !slices.Equal(got, want) {
		t.Errorf("timeline = %q, want %q", got, want)
	}
}

func TestReplayQuizAnswers(t *testing.T) {
	f := newHostFixture(t, 0)
	sh := show{t: t, f: f}
	ctx := context.Background()
	quiz, err := f.svc.CreateQuiz(ctx, f.host1, "s1", QuizSpec{Questions: []QuizItem{
		{Text: "2+2?", Choices: []string{"3", "4"}, Answer: 1, TimeLimitS: 10},
		{Text: "Never asked", Choices: []string{"a", "b"}, Answer: 0, TimeLimitS: 10},
	}})
	if err != nil {
		t.Fatal(err)
	}
	sh.at(10)
	_, out, err := f.svc.NextQuestion(ctx, f.host1, "s1", quiz.ID)
	sh.deliver(out, err)
	sh.deliver(f.svc.Answer(ctx, viewer("ann"), "s1", quiz.ID, "q0", 0))
	_, err = f.svc.ReplayAnswer(ctx, viewer("bob"), "s1", quiz.ID, "q0", 1)
	wantHostCode(t, err, CodeClosed) // live: answer the live question
	sh.at(30)
	sh.tick("s1") // the deadline passed: revealed
	_, out, err = f.svc.EndStream(ctx, f.host1, "s1")
	sh.deliver(out, err)

	// Scored as if answered at the time limit (100 × ½ = 50), times the replay share 0.5.
	tests := []struct {
		name     string
		user     string
		question string
		choice   int
		code     Code
		correct  bool
		points   int64
	}{
		{"correct replay answer", "bob", "q0", 1, "", true, 25},
		{"again", "bob", "q0", 0, CodeDuplicate, false, 0},
		{"wrong answer", "cy", "q0", 0, "", false, 0},
		{"answered live", "ann", "q0", 1, CodeDuplicate, false, 0},
		{"never asked", "dee", "q1", 0, CodeInvalid, false, 0},
		{"bad choice", "dee", "q0", 5, CodeInvalid, false, 0},
		{"bad id", "dee", "x", 0, CodeInvalid, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := f.svc.ReplayAnswer(ctx, viewer(tt.user), "s1", quiz.ID, tt.question, tt.choice)
			wantHostCode(t, err, tt.code)
			if err != nil {
				return
			}
			if out.Reply["correct"] != tt.correct || out.Reply["points"] != tt.points || pointsDelta(out) != tt.points {
				t.Errorf("reply = %v, points frame %d; want correct %v, %d points", out.Reply, pointsDelta(out), tt.correct, tt.points)
			}
		})
	}
	// quiz.answer on the socket of an ended stream takes the replay path too.
	a, ok := NewAction("quiz.answer")
	if !ok {
		t.Fatal("quiz.answer is not an action")
	}
	*a.(*QuizAnswer) = QuizAnswer{QuizID: quiz.ID, QuestionID: "q0", Choice: 1}
	out, err = f.svc.Handle(ctx, viewer("eve"), "s1", a)
	if err != nil || out.Reply["replay"] != true || pointsDelta(out) != 25 {
		t.Errorf("quiz.answer on a replay = %v, %v", out.Reply, err)
	}
	var replays int
	for _, e := range f.eventsOf(EventQuizAnswered) {
		var d map[string]any
		if err := json.Unmarshal(e.Data, &d); err != nil {
			t.Fatal(err)
		}
		if d["replay"] == true {
			replays++
		}
	}
	if replays != 3 { // bob, cy, eve
		t.Errorf("%d quiz.answered events marked replay, want 3", replays)
	}
}

func timelineItem(offset int64, key string) TimelineItem {
	return TimelineItem{OffsetMS: offset, Type: "comment", Data: json.RawMessage(`{"id":"` + key + `"}`), Key: key}
}

func timelineKeys(items []TimelineItem) []string {
	keys := make([]string, len(items))
	for i, it := range items {
		var d struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(it.Data, &d)
		keys[i] = d.ID
	}
	return keys
}

func testTimelineOrderAndPaging(t *testing.T, s Store) {
	ctx := context.Background()
	// Appended out of order (a delayed item lands before items appended earlier); equal offsets keep the
	// order of appending.
	for _, it := range []TimelineItem{
		timelineItem(1000, "a"), timelineItem(3000, "c"), timelineItem(2000, "b"), timelineItem(3000, "d"),
		timelineItem(5000, "e"),
	} {
		if ok, err := s.AppendTimeline(ctx, "s1", it, 100); err != nil || !ok {
			t.Fatalf("AppendTimeline %s: %v, %v", it.Key, ok, err)
		}
	}
	all, err := s.TimelineItems(ctx, "s1", 0, math.MaxInt64, math.MinInt64, -1, 100)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := timelineKeys(all), []string{"a", "b", "c", "d", "e"}; !slices.Equal(got, want) {
		t.Fatalf("items = %v, want %v", got, want)
	}
	tests := []struct {
		name                  string
		from, to              int64
		afterOffset, afterSeq int64
		limit                 int
		want                  []string
	}{
		{"window", 2000, 5000, math.MinInt64, -1, 100, []string{"b", "c", "d"}},
		{"limit", 0, math.MaxInt64, math.MinInt64, -1, 2, []string{"a", "b"}},
		{"after c", 0, math.MaxInt64, all[2].OffsetMS, all[2].Seq, 100, []string{"d", "e"}},
		{"after c, limit 1", 0, math.MaxInt64, all[2].OffsetMS, all[2].Seq, 1, []string{"d"}},
		{"cursor before from", 4000, math.MaxInt64, all[0].OffsetMS, all[0].Seq, 100, []string{"e"}},
		{"empty window", 6000, 7000, math.MinInt64, -1, 100, []string{}},
	}
	for _, tt := range tests {
		got, err := s.TimelineItems(ctx, "s1", tt.from, tt.to, tt.afterOffset, tt.afterSeq, tt.limit)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if keys := timelineKeys(got); !slices.Equal(keys, tt.want) {
			t.Errorf("%s: items = %v, want %v", tt.name, keys, tt.want)
		}
	}
	if got, err := s.TimelineItems(ctx, "other", 0, math.MaxInt64, math.MinInt64, -1, 10); err != nil || len(got) != 0 {
		t.Errorf("other stream: %v, %v; want none", got, err)
	}
}

func testTimelineDedupeAndHide(t *testing.T, s Store) {
	ctx := context.Background()
	if ok, err := s.AppendTimeline(ctx, "s1", timelineItem(1000, "a"), 3); err != nil || !ok {
		t.Fatalf("append a: %v, %v", ok, err)
	}
	if ok, err := s.AppendTimeline(ctx, "s1", timelineItem(1500, "a"), 3); err != nil || ok {
		t.Errorf("append a again: %v, %v; want false", ok, err)
	}
	unkeyed := timelineItem(1200, "x")
	unkeyed.Key = ""
	for range 2 { // items without a key are never de-duplicated
		if ok, err := s.AppendTimeline(ctx, "s1", unkeyed, 3); err != nil || !ok {
			t.Fatalf("append unkeyed: %v, %v", ok, err)
		}
	}
	if ok, err := s.AppendTimeline(ctx, "s1", timelineItem(2000, "b"), 3); err != nil || ok {
		t.Errorf("append over max: %v, %v; want false", ok, err)
	}
	if err := s.HideTimeline(ctx, "s1", "a"); err != nil {
		t.Fatal(err)
	}
	if err := s.HideTimeline(ctx, "s1", "later"); err != nil { // hidden before it is recorded
		t.Fatal(err)
	}
	got, err := s.TimelineItems(ctx, "s1", 0, math.MaxInt64, math.MinInt64, -1, 10)
	if err != nil {
		t.Fatal(err)
	}
	if keys := timelineKeys(got); !slices.Equal(keys, []string{"x", "x"}) {
		t.Errorf("items = %v, want [x x]", keys)
	}
	if got[0].Seq >= got[1].Seq {
		t.Errorf("seqs = %d, %d; want increasing", got[0].Seq, got[1].Seq)
	}
}

func testTimelineConcurrent(t *testing.T, s Store) {
	ctx := context.Background()
	const nodes, seconds = 4, 25
	var wg sync.WaitGroup
	for range nodes { // every node samples every second; one sample per second is kept
		wg.Go(func() {
			for sec := range int64(seconds) {
				it := TimelineItem{OffsetMS: sec * 1000, Type: TimelineLikes, Data: json.RawMessage(`{}`), Key: fmt.Sprint("likes:", sec)}
				if _, err := s.AppendTimeline(ctx, "s1", it, 1000); err != nil {
					t.Errorf("AppendTimeline: %v", err)
				}
			}
		})
	}
	wg.Wait()
	got, err := s.TimelineItems(ctx, "s1", 0, math.MaxInt64, math.MinInt64, -1, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != seconds {
		t.Fatalf("%d samples, want %d", len(got), seconds)
	}
	seqs := map[int64]bool{}
	for i, it := range got {
		if it.OffsetMS != int64(i)*1000 || seqs[it.Seq] {
			t.Errorf("item %d: offset %d seq %d (seen %v)", i, it.OffsetMS, it.Seq, seqs[it.Seq])
		}
		seqs[it.Seq] = true
	}
}

// timelineStoreSuite is TimelineStore's part of the Store conformance suite (runStoreSuite).
var timelineStoreSuite = []storeCase{
	{"OrderAndPaging", testTimelineOrderAndPaging},
	{"DedupeAndHide", testTimelineDedupeAndHide},
	{"Concurrent", testTimelineConcurrent},
}

// TestTimelineRecordsTickAndEnd checks that what time and the end of a stream produce (a timed poll closed by
// the tick, an open poll closed by EndStream) reaches the replay: the Service records every outcome it
// produces, not package stream.
func TestTimelineRecordsTickAndEnd(t *testing.T) {
	f := newHostFixture(t, 0)
	sh := show{t: t, f: f}
	ctx := context.Background()

	sh.at(10)
	_, out, err := f.svc.OpenPoll(ctx, f.host1, "s1", PollSpec{Question: "Timed?", Options: []string{"yes", "no"}, DurationS: 5})
	sh.deliver(out, err)
	sh.at(20)
	out = sh.deliver(f.svc.Tick(ctx, "s1"))
	if len(framesOf(out.Broadcast, "poll.closed")) != 1 {
		t.Fatalf("tick at 20 s: %+v, want the timed poll closed", out.Broadcast)
	}
	sh.at(30)
	_, out, err = f.svc.OpenPoll(ctx, f.host1, "s1", PollSpec{Question: "Manual?", Options: []string{"yes", "no"}})
	sh.deliver(out, err)
	sh.at(40)
	_, out, err = f.svc.EndStream(ctx, f.host1, "s1")
	sh.deliver(out, err)

	page, err := f.svc.Timeline(ctx, "s1", TimelineQuery{Limit: MaxTimelinePage})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range page.Items {
		if strings.HasPrefix(it.Type, "poll.") {
			got = append(got, itemLine(t, it))
		}
	}
	want := []string{
		"10000 poll.opened Timed?",
		"20000 poll.closed [0 0]",
		"30000 poll.opened Manual?",
		"40000 poll.closed [0 0]",
	}
	if !slices.Equal(got, want) {
		t.Errorf("poll items:\n got %q\nwant %q", got, want)
	}
}

// timelineAgedSuite is TimelineStore's part of the suite's lifetime cases (runStoreSuite).
var timelineAgedSuite = []agedCase{
	{"Lifetime", testTimelineLifetime},
	{"TextRetention", testTimelineTextRetention},
}

// testTimelineLifetime: a timeline lives Retention after its last write.
func testTimelineLifetime(t *testing.T, s Store, age func(time.Duration)) {
	ctx := context.Background()
	items := func(stream string) []string {
		t.Helper()
		got, err := s.TimelineItems(ctx, stream, 0, math.MaxInt64, math.MinInt64, -1, 10)
		noErr(t, err)
		return timelineKeys(got)
	}
	_, err := s.AppendTimeline(ctx, "s1", timelineItem(1000, "a"), 10)
	noErr(t, err)
	noErr(t, s.HideTimeline(ctx, "s1", "b"))
	age(DefaultRetention - time.Minute)
	_, err = s.AppendTimeline(ctx, "s2", timelineItem(1000, "x"), 10)
	noErr(t, err)
	if got := items("s1"); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("a minute before Retention: %v, want [a]", got)
	}
	age(time.Minute)
	_, err = s.AppendTimeline(ctx, "s2", timelineItem(2000, "y"), 10)
	noErr(t, err)
	if got := items("s1"); len(got) != 0 {
		t.Fatalf("at Retention: %v, want none", got)
	}
	if got := items("s2"); !slices.Equal(got, []string{"x", "y"}) {
		t.Fatalf("the other stream's timeline: %v, want [x y]", got)
	}
}
