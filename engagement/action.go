package engagement

import (
	"context"
	"fmt"
)

// Action is one client frame's request, decoded from its data. Each type names its frame type.
type Action interface {
	FrameType() string
}

// actionHandler is implemented by every Action of actionTypes (wiring.go): it runs the action for actor.
type actionHandler interface {
	handle(ctx context.Context, s *Service, actor Actor, stream string) (Outcome, error)
}

// NewAction returns a pointer to a zero Action for frame type typ, to decode data into; false if the type is
// not a client action.
func NewAction(typ string) (Action, bool) {
	t, ok := actionTypes[typ]
	if !ok {
		return nil, false
	}
	return t.new(), true
}

// Handle runs one client action of actor on stream.
func (s *Service) Handle(ctx context.Context, actor Actor, stream string, a Action) (Outcome, error) {
	if err := s.admit(); err != nil {
		return Outcome{}, fmt.Errorf("handle %s: %w", a.FrameType(), err)
	}
	return s.batched(ctx, func(ctx context.Context) (Outcome, error) { return s.handle(ctx, actor, stream, a) })
}

// handle asks the participation policy (policy.go) about the frame's kind of participation, before the
// action looks at its data, then runs the action with what the policy loaded (the action's own method asks
// the policy again, for its precise kind, without loading anything anew).
func (s *Service) handle(ctx context.Context, actor Actor, stream string, a Action) (Outcome, error) {
	h, ok := a.(actionHandler)
	if !ok {
		return Outcome{}, fmt.Errorf("handle %s: %w", a.FrameType(), Errorf(CodeUnknownType, "unknown frame type %q", a.FrameType()))
	}
	kind := actOther // a frame missing from actionTypes still needs a live stream and no ban
	if t, ok := actionTypes[a.FrameType()]; ok {
		kind = t.act
	}
	p, err := s.participate(ctx, actor, stream, kind)
	if err != nil {
		return Outcome{}, err
	}
	return h.handle(withParticipant(ctx, p), s, actor, stream)
}
