package engagement

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Product Q&A limits.
const (
	// MaxQuestionRunes is the longest question, in runes after trimming.
	MaxQuestionRunes = 200
	// MaxQuestionsPerStream bounds a stream's questions (hidden ones included).
	MaxQuestionsPerStream = 1000
	// QuestionListSize is how many questions the questions frame carries.
	QuestionListSize = 20
)

// Question is a viewer's product question with its upvotes and the host's flags.
type Question struct {
	ID       string    `json:"id"`
	User     string    `json:"user"`
	Name     string    `json:"name"`
	Text     string    `json:"text"`
	Votes    int64     `json:"votes"`
	Pinned   bool      `json:"pinned"`
	Answered bool      `json:"answered"`
	Hidden   bool      `json:"hidden,omitempty"`
	At       time.Time `json:"at"`
}

// QuestionList is the questions frame and the answer of GET …/questions: the questions ordered by votes,
// then newest first, and how many the host hid (viewers are told that moderation happened — no silent
// gatekeeping). Hosts' lists include the hidden questions, flagged.
type QuestionList struct {
	Questions []Question `json:"questions"`
	// Total is how many questions the list could show (visible ones; all for a host).
	Total  int `json:"total"`
	Hidden int `json:"hidden"`
}

// QuestionAsk is the question.ask client action; its ack carries question_id.
type QuestionAsk struct {
	Text string `json:"text"`
}

// FrameType implements Action.
func (QuestionAsk) FrameType() string { return "question.ask" }

func (a *QuestionAsk) handle(ctx context.Context, s *Service, actor Actor, stream string) (Outcome, error) {
	_, out, err := s.AskQuestion(ctx, actor, stream, a.Text)
	return out, err
}

// QuestionUpvote is the question.upvote client action.
type QuestionUpvote struct {
	QuestionID string `json:"question_id"`
}

// FrameType implements Action.
func (QuestionUpvote) FrameType() string { return "question.upvote" }

func (a *QuestionUpvote) handle(ctx context.Context, s *Service, actor Actor, stream string) (Outcome, error) {
	return s.UpvoteQuestion(ctx, actor, stream, a.QuestionID)
}

// questionError words a QuestionStore rejection about question id for the user; other errors pass unchanged.
func questionError(err error, id string) error {
	if !bare(err) {
		return err
	}
	switch {
	case errors.Is(err, ErrNotFound):
		return Errorf(CodeNotFound, "no question %q", id)
	case errors.Is(err, ErrOwnItem):
		return Errorf(CodeForbidden, "you cannot upvote your own question")
	case errors.Is(err, ErrDuplicate):
		return Errorf(CodeDuplicate, "you already upvoted this question")
	case errors.Is(err, ErrHidden):
		return Invalid("question", "a hidden question cannot be pinned")
	}
	return err
}

// AskQuestion posts actor's product question on a live stream. The chat's rules apply: muted and banned
// users are refused (the participation policy, before the text is looked at), banned words are invalid, and
// each user is rate-limited as for comments (a limiter of its own, so questions do not eat the chat budget).
// Asking scores the question_ask rule.
func (s *Service) AskQuestion(ctx context.Context, actor Actor, stream, text string) (Question, Outcome, error) {
	p, err := s.participate(ctx, actor, stream, actAsk)
	if err != nil {
		return Question{}, Outcome{}, err
	}
	text, err = CleanText("text", text, MaxQuestionRunes)
	if err != nil {
		return Question{}, Outcome{}, err
	}
	staff := p.staff
	if !staff {
		if p.mod.bannedWord(text) != "" {
			return Question{}, Outcome{}, Invalid("text", "your question contains a blocked word")
		}
		if !s.commentLimiter(stream, "question\x00"+actor.User).Allow() {
			return Question{}, Outcome{}, Errorf(CodeRateLimited, "you are asking too fast")
		}
	}
	now := s.now().UTC()
	q := Question{ID: s.newItemID(), User: actor.User, Name: actor.Name, Text: text, At: now}
	if err := s.store.AddQuestion(ctx, stream, q, MaxQuestionsPerStream); err != nil {
		if bare(err) && errors.Is(err, ErrFull) {
			err = Errorf(CodeClosed, "this stream has reached its limit of %d questions", MaxQuestionsPerStream)
		}
		return Question{}, Outcome{}, fmt.Errorf("add question to %s: %w", stream, err)
	}
	if err := s.takeBackIfErased(ctx, actor.User); err != nil {
		return Question{}, Outcome{}, err
	}
	s.emit(ctx, EventQuestionAsked, stream, actor.User, map[string]any{"question_id": q.ID, "stream": stream, "text": text})
	out := Outcome{Stream: stream, Reply: map[string]any{"question_id": q.ID}}
	if !staff {
		if pts := s.scoreLimited(ctx, actor.User, stream, "question", false, (*Scorer).QuestionAsk); pts > 0 {
			out.Merge(s.award(ctx, actor, stream, Scored{Key: "question:" + q.ID, Source: SourceQuestion, Points: pts, Reason: "Asked about the product"}))
		}
	}
	return q, out, nil
}

// UpvoteQuestion adds actor's vote to a question: once per user, never on their own question (forbidden),
// never on a hidden one (not_found), and not by a user banned from the stream. Upvoting scores the
// question_upvote rule.
func (s *Service) UpvoteQuestion(ctx context.Context, actor Actor, stream, questionID string) (Outcome, error) {
	if _, err := s.participate(ctx, actor, stream, actUpvote); err != nil {
		return Outcome{}, err
	}
	if questionID == "" {
		return Outcome{}, Invalid("question_id", "question_id is required")
	}
	q, err := s.store.UpvoteQuestion(ctx, stream, questionID, actor.User)
	if err != nil {
		return Outcome{}, fmt.Errorf("upvote question %s: %w", questionID, questionError(err, questionID))
	}
	s.emit(ctx, EventQuestionUpvoted, stream, actor.User, map[string]any{"question_id": q.ID, "stream": stream, "votes": q.Votes})
	out := Outcome{Stream: stream, Reply: map[string]any{"votes": q.Votes}}
	if pts := s.scoreLimited(ctx, actor.User, stream, "upvote", false, (*Scorer).QuestionUpvote); pts > 0 {
		out.Merge(s.award(ctx, actor, stream, Scored{
			Key: "upvote:" + q.ID + ":" + actor.User, Source: SourceQuestion, Points: pts, Reason: "Upvoted a question",
		}))
	}
	return out, nil
}

// Question moderation actions of a host (POST …/questions/:qid/{pin,answer,hide}).
const (
	QuestionPin    = "pin"
	QuestionAnswer = "answer"
	QuestionHide   = "hide"
)

// doMarkQuestion is MarkQuestion (act.go), less the admission and the publication of its events.
func (s *Service) doMarkQuestion(ctx context.Context, actor Actor, stream, questionID, action string, on bool) (Question, Outcome, error) {
	if _, err := s.hostStream(ctx, actor, stream); err != nil {
		return Question{}, Outcome{}, err
	}
	var flag string
	switch action {
	case QuestionPin:
		flag = FlagPinned
	case QuestionAnswer:
		flag = FlagAnswered
	case QuestionHide:
		flag = FlagHidden
	default:
		return Question{}, Outcome{}, Invalid("action", "unknown question action %q", action)
	}
	q, changed, err := s.store.SetQuestionFlag(ctx, stream, questionID, flag, on)
	if err != nil {
		return Question{}, Outcome{}, fmt.Errorf("%s question %s: %w", action, questionID, questionError(err, questionID))
	}
	out := Outcome{Stream: stream}
	if !changed || !on {
		return q, out, nil
	}
	switch flag {
	case FlagAnswered:
		s.emit(ctx, EventQuestionAnswered, stream, actor.User, map[string]any{"question_id": q.ID, "stream": stream, "by": actor.User})
	case FlagHidden:
		out.Direct = append(out.Direct, Direct{User: q.User, Frame: Frame{Type: "notice", Data: map[string]any{
			"kind": "question_hidden", "question_id": q.ID, "message": "The host hid your question from the list",
		}}})
	}
	return q, out, nil
}

// Questions returns a stream's question list: for its host (or an admin) every question with hidden ones
// flagged, for anyone else the visible ones; both with the hidden count, ordered by votes then newest first.
// limit <= 0 means all.
func (s *Service) Questions(ctx context.Context, actor Actor, stream string, limit int) (QuestionList, error) {
	st, err := s.Stream(ctx, stream)
	if err != nil {
		return QuestionList{}, err
	}
	return s.questionList(ctx, stream, actor.CanHost(st), limit)
}

// questionList reads and orders a stream's questions; the pinned question is always in the list.
func (s *Service) questionList(ctx context.Context, stream string, withHidden bool, limit int) (QuestionList, error) {
	all, err := s.store.Questions(ctx, stream)
	if err != nil {
		return QuestionList{}, fmt.Errorf("questions of %s: %w", stream, err)
	}
	list := QuestionList{Questions: make([]Question, 0, len(all))}
	for _, q := range all {
		if q.Hidden {
			list.Hidden++
			if !withHidden {
				continue
			}
		}
		list.Questions = append(list.Questions, q)
	}
	list.Total = len(list.Questions)
	slices.SortFunc(list.Questions, compareQuestions)
	if limit > 0 && len(list.Questions) > limit {
		pinned := slices.IndexFunc(list.Questions, func(q Question) bool { return q.Pinned })
		if pinned >= limit {
			list.Questions[limit-1] = list.Questions[pinned]
		}
		list.Questions = list.Questions[:limit]
	}
	return list, nil
}

// compareQuestions orders by votes (most first), then recency (newest first), then id.
func compareQuestions(a, b Question) int {
	return cmp.Or(cmp.Compare(b.Votes, a.Votes), b.At.Compare(a.At), cmp.Compare(b.ID, a.ID))
}

func roomQuestions(ctx context.Context, s *Service, st Stream, w *Welcome) error {
	list, err := s.questionList(ctx, st.ID, false, QuestionListSize)
	if err != nil {
		if errors.Is(err, ErrUnavailable) {
			return nil // a store without questions: the room still opens
		}
		return err
	}
	if list.Total > 0 || list.Hidden > 0 {
		w.Questions = list
	}
	return nil
}

// snapshotQuestions is the coalesced questions frame (top QuestionListSize visible questions), sent once a
// stream has any question.
func snapshotQuestions(ctx context.Context, s *Service, stream string) ([]Frame, error) {
	list, err := s.questionList(ctx, stream, false, QuestionListSize)
	if err != nil {
		return nil, err
	}
	if list.Total == 0 && list.Hidden == 0 {
		return nil, nil
	}
	return []Frame{{Type: "questions", Data: list}}, nil
}

// Question flags that hosts set with SetQuestionFlag.
const (
	FlagPinned   = "pinned"
	FlagAnswered = "answered"
	FlagHidden   = "hidden"
)

// QuestionStore keeps product questions and their upvotes.
type QuestionStore interface {
	// AddQuestion stores q (Votes 0, no flags) on the stream. Atomic: ErrDuplicate if the id is taken,
	// ErrClosed if the stream already holds max questions (hidden ones included).
	AddQuestion(ctx context.Context, stream string, q Question, max int) error
	// Questions returns every question of the stream, hidden ones included, in any order, with Votes and the
	// flags as stored.
	Questions(ctx context.Context, stream string) ([]Question, error)
	// UpvoteQuestion adds user's vote to a question and returns it with the new count. Atomic: ErrNotFound
	// for an unknown or hidden question, ErrForbidden if user asked it, ErrDuplicate if user already voted
	// for it; the check and the count are one step, so concurrent votes never lose or double a count.
	UpvoteQuestion(ctx context.Context, stream, id, user string) (Question, error)
	// SetQuestionFlag sets (on) or clears a flag (FlagPinned, FlagAnswered, FlagHidden) of a question and
	// returns it; changed reports whether the flag changed, so that exactly one caller announces it. Atomic,
	// and a stream has at most one pinned question: pinning one unpins the other, hiding a question unpins
	// it, and pinning a hidden question is ErrInvalid. ErrNotFound for an unknown question.
	SetQuestionFlag(ctx context.Context, stream, id, flag string, on bool) (q Question, changed bool, err error)
}
