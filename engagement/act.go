package engagement

import (
	"context"

	"github.com/kudos-live/kudos/rewards"
)

// The actions that do not come through Handle (the HTTP API's, and the host's), in one place: each runs as
// one act, as Handle runs a client frame — refused unavailable before it changes anything when the sink
// could not take its events, its events published together before it returns, and answered unavailable
// (never acknowledged with its events dropped) if they could not be.

// runAct runs fn as one action (see above).
func runAct[T any](ctx context.Context, s *Service, fn func(ctx context.Context) (T, Outcome, error)) (T, Outcome, error) {
	var zero, v T
	if err := s.admit(); err != nil {
		return zero, Outcome{}, err
	}
	out, err := s.batched(ctx, func(ctx context.Context) (Outcome, error) {
		var o Outcome
		var err error
		v, o, err = fn(ctx)
		return o, err
	})
	if err != nil {
		return zero, Outcome{}, err
	}
	return v, out, nil
}

// Moderate applies a host's moderation action.
func (s *Service) Moderate(ctx context.Context, actor Actor, stream string, a ModerationAction) (Outcome, error) {
	_, out, err := runAct(ctx, s, func(ctx context.Context) (struct{}, Outcome, error) {
		out, err := s.doModerate(ctx, actor, stream, a)
		return struct{}{}, out, err
	})
	return out, err
}

// Notify decides, for each recipient, whether a notification goes out: never more than the daily limit per
// user per UTC day (the check and the count are one atomic step in the store), never during quiet hours.
// Each sent one is delivered live as a notification frame on the user's sockets (the returned outcomes, one
// per stream) and published as notification.sent for the push service; each refused one is published as
// notification.capped with its reason. A host notifies the audience of a stream they host (and not about
// points or tiers); the shop's backend and admins notify any users or stream.
func (s *Service) Notify(ctx context.Context, actor Actor, spec NotificationSpec) (NotifyResult, []Outcome, error) {
	type result struct {
		res  NotifyResult
		outs []Outcome
	}
	r, _, err := runAct(ctx, s, func(ctx context.Context) (result, Outcome, error) {
		res, outs, err := s.doNotify(ctx, actor, spec)
		return result{res, outs}, Outcome{}, err
	})
	return r.res, r.outs, err
}

// CreateQuiz stores a quiz for a stream actor hosts; NextQuestion asks its questions. A stream runs one quiz
// at a time: creating one while another is running is refused as invalid (field "quiz").
func (s *Service) CreateQuiz(ctx context.Context, actor Actor, stream string, spec QuizSpec) (Quiz, error) {
	v, _, err := runAct(ctx, s, func(ctx context.Context) (Quiz, Outcome, error) {
		v, err := s.doCreateQuiz(ctx, actor, stream, spec)
		return v, Outcome{}, err
	})
	return v, err
}

// NextQuestion reveals the current question if it is still open, then asks the next one with a deadline
// time_limit_s after it reaches viewers. After the last question it returns the final leaderboard
// (Status finished).
func (s *Service) NextQuestion(ctx context.Context, actor Actor, stream, quizID string) (QuizStep, Outcome, error) {
	return runAct(ctx, s, func(ctx context.Context) (QuizStep, Outcome, error) {
		return s.doNextQuestion(ctx, actor, stream, quizID)
	})
}

// DropCoupon drops a coupon on a stream actor hosts; viewers see it after the video delay.
func (s *Service) DropCoupon(ctx context.Context, actor Actor, stream string, spec CouponSpec) (Coupon, Outcome, error) {
	return runAct(ctx, s, func(ctx context.Context) (Coupon, Outcome, error) { return s.doDropCoupon(ctx, actor, stream, spec) })
}

// RedeemCouponCode redeems a claimed coupon code for an order, once (the shop's checkout: a service token or
// an admin). The same order again gets the same answer; another order is a conflict naming the first; a code
// past its expiry is refused expired. Publishes coupon.redeemed.
func (s *Service) RedeemCouponCode(ctx context.Context, actor Actor, code, orderID string) (ClaimedCode, error) {
	v, _, err := runAct(ctx, s, func(ctx context.Context) (ClaimedCode, Outcome, error) {
		v, err := s.doRedeemCouponCode(ctx, actor, code, orderID)
		return v, Outcome{}, err
	})
	return v, err
}

// RefundPurchase cancels an order's points (inside the return window) or reverses them (after it): all
// that is left of them, or for a partial refund (Refund) its share.
func (s *Service) RefundPurchase(ctx context.Context, actor Actor, orderID string, r Refund) (rewards.RefundResult, error) {
	v, _, err := runAct(ctx, s, func(ctx context.Context) (rewards.RefundResult, Outcome, error) {
		v, err := s.doRefundPurchase(ctx, actor, orderID, r)
		if err == nil {
			s.publishFacts(ctx, v.User) // what the refund settled or re-tiered (points_facts.go)
		}
		return v, Outcome{}, err
	})
	return v, err
}

// CreateStream starts a live stream hosted by actor (a host or admin).
func (s *Service) CreateStream(ctx context.Context, actor Actor, sp StreamSpec) (Stream, error) {
	v, _, err := runAct(ctx, s, func(ctx context.Context) (Stream, Outcome, error) {
		v, err := s.doCreateStream(ctx, actor, sp)
		return v, Outcome{}, err
	})
	return v, err
}

// EndStream ends a live stream; the outcome tells every viewer.
func (s *Service) EndStream(ctx context.Context, actor Actor, id string) (Stream, Outcome, error) {
	return runAct(ctx, s, func(ctx context.Context) (Stream, Outcome, error) { return s.doEndStream(ctx, actor, id) })
}

// MarkQuestion applies a host's action to a question of their stream: pin (one pinned at a time; pinning
// another unpins the first), answer, or hide; on = false undoes it. Hiding tells the asker (a notice frame);
// the first answer emits question.answered. The new list reaches viewers with the next coalesced questions
// frame.
func (s *Service) MarkQuestion(ctx context.Context, actor Actor, stream, questionID, action string, on bool) (Question, Outcome, error) {
	return runAct(ctx, s, func(ctx context.Context) (Question, Outcome, error) {
		return s.doMarkQuestion(ctx, actor, stream, questionID, action, on)
	})
}

// ClosePoll closes a poll now. Closing a closed poll returns it and an empty outcome.
func (s *Service) ClosePoll(ctx context.Context, actor Actor, stream, pollID string) (Poll, Outcome, error) {
	return runAct(ctx, s, func(ctx context.Context) (Poll, Outcome, error) { return s.doClosePoll(ctx, actor, stream, pollID) })
}

// OpenPoll opens a poll on a stream actor hosts. A stream has one open poll at a time: opening another
// while one is open is refused as invalid (field "poll"); close it first. A timed poll whose time is up but
// which the tick has not closed yet is closed here first.
func (s *Service) OpenPoll(ctx context.Context, actor Actor, stream string, spec PollSpec) (Poll, Outcome, error) {
	return runAct(ctx, s, func(ctx context.Context) (Poll, Outcome, error) { return s.doOpenPoll(ctx, actor, stream, spec) })
}

// ReplayAnswer records actor's answer to an asked question of a quiz on an ended stream (someone watching
// the replay): once per user and question, and not by a user who answered it live (duplicate). A correct
// answer scores the quiz rule as if given at the time limit (a replay viewer's timing cannot be trusted),
// with no streak, times Rules.ReplayShare; the
// quiz.answered event is marked replay. The reply tells the answer at once (the replay already shows it).
func (s *Service) ReplayAnswer(ctx context.Context, actor Actor, stream, quizID, questionID string, choice int) (Outcome, error) {
	_, out, err := runAct(ctx, s, func(ctx context.Context) (struct{}, Outcome, error) {
		out, err := s.doReplayAnswer(ctx, actor, stream, quizID, questionID, choice)
		return struct{}{}, out, err
	})
	return out, err
}

// OpenDraw opens a lucky draw on a stream actor hosts, committing to a fresh random seed.
func (s *Service) OpenDraw(ctx context.Context, actor Actor, stream string, spec DrawSpec) (Draw, Outcome, error) {
	return runAct(ctx, s, func(ctx context.Context) (Draw, Outcome, error) { return s.doOpenDraw(ctx, actor, stream, spec) })
}

// RunDraw stops entries, which freezes the entrant list, draws the winners from the committed seed and the
// hash of that list, and publishes them with the seed, the list and its hash. Running a finished draw
// returns its result again with an empty outcome.
func (s *Service) RunDraw(ctx context.Context, actor Actor, stream, drawID string) (DrawResult, Outcome, error) {
	return runAct(ctx, s, func(ctx context.Context) (DrawResult, Outcome, error) { return s.doRunDraw(ctx, actor, stream, drawID) })
}

// AddProduct puts a product on a stream's shelf (the host, an admin, or the shop's backend): at most
// MaxProducts per stream (closed), an id once (duplicate).
func (s *Service) AddProduct(ctx context.Context, actor Actor, stream string, p Product) (Product, error) {
	v, _, err := runAct(ctx, s, func(ctx context.Context) (Product, Outcome, error) {
		v, err := s.doAddProduct(ctx, actor, stream, p)
		return v, Outcome{}, err
	})
	return v, err
}

// RemoveProduct takes a product off the shelf; if it was being presented, viewers are told it is not.
func (s *Service) RemoveProduct(ctx context.Context, actor Actor, stream, productID string) (Outcome, error) {
	_, out, err := runAct(ctx, s, func(ctx context.Context) (struct{}, Outcome, error) {
		out, err := s.doRemoveProduct(ctx, actor, stream, productID)
		return struct{}{}, out, err
	})
	return out, err
}

// PinProduct makes a product of the shelf the one being presented (讲解中), in place of any other; every
// viewer gets product.pinned after the video delay.
func (s *Service) PinProduct(ctx context.Context, actor Actor, stream, productID string) (Product, Outcome, error) {
	return runAct(ctx, s, func(ctx context.Context) (Product, Outcome, error) {
		return s.doPinProduct(ctx, actor, stream, productID)
	})
}

// UnpinProduct ends the presentation of a product; viewers get product.unpinned if it was the pinned one
// (otherwise nothing changes and the outcome is empty).
func (s *Service) UnpinProduct(ctx context.Context, actor Actor, stream, productID string) (Outcome, error) {
	_, out, err := runAct(ctx, s, func(ctx context.Context) (struct{}, Outcome, error) {
		out, err := s.doUnpinProduct(ctx, actor, stream, productID)
		return struct{}{}, out, err
	})
	return out, err
}
