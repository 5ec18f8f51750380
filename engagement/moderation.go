package engagement

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Moderation is a stream's chat rules, set by its host.
type Moderation struct {
	SlowModeS   int                  `json:"slow_mode_s"`
	BannedWords []string             `json:"banned_words"`
	Muted       map[string]time.Time `json:"muted"`  // user → until
	Banned      map[string]bool      `json:"banned"` // user → banned for the stream
}

// check rejects a muted or banned user.
func (m Moderation) check(user string, now time.Time) error {
	if m.Banned[user] {
		return Errorf(CodeForbidden, "you are banned from this stream's chat")
	}
	if until, ok := m.Muted[user]; ok && now.Before(until) {
		return Errorf(CodeForbidden, "you are muted for %d s", int(until.Sub(now).Seconds()+0.999))
	}
	return nil
}

// bannedWord returns the first banned word text contains (case-insensitive), or "".
func (m Moderation) bannedWord(text string) string {
	if len(m.BannedWords) == 0 {
		return ""
	}
	lower := strings.ToLower(text)
	for _, w := range m.BannedWords {
		if w != "" && strings.Contains(lower, w) {
			return w
		}
	}
	return ""
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

// Moderate applies a host's moderation action.
func (s *Service) Moderate(ctx context.Context, actor Actor, stream string, a ModerationAction) (Outcome, error) {
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
				if w = strings.ToLower(strings.TrimSpace(w)); w != "" && !slices.Contains(words, w) {
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
		out.Direct = append(out.Direct, Direct{User: a.User, Frame: Frame{Type: "notice", Data: map[string]any{"kind": "banned", "message": "You can no longer chat in this stream"}}})
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
