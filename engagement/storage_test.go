package engagement

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kudos-live/kudos/internal/testenv"
	"github.com/kudos-live/kudos/rewards"
	"golang.org/x/time/rate"
)

// Bounded storage: 60 simulated days of the same daily show, on a settable clock, must leave the stores
// holding what the lifetimes (store.go, "Lifetimes"; rewards.Award, the idempotency window) say and no more:
// the last few days of hot state, the last Retention of records, timelines and replay marks, the award
// records since the start of last month, and one account per user.

const (
	simDays    = 60
	simViewers = 6
	// Every map or key shape must hold no more at the end than at these days of the run, once the lifetimes
	// have come round: hot state lives StreamTTL (two days) after the last write, so by day 5 a map holds all
	// it ever will; records, timelines and replay marks live Retention (30 days), so by day 33.
	simHotDay      = 5
	simRetainedDay = 33
)

// simZone is the business calendar of the ledger and the notifications by default (Asia/Shanghai): the run's
// days are its days, so that its month ends fall between two days of the run.
var simZone = time.FixedZone("CST", 8*60*60)

// simStart is when the run starts: 2026-01-20, so that the 60 days cross two month ends and the ledger's
// records of January's awards (kept to the end of February, plus a day) expire within it.
var simStart = time.Date(2026, 1, 20, 0, 0, 0, 0, simZone)

// simFirstKeptDay is the first day of the run whose participation award records are still kept on the last
// day (2026-03-20): those of 2026-02-01 on, the first day of the month before.
var simFirstKeptDay = int(time.Date(2026, 2, 1, 0, 0, 0, 0, simZone).Sub(simStart)/(24*time.Hour)) + 1

// simBackend is the Service under test on one backend, with its clock.
type simBackend struct {
	svc   *Service
	clock *testenv.Clock
	age   func(time.Duration) // Redis: moves its TTLs along with the clock; nil in memory
	sizes func() map[string]int
}

// advance moves the clock, and the backend's own time with it.
func (b simBackend) advance(d time.Duration) {
	b.clock.Advance(d)
	if b.age != nil {
		b.age(d)
	}
}

// simulate runs simDays days of the daily show and returns the sizes after each day (index 1..simDays).
func simulate(t *testing.T, b simBackend) []map[string]int {
	t.Helper()
	ctx := context.Background()
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s at %s: %v", what, b.clock.Now().Format(time.DateTime), err)
		}
	}
	host := Actor{User: "host", Name: "Host", Role: RoleHost}
	shop := Actor{User: "shop", Role: RoleService}
	viewers := make([]Actor, simViewers)
	for i := range viewers {
		viewers[i] = viewer(fmt.Sprint("v", i))
	}
	sizes := make([]map[string]int, simDays+1)
	var yesterday, yesterdayQuiz string
	for day := 1; day <= simDays; day++ {
		dayStart := b.clock.Now()
		b.advance(20 * time.Hour)
		stream := fmt.Sprintf("d%02d", day)
		_, err := b.svc.CreateStream(ctx, host, StreamSpec{ID: stream, Title: "Show " + stream})
		must("create stream", err)
		for _, v := range viewers {
			_, err := b.svc.Join(ctx, v, stream)
			must("join", err)
		}
		b.advance(time.Minute)
		for _, v := range viewers {
			_, err := b.svc.PostComment(ctx, v, stream, "hello from "+v.User)
			must("comment", err)
			must("like", b.svc.Like(ctx, v, stream, 3))
		}
		p, _, err := b.svc.OpenPoll(ctx, host, stream, PollSpec{Question: "Which colour?", Options: []string{"Teal", "Sand"}})
		must("open poll", err)
		for i, v := range viewers {
			_, err := b.svc.Vote(ctx, v, stream, p.ID, i%2)
			must("vote", err)
		}
		_, _, err = b.svc.ClosePoll(ctx, host, stream, p.ID)
		must("close poll", err)
		q, err := b.svc.CreateQuiz(ctx, host, stream, QuizSpec{Questions: []QuizItem{{Text: "Sole?", Choices: []string{"Rubber", "Cork"}, Answer: 0, TimeLimitS: 10}}})
		must("create quiz", err)
		step, _, err := b.svc.NextQuestion(ctx, host, stream, q.ID)
		must("ask question", err)
		for i, v := range viewers {
			if i%2 == 0 { // the others answer on the replay
				_, err := b.svc.Answer(ctx, v, stream, q.ID, step.Question.QuestionID, 0)
				must("answer", err)
			}
		}
		b.advance(11 * time.Second)
		_, err = b.svc.Tick(ctx, stream) // the deadline passed: the reveal, and the points
		must("tick", err)
		_, _, err = b.svc.NextQuestion(ctx, host, stream, q.ID)
		must("finish quiz", err)
		c, _, err := b.svc.DropCoupon(ctx, host, stream, CouponSpec{Title: "10% off", Stock: 100, ExpiresS: 300})
		must("drop coupon", err)
		for _, v := range viewers {
			_, err := b.svc.ClaimCoupon(ctx, v, stream, c.ID)
			must("claim", err)
		}
		qn, _, err := b.svc.AskQuestion(ctx, viewers[0], stream, "Do these run wide?")
		must("ask", err)
		for _, v := range viewers[1:] {
			_, err := b.svc.UpvoteQuestion(ctx, v, stream, qn.ID)
			must("upvote", err)
		}
		b.advance(time.Minute)
		for _, v := range viewers {
			b.svc.Watched(ctx, v, stream)
			_, err := b.svc.SendFeedback(ctx, v, stream, FeedbackRating, 5)
			must("feedback", err)
		}
		_, _, err = b.svc.Notify(ctx, host, NotificationSpec{Kind: KindCouponExpiring, Title: "Last call", Body: "The coupon ends soon", Stream: stream})
		must("notify", err)
		for i, v := range viewers {
			_, _, err := b.svc.RecordPurchase(ctx, shop, Purchase{OrderID: fmt.Sprintf("o-%02d-%d", day, i), UserID: v.User, StreamID: stream, AmountFen: 12900})
			must("purchase", err)
		}
		_, err = b.svc.RefundPurchase(ctx, shop, fmt.Sprintf("o-%02d-1", day), Refund{})
		must("refund", err)
		_, _, err = b.svc.EndStream(ctx, host, stream)
		must("end stream", err)

		b.advance(30 * time.Minute)
		for i, v := range viewers {
			if i%2 == 1 {
				_, err := b.svc.ReplayAnswer(ctx, v, stream, q.ID, step.Question.QuestionID, 0)
				must("replay answer", err)
				if yesterday != "" { // answered yesterday: the limit still holds a day later
					_, err = b.svc.ReplayAnswer(ctx, v, yesterday, yesterdayQuiz, "q0", 0)
					if CodeOf(err) != CodeDuplicate {
						t.Fatalf("day %d: %s answers yesterday's replay again: %v, want duplicate", day, v.User, err)
					}
				}
			}
		}
		yesterday, yesterdayQuiz = stream, q.ID
		b.advance(dayStart.Add(24*time.Hour - time.Minute).Sub(b.clock.Now()))
		sizes[day] = b.sizes()
		b.advance(time.Minute)
	}
	return sizes
}

// newSimService returns a Service over store and a ledger over ledgerStore, both on clock.
func newSimService(t *testing.T, clock *testenv.Clock, store Store, ledgerStore rewards.Store) *Service {
	t.Helper()
	ledger, err := rewards.NewLedger(ledgerStore, rewards.Config{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return New(Config{Now: clock.Now, CommentRate: rate.Inf, Ledger: ledger, Notify: NotifyConfig{NoQuietHours: true}}, store, NewMemorySink())
}

// TestMemoryStorageBounded runs 60 days of shows on a MemoryStore and a rewards.MemoryStore and checks that
// every map of both holds what the last days' traffic leaves, and no more.
func TestMemoryStorageBounded(t *testing.T) {
	clock := testenv.NewClock(simStart)
	store := NewMemoryStoreWith(MemoryConfig{Now: clock.Now})
	ledgerStore := rewards.NewMemoryStore()
	sizes := simulate(t, simBackend{
		svc:   newSimService(t, clock, store, ledgerStore),
		clock: clock,
		sizes: func() map[string]int {
			m := mapSizes("engagement", store)
			for k, v := range mapSizes("rewards", ledgerStore) {
				m[k] = v
			}
			orders, others := awardRecords(ledgerStore)
			m["rewards.awards[order]"], m["rewards.awards[other]"] = orders, others
			return m
		},
	})
	last := sizes[simDays]
	for _, path := range slices.Sorted(maps.Keys(last)) {
		got := last[path]
		if !strings.HasPrefix(path, "engagement.") {
			continue
		}
		day := simHotDay
		if strings.HasPrefix(path, "engagement.streamMemory.") || strings.HasPrefix(path, "engagement.timelineMemory.") ||
			strings.HasPrefix(path, "engagement.scoreMemory.") { // records, timelines, replay marks: Retention
			day = simRetainedDay
		}
		bound := sizes[day][path]
		t.Logf("%-52s day %d: %6d   day %2d: %6d", path, simDays, got, day, bound)
		if got > bound {
			t.Errorf("%s holds %d entries after %d days, more than the %d of day %d: it grows with time", path, got, simDays, bound, day)
		}
	}
	for path, want := range map[string]int{
		"engagement.streamMemory.streams":          31, // ended in the last Retention (30 days), and a lazily pruned one
		"engagement.timelineMemory.timelines":      31,
		"engagement.pollMemory.polls":              3, // StreamTTL: today's, yesterday's, and one awaiting its prune
		"engagement.notificationMemory.lastStream": simViewers,
	} {
		if got := last[path]; got > want || got == 0 {
			t.Errorf("%s holds %d after %d days, want 1..%d", path, got, simDays, want)
		}
	}
	perDay := sizes[1]["rewards.awards[other]"] // the first day's participation awards: none expired yet
	ledgerBounds := map[string]int{
		// participation award records: those made since the start of last month (2026-02-01)
		"rewards.awards[other]": perDay * (simDays - simFirstKeptDay + 1),
		// orders are kept ExpiryMonths (12) for refunds: all of them, here
		"rewards.awards[order]":  simDays * simViewers,
		"rewards.boards":         simDays - simFirstKeptDay + 1,
		"rewards.users":          simViewers,
		"rewards.users[].orders": simDays * simViewers,
		"rewards.redemptions":    0,
	}
	for path, want := range ledgerBounds {
		t.Logf("%-52s day %d: %6d   bound: %6d", path, simDays, last[path], want)
		if got := last[path]; got > want {
			t.Errorf("%s holds %d after %d days, want at most %d", path, got, simDays, want)
		}
	}
	if got := last["rewards.awards[other]"]; got >= perDay*simDays {
		t.Errorf("rewards.awards[other] holds %d: January's records (%d a day) were never forgotten", got, perDay)
	}
}

// TestRedisStorageBounded runs the same 60 days on a RedisStore and a rewards.RedisStore, moving every key's
// TTL along with the clock (ageRedis), and checks that every key expires (but a user's account and the reward
// stock), that each TTL is the documented one, and that the key count of each shape is bounded as the maps
// of TestMemoryStorageBounded are.
func TestRedisStorageBounded(t *testing.T) {
	rdb, prefix := testRedis(t)
	clock := testenv.NewClock(simStart)
	store := NewRedisStore(rdb, RedisConfig{Prefix: prefix + "e:"})
	ledgerStore := rewards.NewRedisStore(rdb, rewards.RedisConfig{Prefix: prefix + "rw:"})
	ctx := context.Background()
	keys := func() []string {
		t.Helper()
		ks, err := rdb.Keys(ctx, prefix+"*").Result()
		if err != nil {
			t.Fatal(err)
		}
		return ks
	}
	sizes := simulate(t, simBackend{
		svc:   newSimService(t, clock, store, ledgerStore),
		clock: clock,
		age:   ageRedis(t, rdb, prefix),
		sizes: func() map[string]int {
			m := map[string]int{}
			for _, k := range keys() {
				m[storageShape(strings.TrimPrefix(k, prefix))]++
			}
			return m
		},
	})

	// Every key expires, but the user's account and the reward stock; and within its documented lifetime.
	now := clock.Now()
	// (and the ledger's facts: a user's outbox and unannounced lots, the sweep's indexes, one entry per user)
	persistent := regexp.MustCompile(`^rw:(user|shard|reward):|^rw:(held|layout|catalogue)$`)
	const day = 24 * time.Hour
	nextMonthEnd := func(t time.Time) time.Time { // the end of the month after t's, and the day of slack
		return time.Date(t.Year(), t.Month()+2, 1, 0, 0, 0, 0, time.UTC).Add(day)
	}
	const tolerance = time.Minute
	counted := 0
	for _, k := range keys() {
		key := strings.TrimPrefix(k, prefix)
		ttl, err := rdb.PTTL(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if ttl == -1 {
			if !persistent.MatchString(storageShape(key)) {
				t.Errorf("%s has no TTL", key)
			}
			continue
		}
		var max time.Duration
		switch shape := storageShape(key); {
		case shape == "e:stream:{}", strings.Contains(shape, ":timeline"), strings.Contains(shape, ":replay-"),
			shape == "e:user:{}:streams": // a user's index of streams lives as long as the replays it leads to
			max = DefaultRetention
		case strings.HasPrefix(shape, "e:"):
			max = DefaultStreamTTL // hot state, a user's last stream, a day's notifications (notificationTTL)
		case strings.HasPrefix(shape, "rw:award"), strings.HasPrefix(shape, "rw:claim"):
			// a record, and its key's claim, live as long as the award: read its time from the record
			rk := k
			if strings.HasPrefix(shape, "rw:claim") {
				var c struct {
					U string `json:"u"`
				}
				raw, err := rdb.Get(ctx, k).Result()
				if err != nil || json.Unmarshal([]byte(raw), &c) != nil {
					t.Fatalf("award claim %s: %q, %v", key, raw, err)
				}
				awardKey := strings.TrimSuffix(strings.TrimPrefix(key, "rw:{k:"), "}claim")
				rk = prefix + "rw:{u" + strconv.Itoa(ledgerShard(c.U)) + "}award:" + awardKey
			}
			var rec struct {
				At int64 `json:"at"`
			}
			raw, err := rdb.Get(ctx, rk).Result()
			if err != nil || json.Unmarshal([]byte(raw), &rec) != nil {
				t.Fatalf("award record of %s: %q, %v", key, raw, err)
			}
			at := time.UnixMilli(rec.At).UTC()
			until := nextMonthEnd(at)
			if strings.HasSuffix(shape, ":order") {
				until = at.AddDate(1, 0, 0).Add(day) // ExpiryMonths (12), for refunds
			}
			max = until.Sub(now)
		case shape == "rw:board", shape == "rw:bver", shape == "rw:bexp":
			max = nextMonthEnd(now).Sub(now)
		default:
			t.Errorf("%s: a key of no documented shape (%s)", key, keyShape(key))
			continue
		}
		counted++
		if ttl > max+tolerance {
			t.Errorf("%s: TTL %v, want at most %v", key, ttl, max)
		}
	}
	if counted == 0 {
		t.Fatal("no key with a TTL: the run stored nothing?")
	}

	last := sizes[simDays]
	perDay := 0
	for shape, n := range sizes[1] {
		if shape == "rw:award" {
			perDay += n
		}
	}
	kept := simDays - simFirstKeptDay + 1
	participation, claims := 0, 0
	for _, shape := range slices.Sorted(maps.Keys(last)) {
		got := last[shape]
		var bound int
		switch {
		case shape == "rw:award:order", shape == "rw:claim:order":
			bound = simDays * simViewers
		case shape == "rw:award":
			participation += got
			continue
		case shape == "rw:claim":
			claims += got
			continue
		case shape == "rw:board", shape == "rw:bver", shape == "rw:bexp":
			bound = kept
		case strings.HasPrefix(shape, "rw:user:"):
			bound = simViewers // one account per user
		case strings.HasPrefix(shape, "rw:shard:"):
			bound = rewards.LedgerShards
		case strings.HasPrefix(shape, "rw:"):
			bound = 1 // the catalogue, the layout, the index of holds
		case shape == "e:stream:{}", strings.Contains(shape, ":timeline"), strings.Contains(shape, ":replay-"),
			shape == "e:user:{}:streams":
			bound = sizes[simRetainedDay][shape]
		default:
			bound = sizes[simHotDay][shape]
		}
		t.Logf("%-52s day %d: %6d   bound: %6d", shape, simDays, got, bound)
		if got > bound {
			t.Errorf("%s: %d keys after %d days, want at most %d", shape, got, simDays, bound)
		}
	}
	t.Logf("%-52s day %d: %6d   bound: %6d", "rw:award:<participation>", simDays, participation, perDay*kept)
	if participation > perDay*kept || participation >= perDay*simDays {
		t.Errorf("%d participation award records after %d days, want at most %d (%d a day since the start of last month)", participation, simDays, perDay*kept, perDay)
	}
	for _, k := range keys() { // a user's points per stream: the streams whose boards are kept, and the day's
		if storageShape(strings.TrimPrefix(k, prefix)) == "rw:user:bpts" {
			if n := rdb.HLen(ctx, k).Val(); n > int64(kept)+1 {
				t.Errorf("%s holds %d streams after %d days, want at most %d", k, n, simDays, kept+1)
			}
		}
	}
	if claims != participation {
		t.Errorf("%d participation award-key claims after %d days, want one per record (%d)", claims, simDays, participation)
	}
	if last["e:stream:{}"] > 31 {
		t.Errorf("%d stream records after %d days, want at most 31", last["e:stream:{}"], simDays)
	}
}

// storageShape is keyShape, and for the ledger's keys (rewards/store_redis_keys.go) their kind: rw:user:<kind>
// (a user's key), rw:shard:<kind> (a shard's index), rw:award and rw:claim (":order" for a purchase's),
// rw:board, rw:bver, rw:reward:<kind>, or the singleton's name.
func storageShape(key string) string {
	rest, ok := strings.CutPrefix(key, "rw:")
	if !ok {
		return keyShape(key)
	}
	order := func(awardKey string) string {
		if strings.HasPrefix(awardKey, "order:") {
			return ":order"
		}
		return ""
	}
	switch {
	case strings.HasPrefix(rest, "{k:"):
		return "rw:claim" + order(strings.TrimPrefix(rest, "{k:"))
	case strings.HasPrefix(rest, "{b:"):
		return "rw:" + rest[strings.LastIndex(rest, "}")+1:]
	case strings.HasPrefix(rest, "{r:"):
		return "rw:reward:" + rest[strings.LastIndex(rest, "}")+1:]
	case strings.HasPrefix(rest, "{u"):
		after := rest[strings.Index(rest, "}")+1:]
		if k, ok := strings.CutPrefix(after, "award:"); ok {
			return "rw:award" + order(k)
		}
		if strings.HasPrefix(after, "due:") || after == "outbox" {
			return "rw:shard:" + after
		}
		kind, _, _ := strings.Cut(after, ":")
		return "rw:user:" + kind
	case strings.HasPrefix(rest, "{held}"):
		return "rw:held"
	}
	return "rw:" + rest
}

// ledgerShard is the ledger shard of a user, as rewards computes it (FNV-1a modulo LedgerShards).
func ledgerShard(user string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(user))
	return int(h.Sum32() % rewards.LedgerShards)
}

// keyShape is a key with its ids left out: the stream and user hash tags as {}, every other part that is not
// a word of the key layouts (redis.go, rewards/store_redis.go) as *.
func keyShape(key string) string {
	parts := strings.Split(key, ":")
	out := parts[:0:0]
	for _, p := range parts {
		switch {
		case strings.HasPrefix(p, "{"):
			p = "{}"
		case !layoutWords[p]:
			p = "*"
		}
		if p == "*" && len(out) > 0 && out[len(out)-1] == "*" {
			continue
		}
		out = append(out, p)
	}
	return strings.Join(out, ":")
}

var layoutWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`e rw stream comments removed mod slot likes score poll counts voters quiz answers
		answered players feedback given coupons coupon claims draw entrants commenters questions votes hidden
		pinned timeline seq keys audience user last-stream notify comment question upvote watch replay-quiz
		replay-points tier-warning acct earned lots lotamt orders pend entries award board stock redeem order
		out unwarned due settle expire warn roll outbox backlog scan scanned streams erased`) {
		m[w] = true
	}
	return m
}()

// mapSizes returns the number of entries of every map reachable from v through pointers, structs and map
// values, by path (name.field.field, "[]" for the values of a map), summed over all instances of a path.
func mapSizes(name string, v any) map[string]int {
	out := map[string]int{}
	var walk func(path string, v reflect.Value)
	walk = func(path string, v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer, reflect.Interface:
			if !v.IsNil() {
				walk(path, v.Elem())
			}
		case reflect.Struct:
			if v.Type() == reflect.TypeFor[time.Time]() {
				return
			}
			for i := range v.NumField() {
				f := v.Type().Field(i)
				p := path + "." + f.Name
				if f.Anonymous { // MemoryStore's concept stores
					p = path + "." + f.Type.Elem().Name()
				}
				walk(p, v.Field(i))
			}
		case reflect.Map:
			out[path] += v.Len()
			for it := v.MapRange(); it.Next(); {
				walk(path+"[]", it.Value())
			}
		}
	}
	walk(name, reflect.ValueOf(v))
	return out
}

// awardRecords counts the ledger's award records of orders and of the rest.
func awardRecords(s *rewards.MemoryStore) (orders, others int) {
	for it := reflect.ValueOf(s).Elem().FieldByName("awards").MapRange(); it.Next(); {
		if strings.HasPrefix(it.Key().String(), "order:") {
			orders++
		} else {
			others++
		}
	}
	return orders, others
}
