package engagement

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kudos-live/kudos/rewards"
)

// Personal data: a person's export and erasure (docs/privacy.md). What the stores hold about a user is found
// through PrivacyStore: the memory store looks through all its state; the Redis store through the user's
// index of streams taken part in (noted by the participation policy, every path) and the keys under the
// user's own hash tag. Erasure removes the person's comments and questions (from the recent history, the Q&A
// and the replay), replaces their name by ErasedName wherever a record must stay (draw entrants and winners,
// quiz answers and scores), drops their coupon wallet and notification decisions, marks them erased (every
// later request with their token is refused forbidden, reason erased), forfeits their spendable balance as a
// ledger entry, and publishes user.erased. Ids stay: the ledger keeps its amounts under the same id for
// accounting, and counts (votes, likes, sales) are not personal text.

// ErasedName is the neutral label that replaces an erased person's name where a record must stay.
const ErasedName = "已注销用户 / deleted user"

// ErasedMarkTTL is how long the erased mark of a user lives: every token minted for the id within it is
// refused. Shops must not give an erased id to someone else.
const ErasedMarkTTL = 400 * 24 * time.Hour

// MaxUserStreams bounds a user's index of streams taken part in (the newest are kept); it lives Retention
// after its last note, as long as anything written on those streams.
const MaxUserStreams = 1000

// ForfeitRewardID is the reserved reward id under which an erased user's spendable balance is forfeited: the
// ledger entry is a redemption of it (kind redeem, source ForfeitRewardID), so balances still fold.
const ForfeitRewardID = rewards.ForfeitRewardID

// PrivacyStore is what export and erasure need across the concepts' stores.
type PrivacyStore interface {
	// NoteParticipant records that user took part in stream at now (the per-user index of streams, bounded by
	// MaxUserStreams, Retention after the last note). The memory store needs no index: it looks through all.
	NoteParticipant(ctx context.Context, user, stream string, now time.Time) error
	// MarkErased marks user erased for ErasedMarkTTL; Erased reports the mark.
	MarkErased(ctx context.Context, user string) error
	Erased(ctx context.Context, user string) (bool, error)
	// ExportUser returns everything the store holds about user, each list sorted (UserData.sort).
	ExportUser(ctx context.Context, user string) (UserData, error)
	// EraseUser removes user's comments and questions, replaces user's name by label in the records that stay,
	// and drops user's per-user state (coupon wallet, notification decisions, last stream, the index of
	// streams). Idempotent. It returns what it removed, per stream, for the live rooms.
	EraseUser(ctx context.Context, user, label string) (Erased, error)
}

// Erased is what an erasure removed from the store.
type Erased struct {
	// Comments and Questions are the ids removed, per stream.
	Comments  map[string][]string `json:"comments"`
	Questions map[string][]string `json:"questions"`
	// Records counts every value changed or removed.
	Records int `json:"records"`
}

func (e *Erased) addComment(stream, id string) {
	if e.Comments == nil {
		e.Comments = map[string][]string{}
	}
	e.Comments[stream] = append(e.Comments[stream], id)
	e.Records++
}

func (e *Erased) addQuestion(stream, id string) {
	if e.Questions == nil {
		e.Questions = map[string][]string{}
	}
	e.Questions[stream] = append(e.Questions[stream], id)
	e.Records++
}

// UserData is the export of one user: everything Kudos holds about them. Names are the names their records
// carry (from their tokens); the ledger part is filled by the Service.
type UserData struct {
	User          string             `json:"user"`
	Names         []string           `json:"names"`
	Comments      []UserComment      `json:"comments"`
	Questions     []UserQuestion     `json:"questions"`
	Votes         []UserVote         `json:"votes"`
	QuizAnswers   []UserQuizAnswer   `json:"quiz_answers"`
	QuizScores    []UserQuizScore    `json:"quiz_scores"`
	Feedback      []UserFeedback     `json:"feedback"`
	CouponClaims  []UserCouponClaim  `json:"coupon_claims"`
	Coupons       []UserCoupon       `json:"coupons"`
	Draws         []UserDraw         `json:"draws"`
	Purchases     []UserPurchase     `json:"purchases"`
	Notifications []UserNotification `json:"notifications"`
	Streams       []string           `json:"streams"`
	Ledger        *UserLedger        `json:"ledger,omitempty"`
}

// UserComment is a comment of the user on a stream.
type UserComment struct {
	Stream string `json:"stream"`
	Comment
}

// UserQuestion is a product question of the user.
type UserQuestion struct {
	Stream string `json:"stream"`
	Question
}

// UserVote is a poll the user voted in (the store counts votes per option: which option is not kept).
type UserVote struct {
	Stream string `json:"stream"`
	Poll   string `json:"poll"`
}

// UserQuizAnswer is an accepted quiz answer.
type UserQuizAnswer struct {
	Stream string `json:"stream"`
	Quiz   string `json:"quiz"`
	QuizResponse
}

// UserQuizScore is the user's running score in a quiz.
type UserQuizScore struct {
	Stream string `json:"stream"`
	Quiz   string `json:"quiz"`
	QuizPlayer
}

// UserFeedback is a kind of feedback the user gave on a stream (the store counts scores: the score is not
// kept per user).
type UserFeedback struct {
	Stream string `json:"stream"`
	Kind   string `json:"kind"`
}

// UserCouponClaim is a coupon the user claimed on a stream, with its code.
type UserCouponClaim struct {
	Stream string `json:"stream"`
	Coupon string `json:"coupon"`
	Code   string `json:"code"`
}

// UserDraw is a draw the user entered, and whether they won.
type UserDraw struct {
	Stream string `json:"stream"`
	Draw   string `json:"draw"`
	Prize  string `json:"prize"`
	Name   string `json:"name"`
	Won    bool   `json:"won"`
}

// UserPurchase is an order of the user counted in a stream's sales.
type UserPurchase struct {
	Stream string `json:"stream"`
	SaleOrder
}

// UserNotification is a day's notification decisions about the user: how many were sent.
type UserNotification struct {
	Day  string `json:"day"`
	Sent int64  `json:"sent"`
}

// UserLedger is the user's loyalty account: the current tier and balance, every entry, every redemption.
// The ledger keeps no tier history but the entries that made it.
type UserLedger struct {
	Account     rewards.Account      `json:"account"`
	Entries     []rewards.Entry      `json:"entries"`
	Redemptions []rewards.Redemption `json:"redemptions"`
}

// sort puts every list of d in one order, whatever the store: by stream, then item, then time.
func (d *UserData) sort() {
	slices.Sort(d.Names)
	d.Names = slices.Compact(d.Names)
	slices.SortFunc(d.Comments, func(a, b UserComment) int {
		return cmp.Or(cmp.Compare(a.Stream, b.Stream), a.At.Compare(b.At), cmp.Compare(a.ID, b.ID))
	})
	slices.SortFunc(d.Questions, func(a, b UserQuestion) int {
		return cmp.Or(cmp.Compare(a.Stream, b.Stream), cmp.Compare(a.ID, b.ID))
	})
	slices.SortFunc(d.Votes, func(a, b UserVote) int { return cmp.Or(cmp.Compare(a.Stream, b.Stream), cmp.Compare(a.Poll, b.Poll)) })
	slices.SortFunc(d.QuizAnswers, func(a, b UserQuizAnswer) int {
		return cmp.Or(cmp.Compare(a.Stream, b.Stream), cmp.Compare(a.Quiz, b.Quiz), cmp.Compare(a.Question, b.Question))
	})
	slices.SortFunc(d.QuizScores, func(a, b UserQuizScore) int {
		return cmp.Or(cmp.Compare(a.Stream, b.Stream), cmp.Compare(a.Quiz, b.Quiz))
	})
	slices.SortFunc(d.Feedback, func(a, b UserFeedback) int {
		return cmp.Or(cmp.Compare(a.Stream, b.Stream), cmp.Compare(a.Kind, b.Kind))
	})
	slices.SortFunc(d.CouponClaims, func(a, b UserCouponClaim) int {
		return cmp.Or(cmp.Compare(a.Stream, b.Stream), cmp.Compare(a.Coupon, b.Coupon))
	})
	slices.SortFunc(d.Coupons, func(a, b UserCoupon) int {
		return cmp.Or(cmp.Compare(a.StreamID, b.StreamID), cmp.Compare(a.CouponID, b.CouponID))
	})
	slices.SortFunc(d.Draws, func(a, b UserDraw) int { return cmp.Or(cmp.Compare(a.Stream, b.Stream), cmp.Compare(a.Draw, b.Draw)) })
	slices.SortFunc(d.Purchases, func(a, b UserPurchase) int { return cmp.Or(cmp.Compare(a.Stream, b.Stream), cmp.Compare(a.ID, b.ID)) })
	slices.SortFunc(d.Notifications, func(a, b UserNotification) int { return cmp.Compare(a.Day, b.Day) })
	slices.Sort(d.Streams)
	d.Streams = slices.Compact(d.Streams)
}

// addReplayComments adds user's comments among a stream's replay items that d does not list yet: a comment
// that later ones pushed out of the recent history stays in the replay, its text for TextRetention. A comment
// in both is listed once, as the recent history has it.
func (d *UserData) addReplayComments(stream, user string, items []TimelineItem) {
	seen := map[string]bool{}
	for _, c := range d.Comments {
		if c.Stream == stream {
			seen[c.ID] = true
		}
	}
	for _, it := range items {
		var c Comment
		if it.Type != "comment" || json.Unmarshal(it.Data, &c) != nil || c.User != user || seen[c.ID] {
			continue
		}
		seen[c.ID] = true
		d.Comments = append(d.Comments, UserComment{Stream: stream, Comment: c})
		if c.Name != "" {
			d.Names = append(d.Names, c.Name)
		}
	}
}

// empty reports whether the store holds nothing about the user.
func (d *UserData) empty() bool {
	return len(d.Comments)+len(d.Questions)+len(d.Votes)+len(d.QuizAnswers)+len(d.QuizScores)+len(d.Feedback)+
		len(d.CouponClaims)+len(d.Coupons)+len(d.Draws)+len(d.Purchases)+len(d.Notifications)+len(d.Streams) == 0
}

// newUserData returns an export with every list non-nil (an empty list is [] in JSON, never null).
func newUserData(user string) UserData {
	return UserData{User: user, Names: []string{}, Comments: []UserComment{}, Questions: []UserQuestion{},
		Votes: []UserVote{}, QuizAnswers: []UserQuizAnswer{}, QuizScores: []UserQuizScore{}, Feedback: []UserFeedback{},
		CouponClaims: []UserCouponClaim{}, Coupons: []UserCoupon{}, Draws: []UserDraw{}, Purchases: []UserPurchase{},
		Notifications: []UserNotification{}, Streams: []string{}}
}

// ErrErased refuses every request made with the token of an erased user.
var ErrErased = &Error{Code: CodeForbidden, reason: "erased"}

// ReasonOf returns the reason refining err's code ("erased", "sold out", …), or "".
func ReasonOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.reason
	}
	return ""
}

// takeBackIfErased is asked after a text of user's (a comment, a question) was written: if user was erased
// meanwhile (the erasure ran between the policy's check and the write, and so may have missed it), the
// erasure's store pass runs again, which removes it, and the action is refused. One more read of the mark per
// written text; it keeps "the person's text is nowhere after an erasure" true under concurrency.
func (s *Service) takeBackIfErased(ctx context.Context, user string) error {
	err := s.CheckErased(ctx, user)
	if err == nil {
		return nil
	}
	if _, eerr := s.store.EraseUser(ctx, user, ErasedName); eerr != nil {
		s.log.Error("erase a text written during an erasure", "user", user, "err", eerr)
	}
	return err
}

// forfeitLate forfeits, when the rules forfeit an erased user's balance, what reached it after the erasure: an
// award that was in flight (or owed by the award queue) then, purchase points that settled later. why names
// the cause in the forfeit's request id ("award:<key>", "settled:<seq>"), so each is taken once. It reads the
// erased mark, so callers ask it only when points were just paid.
func (s *Service) forfeitLate(ctx context.Context, user, why string) {
	if s.cfg.Rules.Loyalty.OnErase == OnEraseKeep || !errors.Is(s.CheckErased(ctx, user), ErrErased) {
		return
	}
	red, err := s.ledger.Forfeit(ctx, user, "erasure:"+user+":"+why)
	if err != nil {
		s.log.Error("forfeit points paid after an erasure", "user", user, "why", why, "err", ledgerError(err))
		return
	}
	if red.Cost > 0 && !red.Replayed {
		s.emitOnce(ctx, "redeem:"+user+":"+red.ID, red.At, EventPointsRedeemed, "", user,
			map[string]any{"reward_id": ForfeitRewardID, "request_id": red.ID, "cost": red.Cost, "balance": red.Balance})
	}
}

// CheckErased refuses an erased user (ErrErased): the one check of the token paths (HTTP and the socket's
// handshake) and of the participation policy.
func (s *Service) CheckErased(ctx context.Context, user string) error {
	if user == "" {
		return nil
	}
	erased, err := s.store.Erased(ctx, user)
	if err != nil {
		return fmt.Errorf("read the erased mark of %s: %w", user, err)
	}
	if erased {
		return ErrErased
	}
	return nil
}

// privacyNotes remembers, per node, which (user, stream) were noted in the user's index lately, so that the
// policy writes the index once an hour per pair rather than on every action. The zero value is ready.
type privacyNotes struct {
	mu    sync.Mutex
	noted map[string]time.Time
}

// noteEvery is how often the policy notes the same (user, stream) again.
const noteEvery = time.Hour

// noteParticipant records that user took part in stream (PrivacyStore.NoteParticipant), at most once per
// noteEvery per pair on this node.
func (s *Service) noteParticipant(ctx context.Context, user, stream string) error {
	now := s.now()
	key := user + "\x00" + stream
	n := &s.privacy
	n.mu.Lock()
	at, ok := n.noted[key]
	n.mu.Unlock()
	if ok && now.Sub(at) < noteEvery && !now.Before(at) {
		return nil
	}
	if err := s.store.NoteParticipant(ctx, user, stream, now); err != nil {
		return fmt.Errorf("note %s on %s: %w", user, stream, err)
	}
	n.mu.Lock()
	if n.noted == nil || len(n.noted) > 100_000 { // bounded: forget everyone rather than grow without end
		n.noted = map[string]time.Time{}
	}
	n.noted[key] = now
	n.mu.Unlock()
	return nil
}

// forgetNotes drops user's pairs from this node's notes (after an erasure, so that nothing is skipped).
func (s *Service) forgetNotes(user string) {
	n := &s.privacy
	n.mu.Lock()
	defer n.mu.Unlock()
	for k := range n.noted {
		if len(k) > len(user) && k[:len(user)] == user && k[len(user)] == 0 {
			delete(n.noted, k)
		}
	}
}

// requireSelfOrShop is the policy of a user's personal data: the user themselves, the shop's backend or an
// admin.
func requireSelfOrShop(actor Actor, user string) error {
	if actor.User == user && actor.User != "" {
		return nil
	}
	return RequireShop(actor, ", an admin or the user themselves may read a user's data")
}

// ExportUser returns everything Kudos holds about user: the user themselves, the shop's backend or an admin
// may ask (forbidden otherwise, checked first). An unknown or erased user is not_found.
func (s *Service) ExportUser(ctx context.Context, actor Actor, user string) (UserData, error) {
	if err := requireSelfOrShop(actor, user); err != nil {
		return UserData{}, err
	}
	if err := validID("user", user); err != nil {
		return UserData{}, err
	}
	if err := s.CheckErased(ctx, user); err != nil {
		if errors.Is(err, ErrErased) {
			return UserData{}, Errorf(CodeNotFound, "user %q was erased", user)
		}
		return UserData{}, err
	}
	d, err := s.store.ExportUser(ctx, user)
	if err != nil {
		return UserData{}, fmt.Errorf("export %s: %w", user, err)
	}
	acct, err := s.ledger.Account(ctx, user)
	if err != nil {
		return UserData{}, fmt.Errorf("export the account of %s: %w", user, ledgerError(err))
	}
	entries, err := s.ledger.Entries(ctx, user)
	if err != nil {
		return UserData{}, fmt.Errorf("export the entries of %s: %w", user, ledgerError(err))
	}
	reds, err := s.ledger.Redemptions(ctx, user, "", 0)
	if err != nil {
		return UserData{}, fmt.Errorf("export the redemptions of %s: %w", user, ledgerError(err))
	}
	if d.empty() && len(entries) == 0 && len(reds) == 0 {
		return UserData{}, Errorf(CodeNotFound, "Kudos holds nothing about user %q", user)
	}
	if entries == nil {
		entries = []rewards.Entry{}
	}
	if reds == nil {
		reds = []rewards.Redemption{}
	}
	d.Ledger = &UserLedger{Account: acct, Entries: entries, Redemptions: reds}
	return d, nil
}

// ErasureResult answers an erasure.
type ErasureResult struct {
	User string `json:"user"`
	// Forfeited is the spendable balance forfeited (a ledger entry of ForfeitRewardID).
	Forfeited int64 `json:"forfeited"`
	Erased
}

// EraseUser erases user's personal data (see the top of this file): the shop's backend or an admin (forbidden
// otherwise, checked first). Idempotent: an unknown or already erased user is erased again, changing nothing
// that is already gone. The outcomes tell each live room to drop the user's comments (comment.removed) and
// refresh its questions.
func (s *Service) EraseUser(ctx context.Context, actor Actor, user string) (ErasureResult, []Outcome, error) {
	if err := RequireShop(actor, "or an admin may erase a user"); err != nil {
		return ErasureResult{}, nil, err
	}
	if err := validID("user", user); err != nil {
		return ErasureResult{}, nil, err
	}
	type result struct {
		res  ErasureResult
		outs []Outcome
	}
	r, _, err := runAct(ctx, s, func(ctx context.Context) (result, Outcome, error) {
		res, outs, err := s.doEraseUser(ctx, user)
		return result{res, outs}, Outcome{}, err
	})
	return r.res, r.outs, err
}

func (s *Service) doEraseUser(ctx context.Context, user string) (ErasureResult, []Outcome, error) {
	// The mark first: from now on nothing new of theirs is written, on any node.
	if err := s.store.MarkErased(ctx, user); err != nil {
		return ErasureResult{}, nil, fmt.Errorf("mark %s erased: %w", user, err)
	}
	s.forgetNotes(user)
	gone, err := s.store.EraseUser(ctx, user, ErasedName)
	if err != nil {
		return ErasureResult{}, nil, fmt.Errorf("erase %s: %w", user, err)
	}
	res := ErasureResult{User: user, Erased: gone}
	var red rewards.Redemption
	if s.cfg.Rules.Loyalty.OnErase != OnEraseKeep { // the rules file's loyalty.on_erase; forfeit by default
		if red, err = s.ledger.Forfeit(ctx, user, "erasure:"+user); err != nil {
			return ErasureResult{}, nil, fmt.Errorf("forfeit the balance of %s: %w", user, ledgerError(err))
		}
	}
	if red.Cost > 0 {
		res.Forfeited = red.Cost
		s.emitOnce(ctx, "redeem:"+user+":"+red.ID, red.At, EventPointsRedeemed, "", user,
			map[string]any{"reward_id": ForfeitRewardID, "request_id": red.ID, "cost": red.Cost, "balance": red.Balance})
	}
	s.publishFacts(ctx, user)
	s.emit(ctx, EventUserErased, "", user, map[string]any{}) // the id only: the envelope's userid
	var outs []Outcome
	streams := map[string]bool{}
	for st := range gone.Comments {
		streams[st] = true
	}
	for st := range gone.Questions {
		streams[st] = true
	}
	for _, st := range slices.Sorted(maps.Keys(streams)) {
		out := Outcome{Stream: st}
		for _, id := range gone.Comments[st] {
			out.Broadcast = append(out.Broadcast, Frame{Type: "comment.removed", Data: map[string]any{"id": id}})
		}
		if len(gone.Questions[st]) > 0 {
			list, err := s.questionList(ctx, st, false, QuestionListSize)
			if err != nil {
				s.log.Warn("questions after an erasure", "stream", st, "err", err)
			} else {
				out.Broadcast = append(out.Broadcast, Frame{Type: "questions", Data: list})
			}
		}
		outs = append(outs, out)
	}
	return res, outs, nil
}

// scrubJSON rewrites a stored JSON value so that nothing of user's own remains in it: every object whose
// "user" (or "user_id") is user has its "name" replaced by label and its "text" emptied. drop reports that
// the value itself is user's own writing (a top-level object of theirs with a text: a comment, a question),
// which the caller removes whole; changed that the value was rewritten (out). Values that do not mention the
// user are returned unchanged without being decoded.
func scrubJSON(raw []byte, user, label string) (out []byte, drop, changed bool) {
	// An id with a character JSON escapes ("\<>&) may be stored escaped: then every value is decoded.
	if !strings.ContainsAny(user, "\"\\<>&") && !bytes.Contains(raw, []byte(user)) {
		return raw, false, false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return raw, false, false
	}
	if top, ok := v.(map[string]any); ok && owns(top, user) {
		if _, hasText := top["text"]; hasText {
			return nil, true, true
		}
	}
	if !scrubValue(v, user, label) {
		return raw, false, false
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return raw, false, false
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), false, true
}

// owns reports whether a decoded object belongs to user.
func owns(m map[string]any, user string) bool {
	return m["user"] == user || m["user_id"] == user
}

// scrubValue replaces, in place, the name and text of every object of user's inside v; it reports a change.
func scrubValue(v any, user, label string) bool {
	changed := false
	switch x := v.(type) {
	case map[string]any:
		if owns(x, user) {
			if n, ok := x["name"]; ok && n != label {
				x["name"] = label
				changed = true
			}
			if t, ok := x["text"]; ok && t != "" {
				x["text"] = ""
				changed = true
			}
		}
		for _, e := range x {
			changed = scrubValue(e, user, label) || changed
		}
	case []any:
		for _, e := range x {
			changed = scrubValue(e, user, label) || changed
		}
	}
	return changed
}
