package engagement

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Stream statuses.
const (
	StatusLive  = "live"
	StatusEnded = "ended"
)

// Stream is one live show.
type Stream struct {
	ID        string    `json:"id"`
	Title     string    `json:"title"`
	Host      string    `json:"host"`
	Status    string    `json:"status"`
	StartedAt time.Time `json:"started_at"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
	// VideoDelayMS is how far the video viewers watch lags the host; interactions open that much later.
	VideoDelayMS int64 `json:"video_delay_ms"`
}

// Live reports whether the stream accepts interactions.
func (s Stream) Live() bool { return s.Status == StatusLive }

// StreamSpec is what a host gives to create or change a stream.
type StreamSpec struct {
	ID           string `json:"id"`
	Title        string `json:"title"`
	VideoDelayMS *int64 `json:"video_delay_ms"`
}

// maxVideoDelay bounds video_delay_ms: players buffer seconds, not minutes.
const maxVideoDelay = 60 * time.Second

var streamIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// ValidStreamID reports whether id can name a stream (it appears in URLs and Redis keys).
func ValidStreamID(id string) bool { return streamIDPattern.MatchString(id) }

func (sp StreamSpec) validate(creating bool) error {
	if creating && sp.ID != "" && !ValidStreamID(sp.ID) {
		return Invalid("id", "id must be 1-63 lowercase letters, digits or dashes")
	}
	title := strings.TrimSpace(sp.Title)
	if creating && title == "" {
		return Invalid("title", "title is required")
	}
	if !utf8.ValidString(sp.Title) || utf8.RuneCountInString(title) > 120 {
		return Invalid("title", "title must be valid text of at most 120 characters")
	}
	if sp.VideoDelayMS != nil && (*sp.VideoDelayMS < 0 || *sp.VideoDelayMS > maxVideoDelay.Milliseconds()) {
		return Invalid("video_delay_ms", "video_delay_ms must be between 0 and %d", maxVideoDelay.Milliseconds())
	}
	return nil
}

// doCreateStream is CreateStream (act.go), less the admission and the publication of its events.
func (s *Service) doCreateStream(ctx context.Context, actor Actor, sp StreamSpec) (Stream, error) {
	if actor.Role != RoleHost && actor.Role != RoleAdmin {
		return Stream{}, Errorf(CodeForbidden, "only hosts create streams")
	}
	if err := sp.validate(true); err != nil {
		return Stream{}, err
	}
	id := sp.ID
	if id == "" {
		id = strings.ToLower(NewEventID(s.now()))
	}
	if actor.Role == RoleHost && actor.Stream != "" && actor.Stream != id {
		return Stream{}, Errorf(CodeForbidden, "this host token is for stream %q", actor.Stream)
	}
	st := Stream{ID: id, Title: strings.TrimSpace(sp.Title), Host: actor.User, Status: StatusLive, StartedAt: s.now().UTC()}
	if sp.VideoDelayMS != nil {
		st.VideoDelayMS = *sp.VideoDelayMS
	}
	if err := s.store.CreateStream(ctx, st); err != nil {
		return Stream{}, fmt.Errorf("create stream %s: %w", id, streamError(err, id))
	}
	s.emit(ctx, EventStreamStarted, st.ID, actor.User, map[string]any{"stream": st.ID, "title": st.Title, "host": st.Host})
	return st, nil
}

// streamError words a StreamStore rejection of stream id for the user; other errors pass unchanged.
func streamError(err error, id string) error {
	if !bare(err) {
		return err
	}
	switch {
	case errors.Is(err, ErrNotFound):
		return Errorf(CodeNotFound, "no stream %q", id)
	case errors.Is(err, ErrDuplicate):
		return Errorf(CodeDuplicate, "stream %q exists", id)
	}
	return err
}

// Stream returns a stream by id.
func (s *Service) Stream(ctx context.Context, id string) (Stream, error) {
	if !ValidStreamID(id) {
		return Stream{}, Errorf(CodeNotFound, "no stream %q", id)
	}
	st, err := s.store.Stream(ctx, id)
	if err != nil {
		return Stream{}, fmt.Errorf("get stream %s: %w", id, streamError(err, id))
	}
	return st, nil
}

// hostStream loads a stream and checks that actor may run it.
func (s *Service) hostStream(ctx context.Context, actor Actor, id string) (Stream, error) {
	st, err := s.Stream(ctx, id)
	if err != nil {
		return Stream{}, err
	}
	if !actor.CanHost(st) {
		return Stream{}, Errorf(CodeForbidden, "you do not host stream %q", id)
	}
	return st, nil
}

// UpdateStream changes a stream's title or video delay.
func (s *Service) UpdateStream(ctx context.Context, actor Actor, id string, sp StreamSpec) (Stream, error) {
	if _, err := s.hostStream(ctx, actor, id); err != nil {
		return Stream{}, err
	}
	if err := sp.validate(false); err != nil {
		return Stream{}, err
	}
	st, err := s.store.UpdateStream(ctx, id, func(st *Stream) error {
		if t := strings.TrimSpace(sp.Title); t != "" {
			st.Title = t
		}
		if sp.VideoDelayMS != nil {
			st.VideoDelayMS = *sp.VideoDelayMS
		}
		return nil
	})
	if err != nil {
		return Stream{}, fmt.Errorf("update stream %s: %w", id, streamError(err, id))
	}
	return st, nil
}

// doEndStream is EndStream (act.go), less the admission and the publication of its events.
func (s *Service) doEndStream(ctx context.Context, actor Actor, id string) (Stream, Outcome, error) {
	before, err := s.hostStream(ctx, actor, id)
	if err != nil {
		return Stream{}, Outcome{}, err
	}
	out := Outcome{Stream: id}
	if before.Live() {
		// What is still open closes with the show, before it ends: the open poll gets its result and the open
		// quiz question its reveal (and its correct answers their points), which no tick would do once the
		// hubs stop. They go into the replay's timeline now, inside the show: recorded after the end is
		// stamped they would lie past its duration.
		closed := s.closeOpenItems(ctx, id)
		s.record(ctx, closed)
		out.Merge(closed)
	}
	ended := false
	st, err := s.store.UpdateStream(ctx, id, func(st *Stream) error {
		ended = st.Live()
		if ended {
			st.Status = StatusEnded
			st.EndedAt = s.now().UTC()
		}
		return nil
	})
	if err != nil {
		return Stream{}, Outcome{}, fmt.Errorf("end stream %s: %w", id, streamError(err, id))
	}
	if ended {
		s.emit(ctx, EventStreamEnded, id, actor.User, map[string]any{"stream": id, "duration_s": int64(st.EndedAt.Sub(st.StartedAt).Seconds())})
		end := Frame{Type: "stream.ended", Data: map[string]any{"id": id}}
		out.Broadcast = append(out.Broadcast, end)
		s.record(ctx, Outcome{Stream: id, Broadcast: []Frame{end}})
	}
	return st, out, nil
}

// closeOpenItems closes the stream's open poll and reveals its running quiz question. Failures are logged:
// the stream ends regardless.
func (s *Service) closeOpenItems(ctx context.Context, stream string) Outcome {
	out := Outcome{Stream: stream}
	if p, ok, err := s.currentOpenPoll(ctx, stream); err != nil {
		s.log.Error("close the open poll of an ending stream", "stream", stream, "err", err)
	} else if ok {
		if _, o, err := s.closePoll(ctx, stream, p.ID, ""); err != nil {
			s.log.Error("close the open poll of an ending stream", "stream", stream, "err", err)
		} else {
			out.Merge(o)
		}
	}
	q, err := s.store.ActiveQuiz(ctx, stream)
	if err = ignoreNotFound(err); err != nil {
		s.log.Error("reveal the open quiz question of an ending stream", "stream", stream, "err", err)
	} else if q.ID != "" && q.Status == QuizRunning && q.Current >= 0 && !q.Revealed {
		if o, err := s.revealQuestion(ctx, stream, q.ID, q.Current); err != nil {
			s.log.Error("reveal the open quiz question of an ending stream", "stream", stream, "err", err)
		} else {
			out.Merge(o)
		}
	}
	return out
}

// StreamStore keeps the streams. A record lives Retention (store.go, "Lifetimes") after it was created, after
// an update of it while live (the one that ends it included), and after RenewStream; an expired record is not
// found, and its id may be taken again.
type StreamStore interface {
	// CreateStream stores st; ErrDuplicate if the id is taken. Atomic.
	CreateStream(ctx context.Context, st Stream) error
	// Stream returns the stream or ErrNotFound.
	Stream(ctx context.Context, id string) (Stream, error)
	// UpdateStream applies fn to the stored stream and stores the result. Atomic: fn may run more than once
	// and must not have side effects. It returns what was stored, or fn's error unchanged.
	UpdateStream(ctx context.Context, id string, fn func(*Stream) error) (Stream, error)
	// RenewStream makes a live stream's record live Retention from now; an ended or unknown one is left as
	// it is. Joins call it, so a show that viewers still join never loses its record.
	RenewStream(ctx context.Context, id string) error
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

// Video delay: viewers watch the stream VideoDelayMS behind the host. Whatever a host opens (a poll, a quiz
// question, a coupon drop, a draw) is announced that much later (Outcome.Delay) and opens to viewers at
// OpensAt = now + delay; its deadline or expiry shifts by the same amount, and a vote, answer or claim that
// arrives before OpensAt is refused as closed (not yet open). Results decided by time (a poll closing at its
// duration, a quiz deadline passing) are computed on the shifted clock and so need no further delay.

// videoDelay is the stream's video delay as a duration.
func (st Stream) videoDelay() time.Duration { return time.Duration(st.VideoDelayMS) * time.Millisecond }

// runStream loads a live stream that actor hosts: the check every host tool starts with.
func (s *Service) runStream(ctx context.Context, actor Actor, id string) (Stream, error) {
	st, err := s.hostStream(ctx, actor, id)
	if err != nil {
		return Stream{}, err
	}
	if !st.Live() {
		return Stream{}, Errorf(CodeClosed, "stream %q has ended", id)
	}
	return st, nil
}
