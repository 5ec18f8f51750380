package engagement

import (
	"context"
	"fmt"
)

// Welcome is what a viewer receives on joining, less the viewer count that the transport adds.
type Welcome struct {
	User      string    `json:"user"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	Stream    Stream    `json:"stream"`
	Viewers   int       `json:"viewers"`
	Recent    []Comment `json:"recent"`
	Likes     LikeStats `json:"likes"`
	SlowModeS int       `json:"slow_mode_s"`
	Poll      any       `json:"poll,omitempty"`
	Quiz      any       `json:"quiz,omitempty"`
	Coupons   any       `json:"coupons,omitempty"`
	Draw      any       `json:"draw,omitempty"`
	Questions any       `json:"questions,omitempty"`
	Points    any       `json:"points,omitempty"`
	Product   any       `json:"product,omitempty"`
}

// Join checks that actor may watch stream and returns their welcome, and emits viewer.joined.
func (s *Service) Join(ctx context.Context, actor Actor, stream string) (Welcome, error) {
	st, err := s.Stream(ctx, stream)
	if err != nil {
		return Welcome{}, err
	}
	recent, err := s.store.RecentComments(ctx, stream, s.cfg.RecentComments)
	if err != nil {
		return Welcome{}, fmt.Errorf("recent comments of %s: %w", stream, err)
	}
	mod, err := s.store.Moderation(ctx, stream)
	if err != nil {
		return Welcome{}, fmt.Errorf("moderation of %s: %w", stream, err)
	}
	likes, err := s.Likes(ctx, stream)
	if err != nil {
		return Welcome{}, err
	}
	if recent == nil {
		recent = []Comment{}
	}
	w := Welcome{User: actor.User, Name: actor.Name, Role: actor.Role, Stream: st, Recent: recent, Likes: likes, SlowModeS: mod.SlowModeS}
	for _, part := range joinSteps {
		if err := part(ctx, s, actor, st, &w); err != nil {
			return Welcome{}, err
		}
	}
	if err := s.noteParticipant(ctx, actor.User, stream); err != nil { // the user's index of streams (privacy.go)
		return Welcome{}, err
	}
	if actor.Role == RoleViewer { // the audience of the sales' conversion: not the show's own people
		if err := s.store.CountSaleViewer(ctx, stream, actor.User); err != nil {
			s.log.Warn("count viewer", "stream", stream, "user", actor.User, "err", err)
		}
	}
	s.emit(ctx, EventViewerJoined, stream, actor.User, map[string]any{"stream": stream, "role": actor.Role})
	return w, nil
}

// Leave records that actor left stream after watching for watched seconds.
func (s *Service) Leave(ctx context.Context, actor Actor, stream string, watchedSeconds int64) {
	s.emit(ctx, EventViewerLeft, stream, actor.User, map[string]any{"stream": stream, "watch_seconds": watchedSeconds})
}

// Tick runs what time drives on a stream (polls closing, quiz deadlines passing) and returns what it produced.
// The hub of each node calls it a few times a second; a transition happens on one node only.
func (s *Service) Tick(ctx context.Context, stream string) (Outcome, error) {
	out := Outcome{Stream: stream}
	var err error
	for _, t := range tickSteps {
		var o Outcome
		if o, err = t(ctx, s, stream); err != nil {
			break
		}
		out.Merge(o)
	}
	s.record(ctx, out) // the hub delivers what the steps before a failure produced
	return out, err
}

// Snapshot returns the coalesced frames of a stream's current state (likes, tallies): the hub sends those
// that changed since it last sent them.
func (s *Service) Snapshot(ctx context.Context, stream string) ([]Frame, error) {
	likes, err := s.Likes(ctx, stream)
	if err != nil {
		return nil, err
	}
	frames := []Frame{{Type: "likes", Data: likes}}
	for _, p := range snapshotSteps {
		f, err := p(ctx, s, stream)
		if err != nil {
			return nil, err
		}
		frames = append(frames, f...)
	}
	return frames, nil
}
