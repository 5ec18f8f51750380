package rewards

import (
	"context"
	"maps"
	"sort"
	"sync"
	"time"
)

// MemoryStore keeps the ledger in this process: the default, for one node and for tests. One mutex
// guards everything, which makes every call trivially atomic; no call does I/O while holding it.
//
// It forgets what the Redis store expires (Store, "Storage is bounded"), on the Policy's clock: an award's
// record is absent once its keepUntil has passed, and Award drops expired records and leaderboards from
// their maps, at most once per pruneEvery of the clock, in one pass; a user's old orders go when the user's
// next order is recorded.
type MemoryStore struct {
	mu          sync.Mutex
	awards      map[string]memAward      // by award key
	users       map[string]*memUser      // by user id
	boards      map[string]*memBoard     // by stream
	sold        map[string]int64         // reward id → units redeemed
	perUser     map[[2]string]int64      // (user, reward id) → units redeemed
	redemptions map[[2]string]Redemption // (user, request id) → original redemption
	claims      map[string][2]string     // gift claim id → (user, request id)
	catalogue   []Reward                 // nil until SetCatalogue
	pruned      time.Time                // when (by the Policy's clock) the maps were last pruned
	sweep       memSweep                 // users in turn for Sweep, and those with facts (store_memory_facts.go)
}

var _ Store = (*MemoryStore)(nil)

// pruneEvery is how often, at most, by the Policy's clock, Award prunes the maps.
const pruneEvery = time.Minute

type memAward struct {
	res         AwardResult
	user        string
	pending     bool
	fingerprint string
	expires     time.Time // Policy.keepUntil: absent from then on
}

// memBoard is a stream's leaderboard, kept until the record of its last participation award expires.
type memBoard struct {
	points  map[string]int64 // user → points
	expires time.Time
}

type memLot struct {
	id     string
	at     int64 // ms
	left   int64
	warned bool // announced as expiring (FactExpiring)
}

type memOrder struct {
	points int64 // what still stands of the points granted (partial refunds take some back)
	at     int64 // ms
	month  string
	stream string
	status string // "pending", "settled", "refunded"
	board  bool   // its points count on the stream's leaderboard (a participation award)

	granted  int64                    // the points first granted
	amount   int64                    // Award.Amount (fen); 0: refundable only whole
	refunded int64                    // of amount, refunded so far
	parts    map[string]memRefundPart // partial refunds by id
	uncapped bool                     // Award.Uncapped: its points are outside the monthly cap
}

type memRefundPart struct {
	amount int64
	res    RefundResult
}

type memUser struct {
	balance, pending, capped, expired, shortfall int64
	tier                                         Tier
	earned                                       map[string]int64
	spent                                        map[string]int64 // fen spent per month (tiers by spend)
	uncapped                                     map[string]int64 // of earned, points of sources outside the cap
	lots                                         []memLot         // ordered by (at, id): oldest first
	orders                                       map[string]*memOrder
	entries                                      []Entry
	id                                           string
	facts                                        memFacts // the outbox (store_memory_facts.go)
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{
		awards:      map[string]memAward{},
		users:       map[string]*memUser{},
		boards:      map[string]*memBoard{},
		sold:        map[string]int64{},
		perUser:     map[[2]string]int64{},
		redemptions: map[[2]string]Redemption{},
		claims:      map[string][2]string{},
	}
}

func (s *MemoryStore) user(id string) *memUser {
	u := s.users[id]
	if u == nil {
		u = &memUser{earned: map[string]int64{}, spent: map[string]int64{}, uncapped: map[string]int64{}, orders: map[string]*memOrder{}}
		s.users[id] = u
		s.adopt(id, u)
	}
	return u
}

func (u *memUser) entry(at int64, e Entry) {
	e.At = time.UnixMilli(at).UTC()
	e.Balance = u.balance
	u.entries = append(u.entries, e)
}

func (u *memUser) addLot(id string, at, points int64) {
	i := sort.Search(len(u.lots), func(i int) bool {
		l := u.lots[i]
		return l.at > at || (l.at == at && l.id > id)
	})
	u.lots = append(u.lots, memLot{})
	copy(u.lots[i+1:], u.lots[i:])
	u.lots[i] = memLot{id: id, at: at, left: points}
}

// consume takes up to amount from the lots, lot prefer first, then oldest first; it returns what it took.
func (u *memUser) consume(amount int64, prefer string) int64 {
	var taken int64
	take := func(i int) {
		t := min(u.lots[i].left, amount-taken)
		u.lots[i].left -= t
		taken += t
	}
	if prefer != "" {
		for i := range u.lots {
			if u.lots[i].id == prefer {
				take(i)
			}
		}
	}
	for i := range u.lots {
		if taken >= amount {
			break
		}
		take(i)
	}
	kept := u.lots[:0]
	for _, l := range u.lots {
		if l.left > 0 {
			kept = append(kept, l)
		}
	}
	u.lots = kept
	return taken
}

// settle moves purchases out of their return window onto the balance, oldest first.
func (u *memUser) settle(p Policy) {
	before := p.SettleBefore.UnixMilli()
	var due []string
	for k, o := range u.orders {
		if o.status == "pending" && o.at <= before {
			due = append(due, k)
		}
	}
	sort.Slice(due, func(i, j int) bool {
		a, b := u.orders[due[i]], u.orders[due[j]]
		return a.at < b.at || (a.at == b.at && due[i] < due[j])
	})
	for _, k := range due {
		u.settleOrder(k, p.Now.UnixMilli())
	}
}

func (u *memUser) settleOrder(key string, now int64) {
	o := u.orders[key]
	o.status = "settled"
	u.pending -= o.points
	u.balance += o.points
	if o.points > 0 {
		u.addLot(key, o.at, o.points)
	}
	u.entry(now, Entry{Kind: EntrySettle, Points: o.points, Key: key, Stream: o.stream, Source: "purchase"})
	if o.points > 0 {
		u.fact(now, Fact{Kind: FactSettled, Key: key, Stream: o.stream, Points: o.points})
	}
}

// expire drops lots earned at or before p.ExpireBefore and months older than p.FirstMonth.
func (u *memUser) expire(p Policy) {
	before := p.ExpireBefore.UnixMilli()
	var total int64
	for len(u.lots) > 0 && u.lots[0].at <= before {
		total += u.lots[0].left
		u.lots = u.lots[1:]
	}
	if total > 0 {
		u.balance -= total
		u.expired += total
		u.entry(p.Now.UnixMilli(), Entry{Kind: EntryExpire, Points: -total})
		u.fact(p.Now.UnixMilli(), Fact{Kind: FactExpired, Points: total})
	}
	for _, months := range []map[string]int64{u.earned, u.spent, u.uncapped} {
		for m := range months {
			if m < p.FirstMonth {
				delete(months, m)
			}
		}
	}
}

func (u *memUser) earned12(p Policy) int64 {
	var sum int64
	for m, v := range u.earned {
		if m >= p.FirstMonth {
			sum += v
		}
	}
	return sum
}

// spent12 is the fen spent in the trailing twelve months (tiers by spend).
func (u *memUser) spent12(p Policy) int64 {
	var sum int64
	for m, v := range u.spent {
		if m >= p.FirstMonth {
			sum += v
		}
	}
	return sum
}

// prune drops the award records and leaderboards that expired at now, when a prune is due.
func (s *MemoryStore) prune(now time.Time) {
	if !s.pruned.IsZero() && now.Sub(s.pruned) < pruneEvery && !now.Before(s.pruned) {
		return
	}
	s.pruned = now
	maps.DeleteFunc(s.awards, func(_ string, r memAward) bool { return !now.Before(r.expires) })
	maps.DeleteFunc(s.boards, func(_ string, b *memBoard) bool { return !now.Before(b.expires) })
}

// record returns key's award record if it is kept at now.
func (s *MemoryStore) record(key string, now time.Time) (memAward, bool) {
	rec, ok := s.awards[key]
	if !ok || !now.Before(rec.expires) {
		return memAward{}, false
	}
	return rec, true
}

// dropOldOrders forgets the settled and refunded orders made at or before p.ExpireBefore: their points have
// expired, and Refund no longer finds them.
func (u *memUser) dropOldOrders(p Policy) {
	before := p.ExpireBefore.UnixMilli()
	maps.DeleteFunc(u.orders, func(_ string, o *memOrder) bool { return o.status != "pending" && o.at <= before })
}

// Recorded implements Store.
func (s *MemoryStore) Recorded(_ context.Context, key string, p Policy) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.record(key, p.Now)
	return ok, nil
}

// Award implements Store.
func (s *MemoryStore) Award(_ context.Context, a Award, p Policy) (AwardResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prune(p.Now)
	if rec, ok := s.record(a.Key, p.Now); ok {
		if rec.fingerprint != "" && a.Fingerprint != "" && rec.fingerprint != a.Fingerprint {
			return AwardResult{}, ErrConflict
		}
		res := rec.res
		res.Applied = false
		return res, nil
	}
	u := s.user(a.User)
	u.due(p)

	earned12, spent12 := u.earned12(p), u.spent12(p)
	before := tierFor(p.Tiers, p.standing(earned12, spent12))
	prev := u.tier
	if prev == "" {
		prev = p.Tiers[0].Tier
	}
	base := a.Points
	if a.Participation {
		base = multiplied(base, before)
	}
	month := p.monthOf(a.At)
	room := max(0, p.MonthlyCap-(u.earned[month]-u.uncapped[month]))
	granted := min(base, room)
	if a.Uncapped {
		granted = base
		u.uncapped[month] += granted
	}
	capped := base - granted
	at := a.At.UnixMilli()
	u.earned[month] += granted
	if a.spendFen() > 0 {
		u.spent[month] += a.spendFen()
	}

	if a.Pending {
		u.dropOldOrders(p)
		u.orders[a.Key] = &memOrder{points: granted, at: at, month: month, stream: a.Stream, status: "pending", board: a.Participation,
			granted: granted, amount: a.Amount, uncapped: a.Uncapped}
		if granted > 0 {
			u.pending += granted
			u.entry(at, Entry{Kind: EntryPending, Points: granted, Key: a.Key, Stream: a.Stream, Source: a.Source})
		}
	} else if granted > 0 {
		u.balance += granted
		u.addLot(a.Key, at, granted)
		u.entry(at, Entry{Kind: EntryAward, Points: granted, Key: a.Key, Stream: a.Stream, Source: a.Source})
	}
	keep := p.keepUntil(a)
	if granted > 0 && a.Stream != "" && a.Participation {
		board := s.boards[a.Stream]
		if board == nil {
			board = &memBoard{points: map[string]int64{}}
			s.boards[a.Stream] = board
		}
		board.points[a.User] += granted
		if keep.After(board.expires) {
			board.expires = keep
		}
	}
	if capped > 0 {
		u.capped += capped
		u.entry(at, Entry{Kind: EntryCapped, Points: capped, Key: a.Key, Stream: a.Stream, Source: a.Source})
	}
	after := tierFor(p.Tiers, p.standing(earned12+granted, spent12+a.spendFen()))
	u.tier = after.Tier
	if after.Tier != prev {
		u.fact(p.Now.UnixMilli(), Fact{Kind: FactTier, From: prev, To: after.Tier, Reason: TierReasonAward})
	}
	res := AwardResult{
		At:           time.UnixMilli(at).UTC(),
		Applied:      true,
		Granted:      granted,
		Capped:       capped,
		Balance:      u.balance,
		Tier:         after.Tier,
		PreviousTier: prev,
		TierChanged:  after.Tier != prev,
	}
	s.awards[a.Key] = memAward{res: res, user: a.User, pending: a.Pending, fingerprint: a.Fingerprint, expires: keep}
	return res, nil
}

// Redeem implements Store.
func (s *MemoryStore) Redeem(_ context.Context, req RedeemRequest, r Reward, p Policy) (Redemption, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	user, requestID := req.User, req.RequestID
	id := [2]string{user, requestID}
	if red, ok := s.redemptions[id]; ok {
		if red.RewardID != r.ID {
			return Redemption{}, ErrDuplicate
		}
		red.Replayed = true
		return red, nil
	}
	u := s.user(user)
	u.due(p)
	if r.PerUserLimit > 0 && s.perUser[[2]string{user, r.ID}] >= r.PerUserLimit {
		return Redemption{}, ErrLimitReached
	}
	if r.Stock > 0 && s.sold[r.ID] >= r.Stock {
		return Redemption{}, ErrOutOfStock
	}
	if u.balance < r.Cost {
		return Redemption{}, ErrInsufficientPoints
	}
	u.consume(r.Cost, "")
	u.balance -= r.Cost
	s.sold[r.ID]++
	s.perUser[[2]string{user, r.ID}]++
	now := p.Now.UnixMilli()
	u.entry(now, Entry{Kind: EntryRedeem, Points: -r.Cost, Key: requestID, Source: r.ID})
	red := Redemption{ID: requestID, User: user, RewardID: r.ID, Cost: r.Cost, At: time.UnixMilli(now).UTC(), Balance: u.balance,
		Kind: r.Kind, DiscountFen: r.DiscountFen, MinSpendFen: r.MinSpendFen, Code: req.Code, ClaimID: req.ClaimID}
	s.redemptions[id] = red
	if req.ClaimID != "" {
		s.claims[req.ClaimID] = id
	}
	return red, nil
}

// Fulfil implements Store.
func (s *MemoryStore) Fulfil(_ context.Context, claimID string, p Policy) (Redemption, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.claims[claimID]
	if !ok {
		return Redemption{}, ErrNotFound
	}
	red := s.redemptions[id]
	if red.FulfilledAt == nil {
		at := time.UnixMilli(p.Now.UnixMilli()).UTC()
		red.FulfilledAt = &at
		s.redemptions[id] = red
	}
	return red, nil
}

// Catalogue implements Store.
func (s *MemoryStore) Catalogue(context.Context) ([]Reward, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.catalogue == nil {
		return nil, false, nil
	}
	return append([]Reward{}, s.catalogue...), true, nil
}

// SetCatalogue implements Store.
func (s *MemoryStore) SetCatalogue(_ context.Context, rs []Reward) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.catalogue = append([]Reward{}, rs...)
	return nil
}

// Snapshot implements Store.
func (s *MemoryStore) Snapshot(_ context.Context, user string, p Policy) (Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[user]
	if !ok {
		return Snapshot{Earned: map[string]int64{}}, nil
	}
	u.due(p)
	earned := maps.Clone(u.earned)
	spent := maps.Clone(u.spent)
	return Snapshot{
		Balance:   u.balance,
		Pending:   u.pending,
		Tier:      u.tier,
		Earned:    earned,
		Spent:     spent,
		Capped:    u.capped,
		Expired:   u.expired,
		Shortfall: u.shortfall,
		Recent:    lastEntries(u.entries, RecentEntries),
	}, nil
}

// Entries implements Store.
func (s *MemoryStore) Entries(_ context.Context, user string, n int) ([]Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[user]
	if !ok {
		return []Entry{}, nil
	}
	return lastEntries(u.entries, n), nil
}

func lastEntries(es []Entry, n int) []Entry {
	if n > 0 && len(es) > n {
		es = es[len(es)-n:]
	}
	return append([]Entry{}, es...)
}

// Leaderboard implements Store.
func (s *MemoryStore) Leaderboard(_ context.Context, stream string, n int) ([]Standing, error) {
	s.mu.Lock()
	var points map[string]int64
	if b := s.boards[stream]; b != nil {
		points = b.points
	}
	st := make([]Standing, 0, len(points))
	for u, pts := range points {
		st = append(st, Standing{User: u, Points: pts})
	}
	s.mu.Unlock()
	st = rankStandings(st)
	if len(st) > n {
		st = st[:n]
	}
	return st, nil
}

// Remaining implements Store.
func (s *MemoryStore) Remaining(_ context.Context, rs []Reward) (map[string]int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int64{}
	for _, r := range rs {
		if r.Stock <= 0 {
			continue
		}
		out[r.ID] = max(0, r.Stock-s.sold[r.ID])
	}
	return out, nil
}

// Redemptions implements Store. It walks every redemption of every user: the memory store is for one node
// and tests, where that is small.
func (s *MemoryStore) Redemptions(_ context.Context, user string) ([]Redemption, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Redemption
	for id, red := range s.redemptions {
		if id[0] == user {
			out = append(out, red)
		}
	}
	sortRedemptions(out)
	return out, nil
}
