package engagement

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
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
	// Privileges, in the welcome only, are the display names of the tier's privileges (the rules file's
	// loyalty.tiers[].privileges), for the page to show.
	Privileges []string `json:"privileges,omitempty"`
}

// joinPoints puts the viewer's balance and tier in the welcome, and warns downstream of a coming downgrade.
func joinPoints(ctx context.Context, s *Service, actor Actor, st Stream, w *Welcome) error {
	acc, err := s.ledger.Account(ctx, actor.User)
	if err != nil {
		return fmt.Errorf("points of %s: %w", actor.User, ledgerError(err))
	}
	w.Points = PointsView{Balance: acc.Balance, Tier: acc.Tier, Downgrade: acc.Downgrade, Privileges: acc.Privileges}
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
	if s.admit() != nil { // the minute is not credited: paid later it would have no event, or no queue
		return Outcome{Stream: stream}
	}
	if _, err := s.participate(ctx, actor, stream, actOther); err != nil { // live, and not banned
		return Outcome{Stream: stream}
	}
	now := s.now()
	sc := s.scorer.ForUser(actor.User)
	var pts, seq int64
	// The state counts the minutes credited; the rule turns minutes into points (PerMinute, MaxPerStream).
	_, err := s.store.UpdateScoreState(ctx, stream, actor.User, SourceWatch, func(ls *LimitState) bool {
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
	// PaidAt is when the order was paid (zero: now). The return window and the month of the points run from
	// it. At most a minute in the future, and not older than the ledger accepts (the start of last month).
	PaidAt time.Time `json:"paid_at,omitzero"`
	// Items are the order's lines (optional). With items, AmountFen may be left out (0) and is then their
	// sum Σ qty×price_fen; if given it must equal that sum.
	Items []SaleItem `json:"items,omitempty"`
}

// maxPaidAtSkew is how far in the future a purchase's paid_at may lie (the shop's clock may run ahead).
const maxPaidAtSkew = time.Minute

// fingerprint is what an order id stands for: a replay of the id with another fingerprint is a conflict.
// The user and amount always; the stream, paid_at and items when given (so an order recorded before they
// existed, without them, still replays as itself; one recorded before with a stream_id does not: the stream
// was not part of its fingerprint then, and a replay of it is a conflict). Items are listed by product id, so
// their order does not matter.
func (p Purchase) fingerprint() string {
	var b strings.Builder
	fmt.Fprintf(&b, "user=%s amount_fen=%d", p.UserID, p.AmountFen)
	if p.StreamID != "" {
		fmt.Fprintf(&b, " stream=%s", p.StreamID)
	}
	if !p.PaidAt.IsZero() {
		fmt.Fprintf(&b, " paid_at=%s", p.PaidAt.UTC().Format(time.RFC3339Nano))
	}
	if len(p.Items) > 0 {
		items := slices.Clone(p.Items)
		slices.SortFunc(items, func(a, b SaleItem) int { return strings.Compare(a.ProductID, b.ProductID) })
		b.WriteString(" items=")
		for i, it := range items {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%s*%d@%d", it.ProductID, it.Qty, it.PriceFen)
		}
	}
	return b.String()
}

// PurchaseResult is what recording a purchase did.
type PurchaseResult struct {
	OrderID  string `json:"order_id"`
	UserID   string `json:"user_id"`
	Points   int64  `json:"points"`
	Capped   int64  `json:"capped"`
	Status   string `json:"status"` // "pending": held for the return window
	Replayed bool   `json:"replayed"`

	balance     int64        // for the points frame
	tier        rewards.Tier // for the points frame
	tierChanged bool         // the order moved the tier (tiers by spend): the frame goes out without points too
}

// maxAmountFen bounds one order (one hundred million yuan): a larger amount is a bug upstream.
const maxAmountFen = 10_000_000_000

// RecordPurchase turns an order into pending purchase points, once per order id however often it is posted;
// the same order id posted for another user or amount is a conflict, also for an order under one yuan.
func (s *Service) RecordPurchase(ctx context.Context, actor Actor, p Purchase) (PurchaseResult, Outcome, error) {
	if err := RequireShop(actor, "records purchases"); err != nil {
		return PurchaseResult{}, Outcome{}, err
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
	if p.Items != nil {
		sum, err := checkItems(p.Items)
		if err != nil {
			return PurchaseResult{}, Outcome{}, err
		}
		if len(p.Items) == 0 {
			return PurchaseResult{}, Outcome{}, Invalid("items", "items, when given, lists at least one item")
		}
		if p.AmountFen == 0 {
			p.AmountFen = sum
		} else if p.AmountFen != sum {
			return PurchaseResult{}, Outcome{}, Invalid("amount_fen", "amount_fen (%d) must equal the sum of the items' qty × price_fen (%d), or be left out", p.AmountFen, sum)
		}
	}
	if p.AmountFen <= 0 || p.AmountFen > maxAmountFen {
		return PurchaseResult{}, Outcome{}, Invalid("amount_fen", "amount_fen must be a positive whole number of fen, at most %d", int64(maxAmountFen))
	}
	if !p.PaidAt.IsZero() && p.PaidAt.After(s.now().Add(maxPaidAtSkew)) {
		return PurchaseResult{}, Outcome{}, Invalid("paid_at", "paid_at must not be more than %s in the future", maxPaidAtSkew)
	}
	if err := s.admit(); err != nil {
		return PurchaseResult{}, Outcome{}, err
	}
	var res PurchaseResult
	out, err := s.batched(ctx, func(ctx context.Context) (Outcome, error) {
		var err error
		res, err = s.recordPurchase(ctx, p)
		return Outcome{Stream: p.StreamID}, err
	})
	if err != nil {
		return PurchaseResult{}, Outcome{}, err
	}
	if !res.Replayed && (res.Points > 0 || res.tierChanged) && p.StreamID != "" {
		out.Direct = append(out.Direct, Direct{User: p.UserID, Frame: Frame{Type: "points", Data: map[string]any{
			"balance": res.balance, "tier": res.tier, "delta": res.Points, "reason": "Purchase (pending until the return window ends)",
			"source": SourcePurchase, "capped": res.Capped, "pending": true,
		}}})
	}
	return res, out, nil
}

// recordPurchase applies an order to the ledger and emits its events. A replay (the shop posting the order
// again, say after a lost answer) emits them again with the same ids: the first answer may have been lost
// because the events were not durable yet.
func (s *Service) recordPurchase(ctx context.Context, p Purchase) (PurchaseResult, error) {
	pts := s.scorer.ForUser(p.UserID).Purchase(p.AmountFen)
	res := PurchaseResult{OrderID: p.OrderID, UserID: p.UserID, Points: 0, Status: "pending"}
	// Every order goes to the ledger, one under one yuan too (0 points): its id is then taken, and the
	// fingerprint makes the same id with other content (Purchase.fingerprint) a conflict rather than a quiet
	// replay. The award counts at paid_at: the return window and the month of the cap run from it.
	sc := Scored{Key: "order:" + p.OrderID, Source: SourcePurchase, Points: pts, Reason: "Purchase"}
	at := p.PaidAt
	if at.IsZero() {
		at = s.now()
	}
	ar, err := s.ledger.Award(ctx, rewards.Award{Key: sc.Key, User: p.UserID, Stream: p.StreamID, Source: SourcePurchase, Points: pts, Pending: true,
		Fingerprint: p.fingerprint(), At: at, Amount: p.AmountFen})
	if errors.Is(err, rewards.ErrConflict) {
		return PurchaseResult{}, Errorf(CodeConflict, "order %q was already recorded with other content (user, amount, stream, paid_at or items)", p.OrderID)
	}
	if errors.Is(err, rewards.ErrInvalid) && !p.PaidAt.IsZero() {
		return PurchaseResult{}, Invalid("paid_at", "paid_at is too old: the ledger takes purchases paid since the start of last month")
	}
	if err != nil {
		return PurchaseResult{}, fmt.Errorf("award purchase %s: %w", p.OrderID, ledgerError(err))
	}
	res.Points, res.Capped, res.Replayed = ar.Granted, ar.Capped, !ar.Applied
	res.balance, res.tier, res.tierChanged = ar.Balance, ar.Tier, ar.Applied && ar.TierChanged
	if !ar.At.IsZero() {
		at = ar.At
	}
	data := map[string]any{"order_id": p.OrderID, "stream": p.StreamID, "amount_fen": p.AmountFen, "points": ar.Granted}
	if len(p.Items) > 0 {
		data["items"] = p.Items
	}
	s.emitOnce(ctx, sc.Key, at, EventPurchaseRecorded, p.StreamID, p.UserID, data)
	// The buyer's index of streams (privacy.go) notes the show, so that their export and erasure find the
	// order even if they never joined it (bought from a shared link); a failure is logged, never the purchase's.
	if p.StreamID != "" {
		if err := s.noteParticipant(ctx, p.UserID, p.StreamID); err != nil {
			s.log.Warn("note the buyer's stream", "stream", p.StreamID, "order", p.OrderID, "err", err)
		}
	}
	// Counted in the stream's sales on every call: the store counts an order id once, and a replay counts
	// what a first call that failed to count missed.
	s.countSale(ctx, p.StreamID, SaleOrder{ID: p.OrderID, User: p.UserID, AmountFen: p.AmountFen, Items: p.Items})
	if pts > 0 { // under one yuan: recorded, nothing awarded
		s.emitAward(ctx, p.UserID, p.StreamID, sc, ar)
	}
	s.publishFacts(ctx, p.UserID)
	return res, nil
}

// Refund is a refund the shop reports. Empty, it refunds what is left of the order. With AmountFen or Items
// it refunds part: AmountFen of the order's amount (with items, their Σ qty×price_fen, which AmountFen must
// equal if given), under RefundID, the shop's idempotency key for it (required for a part).
type Refund struct {
	RefundID  string     `json:"refund_id,omitempty"`
	AmountFen int64      `json:"amount_fen,omitempty"`
	Items     []SaleItem `json:"items,omitempty"`
}

// wholeRefundID is the sales store's id of the refund of what is left of an order: not a valid RefundID.
const wholeRefundID = "\x00whole"

// doRefundPurchase is RefundPurchase (act.go), less the admission and the publication of its events.
func (s *Service) doRefundPurchase(ctx context.Context, actor Actor, orderID string, r Refund) (rewards.RefundResult, error) {
	if err := RequireShop(actor, "refunds purchases"); err != nil {
		return rewards.RefundResult{}, err
	}
	if err := validID("order_id", orderID); err != nil {
		return rewards.RefundResult{}, err
	}
	if r.Items != nil {
		sum, err := checkItems(r.Items)
		if err != nil {
			return rewards.RefundResult{}, err
		}
		if len(r.Items) == 0 {
			return rewards.RefundResult{}, Invalid("items", "items, when given, lists at least one item")
		}
		if r.AmountFen == 0 {
			r.AmountFen = sum
		} else if r.AmountFen != sum {
			return rewards.RefundResult{}, Invalid("amount_fen", "amount_fen (%d) must equal the sum of the items' qty × price_fen (%d), or be left out", r.AmountFen, sum)
		}
	}
	if r.AmountFen < 0 || r.AmountFen > maxAmountFen {
		return rewards.RefundResult{}, Invalid("amount_fen", "amount_fen must be a positive whole number of fen, at most %d", int64(maxAmountFen))
	}
	partial := r.AmountFen > 0
	if partial {
		if err := validID("refund_id", r.RefundID); err != nil {
			return rewards.RefundResult{}, Invalid("refund_id", "a partial refund needs a refund_id (1-128 printable characters without spaces): the key that makes a retry safe")
		}
	} else if r.RefundID != "" {
		return rewards.RefundResult{}, Invalid("amount_fen", "a refund with a refund_id is partial: give amount_fen or items (without them the refund is of the whole order)")
	}
	var (
		res rewards.RefundResult
		err error
	)
	if partial {
		res, err = s.ledger.RefundPart(ctx, "order:"+orderID, rewards.RefundPart{ID: r.RefundID, Amount: r.AmountFen}, time.Time{})
	} else {
		res, err = s.ledger.Refund(ctx, "order:"+orderID, time.Time{})
	}
	switch {
	case partial && errors.Is(err, rewards.ErrInvalid):
		return res, Invalid("amount_fen", "amount_fen is more than what is not refunded yet of order %q, or the order was recorded before partial refunds (refund it whole)", orderID)
	case partial && errors.Is(err, rewards.ErrConflict):
		return res, Errorf(CodeConflict, "refund_id %q of order %q was used for another amount", r.RefundID, orderID)
	case partial && errors.Is(err, rewards.ErrLimitReached):
		return res, Errorf(CodeLimitReached, "order %q has had %d partial refunds, the most it takes: refund the rest whole", orderID, rewards.MaxRefundParts)
	case errors.Is(err, rewards.ErrDuplicate):
		return res, Errorf(CodeDuplicate, "order %q is refunded whole already", orderID)
	case err != nil:
		return res, fmt.Errorf("refund %s: %w", orderID, ledgerError(err))
	}
	// Counted in the stream's sales on every call, a replay too: the sales store counts a refund once, and a
	// replay counts what a first call that failed to count missed.
	id := r.RefundID
	if !partial {
		id = wholeRefundID
	}
	s.refundSale(ctx, res.Stream, SaleRefund{OrderID: orderID, ID: id, AmountFen: res.Amount, Items: r.Items, Full: res.Full})
	data := map[string]any{
		"order_id": orderID, "cancelled": res.Cancelled, "reversed": res.Reversed, "shortfall": res.Shortfall, "balance": res.Balance,
		"full": res.Full,
	}
	if res.Total > 0 {
		data["amount_fen"], data["refunded_fen"] = res.Amount, res.Refunded
	}
	name := "refund\x00" + orderID // order and refund ids may hold ':'; they never hold a NUL
	if partial {
		data["refund_id"] = r.RefundID
		name += "\x00" + r.RefundID
	}
	if len(r.Items) > 0 {
		data["items"] = r.Items
	}
	// A replayed part publishes its event again, same id: the first answer may have been lost before the
	// event was durable.
	s.emitOnce(ctx, name, res.At, EventPurchaseRefunded, res.Stream, res.User, data)
	return res, nil
}

// canSeePoints is who may read a user's balance, tier and ledger: the user themself, the shop's backend and
// admins. Not a host: a host runs a show, and a user's points (purchases included) are theirs, not the
// show's. Every path that reveals a balance to someone other than its owner checks it.
func canSeePoints(actor Actor, user string) bool {
	return actor.User == user || actor.Role == RoleService || actor.Role == RoleAdmin
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
	if err := s.admit(); err != nil {
		return rewards.Redemption{}, err
	}
	var r rewards.Redemption
	_, err := s.batched(ctx, func(ctx context.Context) (Outcome, error) {
		var err error
		if r, err = s.redeemItem(ctx, user, rewardID, requestID); err != nil { // points_store.go
			return Outcome{}, fmt.Errorf("redeem %s for %s: %w", rewardID, user, ledgerError(err))
		}
		// A replay publishes the event again, same id: the first answer may have been lost before it was durable.
		s.emitOnce(ctx, "redeem:"+user+":"+requestID, r.At, EventPointsRedeemed, "", user,
			map[string]any{"reward_id": rewardID, "request_id": requestID, "cost": r.Cost, "balance": r.Balance})
		s.publishFacts(ctx, user)
		return Outcome{}, nil
	})
	if err != nil {
		return rewards.Redemption{}, err
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
	case errors.Is(err, rewards.ErrLimitReached):
		return &Error{Code: CodeLimitReached, Message: "you have redeemed this reward as often as it allows"}
	case errors.Is(err, rewards.ErrDuplicate):
		return &Error{Code: CodeDuplicate, Message: "this request id was used for another reward"}
	case errors.Is(err, rewards.ErrConflict):
		return &Error{Code: CodeConflict, Message: "this key was used for another request"}
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
// ("comment", "question", "upvote", "watch") scored and when the last one did. A state lives
// scoreStateTTL after it was last stored; an expired state reads as the zero state.
type ScoreStore interface {
	// UpdateScoreState applies fn to the user's state for kind in stream and stores the result when fn
	// returns true. Atomic, as UpdateStream: fn may run more than once and must not have side effects.
	UpdateScoreState(ctx context.Context, stream, user, kind string, fn func(*LimitState) bool) (LimitState, error)
}

// userStateTTL is how long score state that belongs to no stream (stream "") lives: user-wide marks (the
// monthly tier warning) must outlive a month.
const userStateTTL = 40 * 24 * time.Hour

// replayKinds starts the kind of every replay mark: what a viewer did on an ended stream's replay
// ("replay-quiz:<quiz>:<question>", "replay-points").
const replayKinds = "replay-"

// scoreStateTTL is how long a score state lives after it was last stored, on every backend: user-wide state
// userStateTTL; a replay mark retention, so that it outlasts the timeline it was made on (the timeline lives
// retention after its last write, and a replay mark is written after the stream ended) and an answer cannot
// be given again on a replay that is still there; the rest streamTTL, as the stream's hot state.
func scoreStateTTL(stream, kind string, streamTTL, retention time.Duration) time.Duration {
	switch {
	case stream == "":
		return userStateTTL
	case strings.HasPrefix(kind, replayKinds):
		return retention
	}
	return streamTTL
}

// scorerFor returns the scorer of user's A/B arm.
func (s *Service) scorerFor(user string) *Scorer { return s.scorer.ForUser(user) }
