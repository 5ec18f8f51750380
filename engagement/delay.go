package engagement

import (
	"context"
	"errors"
	"strings"
	"time"
)

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

// newItemID returns a fresh id for a poll, quiz, coupon or draw: a lowercase ULID.
func (s *Service) newItemID() string { return strings.ToLower(NewEventID(s.now())) }

// notYetOpen is the rejection of an interaction that arrives before its item opened to viewers.
func notYetOpen(what string) *Error { return Errorf(CodeClosed, "%s is not open yet", what) }

// ignoreNotFound turns ErrNotFound into nil: for lookups where "nothing there" is a normal answer.
func ignoreNotFound(err error) error {
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// scorerFor returns the scorer of user's A/B arm.
func (s *Service) scorerFor(user string) *Scorer { return s.scorer.ForUser(user) }

// unixMS returns t in Unix milliseconds, 0 for the zero time.
func unixMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}
