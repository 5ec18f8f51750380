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
	f, ok := actionTypes[typ]
	if !ok {
		return nil, false
	}
	return f(), true
}

// Handle runs one client action of actor on stream.
func (s *Service) Handle(ctx context.Context, actor Actor, stream string, a Action) (Outcome, error) {
	return s.batched(ctx, func(ctx context.Context) (Outcome, error) { return s.handle(ctx, actor, stream, a) })
}

func (s *Service) handle(ctx context.Context, actor Actor, stream string, a Action) (Outcome, error) {
	if h, ok := a.(actionHandler); ok {
		return h.handle(ctx, s, actor, stream)
	}
	return Outcome{}, fmt.Errorf("handle %s: %w", a.FrameType(), Errorf(CodeUnknownType, "unknown frame type %q", a.FrameType()))
}
