package engagement

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Timeline limits.
const (
	// MaxTimelineItems bounds one stream's replay timeline; later items are not recorded.
	MaxTimelineItems = 200_000
	// MaxTimelineItemBytes bounds one recorded item's data: twice the largest a poll, quiz question or
	// comment within their limits can be. A larger frame is not recorded (logged once per stream), and a
	// draw result is recorded without its list of entrants (the draw itself keeps it for verification).
	MaxTimelineItemBytes = 8 << 10
	// DefaultTimelinePage and MaxTimelinePage bound a page of GET …/timeline.
	DefaultTimelinePage = 100
	MaxTimelinePage     = 500
)

// timelineTypes are the broadcast frames a replay shows, with the field(s) naming their item for
// de-duplication. comment.removed is not among them: it hides the comment it names.
var timelineTypes = map[string]bool{
	"comment":       true,
	"poll.opened":   true,
	"poll.closed":   true,
	"quiz.question": true,
	"quiz.reveal":   true,
	"coupon.drop":   true,
	"draw.result":   true,
}

// TimelineLikes is the type of the like-rate samples in a timeline (data {"total","per_second"}).
const TimelineLikes = "likes"

// record adds what an outcome will show on viewers' screens to its stream's replay timeline, at the offset
// from the stream's start at which viewers see it (now plus the outcome's video delay). A comment.removed
// frame hides its comment from the replay. Every public method that produces such frames (PostComment,
// Moderate, OpenPoll, ClosePoll, NextQuestion, DropCoupon, RunDraw, EndStream, Tick) calls it once, on the
// node that produced the outcome, so data flows one way: package stream only delivers. Items carry keys, so
// a second recording changes nothing. Failures are logged: the outcome was already accepted.
func (s *Service) record(ctx context.Context, out Outcome) {
	var frames []Frame
	for _, f := range out.Broadcast {
		if timelineTypes[f.Type] || f.Type == "comment.removed" {
			frames = append(frames, f)
		}
	}
	if len(frames) == 0 {
		return
	}
	started, err := s.streamStart(ctx, out.Stream)
	if err != nil {
		s.log.Warn("record timeline", "stream", out.Stream, "err", err)
		return
	}
	offset := max(0, s.now().Add(out.Delay).Sub(started).Milliseconds())
	store := s.store
	for _, f := range frames {
		raw, err := timelineData(f)
		if err != nil {
			s.log.Error("record timeline", "stream", out.Stream, "type", f.Type, "err", err)
			continue
		}
		if len(raw) > MaxTimelineItemBytes {
			s.warnOversize(out.Stream, f.Type, len(raw))
			continue
		}
		key := timelineKey(f, raw)
		if f.Type == "comment.removed" {
			err = store.HideTimeline(ctx, out.Stream, key)
		} else {
			_, err = store.AppendTimeline(ctx, out.Stream, TimelineItem{OffsetMS: offset, Type: f.Type, Data: raw, Key: key}, MaxTimelineItems)
		}
		if err != nil {
			s.log.Error("record timeline", "stream", out.Stream, "type", f.Type, "err", err)
		}
	}
}

// timelineCache is what the timeline keeps per Service on this node, each map bounded (cleared past 10,000
// streams): what never changes, and what a node must remember between ticks.
type timelineCache struct {
	mu       sync.Mutex
	started  map[string]time.Time // stream → StartedAt (never changes)
	sampled  map[string]likeMark  // stream → the last like sample this node took for the timeline
	oversize map[string]bool      // streams whose oversized timeline frames were reported
}

// likeMark is the second of a stream a node last sampled likes in, and whether likes were coming then.
type likeMark struct {
	sec    int64
	liking bool
}

func newTimelineCache() *timelineCache {
	return &timelineCache{started: map[string]time.Time{}, sampled: map[string]likeMark{}, oversize: map[string]bool{}}
}

// timelineData encodes what a replay shows of a frame: its data, less a draw result's entrants (replaced by
// their count).
func timelineData(f Frame) (json.RawMessage, error) {
	if r, ok := f.Data.(DrawResult); ok {
		return json.Marshal(struct {
			DrawResult
			Entrants      []string `json:"entrants,omitempty"`
			EntrantsCount int      `json:"entrants_count"`
		}{DrawResult: r, EntrantsCount: len(r.Entrants)})
	}
	return json.Marshal(f.Data)
}

// warnOversize logs, once per stream on this node, that a frame was too large to record.
func (s *Service) warnOversize(stream, typ string, size int) {
	x := s.timeline
	x.mu.Lock()
	first := !x.oversize[stream]
	if first {
		if len(x.oversize) > 10_000 {
			clear(x.oversize)
		}
		x.oversize[stream] = true
	}
	x.mu.Unlock()
	if first {
		s.log.Warn("timeline item too large, not recorded (reported once per stream)", "stream", stream, "type", typ, "bytes", size)
	}
}

// timelineKey names the item a frame shows: "comment:<id>" (comment.removed names the same), "poll.opened:<poll>",
// "quiz.reveal:<quiz>/<question>"… or "" when the frame carries no id.
func timelineKey(f Frame, raw json.RawMessage) string {
	var ids struct {
		ID         string `json:"id"`
		PollID     string `json:"poll_id"`
		QuizID     string `json:"quiz_id"`
		QuestionID string `json:"question_id"`
		Poll       struct {
			ID string `json:"id"`
		} `json:"poll"`
	}
	switch d := f.Data.(type) { // the usual shapes need no second decode
	case Comment:
		ids.ID = d.ID
	case map[string]any:
		ids.ID, _ = d["id"].(string)
		ids.PollID, _ = d["poll_id"].(string)
		ids.QuizID, _ = d["quiz_id"].(string)
		ids.QuestionID, _ = d["question_id"].(string)
		if p, ok := d["poll"].(Poll); ok {
			ids.Poll.ID = p.ID
		}
	default:
		if json.Unmarshal(raw, &ids) != nil {
			return ""
		}
	}
	var id string
	switch f.Type {
	case "comment", "comment.removed":
		id, f.Type = ids.ID, "comment" // a removal names the comment's key
	case "poll.opened":
		id = ids.Poll.ID
	case "poll.closed":
		id = ids.PollID
	case "quiz.question", "quiz.reveal":
		id = ids.QuizID + "/" + ids.QuestionID
	default:
		id = ids.ID
	}
	if id == "" || id == "/" {
		return ""
	}
	return f.Type + ":" + id
}

// streamStart returns a stream's StartedAt, cached on this node (it never changes).
func (s *Service) streamStart(ctx context.Context, stream string) (time.Time, error) {
	x := s.timeline
	x.mu.Lock()
	t, ok := x.started[stream]
	x.mu.Unlock()
	if ok {
		return t, nil
	}
	st, err := s.Stream(ctx, stream)
	if err != nil {
		return time.Time{}, err
	}
	x.mu.Lock()
	if len(x.started) > 10_000 { // bounded: forget everything rather than grow without end
		clear(x.started)
	}
	x.started[stream] = st.StartedAt
	x.mu.Unlock()
	return st.StartedAt, nil
}

// tickTimeline samples a live stream's like rate into its timeline once per second of the stream. Every
// node serving the stream ticks; the sample's key (its second) keeps one per second. Seconds with no likes
// are left out, except the first one after likes stop (so a replay shows the rate falling to zero).
func tickTimeline(ctx context.Context, s *Service, stream string) (Outcome, error) {
	started, err := s.streamStart(ctx, stream)
	if err != nil {
		return Outcome{}, ignoreNotFound(err)
	}
	now := s.now()
	sec := int64(now.Sub(started) / time.Second)
	x := s.timeline
	x.mu.Lock()
	last, seen := x.sampled[stream]
	due := !seen || last.sec != sec
	x.mu.Unlock()
	if !due || sec < 0 {
		return Outcome{}, nil
	}
	st, err := s.Stream(ctx, stream)
	if err != nil || !st.Live() {
		return Outcome{}, ignoreNotFound(err)
	}
	likes, err := s.Likes(ctx, stream)
	if err != nil {
		return Outcome{}, err
	}
	x.mu.Lock()
	if len(x.sampled) > 10_000 {
		clear(x.sampled)
	}
	x.sampled[stream] = likeMark{sec: sec, liking: likes.PerSecond > 0}
	x.mu.Unlock()
	if likes.PerSecond <= 0 && !last.liking {
		return Outcome{}, nil
	}
	raw, err := json.Marshal(map[string]any{"total": likes.Total, "per_second": math.Round(likes.PerSecond*10) / 10})
	if err != nil {
		return Outcome{}, err
	}
	item := TimelineItem{OffsetMS: sec * 1000, Type: TimelineLikes, Data: raw, Key: "likes:" + strconv.FormatInt(sec, 10)}
	if _, err := s.store.AppendTimeline(ctx, stream, item, MaxTimelineItems); err != nil {
		return Outcome{}, fmt.Errorf("record like rate of %s: %w", stream, err)
	}
	return Outcome{}, nil
}

// TimelineQuery selects a page of a timeline: items with FromMS <= offset_ms < ToMS (ToMS 0: to the end),
// at most Limit (default 100, at most 500), after Cursor (the NextCursor of the previous page).
type TimelineQuery struct {
	FromMS int64
	ToMS   int64
	Limit  int
	Cursor string
}

// TimelinePage is one page of a stream's replay timeline. NextCursor is "" on the last page.
type TimelinePage struct {
	Stream     string         `json:"stream"`
	StartedAt  time.Time      `json:"started_at"`
	EndedAt    time.Time      `json:"ended_at,omitzero"`
	DurationMS int64          `json:"duration_ms"`
	Items      []TimelineItem `json:"items"`
	NextCursor string         `json:"next_cursor"`
}

// Timeline returns a page of an ended stream's replay timeline, in order of offset. A live stream's
// timeline is still being written: it is refused as closed until the stream ends.
func (s *Service) Timeline(ctx context.Context, stream string, q TimelineQuery) (TimelinePage, error) {
	st, err := s.Stream(ctx, stream)
	if err != nil {
		return TimelinePage{}, err
	}
	if st.Live() {
		return TimelinePage{}, Errorf(CodeClosed, "stream %q is live: its replay is available once it ends", stream)
	}
	if q.FromMS < 0 {
		return TimelinePage{}, Invalid("from", "from must be an offset in ms, 0 or more")
	}
	to := int64(math.MaxInt64)
	if q.ToMS != 0 {
		if q.ToMS <= q.FromMS {
			return TimelinePage{}, Invalid("to", "to must be after from")
		}
		to = q.ToMS
	}
	switch {
	case q.Limit == 0:
		q.Limit = DefaultTimelinePage
	case q.Limit < 1 || q.Limit > MaxTimelinePage:
		return TimelinePage{}, Invalid("limit", "limit must be 1..%d", MaxTimelinePage)
	}
	afterOffset, afterSeq := int64(math.MinInt64), int64(-1)
	if q.Cursor != "" {
		if afterOffset, afterSeq, err = parseTimelineCursor(q.Cursor); err != nil {
			return TimelinePage{}, err
		}
	}
	items, err := s.store.TimelineItems(ctx, stream, q.FromMS, to, afterOffset, afterSeq, q.Limit+1)
	if err != nil {
		return TimelinePage{}, fmt.Errorf("timeline of %s: %w", stream, err)
	}
	page := TimelinePage{Stream: stream, StartedAt: st.StartedAt, EndedAt: st.EndedAt, Items: items}
	if !st.EndedAt.IsZero() {
		page.DurationMS = st.EndedAt.Sub(st.StartedAt).Milliseconds()
	}
	if len(items) > q.Limit {
		page.Items = items[:q.Limit]
		last := page.Items[q.Limit-1]
		page.NextCursor = strconv.FormatInt(last.OffsetMS, 10) + "." + strconv.FormatInt(last.Seq, 10)
	}
	if page.Items == nil {
		page.Items = []TimelineItem{}
	}
	return page, nil
}

func parseTimelineCursor(c string) (int64, int64, error) {
	o, sq, ok := strings.Cut(c, ".")
	offset, err1 := strconv.ParseInt(o, 10, 64)
	seq, err2 := strconv.ParseInt(sq, 10, 64)
	if !ok || err1 != nil || err2 != nil || seq < 0 {
		return 0, 0, Invalid("cursor", "cursor is not one this server gave")
	}
	return offset, seq, nil
}

// doReplayAnswer is ReplayAnswer (act.go), less the admission and the publication of its events.
func (s *Service) doReplayAnswer(ctx context.Context, actor Actor, stream, quizID, questionID string, choice int) (Outcome, error) {
	if _, err := s.participate(ctx, actor, stream, actReplayAnswer); err != nil {
		return Outcome{}, err
	}
	if quizID == "" {
		return Outcome{}, Invalid("quiz_id", "quiz_id is required")
	}
	k, ok := parseQuestionID(questionID)
	if !ok {
		return Outcome{}, Invalid("question_id", "no question %q", questionID)
	}
	q, err := s.store.Quiz(ctx, stream, quizID)
	if err != nil {
		return Outcome{}, fmt.Errorf("get quiz %s: %w", quizID, quizError(err, quizID))
	}
	if k >= q.Count || k > q.Current {
		return Outcome{}, Invalid("question_id", "question %q was not asked", questionID)
	}
	item := q.Questions[k]
	if choice < 0 || choice >= len(item.Choices) {
		return Outcome{}, Invalid("choice", "choice must be 0..%d", len(item.Choices)-1)
	}
	live, err := s.store.QuizAnswers(ctx, stream, quizID, k)
	if err != nil {
		return Outcome{}, fmt.Errorf("answers of quiz %s: %w", quizID, quizError(err, quizID))
	}
	for _, a := range live {
		if a.User == actor.User {
			return Outcome{}, Errorf(CodeDuplicate, "you answered this question live")
		}
	}
	first := false
	_, err = s.store.UpdateScoreState(ctx, stream, actor.User, replayKinds+"quiz:"+quizID+":"+questionID, func(ls *LimitState) bool {
		first = ls.Count == 0
		if !first {
			return false
		}
		*ls = ls.Next(s.now())
		return true
	})
	if err != nil {
		return Outcome{}, fmt.Errorf("record replay answer to %s: %w", quizID, err)
	}
	if !first {
		return Outcome{}, Errorf(CodeDuplicate, "you already answered this question")
	}
	correct := choice == item.Answer
	limit := time.Duration(item.TimeLimitS) * time.Second
	pts := s.scorerFor(actor.User).Quiz(correct, limit, limit, 0, true)
	if pts > 0 && !s.takeReplayPoints(ctx, stream, actor.User) {
		pts = 0 // the answers of an ended quiz are public: only the first few replay answers pay
	}
	s.emit(ctx, EventQuizAnswered, stream, actor.User, map[string]any{
		"quiz_id": quizID, "question_id": questionID, "stream": stream, "choice": choice, "correct": correct, "replay": true,
		"answer_ms": limit.Milliseconds(), // what the score assumes: a replay's timing cannot be trusted
	})
	out := Outcome{Stream: stream, Reply: map[string]any{"correct": correct, "answer": item.Answer, "points": pts, "replay": true}}
	out.Merge(s.award(ctx, actor, stream, Scored{
		Key: fmt.Sprintf("quiz:%s:%s:%s", quizID, questionID, actor.User), Source: SourceQuiz, Points: pts, Reason: "Correct quiz answer (replay)",
	}))
	return out, nil
}

// answerOrReplay is quiz.answer: the live answer path, or on an ended stream the replay path.
func (s *Service) answerOrReplay(ctx context.Context, actor Actor, stream string, a *QuizAnswer) (Outcome, error) {
	p, err := s.participate(ctx, actor, stream, actQuizAnswer)
	if err != nil {
		return Outcome{}, err
	}
	ctx = withParticipant(ctx, p)
	if p.stream.Live() {
		return s.Answer(ctx, actor, stream, a.QuizID, a.QuestionID, a.Choice)
	}
	return s.ReplayAnswer(ctx, actor, stream, a.QuizID, a.QuestionID, a.Choice)
}

// MaxReplayScored is how many correct replay answers per stream pay points to one user. The reveals of an
// ended quiz are in its public timeline, so unlimited replay points would be farmable.
const MaxReplayScored = 3

// takeReplayPoints reports whether user may still be paid for a replay answer on stream, and counts it.
func (s *Service) takeReplayPoints(ctx context.Context, stream, user string) bool {
	ok := false
	_, err := s.store.UpdateScoreState(ctx, stream, user, replayKinds+"points", func(ls *LimitState) bool {
		ok = ls.Count < MaxReplayScored
		if ok {
			ls.Count++
		}
		return ok
	})
	return err == nil && ok
}

// TimelineItem is one thing that appeared on viewers' screens, at OffsetMS from the stream's start.
type TimelineItem struct {
	OffsetMS int64           `json:"offset_ms"`
	Type     string          `json:"type"`
	Data     json.RawMessage `json:"data"`
	// Key identifies the item for de-duplication and removal ("comment:<id>", "likes:<second>").
	Key string `json:"-"`
	// Seq orders items of equal offset; the store assigns it.
	Seq int64 `json:"-"`
}

// TimelineStore keeps each stream's replay timeline, ordered by (OffsetMS, Seq).
type TimelineStore interface {
	// AppendTimeline adds item to the stream's timeline with the next Seq of the stream and reports whether
	// it did. Atomic: an item whose Key was appended before, or a timeline already holding max items, changes
	// nothing and returns false — so several nodes recording the same sample keep one. The store may keep
	// item.Data: the caller must not change it afterwards.
	AppendTimeline(ctx context.Context, stream string, item TimelineItem, max int) (bool, error)
	// HideTimeline marks key as removed: TimelineItems never returns an item with that key, including one
	// appended later.
	HideTimeline(ctx context.Context, stream, key string) error
	// TimelineItems returns up to limit items with from <= OffsetMS < to that come strictly after the position
	// (afterOffset, afterSeq) in (OffsetMS, Seq) order, hidden items left out. Pass afterOffset math.MinInt64
	// and afterSeq -1 to start at from.
	TimelineItems(ctx context.Context, stream string, from, to, afterOffset, afterSeq int64, limit int) ([]TimelineItem, error)
}
