package engagement

import (
	"context"
	"fmt"
	"time"
)

// The participation policy, in one place: whether an actor may take part in a stream at all and in what
// way. Every viewer action asks it first, before it looks at its input, whichever way the action came: a
// socket frame (Service.Handle asks for every frame, so even an action whose method does not ask is covered)
// or a method called over HTTP (ReplayAnswer) or directly. It loads the stream and its moderation once per
// request and decides:
//
//   - the stream exists (not_found) and is in the state the act needs: live for everything but feedback
//     (also taken after the show) and replay answers (only after it) (closed);
//   - a banned user takes part in nothing: no comment, like, vote, answer, claim, draw entry, feedback,
//     question, upvote or product click (forbidden);
//   - a muted user may not post text everyone reads — comments and product questions — until the mute ends,
//     and may do everything else (forbidden);
//   - the show's own people are excluded where they could favour themselves: no host, admin or shop backend
//     enters a draw, and the host does not play their own quiz (forbidden);
//   - an erased user does nothing at all (forbidden, reason erased: privacy.go), and whoever takes part is
//     noted in their index of streams (PrivacyStore.NoteParticipant) for a later export or erasure.
//
// Moderation (bans, mutes) does not apply to whoever can host the stream.

// act is a kind of participation, as the policy tells them apart.
type act int

const (
	actOther        act = iota // an action without a rule of its own: a live stream and no ban
	actComment                 // comment.send
	actLike                    // like.send
	actVote                    // poll.vote
	actQuizAnswer              // quiz.answer as a frame: a live answer, or a replay answer once the stream ended
	actAnswer                  // a live quiz answer
	actReplayAnswer            // a quiz answer from someone watching the replay of an ended stream
	actFeedback                // feedback.send
	actClaim                   // coupon.claim
	actEnter                   // draw.enter, or a comment with a keyword draw's keyword
	actAsk                     // question.ask
	actUpvote                  // question.upvote
	actClick                   // product.click
)

// When in a stream's life an act is taken.
const (
	whileLive = iota
	afterEnd
	anytime
)

// actRule is what the policy asks of one act.
type actRule struct {
	when    int  // whileLive, afterEnd or anytime
	chat    bool // text everyone reads: a mute stops it
	noStaff bool // no host, admin or shop backend may do it, on any stream
	noHost  bool // whoever can host the stream may not do it
}

var actRules = map[act]actRule{
	actOther:        {when: whileLive},
	actComment:      {when: whileLive, chat: true},
	actLike:         {when: whileLive},
	actVote:         {when: whileLive},
	actQuizAnswer:   {when: anytime},
	actAnswer:       {when: whileLive, noHost: true},
	actReplayAnswer: {when: afterEnd},
	actFeedback:     {when: anytime},
	actClaim:        {when: whileLive},
	actEnter:        {when: whileLive, noStaff: true},
	actAsk:          {when: whileLive, chat: true},
	actUpvote:       {when: whileLive},
	actClick:        {when: whileLive},
}

// participant is what the policy loaded to decide about actor on a stream; the action goes on with it
// rather than reading the stream and its moderation again.
type participant struct {
	actor  Actor
	stream Stream
	mod    Moderation
	// staff: the actor can host the stream, so its moderation does not apply to them.
	staff bool
}

type participantKey struct{}

// withParticipant returns ctx carrying p, so that a later participate for the same actor and stream in the
// same request decides on what p loaded.
func withParticipant(ctx context.Context, p participant) context.Context {
	return context.WithValue(ctx, participantKey{}, p)
}

// participate is the participation policy (see above): it returns what it loaded, and an error if actor may
// not do a on stream. Inside a request that already loaded them (Service.Handle, PostComment) it decides on
// the same stream and moderation.
func (s *Service) participate(ctx context.Context, actor Actor, stream string, a act) (participant, error) {
	p, ok := ctx.Value(participantKey{}).(participant)
	if !ok || p.actor != actor || p.stream.ID != stream {
		st, err := s.Stream(ctx, stream)
		if err != nil {
			return participant{}, err
		}
		mod, err := s.store.Moderation(ctx, stream)
		if err != nil {
			return participant{}, fmt.Errorf("read moderation of %s: %w", stream, err)
		}
		p = participant{actor: actor, stream: st, mod: mod, staff: actor.CanHost(st)}
	}
	if err := p.permit(a, s.now()); err != nil {
		return p, err
	}
	// An erased user takes part in nothing (privacy.go); whoever takes part is noted in their index of
	// streams, so that an export or an erasure finds what they wrote.
	if err := s.CheckErased(ctx, actor.User); err != nil {
		return p, err
	}
	return p, s.noteParticipant(ctx, actor.User, stream)
}

// permit decides whether p's actor may do a at now.
func (p participant) permit(a act, now time.Time) error {
	rule, ok := actRules[a]
	if !ok {
		rule = actRules[actOther]
	}
	if !p.staff {
		if p.mod.Banned[p.actor.User] {
			return Errorf(CodeForbidden, "you are banned from this stream")
		}
		if until, muted := p.mod.Muted[p.actor.User]; rule.chat && muted && now.Before(until) {
			return Errorf(CodeForbidden, "you are muted for %d s", int(until.Sub(now).Seconds()+0.999))
		}
	}
	if rule.noStaff && isStaffRole(p.actor.Role) {
		return Errorf(CodeForbidden, "hosts, admins and the shop's backend cannot enter draws")
	}
	if rule.noHost && p.staff {
		return Errorf(CodeForbidden, "the host does not play their own quiz")
	}
	switch {
	case rule.when == whileLive && !p.stream.Live():
		return Errorf(CodeClosed, "stream %q has ended", p.stream.ID)
	case rule.when == afterEnd && p.stream.Live():
		return Errorf(CodeClosed, "stream %q is live: answer the live question", p.stream.ID)
	}
	return nil
}

// isStaffRole reports whether a role speaks for the platform or the shop rather than for a viewer: host,
// admin, or the shop's backend (service).
func isStaffRole(role string) bool {
	return role == RoleHost || role == RoleAdmin || role == RoleService
}

// RequireShop is the policy of the shop's backend APIs (purchases, refunds, the catalogue, fulfilment, coupon
// codes at the checkout): a service token or an admin.
// The HTTP layer asks it before it reads a body, and the Service again (the one rule, every path).
func RequireShop(actor Actor, doing string) error {
	if actor.Role != RoleService && actor.Role != RoleAdmin {
		return Errorf(CodeForbidden, "only the shop's backend (a service token) %s", doing)
	}
	return nil
}

// AuthorizeStream is the policy of a stream's staff routes (host tools, moderation, the shelf, sales), asked
// by the HTTP layer before it reads a body: the stream must exist (not_found), and actor must run it (its host
// or an admin, CanHost) or, when shop is true, be the shop's backend. The actions check the same again.
func (s *Service) AuthorizeStream(ctx context.Context, actor Actor, stream string, shop bool) error {
	st, err := s.Stream(ctx, stream)
	if err != nil {
		return err
	}
	if actor.CanHost(st) || (shop && actor.Role == RoleService) {
		return nil
	}
	return Errorf(CodeForbidden, "only the host of stream %q or an admin may do this", stream)
}
