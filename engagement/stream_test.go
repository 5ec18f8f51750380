package engagement

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func testStream(id string) Stream {
	return Stream{ID: id, Title: "Spring " + id, Host: "host-1", Status: StatusLive, StartedAt: conformanceT0, VideoDelayMS: 1500}
}

func testCreateAndGetStream(t *testing.T, s Store) {
	ctx := context.Background()
	want := testStream("s1")
	if err := s.CreateStream(ctx, want); err != nil {
		t.Fatalf("CreateStream: %v", err)
	}
	got, err := s.Stream(ctx, "s1")
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	sameJSON(t, "stream", got, want)

	dup := testStream("s1")
	dup.Title = "other"
	wantCode(t, "CreateStream of a taken id", s.CreateStream(ctx, dup), ErrDuplicate)
	got, err = s.Stream(ctx, "s1")
	if err != nil {
		t.Fatalf("Stream after duplicate: %v", err)
	}
	sameJSON(t, "stream after duplicate create", got, want)

	_, err = s.Stream(ctx, "missing")
	wantCode(t, "Stream of a missing id", err, ErrNotFound)
}

func testUpdateStream(t *testing.T, s Store) {
	ctx := context.Background()
	if err := s.CreateStream(ctx, testStream("s1")); err != nil {
		t.Fatalf("CreateStream: %v", err)
	}
	ended := conformanceT0.Add(time.Hour)
	got, err := s.UpdateStream(ctx, "s1", func(st *Stream) error {
		st.Status = StatusEnded
		st.EndedAt = ended
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateStream: %v", err)
	}
	want := testStream("s1")
	want.Status, want.EndedAt = StatusEnded, ended
	sameJSON(t, "returned stream", got, want)
	stored, err := s.Stream(ctx, "s1")
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	sameJSON(t, "stored stream", stored, want)

	_, err = s.UpdateStream(ctx, "s1", func(st *Stream) error {
		st.Title = "not stored"
		return errFromFn
	})
	if err != errFromFn {
		t.Errorf("UpdateStream with failing fn: err = %v, want fn's error unchanged", err)
	}
	stored, err = s.Stream(ctx, "s1")
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	sameJSON(t, "stream after failing fn", stored, want)

	called := false
	_, err = s.UpdateStream(ctx, "missing", func(*Stream) error { called = true; return nil })
	wantCode(t, "UpdateStream of a missing id", err, ErrNotFound)
	if called {
		t.Error("UpdateStream called fn for a missing stream")
	}
	if _, err := s.Stream(ctx, "missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateStream of a missing id created it: err = %v", err)
	}
}

// testUpdateStreamConcurrent checks that no update is lost when many writers race.
func testUpdateStreamConcurrent(t *testing.T, s Store) {
	ctx := context.Background()
	st := testStream("s1")
	st.VideoDelayMS = 0
	if err := s.CreateStream(ctx, st); err != nil {
		t.Fatalf("CreateStream: %v", err)
	}
	const writers, each = 6, 15
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for range writers {
		wg.Go(func() {
			for range each {
				if _, err := s.UpdateStream(ctx, "s1", func(st *Stream) error { st.VideoDelayMS++; return nil }); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("UpdateStream: %v", err)
	}
	got, err := s.Stream(ctx, "s1")
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	if got.VideoDelayMS != writers*each {
		t.Errorf("after %d concurrent increments VideoDelayMS = %d", writers*each, got.VideoDelayMS)
	}
}

func TestStreamSpecValidation(t *testing.T) {
	ctx := context.Background()
	s, _, _ := newTestService(t)
	big := int64(600000)
	tests := []struct {
		name  string
		spec  StreamSpec
		field string
	}{
		{"bad id", StreamSpec{ID: "Bad ID!", Title: "x"}, "id"},
		{"no title", StreamSpec{ID: "ok"}, "title"},
		{"delay too long", StreamSpec{ID: "ok2", Title: "x", VideoDelayMS: &big}, "video_delay_ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.CreateStream(ctx, testHost, tt.spec)
			if CodeOf(err) != CodeInvalid || FieldOf(err) != tt.field {
				t.Fatalf("err = %v (field %q), want invalid on %s", err, FieldOf(err), tt.field)
			}
		})
	}
	if _, err := s.CreateStream(ctx, testHost, StreamSpec{ID: "s1", Title: "again"}); CodeOf(err) != CodeDuplicate {
		t.Fatalf("duplicate id: %v", err)
	}
	if _, err := s.CreateStream(ctx, testViewer, StreamSpec{Title: "mine"}); CodeOf(err) != CodeForbidden {
		t.Fatalf("viewer creating: %v", err)
	}
}

// TestEndedStream checks that nothing but feedback runs on an ended stream.
func TestEndedStream(t *testing.T) {
	f := newHostFixture(t, 0)
	ctx := context.Background()
	p, _, err := f.svc.OpenPoll(ctx, f.host1, "s1", PollSpec{Question: "Q", Options: []string{"a", "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.EndStream(ctx, f.host1, "s1"); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.Vote(ctx, viewer("a"), "s1", p.ID, 0)
	wantHostCode(t, err, CodeClosed)
	_, _, err = f.svc.DropCoupon(ctx, f.host1, "s1", CouponSpec{Title: "x", Stock: 1, ExpiresS: 60})
	wantHostCode(t, err, CodeClosed)
	_, err = f.svc.SendFeedback(ctx, viewer("a"), "s1", FeedbackRating, 5)
	wantHostCode(t, err, "") // feedback is asked for when the show ends
}

// TestVideoDelay checks that items open to viewers after the stream's video delay and their clocks shift.
func TestVideoDelay(t *testing.T) {
	const delay = 3 * time.Second
	f := newHostFixture(t, delay.Milliseconds())
	ctx := context.Background()
	start := f.clock.Now()

	p, out, err := f.svc.OpenPoll(ctx, f.host2, "s2", PollSpec{Question: "Q", Options: []string{"a", "b"}, DurationS: 10})
	if err != nil {
		t.Fatal(err)
	}
	if out.Delay != delay || !p.OpensAt.Equal(start.Add(delay)) || !p.ClosesAt.Equal(start.Add(delay+10*time.Second)) {
		t.Fatalf("poll = %+v, delay %v", p, out.Delay)
	}
	c, out, err := f.svc.DropCoupon(ctx, f.host2, "s2", CouponSpec{Title: "x", Stock: 5, ExpiresS: 10})
	if err != nil || out.Delay != delay || !c.ExpiresAt.Equal(start.Add(delay+10*time.Second)) {
		t.Fatalf("coupon = %+v, %+v, %v", c, out, err)
	}
	d, out, err := f.svc.OpenDraw(ctx, f.host2, "s2", DrawSpec{Prize: "x", Winners: 1})
	if err != nil || out.Delay != delay {
		t.Fatalf("draw outcome = %+v, %v", out, err)
	}
	q, err := f.svc.CreateQuiz(ctx, f.host2, "s2", twoQuestionQuiz())
	if err != nil {
		t.Fatal(err)
	}
	step, out, err := f.svc.NextQuestion(ctx, f.host2, "s2", q.ID)
	if err != nil || out.Delay != delay || !step.Question.Deadline.Equal(start.Add(delay+20*time.Second)) {
		t.Fatalf("question = %+v, %+v, %v", step.Question, out, err)
	}

	// before the video catches up everything is "not open yet", and late joiners and snapshots see nothing
	early := []struct {
		name string
		err  error
	}{
		{"vote", answerErr(f.svc.Vote(ctx, viewer("a"), "s2", p.ID, 0))},
		{"claim", answerErr(f.svc.ClaimCoupon(ctx, viewer("a"), "s2", c.ID))},
		{"enter", answerErr(f.svc.EnterDraw(ctx, viewer("a"), "s2", d.ID))},
		{"answer", answerErr(f.svc.Answer(ctx, viewer("a"), "s2", q.ID, "q0", 1))},
	}
	for _, e := range early {
		t.Run("early "+e.name, func(t *testing.T) { wantHostCode(t, e.err, CodeClosed) })
	}
	w, err := f.svc.Join(ctx, viewer("b"), "s2")
	if err != nil || w.Poll != nil || w.Quiz != nil || w.Coupons != nil || w.Draw != nil {
		t.Fatalf("early welcome = %+v, %v", w, err)
	}
	if snap, _ := f.svc.Snapshot(ctx, "s2"); len(framesOf(snap, "poll.tally"))+len(framesOf(snap, "coupon.stock")) != 0 {
		t.Fatalf("early snapshot = %+v", snap)
	}

	f.clock.Advance(delay)
	late := []struct {
		name string
		err  error
	}{
		{"vote", answerErr(f.svc.Vote(ctx, viewer("a"), "s2", p.ID, 0))},
		{"claim", answerErr(f.svc.ClaimCoupon(ctx, viewer("a"), "s2", c.ID))},
		{"enter", answerErr(f.svc.EnterDraw(ctx, viewer("a"), "s2", d.ID))},
		{"answer", answerErr(f.svc.Answer(ctx, viewer("a"), "s2", q.ID, "q0", 1))},
	}
	for _, e := range late {
		t.Run("open "+e.name, func(t *testing.T) { wantHostCode(t, e.err, "") })
	}
	w, err = f.svc.Join(ctx, viewer("c"), "s2")
	if err != nil || w.Poll == nil || w.Quiz == nil || w.Coupons == nil || w.Draw == nil {
		t.Fatalf("welcome = %+v, %v", w, err)
	}
	// the answer came the moment the question reached viewers: full speed points
	f.clock.Advance(20 * time.Second)
	out, err = f.svc.Tick(ctx, "s2")
	if err != nil {
		t.Fatal(err)
	}
	lb := framesOf(out.Broadcast, "quiz.leaderboard")
	if len(lb) != 1 || lb[0].Data.(QuizLeaderboard).Top[0].Score != 100 {
		t.Fatalf("leaderboard = %+v", lb)
	}
	if len(framesOf(out.Broadcast, "poll.closed")) != 1 {
		t.Fatalf("poll not closed at opens+duration: %+v", out)
	}
}

// streamStoreSuite is StreamStore's part of the Store conformance suite (runStoreSuite).
var streamStoreSuite = []storeCase{
	{"CreateAndGet", testCreateAndGetStream},
	{"Update", testUpdateStream},
	{"UpdateConcurrent", testUpdateStreamConcurrent},
}

// streamAgedSuite is StreamStore's part of the suite's lifetime cases (runStoreSuite).
var streamAgedSuite = []agedCase{
	{"RecordLifetime", testStreamLifetime},
}

// testStreamLifetime: a record lives Retention after it was created, renewed while live or ended; renewing an
// ended stream does not extend it; an expired record is not found and its id is free again.
func testStreamLifetime(t *testing.T, s Store, age func(time.Duration)) {
	ctx := context.Background()
	for _, id := range []string{"abandoned", "joined", "ended"} {
		noErr(t, s.CreateStream(ctx, testStream(id)))
	}
	_, err := s.UpdateStream(ctx, "ended", func(st *Stream) error { st.Status, st.EndedAt = StatusEnded, conformanceT0; return nil })
	noErr(t, err)
	present := func(when string, want map[string]bool) {
		t.Helper()
		for id, ok := range want {
			_, err := s.Stream(ctx, id)
			switch {
			case ok && err != nil:
				t.Errorf("%s: Stream(%s) = %v, want the record", when, id, err)
			case !ok && !errors.Is(err, ErrNotFound):
				t.Errorf("%s: Stream(%s) = %v, want ErrNotFound", when, id, err)
			}
		}
	}
	age(DefaultRetention - time.Hour)
	present("an hour before Retention", map[string]bool{"abandoned": true, "joined": true, "ended": true})
	noErr(t, s.RenewStream(ctx, "joined"))
	noErr(t, s.RenewStream(ctx, "ended")) // ended: left as it is
	noErr(t, s.RenewStream(ctx, "nope"))  // unknown: nothing to renew, nothing created
	age(2 * time.Hour)
	present("an hour after Retention", map[string]bool{"abandoned": false, "joined": true, "ended": false, "nope": false})
	noErr(t, s.CreateStream(ctx, testStream("abandoned"))) // the id is free again
	age(DefaultRetention - 3*time.Hour)
	present("an hour before the renewal's Retention", map[string]bool{"abandoned": true, "joined": true})
	age(2 * time.Hour)
	present("an hour after it", map[string]bool{"abandoned": true, "joined": false})
}
