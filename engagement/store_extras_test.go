package engagement

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
)

// runExtrasStoreConformance is the one test suite of ExtrasStore (questions, timelines, audiences and
// notification counts). Every implementation must pass it; newStore returns an empty store for one subtest.
func runExtrasStoreConformance(t *testing.T, newStore func(t *testing.T) ExtrasStore) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, s ExtrasStore)
	}{
		{"AddQuestion", testAddQuestion},
		{"UpvoteQuestion", testUpvoteQuestion},
		{"UpvoteQuestionConcurrent", testUpvoteQuestionConcurrent},
		{"QuestionFlags", testQuestionFlags},
		{"TimelineOrderAndPaging", testTimelineOrderAndPaging},
		{"TimelineDedupeAndHide", testTimelineDedupeAndHide},
		{"TimelineConcurrent", testTimelineConcurrent},
		{"Participants", testParticipants},
		{"DecideNotification", testDecideNotification},
		{"DecideNotificationConcurrent", testDecideNotificationConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newStore(t)) })
	}
}

func TestMemoryExtrasStore(t *testing.T) {
	runExtrasStoreConformance(t, func(*testing.T) ExtrasStore { return NewMemoryStore() })
}

func testQuestion(id, user string) Question {
	return Question{ID: id, User: user, Name: "Name " + user, Text: "Does " + id + " fit?", At: conformanceT0}
}

func questionByID(t *testing.T, s ExtrasStore, stream, id string) Question {
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

func testAddQuestion(t *testing.T, s ExtrasStore) {
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

func testUpvoteQuestion(t *testing.T, s ExtrasStore) {
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

func testUpvoteQuestionConcurrent(t *testing.T, s ExtrasStore) {
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

func testQuestionFlags(t *testing.T, s ExtrasStore) {
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

func testTimelineOrderAndPaging(t *testing.T, s ExtrasStore) {
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

func testTimelineDedupeAndHide(t *testing.T, s ExtrasStore) {
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

func testTimelineConcurrent(t *testing.T, s ExtrasStore) {
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

func testParticipants(t *testing.T, s ExtrasStore) {
	ctx := context.Background()
	if _, err := s.LastStream(ctx, "ann"); CodeOf(err) != CodeNotFound {
		t.Errorf("LastStream before joining: %v, want not_found", err)
	}
	joins := []struct{ stream, user string }{{"s1", "ann"}, {"s1", "bob"}, {"s1", "ann"}, {"s2", "ann"}}
	for _, j := range joins {
		if err := s.AddParticipant(ctx, j.stream, j.user, conformanceT0); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Participants(ctx, "s1", 10)
	slices.Sort(got)
	if err != nil || !slices.Equal(got, []string{"ann", "bob"}) {
		t.Errorf("Participants(s1) = %v, %v; want [ann bob]", got, err)
	}
	if got, err := s.Participants(ctx, "s1", 1); err != nil || len(got) != 1 {
		t.Errorf("Participants(s1, 1) = %v, %v; want one", got, err)
	}
	if st, err := s.LastStream(ctx, "ann"); err != nil || st != "s2" {
		t.Errorf("LastStream(ann) = %q, %v; want s2", st, err)
	}
}

func testDecideNotification(t *testing.T, s ExtrasStore) {
	ctx := context.Background()
	steps := []struct {
		id, user, day string
		want          string
		wantReplayed  bool
	}{
		{"n1", "ann", "2026-03-14", NotificationSent, false},
		{"n2", "ann", "2026-03-14", NotificationSent, false},
		{"n1", "ann", "2026-03-14", NotificationSent, true}, // the same id again counts nothing
		{"n3", "ann", "2026-03-14", NotificationCapped, false},
		{"n3", "ann", "2026-03-14", NotificationCapped, true},
		{"n3", "bob", "2026-03-14", NotificationSent, false}, // per user
		{"n4", "ann", "2026-03-15", NotificationSent, false}, // per day
	}
	for i, st := range steps {
		got, replayed, err := s.DecideNotification(ctx, st.id, st.user, st.day, 2)
		if err != nil || got != st.want || replayed != st.wantReplayed {
			t.Errorf("step %d (%s to %s on %s): %s replayed %v err %v; want %s replayed %v", i, st.id, st.user, st.day, got, replayed, err, st.want, st.wantReplayed)
		}
	}
	for _, c := range []struct {
		user, day string
		want      int
	}{{"ann", "2026-03-14", 2}, {"bob", "2026-03-14", 1}, {"ann", "2026-03-15", 1}, {"cy", "2026-03-14", 0}} {
		if n, err := s.NotificationsSent(ctx, c.user, c.day); err != nil || n != c.want {
			t.Errorf("NotificationsSent(%s, %s) = %d, %v; want %d", c.user, c.day, n, err, c.want)
		}
	}
}

func testDecideNotificationConcurrent(t *testing.T, s ExtrasStore) {
	ctx := context.Background()
	const attempts, limit = 40, 3
	var wg sync.WaitGroup
	var mu sync.Mutex
	sent := 0
	for i := range attempts {
		wg.Go(func() {
			d, _, err := s.DecideNotification(ctx, fmt.Sprint("n", i), "ann", "2026-03-14", limit)
			if err != nil {
				t.Errorf("DecideNotification: %v", err)
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
		t.Errorf("sent %d of %d at once, want exactly %d", sent, attempts, limit)
	}
	if n, err := s.NotificationsSent(ctx, "ann", "2026-03-14"); err != nil || n != limit {
		t.Errorf("NotificationsSent = %d, %v; want %d", n, err, limit)
	}
}
