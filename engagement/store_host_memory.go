package engagement

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"sync"
	"time"
)

// hostMemory is MemoryStore's share for HostStore: polls, quizzes, feedback, coupons and draws. It has its
// own lock so that a burst of votes does not queue behind chat.
type hostMemory struct {
	hostMu      sync.Mutex
	polls       map[string]*memPoll // key(stream, id)
	currentPoll map[string]string   // stream → poll id
	voters      map[string]map[string]bool
	quizzes     map[string]*memQuiz
	activeQuiz  map[string]string
	feedback    map[string]*memFeedback
	coupons     map[string]*memCoupon
	couponIDs   map[string][]string // stream → coupon ids, oldest first
	draws       map[string]*memDraw
	currentDraw map[string]string
	commenters  map[string]map[string]bool
}

type memPoll struct {
	p     Poll
	voted map[string]bool
}

type memQuiz struct {
	q        Quiz
	answers  [][]QuizResponse // per question, in order of acceptance
	answered []map[string]bool
	players  map[string]QuizPlayer
}

type memFeedback struct {
	counts FeedbackCounts
	given  map[string]bool // kind + "\x00" + user
}

type memCoupon struct {
	c     Coupon
	codes map[string]string // user → code
}

type memDraw struct {
	d        Draw
	entrants map[string]DrawEntrant
}

var _ HostStore = (*MemoryStore)(nil)

func newHostMemory() *hostMemory {
	return &hostMemory{
		polls:       map[string]*memPoll{},
		currentPoll: map[string]string{},
		voters:      map[string]map[string]bool{},
		quizzes:     map[string]*memQuiz{},
		activeQuiz:  map[string]string{},
		feedback:    map[string]*memFeedback{},
		coupons:     map[string]*memCoupon{},
		couponIDs:   map[string][]string{},
		draws:       map[string]*memDraw{},
		currentDraw: map[string]string{},
		commenters:  map[string]map[string]bool{},
	}
}

func hostKey(stream, id string) string { return stream + "\x00" + id }

func clonePoll(p Poll) Poll {
	p.Options = slices.Clone(p.Options)
	p.Counts = slices.Clone(p.Counts)
	return p
}

// OpenPoll implements PollStore.
func (m *MemoryStore) OpenPoll(_ context.Context, stream string, p Poll) error {
	m.hostMu.Lock()
	defer m.hostMu.Unlock()
	if cur, ok := m.polls[hostKey(stream, m.currentPoll[stream])]; ok && cur.p.Status == PollOpen {
		return Errorf(CodeDuplicate, "poll %q is still open", cur.p.ID)
	}
	k := hostKey(stream, p.ID)
	if _, ok := m.polls[k]; ok {
		return Errorf(CodeDuplicate, "poll %q exists", p.ID)
	}
	p = clonePoll(p)
	p.Status, p.Total = PollOpen, 0
	p.Counts = make([]int64, len(p.Options))
	m.polls[k] = &memPoll{p: p, voted: map[string]bool{}}
	m.currentPoll[stream] = p.ID
	return nil
}

// Poll implements PollStore.
func (m *MemoryStore) Poll(_ context.Context, stream, id string) (Poll, error) {
	m.hostMu.Lock()
	defer m.hostMu.Unlock()
	mp, ok := m.polls[hostKey(stream, id)]
	if !ok {
		return Poll{}, Errorf(CodeNotFound, "no poll %q", id)
	}
	return clonePoll(mp.p), nil
}

// CurrentPoll implements PollStore.
func (m *MemoryStore) CurrentPoll(_ context.Context, stream string) (Poll, error) {
	m.hostMu.Lock()
	defer m.hostMu.Unlock()
	mp, ok := m.polls[hostKey(stream, m.currentPoll[stream])]
	if !ok {
		return Poll{}, Errorf(CodeNotFound, "no poll on %q", stream)
	}
	return clonePoll(mp.p), nil
}

// VotePoll implements PollStore.
func (m *MemoryStore) VotePoll(_ context.Context, stream, id, user string, option int, now time.Time) (Poll, error) {
	m.hostMu.Lock()
	defer m.hostMu.Unlock()
	mp, ok := m.polls[hostKey(stream, id)]
	if !ok {
		return Poll{}, Errorf(CodeNotFound, "no poll %q", id)
	}
	if err := mp.p.acceptsVotes(now); err != nil {
		return Poll{}, err
	}
	if option < 0 || option >= len(mp.p.Options) {
		return Poll{}, Invalid("option", "option must be 0..%d", len(mp.p.Options)-1)
	}
	if mp.voted[user] {
		return Poll{}, Errorf(CodeDuplicate, "you already voted in this poll")
	}
	mp.voted[user] = true
	mp.p.Counts[option]++
	mp.p.Total++
	if m.voters[stream] == nil {
		m.voters[stream] = map[string]bool{}
	}
	m.voters[stream][user] = true
	return clonePoll(mp.p), nil
}

// ClosePoll implements PollStore.
func (m *MemoryStore) ClosePoll(_ context.Context, stream, id string, now time.Time) (Poll, bool, error) {
	m.hostMu.Lock()
	defer m.hostMu.Unlock()
	mp, ok := m.polls[hostKey(stream, id)]
	if !ok {
		return Poll{}, false, Errorf(CodeNotFound, "no poll %q", id)
	}
	if mp.p.Status == PollClosed {
		return clonePoll(mp.p), false, nil
	}
	mp.p.Status, mp.p.ClosedAt = PollClosed, now
	return clonePoll(mp.p), true, nil
}

// HasVoted implements PollStore.
func (m *MemoryStore) HasVoted(_ context.Context, stream, user string) (bool, error) {
	m.hostMu.Lock()
	defer m.hostMu.Unlock()
	return m.voters[stream][user], nil
}

func cloneQuiz(q Quiz) Quiz {
	q.Questions = slices.Clone(q.Questions)
	for i := range q.Questions {
		q.Questions[i].Choices = slices.Clone(q.Questions[i].Choices)
		q.Questions[i].Counts = slices.Clone(q.Questions[i].Counts)
	}
	return q
}

// CreateQuiz implements QuizStore.
func (m *MemoryStore) CreateQuiz(_ context.Context, stream string, q Quiz) error {
	m.hostMu.Lock()
	defer m.hostMu.Unlock()
	k := hostKey(stream, q.ID)
	if _, ok := m.quizzes[k]; ok {
		return Errorf(CodeDuplicate, "quiz %q exists", q.ID)
	}
	q = cloneQuiz(q)
	mq := &memQuiz{q: q, answers: make([][]QuizResponse, len(q.Questions)), answered: make([]map[string]bool, len(q.Questions)), players: map[string]QuizPlayer{}}
	for i := range q.Questions {
		q.Questions[i].Counts = make([]int64, len(q.Questions[i].Choices))
		mq.answered[i] = map[string]bool{}
	}
	m.quizzes[k] = mq
	m.activeQuiz[stream] = q.ID
	return nil
}

// Quiz implements QuizStore.
func (m *MemoryStore) Quiz(_ context.Context, stream, id string) (Quiz, error) {
	m.hostMu.Lock()
	defer m.hostMu.Unlock()
	mq, ok := m.quizzes[hostKey(stream, id)]
	if !ok {
		return Quiz{}, Errorf(CodeNotFound, "no quiz %q", id)
	}
	return cloneQuiz(mq.q), nil
}

// ActiveQuiz implements QuizStore.
func (m *MemoryStore) ActiveQuiz(_ context.Context, stream string) (Quiz, error) {
	m.hostMu.Lock()
	defer m.hostMu.Unlock()
	mq, ok := m.quizzes[hostKey(stream, m.activeQuiz[stream])]
	if !ok {
		return Quiz{}, Errorf(CodeNotFound, "no quiz on %q", stream)
	}
	return cloneQuiz(mq.q), nil
}

// UpdateQuiz implements QuizStore.
func (m *MemoryStore) UpdateQuiz(_ context.Context, stream, id string, fn func(*Quiz) error) (Quiz, error) {
	m.hostMu.Lock()
	defer m.hostMu.Unlock()
	mq, ok := m.quizzes[hostKey(stream, id)]
	if !ok {
		return Quiz{}, Errorf(CodeNotFound, "no quiz %q", id)
	}
	q := cloneQuiz(mq.q)
	if err := fn(&q); err != nil {
		return Quiz{}, err
	}
	for i := range q.Questions { // counts belong to AnswerQuiz
		q.Questions[i].Counts = slices.Clone(mq.q.Questions[i].Counts)
	}
	mq.q = q
	return cloneQuiz(q), nil
}

// AnswerQuiz implements QuizStore.
func (m *MemoryStore) AnswerQuiz(_ context.Context, stream, quizID string, a QuizResponse, now time.Time) error {
	m.hostMu.Lock()
	defer m.hostMu.Unlock()
	mq, ok := m.quizzes[hostKey(stream, quizID)]
	if !ok {
		return Errorf(CodeNotFound, "no quiz %q", quizID)
	}
	q := mq.q
	switch {
	case a.Question < 0 || a.Question >= len(q.Questions) || a.Question != q.Current || q.Status != QuizRunning || q.Revealed:
		return Errorf(CodeClosed, "this question is not open")
	case now.Before(q.OpensAt):
		return notYetOpen("question")
	case !now.Before(q.Deadline):
		return Errorf(CodeClosed, "time is up for this question")
	case a.Choice < 0 || a.Choice >= len(q.Questions[a.Question].Choices):
		return Invalid("choice", "choice must be 0..%d", len(q.Questions[a.Question].Choices)-1)
	case mq.answered[a.Question][a.User]:
		return Errorf(CodeDuplicate, "you already answered this question")
	}
	mq.answered[a.Question][a.User] = true
	mq.answers[a.Question] = append(mq.answers[a.Question], a)
	q.Questions[a.Question].Counts[a.Choice]++
	return nil
}

// QuizAnswers implements QuizStore.
func (m *MemoryStore) QuizAnswers(_ context.Context, stream, quizID string, question int) ([]QuizResponse, error) {
	m.hostMu.Lock()
	defer m.hostMu.Unlock()
	mq, ok := m.quizzes[hostKey(stream, quizID)]
	if !ok {
		return nil, Errorf(CodeNotFound, "no quiz %q", quizID)
	}
	if question < 0 || question >= len(mq.answers) {
		return nil, nil
	}
	return slices.Clone(mq.answers[question]), nil
}

// QuizPlayers implements QuizStore.
func (m *MemoryStore) QuizPlayers(_ context.Context, stream, quizID string) ([]QuizPlayer, error) {
	m.hostMu.Lock()
	defer m.hostMu.Unlock()
	mq, ok := m.quizzes[hostKey(stream, quizID)]
	if !ok {
		return nil, Errorf(CodeNotFound, "no quiz %q", quizID)
	}
	return slices.Collect(maps.Values(mq.players)), nil
}

// SaveQuizPlayers implements QuizStore.
func (m *MemoryStore) SaveQuizPlayers(_ context.Context, stream, quizID string, players []QuizPlayer) error {
	m.hostMu.Lock()
	defer m.hostMu.Unlock()
	mq, ok := m.quizzes[hostKey(stream, quizID)]
	if !ok {
		return Errorf(CodeNotFound, "no quiz %q", quizID)
	}
	for _, p := range players {
		mq.players[p.User] = p
	}
	return nil
}

// AddFeedback implements FeedbackStore.
func (m *MemoryStore) AddFeedback(_ context.Context, stream, user, kind string, score int) (FeedbackCounts, error) {
	m.hostMu.Lock()
	defer m.hostMu.Unlock()
	var max int
	switch kind {
	case FeedbackRating:
		max = len(FeedbackCounts{}.Ratings)
	case FeedbackNPS:
		max = len(FeedbackCounts{}.NPS) - 1
	default:
		return FeedbackCounts{}, Invalid("kind", "unknown feedback kind %q", kind)
	}
	if score < 0 || score > max || (kind == FeedbackRating && score < 1) {
		return FeedbackCounts{}, Invalid("score", "score out of range")
	}
	f := m.feedback[stream]
	if f == nil {
		f = &memFeedback{given: map[string]bool{}}
		m.feedback[stream] = f
	}
	if f.given[kind+"\x00"+user] {
		return FeedbackCounts{}, Errorf(CodeDuplicate, "you already gave this feedback")
	}
	f.given[kind+"\x00"+user] = true
	if kind == FeedbackRating {
		f.counts.Ratings[score-1]++
	} else {
		f.counts.NPS[score]++
	}
	return f.counts, nil
}

// Feedback implements FeedbackStore.
func (m *MemoryStore) Feedback(_ context.Context, stream string) (FeedbackCounts, error) {
	m.hostMu.Lock()
	defer m.hostMu.Unlock()
	if f := m.feedback[stream]; f != nil {
		return f.counts, nil
	}
	return FeedbackCounts{}, nil
}

// CreateCoupon implements CouponStore.
func (m *MemoryStore) CreateCoupon(_ context.Context, stream string, c Coupon) error {
	m.hostMu.Lock()
	defer m.hostMu.Unlock()
	k := hostKey(stream, c.ID)
	if _, ok := m.coupons[k]; ok {
		return Errorf(CodeDuplicate, "coupon %q exists", c.ID)
	}
	c.Remaining = c.Stock
	m.coupons[k] = &memCoupon{c: c, codes: map[string]string{}}
	m.couponIDs[stream] = append(m.couponIDs[stream], c.ID)
	return nil
}

// Coupon implements CouponStore.
func (m *MemoryStore) Coupon(_ context.Context, stream, id string) (Coupon, error) {
	m.hostMu.Lock()
	defer m.hostMu.Unlock()
	mc, ok := m.coupons[hostKey(stream, id)]
	if !ok {
		return Coupon{}, Errorf(CodeNotFound, "no coupon %q", id)
	}
	return mc.c, nil
}

// Coupons implements CouponStore.
func (m *MemoryStore) Coupons(_ context.Context, stream string) ([]Coupon, error) {
	m.hostMu.Lock()
	defer m.hostMu.Unlock()
	ids := m.couponIDs[stream]
	cs := make([]Coupon, 0, len(ids))
	for _, id := range ids {
		cs = append(cs, m.coupons[hostKey(stream, id)].c)
	}
	return cs, nil
}

// ClaimCoupon implements CouponStore.
func (m *MemoryStore) ClaimCoupon(_ context.Context, stream, id, user, code string, now time.Time) (Coupon, error) {
	m.hostMu.Lock()
	defer m.hostMu.Unlock()
	mc, ok := m.coupons[hostKey(stream, id)]
	if !ok {
		return Coupon{}, Errorf(CodeNotFound, "no coupon %q", id)
	}
	if _, ok := mc.codes[user]; ok {
		return Coupon{}, Errorf(CodeDuplicate, "you already claimed this coupon")
	}
	if err := mc.c.claimable(now); err != nil {
		return Coupon{}, err
	}
	mc.codes[user] = code
	mc.c.Remaining--
	return mc.c, nil
}

func cloneDraw(d Draw) Draw {
	if d.Result != nil {
		r := *d.Result
		r.Winners = slices.Clone(r.Winners)
		r.Entrants = slices.Clone(r.Entrants)
		d.Result = &r
	}
	return d
}

// CreateDraw implements DrawStore.
func (m *MemoryStore) CreateDraw(_ context.Context, stream string, d Draw) error {
	m.hostMu.Lock()
	defer m.hostMu.Unlock()
	k := hostKey(stream, d.ID)
	if _, ok := m.draws[k]; ok {
		return Errorf(CodeDuplicate, "draw %q exists", d.ID)
	}
	m.draws[k] = &memDraw{d: cloneDraw(d), entrants: map[string]DrawEntrant{}}
	m.currentDraw[stream] = d.ID
	return nil
}

// Draw implements DrawStore.
func (m *MemoryStore) Draw(_ context.Context, stream, id string) (Draw, error) {
	m.hostMu.Lock()
	defer m.hostMu.Unlock()
	md, ok := m.draws[hostKey(stream, id)]
	if !ok {
		return Draw{}, Errorf(CodeNotFound, "no draw %q", id)
	}
	return cloneDraw(md.d), nil
}

// CurrentDraw implements DrawStore.
func (m *MemoryStore) CurrentDraw(_ context.Context, stream string) (Draw, error) {
	m.hostMu.Lock()
	defer m.hostMu.Unlock()
	md, ok := m.draws[hostKey(stream, m.currentDraw[stream])]
	if !ok {
		return Draw{}, Errorf(CodeNotFound, "no draw on %q", stream)
	}
	return cloneDraw(md.d), nil
}

// UpdateDraw implements DrawStore.
func (m *MemoryStore) UpdateDraw(_ context.Context, stream, id string, fn func(*Draw) error) (Draw, error) {
	m.hostMu.Lock()
	defer m.hostMu.Unlock()
	md, ok := m.draws[hostKey(stream, id)]
	if !ok {
		return Draw{}, Errorf(CodeNotFound, "no draw %q", id)
	}
	d := cloneDraw(md.d)
	if err := fn(&d); err != nil {
		return Draw{}, err
	}
	md.d = cloneDraw(d)
	return d, nil
}

// EnterDraw implements DrawStore.
func (m *MemoryStore) EnterDraw(_ context.Context, stream, id string, e DrawEntrant, now time.Time) error {
	m.hostMu.Lock()
	defer m.hostMu.Unlock()
	md, ok := m.draws[hostKey(stream, id)]
	if !ok {
		return Errorf(CodeNotFound, "no draw %q", id)
	}
	if md.d.Status != DrawOpen {
		return Errorf(CodeClosed, "this draw is closed")
	}
	if now.Before(md.d.OpensAt) {
		return notYetOpen("draw")
	}
	if _, ok := md.entrants[e.User]; ok {
		return Errorf(CodeDuplicate, "you are already in this draw")
	}
	md.entrants[e.User] = e
	return nil
}

// DrawEntrants implements DrawStore.
func (m *MemoryStore) DrawEntrants(_ context.Context, stream, id string) ([]DrawEntrant, error) {
	m.hostMu.Lock()
	defer m.hostMu.Unlock()
	md, ok := m.draws[hostKey(stream, id)]
	if !ok {
		return nil, Errorf(CodeNotFound, "no draw %q", id)
	}
	es := slices.Collect(maps.Values(md.entrants))
	slices.SortFunc(es, func(a, b DrawEntrant) int { return cmp.Compare(a.User, b.User) })
	return es, nil
}

// MarkCommenter implements DrawStore.
func (m *MemoryStore) MarkCommenter(_ context.Context, stream, user string) error {
	m.hostMu.Lock()
	defer m.hostMu.Unlock()
	if m.commenters[stream] == nil {
		m.commenters[stream] = map[string]bool{}
	}
	m.commenters[stream][user] = true
	return nil
}

// HasCommented implements DrawStore.
func (m *MemoryStore) HasCommented(_ context.Context, stream, user string) (bool, error) {
	m.hostMu.Lock()
	defer m.hostMu.Unlock()
	return m.commenters[stream][user], nil
}

// CouponCode implements CouponStore.
func (m *MemoryStore) CouponCode(_ context.Context, stream, id, user string) (string, error) {
	m.hostMu.Lock()
	defer m.hostMu.Unlock()
	mc, ok := m.coupons[hostKey(stream, id)]
	if !ok {
		return "", nil
	}
	return mc.codes[user], nil
}
