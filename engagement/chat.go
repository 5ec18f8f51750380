package engagement

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
	"golang.org/x/text/width"
	"golang.org/x/time/rate"
)

// ChatStore keeps recent comments and the moderation settings of each stream.
type ChatStore interface {
	// AddComment appends c to the stream's recent comments, keeping the newest keep.
	AddComment(ctx context.Context, stream string, c Comment, keep int) error
	// RecentComments returns up to n recent comments, oldest first.
	RecentComments(ctx context.Context, stream string, n int) ([]Comment, error)
	// RemoveComment deletes a recent comment and marks the id removed (so a late joiner never sees it);
	// it reports whether the comment was still in the recent list. Removing twice is not an error.
	RemoveComment(ctx context.Context, stream, id string) (bool, error)
	// Moderation returns the stream's moderation settings (zero value if none were set).
	Moderation(ctx context.Context, stream string) (Moderation, error)
	// UpdateModeration applies fn to the moderation settings and stores them. Atomic, as UpdateStream.
	UpdateModeration(ctx context.Context, stream string, fn func(*Moderation) error) (Moderation, error)
	// TakeSlot is the slow-mode gate: if user last took a slot in stream less than every ago it returns the
	// time left and false; otherwise it records now and returns true. Atomic.
	TakeSlot(ctx context.Context, stream, user string, every time.Duration, now time.Time) (bool, time.Duration, error)
}

// MaxCommentRunes is the longest comment, counted in runes after trimming.
const MaxCommentRunes = 200

// CommentSend is the comment.send client action: post a chat comment.
type CommentSend struct {
	Text string `json:"text"`
}

// FrameType implements Action.
func (CommentSend) FrameType() string { return "comment.send" }

func (a *CommentSend) handle(ctx context.Context, s *Service, actor Actor, stream string) (Outcome, error) {
	return s.PostComment(ctx, actor, stream, a.Text)
}

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

// PostComment validates and posts a comment from actor on a stream. The participation policy (policy.go)
// decides first: a banned or muted user is refused whatever they wrote.
func (s *Service) PostComment(ctx context.Context, actor Actor, stream, text string) (Outcome, error) {
	p, err := s.participate(ctx, actor, stream, actComment)
	if err != nil {
		return Outcome{}, err
	}
	ctx = withParticipant(ctx, p) // noteComment asks the policy about a keyword draw entry
	text, err = CleanText("text", text, MaxCommentRunes)
	if err != nil {
		return Outcome{}, err
	}
	mod := p.mod
	now := s.now()
	staff := p.staff
	if !staff {
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
	if err := s.takeBackIfErased(ctx, actor.User); err != nil {
		return Outcome{}, err
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
	s.record(ctx, out)
	return out, nil
}

// RecentComments returns what a late joiner sees, oldest first.
func (s *Service) RecentComments(ctx context.Context, stream string) ([]Comment, error) {
	return s.store.RecentComments(ctx, stream, s.cfg.RecentComments)
}

// Moderation is a stream's chat rules, set by its host. A ban stops every kind of participation in the
// stream, a mute only comments and questions (the participation policy, policy.go, applies both).
type Moderation struct {
	SlowModeS   int                  `json:"slow_mode_s"`
	BannedWords []string             `json:"banned_words"`
	Muted       map[string]time.Time `json:"muted"`  // user → until
	Banned      map[string]bool      `json:"banned"` // user → banned for the stream
}

// bannedWord returns the first banned word text contains, or "". Both are compared in their matchForm, so
// "ＦＲＥＥ", "f\u200bree" and "Free" all contain "free".
func (m Moderation) bannedWord(text string) string {
	if len(m.BannedWords) == 0 {
		return ""
	}
	norm := matchForm(text)
	for _, w := range m.BannedWords {
		if f := matchForm(w); f != "" && strings.Contains(norm, f) {
			return w
		}
	}
	return ""
}

// matchForm is the form in which banned words are matched: NFKC (full-width letters and digits become
// ASCII, compatibility characters such as ﬁ or ① their plain forms), then the remaining wide and narrow
// forms folded (golang.org/x/text/width), invisible format characters dropped (zero-width space and joiners,
// word joiner, soft hyphen, byte-order mark: category Cf), and lower case.
func matchForm(s string) string {
	s = width.Fold.String(norm.NFKC.String(s))
	s = strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Cf, r) {
			return -1
		}
		return r
	}, s)
	return strings.ToLower(s)
}

// Moderation actions a host can take.
const (
	ModRemoveComment = "remove_comment"
	ModMute          = "mute"
	ModUnmute        = "unmute"
	ModBan           = "ban"
	ModUnban         = "unban"
	ModSlowMode      = "slow_mode"
	ModBannedWords   = "banned_words"
)

// ModerationAction is one host moderation request.
type ModerationAction struct {
	Action    string   `json:"action"`
	CommentID string   `json:"comment_id"`
	User      string   `json:"user"`
	DurationS int      `json:"duration_s"`
	Seconds   int      `json:"seconds"`
	Words     []string `json:"words"`
}

// doModerate is Moderate (act.go), less the admission and the publication of its events.
func (s *Service) doModerate(ctx context.Context, actor Actor, stream string, a ModerationAction) (Outcome, error) {
	if _, err := s.hostStream(ctx, actor, stream); err != nil {
		return Outcome{}, err
	}
	out := Outcome{Stream: stream}
	now := s.now()
	switch a.Action {
	case ModRemoveComment:
		if a.CommentID == "" {
			return out, Invalid("comment_id", "comment_id is required")
		}
		if _, err := s.store.RemoveComment(ctx, stream, a.CommentID); err != nil {
			return out, fmt.Errorf("remove comment %s: %w", a.CommentID, err)
		}
		s.emit(ctx, EventCommentRemoved, stream, actor.User, map[string]any{"comment_id": a.CommentID, "stream": stream, "by": actor.User})
		out.Broadcast = append(out.Broadcast, Frame{Type: "comment.removed", Data: map[string]any{"id": a.CommentID}})
		s.record(ctx, out)
		return out, nil
	case ModMute, ModUnmute, ModBan, ModUnban:
		if a.User == "" {
			return out, Invalid("user", "user is required")
		}
		if a.Action == ModMute && (a.DurationS < 1 || a.DurationS > 86400) {
			return out, Invalid("duration_s", "duration_s must be 1..86400")
		}
	case ModSlowMode:
		if a.Seconds < 0 || a.Seconds > 3600 {
			return out, Invalid("seconds", "seconds must be 0..3600")
		}
	case ModBannedWords:
		if len(a.Words) > 500 {
			return out, Invalid("words", "at most 500 banned words")
		}
	default:
		return out, Invalid("action", "unknown moderation action %q", a.Action)
	}
	mod, err := s.store.UpdateModeration(ctx, stream, func(m *Moderation) error {
		switch a.Action {
		case ModMute:
			if m.Muted == nil {
				m.Muted = map[string]time.Time{}
			}
			m.Muted[a.User] = now.Add(time.Duration(a.DurationS) * time.Second)
		case ModUnmute:
			delete(m.Muted, a.User)
		case ModBan:
			if m.Banned == nil {
				m.Banned = map[string]bool{}
			}
			m.Banned[a.User] = true
		case ModUnban:
			delete(m.Banned, a.User)
		case ModSlowMode:
			m.SlowModeS = a.Seconds
		case ModBannedWords:
			words := make([]string, 0, len(a.Words))
			for _, w := range a.Words {
				if w = matchForm(strings.TrimSpace(w)); w != "" && !slices.Contains(words, w) {
					words = append(words, w)
				}
			}
			m.BannedWords = words
		}
		for u, until := range m.Muted { // expired mutes need not be kept
			if !now.Before(until) {
				delete(m.Muted, u)
			}
		}
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("moderate %s: %w", stream, err)
	}
	switch a.Action {
	case ModMute:
		out.Direct = append(out.Direct, Direct{User: a.User, Frame: Frame{Type: "notice", Data: map[string]any{"kind": "muted", "message": fmt.Sprintf("You are muted for %d s", a.DurationS), "until": mod.Muted[a.User]}}})
	case ModBan:
		out.Direct = append(out.Direct, Direct{User: a.User, Frame: Frame{Type: "notice", Data: map[string]any{"kind": "banned", "message": "You can no longer take part in this stream"}}})
	case ModSlowMode:
		out.Broadcast = append(out.Broadcast, Frame{Type: "notice", Data: map[string]any{"kind": "slow_mode", "seconds": mod.SlowModeS, "message": slowModeMessage(mod.SlowModeS)}})
	}
	return out, nil
}

func slowModeMessage(s int) string {
	if s == 0 {
		return "Slow mode is off"
	}
	return fmt.Sprintf("Slow mode: one comment every %d s", s)
}

// ModerationOf returns a stream's moderation settings for its host.
func (s *Service) ModerationOf(ctx context.Context, actor Actor, stream string) (Moderation, error) {
	if _, err := s.hostStream(ctx, actor, stream); err != nil {
		return Moderation{}, err
	}
	return s.store.Moderation(ctx, stream)
}
