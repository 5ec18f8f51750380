package engagement

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kudos-live/kudos/internal/testenv"
	"github.com/kudos-live/kudos/rewards"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"
)

// What the erased person wrote and was called: after the erasure none of it may be found anywhere.
const (
	privComment  = "my secret comment 7731 about size 39"
	privQuestion = "private question 4410: do they run wide"
	privName     = "Annabel Privatename"
	otherComment = "bob stays 5512"
)

// privacyWorld is one Service over one backend, with a way to look for a text in everything the backend keeps.
type privacyWorld struct {
	svc    *Service
	sink   *MemorySink
	store  Store
	ledger *rewards.Ledger
	clock  *testenv.Clock
	// find returns where text is still kept (empty: nowhere).
	find func(t *testing.T, text string) []string
}

func newPrivacyWorld(t *testing.T, redisBacked bool) *privacyWorld {
	t.Helper()
	clk := testenv.NewClock(time.Date(2026, 3, 14, 19, 30, 0, 0, time.UTC))
	w := &privacyWorld{sink: NewMemorySink(), clock: clk}
	var ledgerStore rewards.Store
	if redisBacked {
		rdb, prefix := testRedis(t)
		w.store = NewRedisStore(rdb, RedisConfig{Prefix: prefix})
		ledgerStore = rewards.NewRedisStore(rdb, rewards.RedisConfig{Prefix: prefix + "rw:"})
		w.find = func(t *testing.T, text string) []string { return redisHolding(t, rdb, prefix, text) }
	} else {
		mem := NewMemoryStoreWith(MemoryConfig{Now: clk.Now})
		w.store = mem
		ms := rewards.NewMemoryStore()
		ledgerStore = ms
		w.find = func(t *testing.T, text string) []string {
			return append(memoryHolding(reflect.ValueOf(mem), "store", text), memoryHolding(reflect.ValueOf(ms), "ledger", text)...)
		}
	}
	l, err := rewards.NewLedger(ledgerStore, rewards.Config{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	w.ledger = l
	w.svc = New(Config{Node: "node-1", Now: clk.Now, CommentRate: rate.Inf, Ledger: l}, w.store, w.sink)
	return w
}

// memoryHolding walks v (every field, exported or not, every map key and value) and returns the paths of the
// strings and byte slices that contain text.
func memoryHolding(v reflect.Value, path, text string) []string {
	var out []string
	seen := map[uintptr]bool{}
	var walk func(v reflect.Value, path string)
	walk = func(v reflect.Value, path string) {
		switch v.Kind() {
		case reflect.Pointer:
			if v.IsNil() || seen[v.Pointer()] {
				return
			}
			seen[v.Pointer()] = true
			walk(v.Elem(), path)
		case reflect.Interface:
			if !v.IsNil() {
				walk(v.Elem(), path)
			}
		case reflect.Struct:
			for i := range v.NumField() {
				walk(v.Field(i), path+"."+v.Type().Field(i).Name)
			}
		case reflect.Map:
			it := v.MapRange()
			for it.Next() {
				walk(it.Key(), path+"[key]")
				walk(it.Value(), path+"[value]")
			}
		case reflect.Slice, reflect.Array:
			if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8 {
				if strings.Contains(string(v.Bytes()), text) {
					out = append(out, path)
				}
				return
			}
			for i := range v.Len() {
				walk(v.Index(i), path+"[]")
			}
		case reflect.String:
			if strings.Contains(v.String(), text) {
				out = append(out, path)
			}
		}
	}
	walk(v, path)
	return out
}

// redisHolding scans every key of prefix and returns those whose name or value contains text.
func redisHolding(t *testing.T, rdb *redis.Client, prefix, text string) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	it := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	n := 0
	for it.Next(ctx) {
		k := it.Val()
		n++
		var vals []string
		switch typ := rdb.Type(ctx, k).Val(); typ {
		case "string":
			vals = []string{rdb.Get(ctx, k).Val()}
		case "hash":
			for f, v := range rdb.HGetAll(ctx, k).Val() {
				vals = append(vals, f, v)
			}
		case "list":
			vals = rdb.LRange(ctx, k, 0, -1).Val()
		case "set":
			vals = rdb.SMembers(ctx, k).Val()
		case "zset":
			vals = rdb.ZRange(ctx, k, 0, -1).Val()
		default:
			vals = []string{rdb.Dump(ctx, k).Val()}
		}
		for _, v := range append(vals, k) {
			if strings.Contains(v, text) {
				out = append(out, k)
				break
			}
		}
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 20 {
		t.Fatalf("the scan found %d keys under %s: it is not looking where the state is", n, prefix)
	}
	return out
}

// showWithAnn plays a show in which ann comments, asks, votes, answers a quiz, gives feedback, claims a coupon,
// enters and wins a draw and buys; bob comments too. It returns ann's comment id.
func (w *privacyWorld) showWithAnn(t *testing.T, ann, bob Actor) string {
	t.Helper()
	ctx := context.Background()
	host := Actor{User: "host-mei", Name: "Mei", Role: RoleHost}
	shop := Actor{User: "shop", Role: RoleService}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	step := func() { w.clock.Advance(7 * time.Second) }
	_, err := w.svc.CreateStream(ctx, host, StreamSpec{ID: "s1", Title: "Spring sneakers"})
	must("create stream", err)
	for _, v := range []Actor{ann, bob} {
		_, err = w.svc.Join(ctx, v, "s1")
		must("join", err)
	}
	step()
	out, err := w.svc.PostComment(ctx, ann, "s1", privComment)
	must("comment", err)
	commentID, _ := out.Reply["comment_id"].(string)
	_, err = w.svc.PostComment(ctx, bob, "s1", otherComment)
	must("bob's comment", err)
	step()
	_, _, err = w.svc.AskQuestion(ctx, ann, "s1", privQuestion)
	must("ask", err)
	p, _, err := w.svc.OpenPoll(ctx, host, "s1", PollSpec{Question: "Which colour?", Options: []string{"White", "Black"}})
	must("open poll", err)
	_, err = w.svc.Vote(ctx, ann, "s1", p.ID, 1)
	must("vote", err)
	q, err := w.svc.CreateQuiz(ctx, host, "s1", QuizSpec{Title: "Trivia", Questions: []QuizItem{
		{Text: "Which year?", Choices: []string{"1984", "1991"}, Answer: 1, TimeLimitS: 10},
	}})
	must("create quiz", err)
	qs, _, err := w.svc.NextQuestion(ctx, host, "s1", q.ID)
	must("question", err)
	w.clock.Advance(2 * time.Second)
	_, err = w.svc.Answer(ctx, ann, "s1", q.ID, qs.Question.QuestionID, 1)
	must("answer", err)
	_, _, err = w.svc.NextQuestion(ctx, host, "s1", q.ID) // reveal and finish: the leaderboard names ann
	must("finish quiz", err)
	_, err = w.svc.SendFeedback(ctx, ann, "s1", FeedbackRating, 5)
	must("feedback", err)
	step()
	c, _, err := w.svc.DropCoupon(ctx, host, "s1", CouponSpec{Title: "¥30 off", Stock: 5, ExpiresS: 300, DiscountFen: 3000})
	must("drop coupon", err)
	_, err = w.svc.ClaimCoupon(ctx, ann, "s1", c.ID)
	must("claim", err)
	d, _, err := w.svc.OpenDraw(ctx, host, "s1", DrawSpec{Prize: "Signed pair", Winners: 1, Eligible: DrawAll})
	must("open draw", err)
	_, err = w.svc.EnterDraw(ctx, ann, "s1", d.ID)
	must("enter draw", err)
	_, _, err = w.svc.RunDraw(ctx, host, "s1", d.ID)
	must("run draw", err)
	_, _, err = w.svc.RecordPurchase(ctx, shop, Purchase{OrderID: "SO-1", UserID: ann.User, StreamID: "s1", AmountFen: 59900})
	must("purchase", err)
	return commentID
}

func TestPrivacyExportAndEraseMemory(t *testing.T) { testPrivacyExportAndErase(t, false) }

func TestPrivacyExportAndEraseRedis(t *testing.T) { testPrivacyExportAndErase(t, true) }

// testPrivacyExportAndErase is the "done when": a user's comment, question, vote, quiz answer, coupon
// claim and purchase are all in the export; after the erasure their text and name are nowhere — not in the
// store (every value), not in a new joiner's welcome, not in the replay — the export is not_found, the ledger
// still balances, and no event since carries their text.
func testPrivacyExportAndErase(t *testing.T, redisBacked bool) {
	w := newPrivacyWorld(t, redisBacked)
	ctx := context.Background()
	ann := Actor{User: "u-ann", Name: privName, Role: RoleViewer}
	bob := Actor{User: "u-bob", Name: "Bob", Role: RoleViewer}
	admin := Actor{User: "ops", Role: RoleAdmin}
	commentID := w.showWithAnn(t, ann, bob)

	// Who may export and erase: checked before anything else.
	if _, err := w.svc.ExportUser(ctx, bob, ann.User); CodeOf(err) != CodeForbidden {
		t.Fatalf("bob exports ann: %v, want forbidden", err)
	}
	if _, _, err := w.svc.EraseUser(ctx, ann, ann.User); CodeOf(err) != CodeForbidden {
		t.Fatalf("a viewer erases: %v, want forbidden", err)
	}
	if _, err := w.svc.ExportUser(ctx, admin, "u-nobody"); CodeOf(err) != CodeNotFound {
		t.Fatalf("export of an unknown user: %v, want not_found", err)
	}

	exp, err := w.svc.ExportUser(ctx, ann, ann.User)
	if err != nil {
		t.Fatal(err)
	}
	checkAnnExport(t, exp)
	if n := len(w.find(t, privComment)); n == 0 {
		t.Fatal("the comment is in no store before the erasure: the search cannot tell")
	}

	// The erasure.
	mark := len(w.sink.Events())
	balance := exp.Ledger.Account.Balance
	res, outs, err := w.svc.EraseUser(ctx, admin, ann.User)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Comments["s1"]; !slices.Equal(got, []string{commentID}) {
		t.Errorf("erased comments = %v, want [%s]", got, commentID)
	}
	if len(res.Questions["s1"]) != 1 {
		t.Errorf("erased questions = %v, want one on s1", res.Questions)
	}
	if res.Forfeited != balance || balance <= 0 {
		t.Errorf("forfeited %d, want the balance %d (> 0)", res.Forfeited, balance)
	}
	if len(outs) != 1 || outs[0].Stream != "s1" || len(framesOf(outs[0].Broadcast, "comment.removed")) != 1 ||
		len(framesOf(outs[0].Broadcast, "questions")) != 1 {
		t.Fatalf("outcomes = %+v, want one for s1 with comment.removed and questions", outs)
	} else if id := outs[0].Broadcast[0].Data.(map[string]any)["id"]; id != commentID {
		t.Errorf("comment.removed names %v, want %s", id, commentID)
	}

	for _, text := range []string{privComment, privQuestion, privName} {
		if where := w.find(t, text); len(where) > 0 {
			t.Errorf("%q is still kept after the erasure: %v", text, where)
		}
	}
	if where := w.find(t, otherComment); len(where) == 0 {
		t.Errorf("bob's comment went with ann's erasure")
	}

	// A new joiner's welcome and the replay.
	welcome, err := w.svc.Join(ctx, Actor{User: "u-cat", Name: "Cat", Role: RoleViewer}, "s1")
	if err != nil {
		t.Fatal(err)
	}
	items, err := w.store.TimelineItems(ctx, "s1", 0, math.MaxInt64, math.MinInt64, -1, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	for what, v := range map[string]any{"welcome": welcome, "replay": items} {
		raw, _ := json.Marshal(v)
		for _, text := range []string{privComment, privQuestion, privName} {
			if strings.Contains(string(raw), text) {
				t.Errorf("the %s still holds %q", what, text)
			}
		}
		if !strings.Contains(string(raw), otherComment) {
			t.Errorf("the %s lost bob's comment", what)
		}
	}
	if raw, _ := json.Marshal(items); !strings.Contains(string(raw), ErasedName) {
		t.Errorf("the replay's draw result and quiz board do not name %q in ann's place", ErasedName)
	}

	// The export is gone; every request with ann's token is refused, reason erased.
	if _, err := w.svc.ExportUser(ctx, ann, ann.User); CodeOf(err) != CodeNotFound {
		t.Errorf("export after the erasure: %v, want not_found", err)
	}
	_, err = w.svc.PostComment(ctx, ann, "s1", "I am back")
	if !errors.Is(err, ErrErased) || CodeOf(err) != CodeForbidden || ReasonOf(err) != "erased" {
		t.Errorf("a comment after the erasure: %v, want forbidden (erased)", err)
	}
	if err := w.svc.CheckErased(ctx, ann.User); !errors.Is(err, ErrErased) {
		t.Errorf("CheckErased = %v, want ErrErased", err)
	}
	// Idempotent: again removes nothing more and forfeits nothing more (the same forfeit is reported; the
	// ledger check below counts one entry).
	again, _, err := w.svc.EraseUser(ctx, admin, ann.User)
	if err != nil || again.Forfeited != res.Forfeited || len(again.Comments) != 0 || len(again.Questions) != 0 || again.Records != 0 {
		t.Errorf("second erasure = %+v, %v; want nothing left to do", again, err)
	}

	// The ledger: the amounts stay under the id, the balance is forfeited by an entry, and it still folds.
	entries, err := w.ledger.Entries(ctx, ann.User)
	if err != nil {
		t.Fatal(err)
	}
	acct, err := w.ledger.Account(ctx, ann.User)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	forfeits := 0
	for _, e := range entries {
		switch e.Kind {
		case rewards.EntryPending, rewards.EntryRefund, rewards.EntryCapped:
		default:
			sum += e.Points
		}
		if e.Kind == rewards.EntryRedeem && e.Source == ForfeitRewardID {
			forfeits++
			if e.Points != -balance {
				t.Errorf("forfeit entry %+v, want %d points", e, -balance)
			}
		}
	}
	if forfeits != 1 || acct.Balance != 0 || sum != acct.Balance || entries[len(entries)-1].Balance != 0 {
		t.Errorf("ledger after erasure: %d forfeits, balance %d, entries sum %d, last %+v; want one, 0, 0",
			forfeits, acct.Balance, sum, entries[len(entries)-1])
	}

	// The events since the erasure: a forfeit, user.erased, and none of ann's text or name.
	var types []string
	for _, ev := range w.sink.Events()[mark:] {
		types = append(types, ev.Type)
		raw, _ := json.Marshal(ev)
		for _, text := range []string{privComment, privQuestion, privName} {
			if strings.Contains(string(raw), text) {
				t.Errorf("event %s after the erasure carries %q", ev.Type, text)
			}
		}
		if ev.Type == EventUserErased && (ev.UserID != ann.User || string(ev.Data) != "{}") {
			t.Errorf("user.erased = %s for %s, want {} for %s", ev.Data, ev.UserID, ann.User)
		}
	}
	if !slices.Contains(types, EventUserErased) || !slices.Contains(types, EventPointsRedeemed) {
		t.Errorf("events since the erasure: %v, want a points.redeemed (forfeit) and user.erased", types)
	}
}

// checkAnnExport checks that the export holds everything showWithAnn made ann do.
func checkAnnExport(t *testing.T, d UserData) {
	t.Helper()
	if d.User != "u-ann" || !slices.Contains(d.Names, privName) {
		t.Errorf("export user %q names %v", d.User, d.Names)
	}
	if len(d.Comments) != 1 || d.Comments[0].Text != privComment || d.Comments[0].Stream != "s1" {
		t.Errorf("comments = %+v", d.Comments)
	}
	if len(d.Questions) != 1 || d.Questions[0].Text != privQuestion {
		t.Errorf("questions = %+v", d.Questions)
	}
	if len(d.Votes) != 1 || len(d.QuizAnswers) != 1 || d.QuizAnswers[0].Choice != 1 || len(d.QuizScores) != 1 {
		t.Errorf("votes %+v, quiz answers %+v, scores %+v", d.Votes, d.QuizAnswers, d.QuizScores)
	}
	if len(d.Feedback) != 1 || d.Feedback[0].Kind != FeedbackRating {
		t.Errorf("feedback = %+v", d.Feedback)
	}
	if len(d.CouponClaims) != 1 || d.CouponClaims[0].Code == "" || len(d.Coupons) != 1 || d.Coupons[0].Code != d.CouponClaims[0].Code {
		t.Errorf("coupon claims %+v, coupons %+v", d.CouponClaims, d.Coupons)
	}
	if len(d.Draws) != 1 || !d.Draws[0].Won || d.Draws[0].Prize != "Signed pair" || d.Draws[0].Name != privName {
		t.Errorf("draws = %+v", d.Draws)
	}
	if len(d.Purchases) != 1 || d.Purchases[0].ID != "SO-1" || d.Purchases[0].AmountFen != 59900 {
		t.Errorf("purchases = %+v", d.Purchases)
	}
	if !slices.Equal(d.Streams, []string{"s1"}) {
		t.Errorf("streams = %v", d.Streams)
	}
	if d.Ledger == nil || len(d.Ledger.Entries) == 0 || d.Ledger.Account.Balance <= 0 || d.Ledger.Account.Pending <= 0 {
		t.Errorf("ledger = %+v", d.Ledger)
	}
}

// TestPrivacyExportSameOnBothBackends: the same show exports the same document from memory and Redis (ids and
// instants aside, which each run draws anew).
func TestPrivacyExportSameOnBothBackends(t *testing.T) {
	shape := func(redisBacked bool) string {
		w := newPrivacyWorld(t, redisBacked)
		ann := Actor{User: "u-ann", Name: privName, Role: RoleViewer}
		w.showWithAnn(t, ann, Actor{User: "u-bob", Name: "Bob", Role: RoleViewer})
		d, err := w.svc.ExportUser(context.Background(), ann, ann.User)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatal(err)
		}
		blankIDs(v)
		out, _ := json.MarshalIndent(v, "", " ")
		return string(out)
	}
	mem, red := shape(false), shape(true)
	if mem != red {
		t.Errorf("exports differ:\nmemory: %s\nredis:  %s", mem, red)
	}
}

// blankIDs blanks, in place, the fields a run draws anew: ids, codes, instants.
func blankIDs(v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			switch k {
			case "id", "poll", "quiz", "draw", "coupon", "code", "at", "exp", "key", "claimed_at", "expires_at":
				x[k] = "-"
			default:
				blankIDs(e)
			}
		}
	case []any:
		for _, e := range x {
			blankIDs(e)
		}
	}
}

// TestScrubJSON: what the erasure does to one stored value.
func TestScrubJSON(t *testing.T) {
	tests := []struct {
		name, in  string
		out       string
		drop, chg bool
		user      string // "" → u1
	}{
		{"their comment goes whole", `{"id":"c1","user":"u1","name":"Ann","text":"hi"}`, "", true, true, ""},
		{"a draw keeps them, nameless", `{"id":"d1","winners":[{"user":"u1","name":"Ann"},{"user":"u2","name":"Bo"}]}`,
			`{"id":"d1","winners":[{"name":"X","user":"u1"},{"name":"Bo","user":"u2"}]}`, false, true, ""},
		{"someone else's comment stays", `{"id":"c2","user":"u2","name":"Bo","text":"u1 is nice"}`,
			`{"id":"c2","user":"u2","name":"Bo","text":"u1 is nice"}`, false, false, ""},
		{"a coupon code record has no name", `{"code":"K","user_id":"u1"}`, `{"code":"K","user_id":"u1"}`, false, false, ""},
		{"not JSON", `u1`, `u1`, false, false, ""},
		{"an id stored escaped", `{"user":"u\u003c1","name":"Lu"}`, `{"name":"X","user":"u<1"}`, false, true, "u<1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user := cmp.Or(tt.user, "u1")
			out, drop, chg := scrubJSON([]byte(tt.in), user, "X")
			if string(out) != tt.out || drop != tt.drop || chg != tt.chg {
				t.Errorf("scrubJSON(%s) = %s, %v, %v; want %s, %v, %v", tt.in, out, drop, chg, tt.out, tt.drop, tt.chg)
			}
		})
	}
}

// privacyStoreSuite is the PrivacyStore's part of the conformance suite (runStoreSuite).
var privacyStoreSuite = []storeCase{
	{"ErasedMark", testPrivacyErasedMark},
	{"EraseKeepsOthers", testPrivacyEraseKeepsOthers},
	{"ExportUnknown", testPrivacyExportUnknown},
}

func testPrivacyErasedMark(t *testing.T, s Store) {
	ctx := context.Background()
	if erased, err := s.Erased(ctx, "ann"); err != nil || erased {
		t.Fatalf("Erased before = %v, %v; want false", erased, err)
	}
	noErr(t, s.MarkErased(ctx, "ann"))
	noErr(t, s.MarkErased(ctx, "ann")) // idempotent
	if erased, err := s.Erased(ctx, "ann"); err != nil || !erased {
		t.Fatalf("Erased after = %v, %v; want true", erased, err)
	}
	if erased, err := s.Erased(ctx, "bob"); err != nil || erased {
		t.Fatalf("Erased of another user = %v, %v; want false", erased, err)
	}
}

func testPrivacyEraseKeepsOthers(t *testing.T, s Store) {
	ctx := context.Background()
	t0 := conformanceT0
	for i, u := range []string{"ann", "bob"} {
		c := testComment(i + 1)
		c.User, c.Name, c.Text = u, "Name "+u, "words of "+u
		noErr(t, s.AddComment(ctx, "s1", c, 10))
		noErr(t, s.AddQuestion(ctx, "s1", testQuestion("q-"+u, u), 10))
		noErr(t, s.NoteParticipant(ctx, u, "s1", t0))
	}
	noErr(t, s.CreateDraw(ctx, "s1", Draw{ID: "d1", Prize: "P", Winners: 1, Eligible: DrawAll, Commitment: "c0ffee", Status: DrawOpen, OpensAt: t0, Seed: "5eed"}))
	for _, u := range []string{"ann", "bob"} {
		noErr(t, s.EnterDraw(ctx, "s1", "d1", DrawEntrant{User: u, Name: "Name " + u}, t0))
	}

	got, err := s.EraseUser(ctx, "ann", "X")
	noErr(t, err)
	if !slices.Equal(got.Comments["s1"], []string{"c1"}) || !slices.Equal(got.Questions["s1"], []string{"q-ann"}) {
		t.Errorf("EraseUser = %+v, want comment c1 and question q-ann on s1", got)
	}
	cs, err := s.RecentComments(ctx, "s1", 10)
	noErr(t, err)
	if !slices.Equal(commentIDs(cs), []string{"c2"}) {
		t.Errorf("comments after = %v, want [c2]", commentIDs(cs))
	}
	qs, err := s.Questions(ctx, "s1")
	noErr(t, err)
	if len(qs) != 1 || qs[0].ID != "q-bob" {
		t.Errorf("questions after = %+v, want bob's only", qs)
	}
	es, err := s.DrawEntrants(ctx, "s1", "d1")
	noErr(t, err)
	slices.SortFunc(es, func(a, b DrawEntrant) int { return strings.Compare(a.User, b.User) })
	if want := []DrawEntrant{{User: "ann", Name: "X"}, {User: "bob", Name: "Name bob"}}; !slices.Equal(es, want) {
		t.Errorf("entrants after = %+v, want %+v", es, want)
	}
	again, err := s.EraseUser(ctx, "ann", "X")
	noErr(t, err)
	if len(again.Comments)+len(again.Questions) != 0 || again.Records != 0 {
		t.Errorf("second EraseUser = %+v, want nothing", again)
	}
	d, err := s.ExportUser(ctx, "bob")
	noErr(t, err)
	if len(d.Comments) != 1 || len(d.Questions) != 1 || len(d.Draws) != 1 || d.Draws[0].Name != "Name bob" {
		t.Errorf("bob's export after ann's erasure = %+v", d)
	}
}

func testPrivacyExportUnknown(t *testing.T, s Store) {
	d, err := s.ExportUser(context.Background(), "nobody")
	noErr(t, err)
	if !d.empty() || d.Comments == nil || d.Names == nil {
		t.Errorf("export of an unknown user = %+v, want every list empty and not null", d)
	}
}
