package engagement

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Who may enter a draw.
const (
	DrawAll        = "all"        // anyone watching who sends draw.enter
	DrawVoters     = "voters"     // viewers who voted in a poll of the stream
	DrawCommenters = "commenters" // viewers who commented on the stream
	DrawKeyword    = "keyword"    // viewers who comment the keyword after the draw opens (entered by the comment)
)

// Draw statuses.
const (
	DrawOpen   = "open"   // taking entries
	DrawClosed = "closed" // entries stopped, winners being drawn
	DrawDone   = "done"   // result published
)

// Draw limits.
const (
	MaxDrawWinners    = 100
	MaxDrawPrizeRunes = 120
	MaxDrawKeyword    = 40
	// DrawSeedBytes is the length of a draw's secret seed.
	DrawSeedBytes = 32
)

// Draw is a verifiable lucky draw. Its Commitment, SHA-256 of the secret seed, is public from the start;
// the seed is revealed with the result, with the entrant list frozen when entries closed and its hash, so
// anyone can check that the winners follow from the seed and that list (VerifyDraw; docs/draws.md).
type Draw struct {
	ID         string    `json:"id"`
	Prize      string    `json:"prize"`
	Winners    int       `json:"winners"`
	Eligible   string    `json:"eligible"`
	Keyword    string    `json:"keyword,omitempty"`
	Commitment string    `json:"commitment"`
	Status     string    `json:"status"`
	OpensAt    time.Time `json:"opens_at"`
	// Seed is the hex seed, secret until the result is published (then it is in Result): never marshalled.
	Seed   string      `json:"-"`
	Result *DrawResult `json:"result,omitempty"`
}

// DrawEntrant is one user in a draw.
type DrawEntrant struct {
	User string `json:"user"`
	Name string `json:"name"`
}

// DrawResult is the draw.result frame: the winners with everything needed to verify them.
type DrawResult struct {
	ID         string        `json:"id"`
	Prize      string        `json:"prize"`
	Winners    []DrawEntrant `json:"winners"`
	Seed       string        `json:"seed"`
	Commitment string        `json:"commitment"`
	// Entrants are the user ids of every entrant, sorted: the list as it was when entries closed.
	Entrants []string `json:"entrants"`
	// EntrantsHash is DrawEntrantsHash(Entrants): with the seed, it keys the shuffle that picks the winners,
	// so the winners commit to exactly this list (docs/draws.md).
	EntrantsHash string `json:"entrants_hash"`
}

// DrawSpec is what a host gives to open a draw.
type DrawSpec struct {
	Prize    string `json:"prize"`
	Winners  int    `json:"winners"`
	Eligible string `json:"eligible"`
	Keyword  string `json:"keyword"`
}

func (sp DrawSpec) clean() (DrawSpec, error) {
	prize, err := CleanText("prize", sp.Prize, MaxDrawPrizeRunes)
	if err != nil {
		return sp, err
	}
	if sp.Winners < 1 || sp.Winners > MaxDrawWinners {
		return sp, Invalid("winners", "winners must be 1..%d", MaxDrawWinners)
	}
	out := DrawSpec{Prize: prize, Winners: sp.Winners, Eligible: sp.Eligible}
	switch sp.Eligible {
	case "":
		out.Eligible = DrawAll
	case DrawAll, DrawVoters, DrawCommenters:
	case DrawKeyword:
		kw, err := CleanText("keyword", sp.Keyword, MaxDrawKeyword)
		if err != nil {
			return sp, err
		}
		out.Keyword = strings.ToLower(kw)
	default:
		return sp, Invalid("eligible", "eligible must be all, voters, commenters or keyword")
	}
	return out, nil
}

// drawError words a DrawStore rejection about draw id for the user; other errors pass unchanged.
func drawError(err error, id string) error {
	if !bare(err) {
		return err
	}
	switch {
	case errors.Is(err, ErrNotFound):
		return Errorf(CodeNotFound, "no draw %q", id)
	case errors.Is(err, ErrNotOpenYet):
		return notYetOpen("draw")
	case errors.Is(err, ErrClosed):
		return Errorf(CodeClosed, "this draw is closed")
	case errors.Is(err, ErrDuplicate):
		return Errorf(CodeDuplicate, "you are already in this draw")
	}
	return err
}

// DrawCommitment returns the commitment to a seed: the hex SHA-256 of its bytes.
func DrawCommitment(seed []byte) string {
	sum := sha256.Sum256(seed)
	return hex.EncodeToString(sum[:])
}

// drawEntrantList returns entrants sorted by their bytes, without duplicates: the list a draw is run on.
func drawEntrantList(entrants []string) []string {
	list := slices.Clone(entrants)
	slices.Sort(list)
	return slices.Compact(list)
}

// drawEntrantsHash is SHA-256 over the sorted, de-duplicated list, each user id written as its length in
// bytes (4 bytes, big-endian) followed by its UTF-8 bytes.
func drawEntrantsHash(list []string) [sha256.Size]byte {
	h := sha256.New()
	var n [4]byte
	for _, u := range list {
		binary.BigEndian.PutUint32(n[:], uint32(len(u)))
		h.Write(n[:])
		h.Write([]byte(u))
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// DrawEntrantsHash returns the hex hash of a draw's entrant list, as draw.result publishes it: SHA-256 over
// the user ids sorted by their bytes and de-duplicated, each written as its length in bytes (4 bytes,
// big-endian) followed by its UTF-8 bytes (docs/draws.md).
func DrawEntrantsHash(entrants []string) string {
	sum := drawEntrantsHash(drawEntrantList(entrants))
	return hex.EncodeToString(sum[:])
}

// VerifyDraw returns the winners a draw with the given hex seed picks from entrants: the first n users of a
// Fisher–Yates shuffle of the sorted, de-duplicated entrants driven by SHA-256(key || counter), where the key
// is HMAC-SHA256(seed, entrants hash) (DrawEntrantsHash, as raw bytes). The winners thus follow from the
// committed seed and from exactly this list. Run on a published draw.result it must give the published
// winners; docs/draws.md specifies every step.
func VerifyDraw(seedHex string, entrants []string, n int) ([]string, error) {
	seed, err := hex.DecodeString(seedHex)
	if err != nil || len(seed) != DrawSeedBytes {
		return nil, Invalid("seed", "seed must be %d bytes of hex", DrawSeedBytes)
	}
	list := drawEntrantList(entrants)
	n = min(max(n, 0), len(list))

	listHash := drawEntrantsHash(list)
	mac := hmac.New(sha256.New, seed)
	mac.Write(listHash[:])
	key := mac.Sum(nil)

	var counter uint64
	buf := make([]byte, len(key)+8)
	copy(buf, key)
	// uniform returns an integer in [0, m) from the next hashes, rejecting values that would bias it.
	uniform := func(m uint64) uint64 {
		bound := (math.MaxUint64 / m) * m
		for {
			binary.BigEndian.PutUint64(buf[len(key):], counter)
			counter++
			sum := sha256.Sum256(buf)
			if r := binary.BigEndian.Uint64(sum[:8]); r < bound {
				return r % m
			}
		}
	}
	for i := range n {
		j := i + int(uniform(uint64(len(list)-i)))
		list[i], list[j] = list[j], list[i]
	}
	return list[:n], nil
}

// DrawEnter is the draw.enter client action.
type DrawEnter struct {
	DrawID string `json:"draw_id"`
}

// FrameType implements Action.
func (DrawEnter) FrameType() string { return "draw.enter" }

func (a *DrawEnter) handle(ctx context.Context, s *Service, actor Actor, stream string) (Outcome, error) {
	return s.EnterDraw(ctx, actor, stream, a.DrawID)
}

// doOpenDraw is OpenDraw (act.go), less the admission and the publication of its events.
func (s *Service) doOpenDraw(ctx context.Context, actor Actor, stream string, spec DrawSpec) (Draw, Outcome, error) {
	st, err := s.runStream(ctx, actor, stream)
	if err != nil {
		return Draw{}, Outcome{}, err
	}
	if spec, err = spec.clean(); err != nil {
		return Draw{}, Outcome{}, err
	}
	seed := make([]byte, DrawSeedBytes)
	if _, err := rand.Read(seed); err != nil {
		return Draw{}, Outcome{}, fmt.Errorf("draw seed: %w", err)
	}
	d := Draw{
		ID: s.newItemID(), Prize: spec.Prize, Winners: spec.Winners, Eligible: spec.Eligible, Keyword: spec.Keyword,
		Commitment: DrawCommitment(seed), Status: DrawOpen, OpensAt: s.now().Add(st.videoDelay()).UTC(),
		Seed: hex.EncodeToString(seed),
	}
	if err := s.store.CreateDraw(ctx, stream, d); err != nil {
		return Draw{}, Outcome{}, fmt.Errorf("open draw on %s: %w", stream, err)
	}
	out := Outcome{Stream: stream, Broadcast: []Frame{{Type: "draw.opened", Data: d}}, Delay: st.videoDelay()}
	return d, out, nil
}

// EnterDraw enters actor in a draw they are eligible for: once. A keyword draw is entered by commenting
// its keyword, so draw.enter there only answers duplicate or forbidden. Hosts, admins and the shop's backend
// never enter a draw, and a banned user does not either (the participation policy, policy.go).
func (s *Service) EnterDraw(ctx context.Context, actor Actor, stream, drawID string) (Outcome, error) {
	if _, err := s.participate(ctx, actor, stream, actEnter); err != nil { // no staff, no banned users
		return Outcome{}, err
	}
	if drawID == "" {
		return Outcome{}, Invalid("draw_id", "draw_id is required")
	}
	d, err := s.store.Draw(ctx, stream, drawID)
	if err != nil {
		return Outcome{}, fmt.Errorf("get draw %s: %w", drawID, drawError(err, drawID))
	}
	var eligible bool
	switch d.Eligible {
	case DrawAll:
		eligible = true
	case DrawVoters:
		eligible, err = s.store.HasVoted(ctx, stream, actor.User)
	case DrawCommenters:
		eligible, err = s.store.HasCommented(ctx, stream, actor.User)
	}
	if err != nil {
		return Outcome{}, fmt.Errorf("check draw eligibility on %s: %w", stream, err)
	}
	if !eligible {
		entrants, err := s.store.DrawEntrants(ctx, stream, drawID)
		if err != nil {
			return Outcome{}, fmt.Errorf("entrants of draw %s: %w", drawID, drawError(err, drawID))
		}
		if slices.ContainsFunc(entrants, func(e DrawEntrant) bool { return e.User == actor.User }) {
			return Outcome{}, Errorf(CodeDuplicate, "you are already in this draw")
		}
		return Outcome{}, Errorf(CodeForbidden, "%s", eligibilityMessage(d))
	}
	if err := s.store.EnterDraw(ctx, stream, drawID, DrawEntrant{User: actor.User, Name: actor.Name}, s.now().UTC()); err != nil {
		return Outcome{}, fmt.Errorf("enter draw %s: %w", drawID, drawError(err, drawID))
	}
	s.emit(ctx, EventDrawEntered, stream, actor.User, map[string]any{"draw_id": drawID, "stream": stream})
	return Outcome{Stream: stream}, nil
}

func eligibilityMessage(d Draw) string {
	switch d.Eligible {
	case DrawVoters:
		return "this draw is for viewers who voted in a poll"
	case DrawCommenters:
		return "this draw is for viewers who commented"
	case DrawKeyword:
		return fmt.Sprintf("comment %q to enter this draw", d.Keyword)
	}
	return "you cannot enter this draw"
}

// noteComment records what a posted comment means for draws: its author is a commenter of the stream, and a
// comment containing the keyword of the stream's open keyword draw enters its author. PostComment calls it
// after storing the comment. Failures are logged: the comment itself was accepted.
func (s *Service) noteComment(ctx context.Context, actor Actor, stream, text string) {
	if err := s.store.MarkCommenter(ctx, stream, actor.User); err != nil {
		s.log.Error("mark commenter", "stream", stream, "user", actor.User, "err", err)
	}
	d, err := s.store.CurrentDraw(ctx, stream)
	if err != nil {
		if err = ignoreNotFound(err); err != nil {
			s.log.Error("current draw", "stream", stream, "user", actor.User, "err", err)
		}
		return
	}
	now := s.now().UTC()
	if d.Eligible != DrawKeyword || d.Status != DrawOpen || now.Before(d.OpensAt) || !strings.Contains(strings.ToLower(text), d.Keyword) {
		return
	}
	if _, err := s.participate(ctx, actor, stream, actEnter); err != nil { // staff comment the keyword too
		if c := CodeOf(err); c != CodeForbidden && c != CodeClosed {
			s.log.Error("enter keyword draw", "stream", stream, "user", actor.User, "err", err)
		}
		return
	}
	err = s.store.EnterDraw(ctx, stream, d.ID, DrawEntrant{User: actor.User, Name: actor.Name}, now)
	switch {
	case err == nil:
		s.emit(ctx, EventDrawEntered, stream, actor.User, map[string]any{"draw_id": d.ID, "stream": stream, "keyword": d.Keyword})
	case errors.Is(err, ErrDuplicate), errors.Is(err, ErrClosed):
	default:
		s.log.Error("enter keyword draw", "stream", stream, "user", actor.User, "err", err)
	}
}

// errDrawDone stops a draw update when the result is already published.
var errDrawDone = Errorf(CodeClosed, "the draw is done")

// doRunDraw is RunDraw (act.go), less the admission and the publication of its events.
func (s *Service) doRunDraw(ctx context.Context, actor Actor, stream, drawID string) (DrawResult, Outcome, error) {
	if _, err := s.hostStream(ctx, actor, stream); err != nil {
		return DrawResult{}, Outcome{}, err
	}
	out := Outcome{Stream: stream}
	stop := func(d *Draw) error {
		if d.Status == DrawDone {
			return errDrawDone
		}
		d.Status = DrawClosed
		return nil
	}
	d, err := s.store.UpdateDraw(ctx, stream, drawID, stop)
	if errors.Is(err, errDrawDone) {
		return s.drawResult(ctx, stream, drawID)
	}
	if err != nil {
		return DrawResult{}, out, fmt.Errorf("close draw %s: %w", drawID, drawError(err, drawID))
	}
	entrants, err := s.store.DrawEntrants(ctx, stream, drawID)
	if err != nil {
		return DrawResult{}, out, fmt.Errorf("entrants of draw %s: %w", drawID, drawError(err, drawID))
	}
	names := make(map[string]string, len(entrants))
	users := make([]string, len(entrants))
	for i, e := range entrants {
		users[i], names[e.User] = e.User, e.Name
	}
	winners, err := VerifyDraw(d.Seed, users, d.Winners)
	if err != nil {
		return DrawResult{}, out, fmt.Errorf("draw %s: %w", drawID, err)
	}
	users = drawEntrantList(users)
	res := DrawResult{ID: drawID, Prize: d.Prize, Seed: d.Seed, Commitment: d.Commitment, Entrants: users,
		EntrantsHash: DrawEntrantsHash(users), Winners: []DrawEntrant{}}
	for _, w := range winners {
		res.Winners = append(res.Winners, DrawEntrant{User: w, Name: names[w]})
	}
	_, err = s.store.UpdateDraw(ctx, stream, drawID, func(d *Draw) error {
		if d.Status == DrawDone {
			return errDrawDone
		}
		d.Status, d.Result = DrawDone, &res
		return nil
	})
	if errors.Is(err, errDrawDone) { // another run published first; the result is the same by construction
		return s.drawResult(ctx, stream, drawID)
	}
	if err != nil {
		return DrawResult{}, out, fmt.Errorf("publish draw %s: %w", drawID, drawError(err, drawID))
	}
	for _, w := range res.Winners {
		s.emit(ctx, EventDrawWon, stream, w.User, map[string]any{
			"draw_id": drawID, "stream": stream, "prize": res.Prize, "commitment": res.Commitment, "entrants": len(users),
			"entrants_hash": res.EntrantsHash,
		})
	}
	out.Broadcast = []Frame{{Type: "draw.result", Data: res}}
	s.record(ctx, out)
	return res, out, nil
}

func (s *Service) drawResult(ctx context.Context, stream, drawID string) (DrawResult, Outcome, error) {
	d, err := s.store.Draw(ctx, stream, drawID)
	if err != nil {
		return DrawResult{}, Outcome{}, fmt.Errorf("get draw %s: %w", drawID, drawError(err, drawID))
	}
	if d.Result == nil {
		return DrawResult{}, Outcome{}, Errorf(CodeClosed, "draw %s has no result", drawID)
	}
	return *d.Result, Outcome{Stream: stream}, nil
}

// Draw returns a draw of a stream (its seed, entrant list and entrants hash only once the result is
// published, inside Result).
func (s *Service) Draw(ctx context.Context, stream, drawID string) (Draw, error) {
	d, err := s.store.Draw(ctx, stream, drawID)
	if err != nil {
		return Draw{}, fmt.Errorf("get draw %s: %w", drawID, drawError(err, drawID))
	}
	return d, nil
}

func roomDraw(ctx context.Context, s *Service, st Stream, w *Welcome) error {
	d, err := s.store.CurrentDraw(ctx, st.ID)
	if err != nil {
		if err = ignoreNotFound(err); err != nil {
			return fmt.Errorf("current draw of %s: %w", st.ID, err)
		}
		return nil
	}
	if d.Status == DrawOpen && !s.now().Before(d.OpensAt) {
		w.Draw = d
	}
	return nil
}

// DrawStore keeps lucky draws, their entrants, and who commented on a stream (for draws limited to
// commenters).
type DrawStore interface {
	// CreateDraw stores d (with its secret seed) as the stream's current draw; ErrDuplicate if the id is taken.
	CreateDraw(ctx context.Context, stream string, d Draw) error
	// Draw returns a draw, seed included, or ErrNotFound.
	Draw(ctx context.Context, stream, id string) (Draw, error)
	// CurrentDraw returns the draw created last on the stream, or ErrNotFound.
	CurrentDraw(ctx context.Context, stream string) (Draw, error)
	// UpdateDraw applies fn to the stored draw and stores the result. Atomic as StreamStore.UpdateStream.
	UpdateDraw(ctx context.Context, stream, id string, fn func(*Draw) error) (Draw, error)
	// EnterDraw adds e to the draw's entrants. Atomic: ErrNotFound for an unknown draw; ErrClosed unless the
	// draw's status is open and now is not before OpensAt; ErrDuplicate if the user already entered.
	EnterDraw(ctx context.Context, stream, id string, e DrawEntrant, now time.Time) error
	// DrawEntrants returns the draw's entrants sorted by user id.
	DrawEntrants(ctx context.Context, stream, id string) ([]DrawEntrant, error)
	// MarkCommenter records that user commented on the stream.
	MarkCommenter(ctx context.Context, stream, user string) error
	// HasCommented reports whether MarkCommenter recorded user on the stream.
	HasCommented(ctx context.Context, stream, user string) (bool, error)
}
