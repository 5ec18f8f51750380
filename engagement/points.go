package engagement

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/kudos-live/kudos/rewards"
)

// Scored is one scorable interaction: the caller says what happened, the scorer decided the points.
type Scored struct {
	// Key makes the award idempotent: the same key never pays twice (e.g. "poll:<poll>:<user>").
	Key string
	// Source names the rule: "watch", "comment", "poll", "quiz", "feedback", "question", "purchase".
	Source string
	// Points are the base points the scorer computed (before tier multiplier and cap).
	Points int64
	// Reason is shown to the user in the points frame ("Voted in a poll").
	Reason string
}

// Sources of points, as they appear in ledger entries and events.
const (
	SourceWatch    = "watch"
	SourceComment  = "comment"
	SourcePoll     = "poll"
	SourceQuiz     = "quiz"
	SourceFeedback = "feedback"
	SourceQuestion = "question"
	SourcePurchase = "purchase"
)

// PointsView is the short form of a user's points in welcome and points frames.
type PointsView struct {
	Balance int64        `json:"balance"`
	Tier    rewards.Tier `json:"tier"`
	// Downgrade, in the welcome only, warns that the tier drops soon unless more points are earned.
	Downgrade *rewards.Downgrade `json:"downgrade,omitempty"`
}

// joinPoints puts the viewer's balance and tier in the welcome, and warns downstream of a coming downgrade.
func joinPoints(ctx context.Context, s *Service, actor Actor, st Stream, w *Welcome) error {
	acc, err := s.ledger.Account(ctx, actor.User)
	if err != nil {
		return fmt.Errorf("points of %s: %w", actor.User, ledgerError(err))
	}
	w.Points = PointsView{Balance: acc.Balance, Tier: acc.Tier, Downgrade: acc.Downgrade}
	if acc.Downgrade != nil && actor.Role == RoleViewer {
		s.warnDowngrade(ctx, actor.User, st.ID, *acc.Downgrade)
	}
	return nil
}

// warnDowngrade tells downstream, once per user and month, that the user's tier is about to drop, so that
// a push or an offer can reach them in time. The once-a-month mark lives in the score state.
func (s *Service) warnDowngrade(ctx context.Context, user, stream string, d rewards.Downgrade) {
	kind := "tier-warning:" + d.At.UTC().Format("2006-01")
	first := false
	if _, err := s.store.UpdateScoreState(ctx, "", user, kind, func(st *LimitState) bool {
		first = st.Count == 0
		st.Count = 1
		return first
	}); err != nil {
		s.log.Warn("record tier warning", "user", user, "err", err)
		return
	}
	if first {
		s.emit(ctx, EventTierWarning, stream, user, map[string]any{"from": d.From, "to": d.To, "at": d.At.UTC(), "needed": d.Needed})
	}
}

// award pays a scored interaction to actor and returns the points frame for them (empty when nothing is
// paid). Failures are logged, not returned: points follow from an accepted interaction, never reject it, and
// the idempotency key makes a retry safe.
func (s *Service) award(ctx context.Context, actor Actor, stream string, sc Scored) Outcome {
	if sc.Points <= 0 || actor.IsStaff() { // hosts and admins do not earn from the shows they run
		return Outcome{Stream: stream}
	}
	a := pendingAward{actor: actor, stream: stream, sc: sc, at: s.now()}
	out, err := s.applyAward(ctx, a)
	if err != nil {
		s.log.Error("award points; will retry", "stream", stream, "user", actor.User, "key", sc.Key, "err", err)
		s.retries.add(a, s.now())
	}
	return out
}

// applyAward pays a at the time it was earned and returns the points frame for its user.
func (s *Service) applyAward(ctx context.Context, a pendingAward) (Outcome, error) {
	out := Outcome{Stream: a.stream}
	res, err := s.ledger.Award(ctx, rewards.Award{
		Key:           a.sc.Key,
		User:          a.actor.User,
		Stream:        a.stream,
		Source:        a.sc.Source,
		Points:        a.sc.Points,
		Participation: a.sc.Source != SourcePurchase,
		Pending:       a.sc.Source == SourcePurchase,
		At:            a.at,
	})
	if err != nil {
		return out, err
	}
	if !res.Applied {
		return out, nil
	}
	s.emitAward(ctx, a.actor.User, a.stream, a.sc, res)
	out.Direct = append(out.Direct, Direct{User: a.actor.User, Frame: Frame{Type: "points", Data: map[string]any{
		"balance": res.Balance, "tier": res.Tier, "delta": res.Granted, "reason": a.sc.Reason, "source": a.sc.Source,
		"capped": res.Capped, "pending": a.sc.Source == SourcePurchase,
	}}})
	return out, nil
}

// pendingAward is an award to pay: one the ledger refused for a backend failure waits in awardRetries.
type pendingAward struct {
	actor  Actor
	stream string
	sc     Scored
	at     time.Time // when it was earned: the month whose cap it counts against
	tries  int
	next   time.Time
}

// maxPendingAwards bounds the awards waiting for a retry on this node; past it the oldest are dropped (and
// logged): the ledger being down that long is an outage to fix, not a queue to grow.
const maxPendingAwards = 100_000

// awardRetries keeps the awards whose ledger write failed, per stream, so that the stream's hub tick can pay
// them once the ledger is back. The award key makes a retry safe even if the first write did land.
type awardRetries struct {
	mu       sync.Mutex
	byStream map[string][]pendingAward
	n        int
}

func (r *awardRetries) add(a pendingAward, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byStream == nil {
		r.byStream = map[string][]pendingAward{}
	}
	if r.n >= maxPendingAwards {
		return // the caller has logged the failure; the bound protects the node
	}
	a.tries++
	a.next = now.Add(min(time.Duration(a.tries)*time.Second, 30*time.Second))
	r.byStream[a.stream] = append(r.byStream[a.stream], a)
	r.n++
}

// due takes the awards of stream whose retry time has come.
func (r *awardRetries) due(stream string, now time.Time) []pendingAward {
	r.mu.Lock()
	defer r.mu.Unlock()
	var due, wait []pendingAward
	for _, a := range r.byStream[stream] {
		if now.Before(a.next) {
			wait = append(wait, a)
		} else {
			due = append(due, a)
		}
	}
	if len(wait) == 0 {
		delete(r.byStream, stream)
	} else {
		r.byStream[stream] = wait
	}
	r.n -= len(due)
	return due
}

// tickAwardRetries applies again the stream's awards that the ledger refused earlier (see awardRetries).
func tickAwardRetries(ctx context.Context, s *Service, stream string) (Outcome, error) {
	out := Outcome{Stream: stream}
	for _, a := range s.retries.due(stream, s.now()) {
		o, err := s.applyAward(ctx, a)
		if err != nil {
			s.retries.add(a, s.now())
			continue
		}
		out.Merge(o)
	}
	return out, nil
}

// emitAward publishes the point movements of one applied award.
func (s *Service) emitAward(ctx context.Context, user, stream string, sc Scored, res rewards.AwardResult) {
	if res.Granted > 0 {
		s.emit(ctx, EventPointsAwarded, stream, user, map[string]any{
			"key": sc.Key, "source": sc.Source, "points": res.Granted, "base_points": sc.Points, "balance": res.Balance,
			"stream": stream, "pending": sc.Source == SourcePurchase, "tier": res.Tier,
		})
	}
	if res.Capped > 0 {
		s.emit(ctx, EventPointsCapped, stream, user, map[string]any{"key": sc.Key, "source": sc.Source, "capped": res.Capped, "stream": stream})
	}
	if res.TierChanged {
		s.emit(ctx, EventTierChanged, stream, user, map[string]any{"from": res.PreviousTier, "to": res.Tier})
	}
}

// scoreLimited runs a rate-limited scoring rule (comments, questions, upvotes) atomically against the user's
// state in the store and returns the points to award (0: none).
func (s *Service) scoreLimited(ctx context.Context, user, stream, kind string, replay bool, rule func(*Scorer, LimitState, time.Time, bool) int64) int64 {
	now := s.now()
	sc := s.scorer.ForUser(user)
	var pts int64
	_, err := s.store.UpdateScoreState(ctx, stream, user, kind, func(st *LimitState) bool {
		pts = rule(sc, *st, now, replay)
		if pts <= 0 {
			return false
		}
		*st = st.Next(now)
		return true
	})
	if err != nil {
		s.log.Error("score "+kind, "stream", stream, "user", user, "err", err)
		return 0
	}
	return pts
}

// Watched is called for every full minute a viewer's socket stays on a live stream; it pays the watch rule
// (at most once a minute per user however many tabs are open, and MaxPerStream in all).
func (s *Service) Watched(ctx context.Context, actor Actor, stream string) Outcome {
	st, err := s.Stream(ctx, stream)
	if err != nil || !st.Live() {
		return Outcome{Stream: stream}
	}
	now := s.now()
	sc := s.scorer.ForUser(actor.User)
	var pts, seq int64
	// The state counts the minutes credited; the rule turns minutes into points (PerMinute, MaxPerStream).
	_, err = s.store.UpdateScoreState(ctx, stream, actor.User, SourceWatch, func(ls *LimitState) bool {
		if !ls.Last.IsZero() && now.Sub(ls.Last) < 50*time.Second { // another tab paid this minute
			pts = 0
			return false
		}
		minutes := ls.Count
		pts = sc.Watch((minutes+1)*60, sc.Watch(minutes*60, 0, false), false)
		if pts <= 0 {
			return false
		}
		seq = minutes
		ls.Count = minutes + 1
		ls.Last = now
		return true
	})
	if err != nil {
		s.log.Error("score watching", "stream", stream, "user", actor.User, "err", err)
		return Outcome{Stream: stream}
	}
	return s.award(ctx, actor, stream, Scored{
		Key: fmt.Sprintf("watch:%s:%s:%d", stream, actor.User, seq), Source: SourceWatch, Points: pts, Reason: "Watched the live",
	})
}

// Purchase is an order reported by the shop's backend.
type Purchase struct {
	OrderID   string `json:"order_id"`
	UserID    string `json:"user_id"`
	StreamID  string `json:"stream_id"`
	AmountFen int64  `json:"amount_fen"`
}

// PurchaseResult is what recording a purchase did.
type PurchaseResult struct {
	OrderID  string `json:"order_id"`
	UserID   string `json:"user_id"`
	Points   int64  `json:"points"`
	Capped   int64  `json:"capped"`
	Status   string `json:"status"` // "pending": held for the return window
	Replayed bool   `json:"replayed"`
}

// maxAmountFen bounds one order (one hundred million yuan): a larger amount is a bug upstream.
const maxAmountFen = 10_000_000_000

// RecordPurchase turns an order into pending purchase points, once per order id however often it is posted.
func (s *Service) RecordPurchase(ctx context.Context, actor Actor, p Purchase) (PurchaseResult, Outcome, error) {
	if actor.Role != RoleService && actor.Role != RoleAdmin {
		return PurchaseResult{}, Outcome{}, Errorf(CodeForbidden, "only the shop's backend (a service token) records purchases")
	}
	if err := validID("order_id", p.OrderID); err != nil {
		return PurchaseResult{}, Outcome{}, err
	}
	if err := validID("user_id", p.UserID); err != nil {
		return PurchaseResult{}, Outcome{}, err
	}
	if p.StreamID != "" && !ValidStreamID(p.StreamID) {
		return PurchaseResult{}, Outcome{}, Invalid("stream_id", "stream_id is not a valid stream id")
	}
	if p.AmountFen <= 0 || p.AmountFen > maxAmountFen {
		return PurchaseResult{}, Outcome{}, Invalid("amount_fen", "amount_fen must be a positive whole number of fen, at most %d", int64(maxAmountFen))
	}
	pts := s.scorer.ForUser(p.UserID).Purchase(p.AmountFen)
	res := PurchaseResult{OrderID: p.OrderID, UserID: p.UserID, Points: 0, Status: "pending"}
	out := Outcome{Stream: p.StreamID}
	if pts <= 0 { // under one yuan: recorded, nothing to award
		s.emit(ctx, EventPurchaseRecorded, p.StreamID, p.UserID, map[string]any{"order_id": p.OrderID, "stream": p.StreamID, "amount_fen": p.AmountFen, "points": 0})
		return res, out, nil
	}
	sc := Scored{Key: "order:" + p.OrderID, Source: SourcePurchase, Points: pts, Reason: "Purchase"}
	ar, err := s.ledger.Award(ctx, rewards.Award{Key: sc.Key, User: p.UserID, Stream: p.StreamID, Source: SourcePurchase, Points: pts, Pending: true, At: s.now()})
	if err != nil {
		return PurchaseResult{}, Outcome{}, fmt.Errorf("award purchase %s: %w", p.OrderID, ledgerError(err))
	}
	res.Points, res.Capped, res.Replayed = ar.Granted, ar.Capped, !ar.Applied
	if !ar.Applied {
		return res, out, nil
	}
	s.emit(ctx, EventPurchaseRecorded, p.StreamID, p.UserID, map[string]any{"order_id": p.OrderID, "stream": p.StreamID, "amount_fen": p.AmountFen, "points": ar.Granted})
	s.emitAward(ctx, p.UserID, p.StreamID, sc, ar)
	if p.StreamID != "" {
		out.Direct = append(out.Direct, Direct{User: p.UserID, Frame: Frame{Type: "points", Data: map[string]any{
			"balance": ar.Balance, "tier": ar.Tier, "delta": ar.Granted, "reason": "Purchase (pending until the return window ends)",
			"source": SourcePurchase, "capped": ar.Capped, "pending": true,
		}}})
	}
	return res, out, nil
}

// RefundPurchase cancels an order's points (inside the return window) or reverses them (after it).
func (s *Service) RefundPurchase(ctx context.Context, actor Actor, orderID string) (rewards.RefundResult, error) {
	if actor.Role != RoleService && actor.Role != RoleAdmin {
		return rewards.RefundResult{}, Errorf(CodeForbidden, "only the shop's backend (a service token) refunds purchases")
	}
	if err := validID("order_id", orderID); err != nil {
		return rewards.RefundResult{}, err
	}
	res, err := s.ledger.Refund(ctx, "order:"+orderID, s.now())
	if err != nil {
		return res, fmt.Errorf("refund %s: %w", orderID, ledgerError(err))
	}
	s.emit(ctx, EventPurchaseRefunded, "", res.User, map[string]any{
		"order_id": orderID, "cancelled": res.Cancelled, "reversed": res.Reversed, "shortfall": res.Shortfall, "balance": res.Balance,
	})
	return res, nil
}

// canSeePoints: a user sees their own points; hosts, the shop's backend and admins see anyone's.
func canSeePoints(actor Actor, user string) bool {
	return actor.User == user || actor.Role == RoleHost || actor.Role == RoleService || actor.Role == RoleAdmin
}

// Account returns a user's loyalty account.
func (s *Service) Account(ctx context.Context, actor Actor, user string) (rewards.Account, error) {
	if !canSeePoints(actor, user) {
		return rewards.Account{}, Errorf(CodeForbidden, "you may only see your own points")
	}
	acc, err := s.ledger.Account(ctx, user)
	if err != nil {
		return acc, fmt.Errorf("account of %s: %w", user, ledgerError(err))
	}
	return acc, nil
}

// Rewards returns the reward catalogue with the units left of each limited reward.
func (s *Service) Rewards(ctx context.Context) ([]rewards.Reward, error) {
	rs, err := s.ledger.Available(ctx)
	if err != nil {
		return nil, fmt.Errorf("reward catalogue: %w", ledgerError(err))
	}
	return rs, nil
}

// Redeem spends a user's points on a reward, once per request id.
func (s *Service) Redeem(ctx context.Context, actor Actor, user, rewardID, requestID string) (rewards.Redemption, error) {
	if actor.User != user && actor.Role != RoleService && actor.Role != RoleAdmin {
		return rewards.Redemption{}, Errorf(CodeForbidden, "you may only redeem your own points")
	}
	if err := validID("reward_id", rewardID); err != nil {
		return rewards.Redemption{}, err
	}
	if err := validID("request_id", requestID); err != nil {
		return rewards.Redemption{}, err
	}
	r, err := s.ledger.Redeem(ctx, user, rewardID, requestID)
	if err != nil {
		return r, fmt.Errorf("redeem %s for %s: %w", rewardID, user, ledgerError(err))
	}
	if !r.Replayed {
		s.emit(ctx, EventPointsRedeemed, "", user, map[string]any{"reward_id": rewardID, "request_id": requestID, "cost": r.Cost, "balance": r.Balance})
	}
	return r, nil
}

// Leaderboard returns a stream's top n by points earned in it.
func (s *Service) Leaderboard(ctx context.Context, stream string, n int) ([]rewards.Standing, error) {
	if _, err := s.Stream(ctx, stream); err != nil {
		return nil, err
	}
	if n <= 0 || n > 100 {
		n = 10
	}
	st, err := s.ledger.Leaderboard(ctx, stream, n)
	if err != nil {
		return nil, fmt.Errorf("leaderboard of %s: %w", stream, ledgerError(err))
	}
	if st == nil {
		st = []rewards.Standing{}
	}
	return st, nil
}

// validID checks an identifier given by a client: 1–128 printable ASCII characters without spaces.
func validID(field, id string) error {
	if id == "" || len(id) > 128 || strings.IndexFunc(id, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0 {
		return Invalid(field, "%s must be 1-128 printable characters without spaces", field)
	}
	return nil
}

// Codes for loyalty refusals that are not bad input: a client shows "not enough points" or "sold out",
// not "invalid" (docs/protocol.md, "Errors").
const (
	CodeInsufficientPoints Code = "insufficient_points"
	CodeOutOfStock         Code = "out_of_stock"
)

// ledgerError maps the ledger's sentinel errors to coded errors.
func ledgerError(err error) error {
	switch {
	case errors.Is(err, rewards.ErrNotFound):
		return &Error{Code: CodeNotFound, Message: "not found: " + err.Error()}
	case errors.Is(err, rewards.ErrInsufficientPoints):
		return &Error{Code: CodeInsufficientPoints, Message: "not enough points"}
	case errors.Is(err, rewards.ErrOutOfStock):
		return &Error{Code: CodeOutOfStock, Message: "this reward is out of stock"}
	case errors.Is(err, rewards.ErrDuplicate):
		return &Error{Code: CodeDuplicate, Message: "this request id was used for another reward"}
	case errors.Is(err, rewards.ErrInvalid):
		return &Error{Code: CodeInvalid, Message: err.Error()}
	}
	return fmt.Errorf("%w: %w", Errorf(CodeUnavailable, "points ledger unavailable"), err)
}

// hasWatched reports whether user was credited at least one minute of watching stream: the bar for points
// that a bot could otherwise collect from streams it never watched (feedback).
func (s *Service) hasWatched(ctx context.Context, stream, user string) bool {
	st, err := s.store.UpdateScoreState(ctx, stream, user, SourceWatch, func(*LimitState) bool { return false })
	return err == nil && st.Count > 0
}

// ScoreStore keeps what the scorer must remember per user and stream: how many interactions of a kind
// ("comment", "question", "upvote", "watch") scored and when the last one did.
type ScoreStore interface {
	// UpdateScoreState applies fn to the user's state for kind in stream and stores the result when fn
	// returns true. Atomic, as UpdateStream: fn may run more than once and must not have side effects.
	UpdateScoreState(ctx context.Context, stream, user, kind string, fn func(*LimitState) bool) (LimitState, error)
}

// scorerFor returns the scorer of user's A/B arm.
func (s *Service) scorerFor(user string) *Scorer { return s.scorer.ForUser(user) }
