package engagement

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/time/rate"
)

// MaxCommentRunes is the longest comment, counted in runes after trimming.
const MaxCommentRunes = 200

// Comment is one chat message as viewers see it.
type Comment struct {
	ID   string    `json:"id"`
	User string    `json:"user"`
	Name string    `json:"name"`
	Role string    `json:"role,omitempty"`
	Text string    `json:"text"`
	At   time.Time `json:"at"`
}

// CleanText trims text and checks it is 1..maxRunes runes of valid UTF-8 with no control characters
// other than newline; field names the input in the error.
func CleanText(field, text string, maxRunes int) (string, error) {
	if !utf8.ValidString(text) {
		return "", Invalid(field, "%s is not valid UTF-8", field)
	}
	text = strings.TrimSpace(text)
	n := utf8.RuneCountInString(text)
	if n == 0 {
		return "", Invalid(field, "%s is empty", field)
	}
	if n > maxRunes {
		return "", Invalid(field, "%s is longer than %d characters", field, maxRunes)
	}
	if strings.IndexFunc(text, func(r rune) bool { return unicode.IsControl(r) && r != '\n' }) >= 0 {
		return "", Invalid(field, "%s contains control characters", field)
	}
	return text, nil
}

// liveStream loads a stream that accepts interactions.
func (s *Service) liveStream(ctx context.Context, id string) (Stream, error) {
	st, err := s.Stream(ctx, id)
	if err != nil {
		return Stream{}, err
	}
	if !st.Live() {
		return Stream{}, Errorf(CodeClosed, "stream %q has ended", id)
	}
	return st, nil
}

// commentLimiter returns the per-user comment limiter of a stream on this node.
func (s *Service) commentLimiter(stream, user string) *rate.Limiter {
	key := stream + "\x00" + user
	s.limMu.Lock()
	defer s.limMu.Unlock()
	l, ok := s.limiters[key]
	if !ok {
		if len(s.limiters) > 100_000 { // bounded: forget everyone rather than grow without end
			clear(s.limiters)
		}
		l = rate.NewLimiter(s.cfg.CommentRate, s.cfg.CommentBurst)
		s.limiters[key] = l
	}
	return l
}

// PostComment validates and posts a comment from actor on a stream.
func (s *Service) PostComment(ctx context.Context, actor Actor, stream, text string) (Outcome, error) {
	text, err := CleanText("text", text, MaxCommentRunes)
	if err != nil {
		return Outcome{}, err
	}
	st, err := s.liveStream(ctx, stream)
	if err != nil {
		return Outcome{}, err
	}
	mod, err := s.store.Moderation(ctx, stream)
	if err != nil {
		return Outcome{}, fmt.Errorf("read moderation of %s: %w", stream, err)
	}
	now := s.now()
	staff := actor.CanHost(st)
	if !staff {
		if err := mod.check(actor.User, now); err != nil {
			return Outcome{}, err
		}
		if w := mod.bannedWord(text); w != "" {
			return Outcome{}, Invalid("text", "your comment contains a blocked word")
		}
		if !s.commentLimiter(stream, actor.User).Allow() {
			return Outcome{}, Errorf(CodeRateLimited, "you are commenting too fast")
		}
		if mod.SlowModeS > 0 {
			ok, wait, err := s.store.TakeSlot(ctx, stream, actor.User, time.Duration(mod.SlowModeS)*time.Second, now)
			if err != nil {
				return Outcome{}, fmt.Errorf("slow mode of %s: %w", stream, err)
			}
			if !ok {
				return Outcome{}, Errorf(CodeRateLimited, "slow mode: wait %d s", int(wait.Seconds()+0.999))
			}
		}
	}
	c := Comment{ID: NewEventID(now), User: actor.User, Name: actor.Name, Text: text, At: now.UTC()}
	if staff {
		c.Role = actor.Role
	}
	if err := s.store.AddComment(ctx, stream, c, s.cfg.RecentComments); err != nil {
		return Outcome{}, fmt.Errorf("add comment to %s: %w", stream, err)
	}
	s.emit(ctx, EventCommentPosted, stream, actor.User, map[string]any{
		"comment_id": c.ID, "stream": stream, "length": utf8.RuneCountInString(text), "text": text,
	})
	s.noteComment(ctx, actor, stream, text) // after comment.posted: a keyword draw entry follows its cause
	out := Outcome{
		Stream:    stream,
		Broadcast: []Frame{{Type: "comment", Data: c}},
		Reply:     map[string]any{"comment_id": c.ID},
		Sampled:   !staff, // the host's words always reach everyone
		From:      actor.User,
	}
	if !staff {
		if pts := s.scoreLimited(ctx, actor.User, stream, SourceComment, false, (*Scorer).Comment); pts > 0 {
			out.Merge(s.award(ctx, actor, stream, Scored{Key: "comment:" + c.ID, Source: SourceComment, Points: pts, Reason: "Joined the chat"}))
		}
	}
	return out, nil
}

// RecentComments returns what a late joiner sees, oldest first.
func (s *Service) RecentComments(ctx context.Context, stream string) ([]Comment, error) {
	return s.store.RecentComments(ctx, stream, s.cfg.RecentComments)
}
