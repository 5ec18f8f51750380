package engagement

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Poll limits.
const (
	MinPollOptions     = 2
	MaxPollOptions     = 10
	MaxPollOptionRunes = 80
	MaxPollQuestion    = 200
	MinPollDuration    = 5 * time.Second
	MaxPollDuration    = time.Hour
)

// Poll statuses.
const (
	PollOpen   = "open"
	PollClosed = "closed"
)

// Poll is a question viewers vote on, with its running counts.
type Poll struct {
	ID       string   `json:"id"`
	Question string   `json:"question"`
	Options  []string `json:"options"`
	Counts   []int64  `json:"counts"`
	Total    int64    `json:"total"`
	Status   string   `json:"status"`
	// DurationS is how long the poll stays open to viewers; 0 means until the host closes it.
	DurationS int `json:"duration_s"`
	// OpensAt is when viewers see the poll (now plus the stream's video delay); votes before it are refused.
	OpensAt time.Time `json:"opens_at"`
	// ClosesAt (zero for a manual poll) and ClosesMS are when the poll closes by itself.
	ClosesAt time.Time `json:"closes_at,omitzero"`
	ClosesMS int64     `json:"closes_ms,omitempty"`
	ClosedAt time.Time `json:"closed_at,omitzero"`
}

// Winner returns the index of the option with the most votes, the lowest such index on a tie, or -1 if
// nobody voted.
func (p Poll) Winner() int {
	winner := -1
	var best int64
	for i, n := range p.Counts {
		if n > best {
			winner, best = i, n
		}
	}
	return winner
}

// acceptsVotes reports whether a vote at now would be counted (status, OpensAt and ClosesAt): nil, ErrClosed
// or ErrNotOpenYet.
func (p Poll) acceptsVotes(now time.Time) error {
	switch {
	case p.Status != PollOpen:
		return ErrClosed
	case now.Before(p.OpensAt):
		return ErrNotOpenYet
	case !p.ClosesAt.IsZero() && !now.Before(p.ClosesAt):
		return ErrClosed
	}
	return nil
}

// pollError words a PollStore rejection about poll id for the user; other errors pass unchanged.
func pollError(err error, id string) error {
	if !bare(err) {
		return err
	}
	switch {
	case errors.Is(err, ErrNotFound):
		return Errorf(CodeNotFound, "no poll %q", id)
	case errors.Is(err, ErrNotOpenYet):
		return notYetOpen("poll")
	case errors.Is(err, ErrClosed):
		return Errorf(CodeClosed, "poll is closed")
	case errors.Is(err, ErrDuplicate):
		return Errorf(CodeDuplicate, "you already voted in this poll")
	}
	return err
}

// PollSpec is what a host gives to open a poll.
type PollSpec struct {
	Question string   `json:"question"`
	Options  []string `json:"options"`
	// DurationS is 0 (the host closes it) or 5..3600 seconds.
	DurationS int `json:"duration_s"`
}

func (sp PollSpec) clean() (PollSpec, error) {
	q, err := CleanText("question", sp.Question, MaxPollQuestion)
	if err != nil {
		return sp, err
	}
	if len(sp.Options) < MinPollOptions || len(sp.Options) > MaxPollOptions {
		return sp, Invalid("options", "a poll has %d..%d options", MinPollOptions, MaxPollOptions)
	}
	opts := make([]string, len(sp.Options))
	for i, o := range sp.Options {
		if opts[i], err = CleanText("options", o, MaxPollOptionRunes); err != nil {
			return sp, Invalid("options", "option %d: %s", i, MessageOf(err))
		}
	}
	d := time.Duration(sp.DurationS) * time.Second
	if sp.DurationS != 0 && (d < MinPollDuration || d > MaxPollDuration) {
		return sp, Invalid("duration_s", "duration_s is 0 (close by hand) or %d..%d", int(MinPollDuration.Seconds()), int(MaxPollDuration.Seconds()))
	}
	return PollSpec{Question: q, Options: opts, DurationS: sp.DurationS}, nil
}

// PollVote is the poll.vote client action.
type PollVote struct {
	PollID string `json:"poll_id"`
	Option int    `json:"option"`
}

// FrameType implements Action.
func (PollVote) FrameType() string { return "poll.vote" }

func (a *PollVote) handle(ctx context.Context, s *Service, actor Actor, stream string) (Outcome, error) {
	return s.Vote(ctx, actor, stream, a.PollID, a.Option)
}

// doOpenPoll is OpenPoll (act.go), less the admission and the publication of its events.
func (s *Service) doOpenPoll(ctx context.Context, actor Actor, stream string, spec PollSpec) (Poll, Outcome, error) {
	st, err := s.runStream(ctx, actor, stream)
	if err != nil {
		return Poll{}, Outcome{}, err
	}
	if spec, err = spec.clean(); err != nil {
		return Poll{}, Outcome{}, err
	}
	out := Outcome{Stream: stream}
	o, err := tickPoll(ctx, s, stream)
	if err != nil {
		return Poll{}, Outcome{}, err
	}
	out.Merge(o)

	now := s.now()
	p := Poll{
		ID:        s.newItemID(),
		Question:  spec.Question,
		Options:   spec.Options,
		Counts:    make([]int64, len(spec.Options)),
		Status:    PollOpen,
		DurationS: spec.DurationS,
		OpensAt:   now.Add(st.videoDelay()).UTC(),
	}
	if spec.DurationS > 0 {
		p.ClosesAt = p.OpensAt.Add(time.Duration(spec.DurationS) * time.Second)
		p.ClosesMS = p.ClosesAt.UnixMilli()
	}
	if err := s.store.OpenPoll(ctx, stream, p); err != nil {
		if errors.Is(err, ErrDuplicate) {
			return Poll{}, Outcome{}, Invalid("poll", "another poll is still open: close it first")
		}
		return Poll{}, Outcome{}, fmt.Errorf("open poll on %s: %w", stream, err)
	}
	s.emit(ctx, EventPollOpened, stream, actor.User, map[string]any{
		"poll_id": p.ID, "stream": stream, "question": p.Question, "options": p.Options, "duration_s": p.DurationS,
	})
	out.Broadcast = append(out.Broadcast, Frame{Type: "poll.opened", Data: map[string]any{"poll": p}})
	out.Delay = st.videoDelay()
	s.record(ctx, out)
	return p, out, nil
}

// doClosePoll is ClosePoll (act.go), less the admission and the publication of its events.
func (s *Service) doClosePoll(ctx context.Context, actor Actor, stream, pollID string) (Poll, Outcome, error) {
	if _, err := s.hostStream(ctx, actor, stream); err != nil {
		return Poll{}, Outcome{}, err
	}
	p, out, err := s.closePoll(ctx, stream, pollID, actor.User)
	if err != nil {
		return Poll{}, Outcome{}, err
	}
	s.record(ctx, out)
	return p, out, nil
}

// closePoll closes a poll and, if this call closed it, announces the result. by is who closed it ("" for time).
func (s *Service) closePoll(ctx context.Context, stream, pollID, by string) (Poll, Outcome, error) {
	p, closed, err := s.store.ClosePoll(ctx, stream, pollID, s.now().UTC())
	if err != nil {
		return Poll{}, Outcome{}, fmt.Errorf("close poll %s: %w", pollID, pollError(err, pollID))
	}
	out := Outcome{Stream: stream}
	if !closed {
		return p, out, nil
	}
	winner := p.Winner()
	s.emit(ctx, EventPollClosed, stream, by, map[string]any{
		"poll_id": p.ID, "stream": stream, "counts": p.Counts, "total": p.Total, "winner": winner,
	})
	out.Broadcast = []Frame{{Type: "poll.closed", Data: map[string]any{
		"poll_id": p.ID, "counts": p.Counts, "total": p.Total, "winner": winner,
	}}}
	return p, out, nil
}

// Poll returns a poll of a stream.
func (s *Service) Poll(ctx context.Context, stream, pollID string) (Poll, error) {
	p, err := s.store.Poll(ctx, stream, pollID)
	if err != nil {
		return Poll{}, fmt.Errorf("get poll %s: %w", pollID, pollError(err, pollID))
	}
	return p, nil
}

// Vote casts actor's vote for option in a poll: once per user per poll.
func (s *Service) Vote(ctx context.Context, actor Actor, stream, pollID string, option int) (Outcome, error) {
	if _, err := s.participate(ctx, actor, stream, actVote); err != nil {
		return Outcome{}, err
	}
	if pollID == "" {
		return Outcome{}, Invalid("poll_id", "poll_id is required")
	}
	if option < 0 {
		return Outcome{}, Invalid("option", "option must be an index from 0")
	}
	if _, err := s.store.VotePoll(ctx, stream, pollID, actor.User, option, s.now().UTC()); err != nil {
		if bare(err) && errors.Is(err, ErrInvalid) { // the option is out of range: say which are valid
			if p, perr := s.store.Poll(ctx, stream, pollID); perr == nil {
				err = Invalid("option", "option must be 0..%d", len(p.Options)-1)
			}
		}
		return Outcome{}, fmt.Errorf("vote in poll %s: %w", pollID, pollError(err, pollID))
	}
	s.emit(ctx, EventPollVoted, stream, actor.User, map[string]any{"poll_id": pollID, "stream": stream, "option": option})
	out := Outcome{Stream: stream}
	out.Merge(s.award(ctx, actor, stream, Scored{
		Key: "poll:" + pollID + ":" + actor.User, Source: SourcePoll, Points: s.scorerFor(actor.User).PollVote(false), Reason: "Voted in a poll",
	}))
	return out, nil
}

// currentOpenPoll returns the stream's open poll if viewers can see it yet.
func (s *Service) currentOpenPoll(ctx context.Context, stream string) (Poll, bool, error) {
	p, err := s.store.CurrentPoll(ctx, stream)
	if err != nil {
		return Poll{}, false, ignoreNotFound(err)
	}
	return p, p.Status == PollOpen && !s.now().Before(p.OpensAt), nil
}

func roomPoll(ctx context.Context, s *Service, st Stream, w *Welcome) error {
	p, ok, err := s.currentOpenPoll(ctx, st.ID)
	if err != nil {
		return fmt.Errorf("current poll of %s: %w", st.ID, err)
	}
	if ok {
		w.Poll = p
	}
	return nil
}

// tickPoll closes the stream's timed poll once its time is up.
func tickPoll(ctx context.Context, s *Service, stream string) (Outcome, error) {
	p, err := s.store.CurrentPoll(ctx, stream)
	if err != nil {
		if err = ignoreNotFound(err); err != nil {
			return Outcome{}, fmt.Errorf("current poll of %s: %w", stream, err)
		}
		return Outcome{}, nil
	}
	if p.Status != PollOpen || p.ClosesAt.IsZero() || s.now().Before(p.ClosesAt) {
		return Outcome{}, nil
	}
	_, out, err := s.closePoll(ctx, stream, p.ID, "")
	return out, err
}

// snapshotPoll is the coalesced poll.tally of the open poll.
func snapshotPoll(ctx context.Context, s *Service, stream string) ([]Frame, error) {
	p, ok, err := s.currentOpenPoll(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("current poll of %s: %w", stream, err)
	}
	if !ok {
		return nil, nil
	}
	return []Frame{{Type: "poll.tally", Data: map[string]any{"poll_id": p.ID, "counts": p.Counts, "total": p.Total}}}, nil
}

// PollStore keeps polls and their votes. A stream has at most one open poll.
type PollStore interface {
	// OpenPoll stores p (status open, counts zero) as the stream's current poll. If the current poll is still
	// open it changes nothing and returns ErrDuplicate. Atomic.
	OpenPoll(ctx context.Context, stream string, p Poll) error
	// Poll returns a poll with its counts, or ErrNotFound.
	Poll(ctx context.Context, stream, id string) (Poll, error)
	// CurrentPoll returns the poll opened last on the stream (open or closed), or ErrNotFound.
	CurrentPoll(ctx context.Context, stream string) (Poll, error)
	// VotePoll records user's vote for option and returns the poll with the new counts. Atomic: it returns
	// ErrNotFound for an unknown poll, ErrClosed if the poll is closed, now is before OpensAt or not before a
	// non-zero ClosesAt, ErrInvalid if option is out of range, and ErrDuplicate if user already voted; the
	// check and the count are one step, so concurrent votes never lose or double a count. A vote also marks
	// user as a voter of the stream (HasVoted).
	VotePoll(ctx context.Context, stream, id, user string, option int, now time.Time) (Poll, error)
	// ClosePoll marks the poll closed at now and returns it with its final counts; closed reports whether
	// this call closed it (false if it was already closed), so that exactly one caller announces it. Atomic.
	ClosePoll(ctx context.Context, stream, id string, now time.Time) (p Poll, closed bool, err error)
	// HasVoted reports whether user voted in any poll of the stream.
	HasVoted(ctx context.Context, stream, user string) (bool, error)
}
