package engagement

import (
	"context"
	"fmt"
)

// Action is one client frame's request, decoded from its data. Each type names its frame type.
type Action interface {
	FrameType() string
}

// Client actions (DESIGN.md, "Client → server").
type (
	// CommentSend posts a chat comment.
	CommentSend struct {
		Text string `json:"text"`
	}
	// LikeSend adds coalesced likes.
	LikeSend struct {
		Count int `json:"count"`
	}
)

// FrameType implements Action.
func (CommentSend) FrameType() string { return "comment.send" }

// FrameType implements Action.
func (LikeSend) FrameType() string { return "like.send" }

// actionTypes maps a frame type to a constructor of its zero Action, for decoding.
var actionTypes = map[string]func() Action{
	"comment.send": func() Action { return &CommentSend{} },
	"like.send":    func() Action { return &LikeSend{} },
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

// registerAction adds a client action type; called from init functions of the files that handle them.
func registerAction(typ string, f func() Action) {
	if _, dup := actionTypes[typ]; dup {
		panic("engagement: action registered twice: " + typ)
	}
	actionTypes[typ] = f
}

// Handle runs one client action of actor on stream.
func (s *Service) Handle(ctx context.Context, actor Actor, stream string, a Action) (Outcome, error) {
	return s.batched(ctx, func(ctx context.Context) (Outcome, error) { return s.handle(ctx, actor, stream, a) })
}

func (s *Service) handle(ctx context.Context, actor Actor, stream string, a Action) (Outcome, error) {
	switch a := a.(type) {
	case *CommentSend:
		return s.PostComment(ctx, actor, stream, a.Text)
	case *LikeSend:
		return Outcome{}, s.Like(ctx, actor, stream, a.Count)
	}
	if h, ok := a.(interface {
		handle(context.Context, *Service, Actor, string) (Outcome, error)
	}); ok {
		return h.handle(ctx, s, actor, stream)
	}
	return Outcome{}, fmt.Errorf("handle %s: %w", a.FrameType(), Errorf(CodeUnknownType, "unknown frame type %q", a.FrameType()))
}
