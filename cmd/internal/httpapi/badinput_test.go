package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/kudos-live/kudos/cmd/internal/authtoken"
	"github.com/kudos-live/kudos/engagement"
	"github.com/kudos-live/kudos/internal/testenv"
)

// badState is everything a bad input could wrongly change: the tallies, comments, likes and coupon stock of
// both streams, and the viewers' points.
type badState struct {
	Streams   [2]engagement.Stream
	Polls     [2]engagement.Poll
	Quizzes   [2][]int64
	Comments  [2][]string
	Likes     [2]int64
	Coupon    int64
	Coupons   int
	Questions int
	Points    map[string][2]int64 // user → balance, pending
}

// badWorld is the fixture of TestBadInputIsRefusedAndChangesNothing: streams a and b, each with an open poll
// and a quiz question running; a coupon on a.
type badWorld struct {
	ts               *testServer
	pollA, pollB     string
	quizA, quizB     string
	coupon           string
	hostA, hostB     string
	shop, ann, bob   string
	forged, expired  string
	annSocket        *wsClient
	purchaseOrderID  string
	firstPurchaseRes []byte
}

func newBadWorld(t *testing.T) *badWorld {
	t.Helper()
	opts := fastLimits()
	opts.origins = []string{"https://shop.example"}
	ts := newTestServer(t, opts)
	w := &badWorld{ts: ts}
	ts.createStream("a")
	ts.createStream("b")
	w.hostA, w.hostB = ts.token("host-a", engagement.RoleHost, "a"), ts.token("host-b", engagement.RoleHost, "b")
	w.shop = ts.token("shop", engagement.RoleService, "")
	w.ann, w.bob = ts.token("ann", engagement.RoleViewer, ""), ts.token("bob", engagement.RoleViewer, "")
	other, err := authtoken.NewKey([]byte("another-secret-0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	w.forged, _, _ = other.Mint("host-a", "Host A", engagement.RoleHost, "a", time.Hour)
	w.expired, _, _ = ts.tokens.Mint("host-a", "Host A", engagement.RoleHost, "a", -time.Minute)

	post := func(path, tok string, body any) map[string]any {
		t.Helper()
		r := ts.do(http.MethodPost, path, tok, body)
		if r.status >= 300 {
			t.Fatalf("set up %s: %d %s", path, r.status, r.body)
		}
		return r.json(t)
	}
	poll := map[string]any{"question": "Colour?", "options": []string{"red", "blue", "green"}}
	quiz := map[string]any{"questions": []map[string]any{{"text": "2+2?", "choices": []string{"3", "4"}, "answer": 1, "time_limit_s": 120}}}
	w.pollA = post("/api/v1/streams/a/polls", w.hostA, poll)["id"].(string)
	w.pollB = post("/api/v1/streams/b/polls", w.hostB, poll)["id"].(string)
	w.quizA = post("/api/v1/streams/a/quizzes", w.hostA, quiz)["id"].(string)
	w.quizB = post("/api/v1/streams/b/quizzes", w.hostB, quiz)["id"].(string)
	post("/api/v1/streams/a/quizzes/"+w.quizA+"/next", w.hostA, nil)
	post("/api/v1/streams/b/quizzes/"+w.quizB+"/next", w.hostB, nil)
	w.coupon = post("/api/v1/streams/a/coupons", w.hostA, map[string]any{"title": "10% off", "stock": 10, "expires_s": 600})["id"].(string)

	w.annSocket = ts.dial("a", w.ann)
	w.annSocket.expect("welcome")
	return w
}

func (w *badWorld) state(t *testing.T) badState {
	t.Helper()
	ctx := context.Background()
	svc := w.ts.svc
	admin := engagement.Actor{User: "root", Role: engagement.RoleAdmin}
	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("read state: %v", err)
		}
	}
	s := badState{Points: map[string][2]int64{}}
	for i, id := range []string{"a", "b"} {
		var err error
		s.Streams[i], err = svc.Stream(ctx, id)
		check(err)
		s.Polls[i], err = svc.Poll(ctx, id, []string{w.pollA, w.pollB}[i])
		check(err)
		q, err := svc.Quiz(ctx, admin, id, []string{w.quizA, w.quizB}[i])
		check(err)
		s.Quizzes[i] = q.Questions[0].Counts
		cs, err := svc.RecentComments(ctx, id)
		check(err)
		for _, c := range cs {
			s.Comments[i] = append(s.Comments[i], c.ID+" "+c.Text)
		}
		l, err := svc.Likes(ctx, id)
		check(err)
		s.Likes[i] = l.Total
	}
	c, err := w.ts.store.Coupon(ctx, "a", w.coupon)
	check(err)
	s.Coupon = c.Remaining
	all, err := w.ts.store.Coupons(ctx, "a")
	check(err)
	s.Coupons = len(all)
	ql, err := svc.Questions(ctx, admin, "a", 0)
	check(err)
	s.Questions = ql.Total
	for _, u := range []string{"ann", "bob", "mal"} {
		acc, err := svc.Account(ctx, admin, u)
		check(err)
		s.Points[u] = [2]int64{acc.Balance, acc.Pending}
	}
	return s
}

// badInput is one row of the table: a frame on Ann's socket to stream a, an API request, or a handshake.
type badInput struct {
	name string
	// setup runs before the state is read: the first, accepted copy of a replayed input.
	setup func(t *testing.T, w *badWorld)

	frame   string // raw frame on Ann's socket; its reply must carry frameID
	frameID string

	oversize string // raw frame on a fresh socket of Mal's; the connection must close with closeCode
	close    int

	method, path, token string // an API request
	body                any

	dialStream, dialToken, origin string // a WebSocket handshake

	code   engagement.Code // the error code answered ("" for a replay answered with its first result)
	status int             // the HTTP status of an API request or a handshake
	check  func(t *testing.T, w *badWorld, r response)
}

func frameOf(typ, id, data string) string {
	return fmt.Sprintf(`{"type":%q,"id":%q,"data":%s}`, typ, id, data)
}

func badInputs(w *badWorld) []badInput {
	vote := func(id, pollID, option string) string {
		return frameOf("poll.vote", id, fmt.Sprintf(`{"poll_id":%q,"option":%s}`, pollID, option))
	}
	comment := func(id, text string) string { return frameOf("comment.send", id, `{"text":"`+text+`"}`) }
	hostPoll := map[string]any{"question": "Size?", "options": []string{"S", "M"}}
	return []badInput{
		// Malformed JSON and wrong shapes.
		{name: "socket: truncated JSON", frame: `{"type":"poll.vote","id":"j1","data":{"poll_id":`, code: engagement.CodeBadFrame},
		{name: "socket: JSON array", frame: `[{"type":"ping"}]`, code: engagement.CodeBadFrame},
		{name: "socket: type not a string", frame: `{"type":["poll.vote"],"id":"j3"}`, frameID: "j3", code: engagement.CodeBadFrame},
		{name: "socket: trailing value", frame: `{"type":"ping","id":"j4"} {"type":"ping"}`, code: engagement.CodeBadFrame},
		{name: "socket: data not an object", frame: frameOf("comment.send", "j5", `"hello"`), frameID: "j5", code: engagement.CodeInvalid},
		{name: "api: truncated JSON", method: "POST", path: "/api/v1/streams/a/polls", token: w.hostA, body: `{"question":`, status: 400, code: engagement.CodeInvalid},
		{name: "api: two JSON values", method: "POST", path: "/api/v1/streams/a/polls", token: w.hostA, body: `{"question":"Q","options":["a","b"]} {}`, status: 400, code: engagement.CodeInvalid},
		// Wrong types.
		{name: "socket: option as string", frame: vote("t1", w.pollA, `"1"`), frameID: "t1", code: engagement.CodeInvalid},
		{name: "socket: text as number", frame: frameOf("comment.send", "t2", `{"text":42}`), frameID: "t2", code: engagement.CodeInvalid},
		{name: "socket: like count as bool", frame: frameOf("like.send", "t3", `{"count":true}`), frameID: "t3", code: engagement.CodeInvalid},
		{name: "socket: option fractional", frame: vote("t4", w.pollA, `1.5`), frameID: "t4", code: engagement.CodeInvalid},
		{name: "api: amount as string", method: "POST", path: "/api/v1/purchases", token: w.shop, body: `{"order_id":"o-t","user_id":"ann","amount_fen":"100"}`, status: 400, code: engagement.CodeInvalid},
		{name: "api: options as object", method: "POST", path: "/api/v1/streams/a/polls", token: w.hostA, body: `{"question":"Q","options":{"a":1}}`, status: 400, code: engagement.CodeInvalid},
		// Huge numbers.
		{name: "socket: option 1e308", frame: vote("h1", w.pollA, `1e308`), frameID: "h1", code: engagement.CodeInvalid},
		{name: "socket: option past int64", frame: vote("h2", w.pollA, `9223372036854775808`), frameID: "h2", code: engagement.CodeInvalid},
		{name: "socket: option max int64", frame: vote("h3", w.pollA, `9223372036854775807`), frameID: "h3", code: engagement.CodeInvalid},
		{name: "socket: negative option", frame: vote("h4", w.pollA, `-1`), frameID: "h4", code: engagement.CodeInvalid},
		{name: "socket: like count 1e300", frame: frameOf("like.send", "h5", `{"count":1e300}`), frameID: "h5", code: engagement.CodeInvalid},
		{name: "socket: quiz choice past int64", frame: frameOf("quiz.answer", "h6", fmt.Sprintf(`{"quiz_id":%q,"question_id":"q0","choice":99999999999999999999}`, w.quizA)), frameID: "h6", code: engagement.CodeInvalid},
		{name: "api: amount 1e308", method: "POST", path: "/api/v1/purchases", token: w.shop, body: `{"order_id":"o-h","user_id":"ann","amount_fen":1e308}`, status: 400, code: engagement.CodeInvalid},
		{name: "api: amount past int64", method: "POST", path: "/api/v1/purchases", token: w.shop, body: `{"order_id":"o-h","user_id":"ann","amount_fen":9223372036854775808}`, status: 400, code: engagement.CodeInvalid},
		{name: "api: coupon stock max int64", method: "POST", path: "/api/v1/streams/a/coupons", token: w.hostA, body: `{"title":"x","stock":9223372036854775807,"expires_s":60}`, status: 400, code: engagement.CodeInvalid},
		// Unicode edge cases: invalid UTF-8, controls, and lengths counted in characters, not glyphs.
		{name: "socket: invalid UTF-8", frame: comment("u1", "\xc3\x28"), code: engagement.CodeBadFrame, frameID: "u1"},
		{name: "socket: invalid UTF-8 in the type", frame: "{\"type\":\"comment.send\xff\",\"id\":\"u2\"}", code: engagement.CodeBadFrame, frameID: "u2"},
		{name: "socket: NUL control character", frame: comment("u3", `a\u0000b`), frameID: "u3", code: engagement.CodeInvalid},
		{name: "socket: 201 emoji", frame: comment("u4", strings.Repeat("😀", 201)), frameID: "u4", code: engagement.CodeInvalid},
		{name: "socket: RTL override text of 201 characters", frame: comment("u5", `\u202e`+strings.Repeat("ا", 200)), frameID: "u5", code: engagement.CodeInvalid},
		{name: "socket: ZWJ family emoji x30 (210 characters)", frame: comment("u6", strings.Repeat("👩\u200d👩\u200d👧\u200d👦", 30)), frameID: "u6", code: engagement.CodeInvalid},
		{name: "socket: combining marks (e + 200 marks)", frame: comment("u7", "e"+strings.Repeat("\u0301", 200)), frameID: "u7", code: engagement.CodeInvalid},
		{name: "socket: poll id with RTL override", frame: vote("u8", "\u202e"+w.pollA, "0"), frameID: "u8", code: engagement.CodeNotFound},
		{name: "api: invalid UTF-8 title", method: "POST", path: "/api/v1/streams/a/coupons", token: w.hostA, body: "{\"title\":\"\xff\xfe\",\"stock\":5,\"expires_s\":60}", status: 400, code: engagement.CodeInvalid},
		{name: "api: option of 81 combining characters", method: "POST", path: "/api/v1/streams/a/polls", token: w.hostA, body: map[string]any{"question": "Q", "options": []string{"a", "o" + strings.Repeat("\u0308", 80)}}, status: 400, code: engagement.CodeInvalid},
		{name: "handshake: stream id in Arabic", dialStream: "%D8%A7", dialToken: w.ann, status: 404, code: engagement.CodeNotFound},
		// Oversized messages.
		{name: "socket: 5000-byte frame", oversize: comment("o1", strings.Repeat("a", 5000)), close: websocket.CloseMessageTooBig},
		{name: "api: 65 KiB body", method: "POST", path: "/api/v1/streams/a/polls", token: w.hostA, body: `{"question":"` + strings.Repeat("q", 65<<10) + `"}`, status: 413, code: engagement.CodeTooLarge},
		// Unknown types and routes.
		{name: "socket: unknown type", frame: frameOf("points.grant", "k1", `{"points":1000}`), frameID: "k1", code: engagement.CodeUnknownType},
		{name: "socket: server frame type sent by a client", frame: frameOf("poll.tally", "k2", `{}`), frameID: "k2", code: engagement.CodeUnknownType},
		{name: "socket: no type", frame: `{"id":"k3","data":{}}`, frameID: "k3", code: engagement.CodeBadFrame},
		{name: "api: unknown route", method: "POST", path: "/api/v1/points/grant", token: w.hostA, body: `{}`, status: 404, code: engagement.CodeNotFound},
		// echo answers a known path with another method 404 inside a group with middleware, not 405.
		{name: "api: wrong method", method: "DELETE", path: "/api/v1/purchases", token: w.shop, status: 404, code: engagement.CodeNotFound},
		// Replays.
		{
			name:  "socket: a vote replayed under the same frame id",
			setup: func(t *testing.T, w *badWorld) { sendOK(t, w.annSocket, vote("r1", w.pollA, "1"), "r1") },
			frame: vote("r1", w.pollA, "1"), frameID: "r1", code: engagement.CodeDuplicate,
		},
		{
			name:  "socket: a quiz answer replayed",
			setup: func(t *testing.T, w *badWorld) { sendOK(t, w.annSocket, quizAnswer("r2", w.quizA, 1), "r2") },
			frame: quizAnswer("r2", w.quizA, 0), frameID: "r2", code: engagement.CodeDuplicate,
		},
		{
			name:  "socket: a coupon claim replayed",
			setup: func(t *testing.T, w *badWorld) { sendOK(t, w.annSocket, couponClaim("r3", w.coupon), "r3") },
			frame: couponClaim("r3", w.coupon), frameID: "r3", code: engagement.CodeDuplicate,
		},
		{
			name: "api: a purchase posted twice",
			setup: func(t *testing.T, w *badWorld) {
				r := w.ts.do(http.MethodPost, "/api/v1/purchases", w.shop, map[string]any{"order_id": "o-r", "user_id": "ann", "stream_id": "a", "amount_fen": 5000})
				if r.status != http.StatusCreated {
					t.Fatalf("first purchase: %d %s", r.status, r.body)
				}
				w.firstPurchaseRes = r.body
			},
			method: "POST", path: "/api/v1/purchases", token: w.shop, body: map[string]any{"order_id": "o-r", "user_id": "ann", "stream_id": "a", "amount_fen": 5000},
			status: http.StatusOK,
			check: func(t *testing.T, w *badWorld, r response) {
				first, again := map[string]any{}, r.json(t)
				mustUnmarshal(t, w.firstPurchaseRes, &first)
				delete(first, "replayed")
				delete(again, "replayed")
				if !reflect.DeepEqual(first, again) {
					t.Fatalf("replayed purchase answered %v, first answer %v", again, first)
				}
			},
		},
		{
			// Idempotent by order id whatever the amount: another amount under the same id is a conflict.
			name:   "api: same order id with another amount",
			method: "POST", path: "/api/v1/purchases", token: w.shop, body: map[string]any{"order_id": "o-r", "user_id": "ann", "stream_id": "a", "amount_fen": 999999},
			status: http.StatusConflict, code: engagement.CodeConflict,
		},
		// Another stream's items.
		{name: "socket: vote on stream b's poll", frame: vote("x1", w.pollB, "0"), frameID: "x1", code: engagement.CodeNotFound},
		{name: "socket: answer to stream b's quiz", frame: quizAnswer("x2", w.quizB, 1), frameID: "x2", code: engagement.CodeNotFound},
		{name: "socket: claim of an unknown coupon", frame: couponClaim("x3", "nope"), frameID: "x3", code: engagement.CodeNotFound},
		// Tokens.
		{name: "api: forged token", method: "POST", path: "/api/v1/streams/a/polls", token: w.forged, body: hostPoll, status: 401, code: engagement.CodeUnauthorized},
		{name: "api: expired token", method: "POST", path: "/api/v1/streams/a/polls", token: w.expired, body: hostPoll, status: 401, code: engagement.CodeUnauthorized},
		{name: "api: alg none token", method: "POST", path: "/api/v1/streams/a/polls", token: unsignedToken("host-a", "host", "a"), body: hostPoll, status: 401, code: engagement.CodeUnauthorized},
		{name: "api: viewer on a host route", method: "POST", path: "/api/v1/streams/a/polls", token: w.ann, body: hostPoll, status: 403, code: engagement.CodeForbidden},
		{name: "api: viewer ends a stream", method: "POST", path: "/api/v1/streams/a/end", token: w.ann, status: 403, code: engagement.CodeForbidden},
		{name: "api: viewer posts a purchase", method: "POST", path: "/api/v1/purchases", token: w.ann, body: map[string]any{"order_id": "o-v", "user_id": "ann", "amount_fen": 100000}, status: 403, code: engagement.CodeForbidden},
		{name: "api: host of a on b", method: "POST", path: "/api/v1/streams/b/polls/" + w.pollB + "/close", token: w.hostA, status: 403, code: engagement.CodeForbidden},
		{name: "api: host of a ends b", method: "POST", path: "/api/v1/streams/b/end", token: w.hostA, status: 403, code: engagement.CodeForbidden},
		{name: "handshake: forged token", dialStream: "a", dialToken: w.forged, status: 401, code: engagement.CodeUnauthorized},
		{name: "handshake: expired token", dialStream: "a", dialToken: w.expired, status: 401, code: engagement.CodeUnauthorized},
		// Origins.
		{name: "handshake: foreign origin", dialStream: "a", dialToken: w.bob, origin: "https://evil.example", status: 403, code: engagement.CodeForbidden},
		{name: "handshake: origin null", dialStream: "a", dialToken: w.bob, origin: "null", status: 403, code: engagement.CodeForbidden},
		{name: "handshake: allowed origin's look-alike", dialStream: "a", dialToken: w.bob, origin: "https://shop.example.evil.example", status: 403, code: engagement.CodeForbidden},
	}
}

// TestBadInputIsRefusedAndChangesNothing sends every kind of bad input of the list over the socket,
// the API and the handshake; each is answered with its documented code, nothing it carried is applied, and
// the socket stays usable where docs/protocol.md ("Errors") says bad frames are answered, not fatal.
func TestBadInputIsRefusedAndChangesNothing(t *testing.T) {
	w := newBadWorld(t)
	rows := badInputs(w)
	var frames, requests, handshakes int
	for i, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			w.annSocket.t = t
			defer func() { w.annSocket.t = w.ts.t }()
			if row.setup != nil {
				row.setup(t, w)
			}
			before := w.state(t)
			switch {
			case row.frame != "":
				frames++
				w.annSocket.sendRaw([]byte(row.frame))
				w.annSocket.expectError(row.frameID, row.code)
				// The connection stays up after a bad frame.
				ping := fmt.Sprintf("ping-%d", i)
				w.annSocket.send("ping", ping, nil)
				if f := w.annSocket.expect("pong"); f.data(t)["id"] != ping {
					t.Fatalf("pong %s, want id %s", f.Data, ping)
				}
			case row.oversize != "":
				frames++
				mal := w.ts.dial("a", w.ts.token("mal", engagement.RoleViewer, ""))
				mal.t = t
				mal.expect("welcome")
				mal.sendRaw([]byte(row.oversize))
				if got := mal.expectClose(5 * time.Second); got != row.close {
					t.Fatalf("close code %d, want %d", got, row.close)
				}
			case row.method != "":
				requests++
				r := w.ts.do(row.method, row.path, row.token, row.body)
				if r.status != row.status {
					t.Fatalf("status %d, want %d: %s", r.status, row.status, r.body)
				}
				if row.code != "" {
					expectProblem(t, r, row.code)
				}
				if row.check != nil {
					row.check(t, w, r)
				}
			default:
				handshakes++
				h := http.Header{}
				if row.origin != "" {
					h.Set("Origin", row.origin)
				}
				c, res, err := w.ts.tryDial(row.dialStream, row.dialToken, h)
				if c != nil {
					t.Fatalf("handshake succeeded, want %d", row.status)
				}
				if res == nil {
					t.Fatalf("no HTTP answer: %v", err)
				}
				defer res.Body.Close()
				r := response{status: res.StatusCode, header: res.Header, body: readAll(t, res)}
				if r.status != row.status {
					t.Fatalf("status %d, want %d: %s", r.status, row.status, r.body)
				}
				expectProblem(t, r, row.code)
			}
			if after := w.state(t); !reflect.DeepEqual(before, after) {
				t.Fatalf("state changed:\nbefore %+v\nafter  %+v", before, after)
			}
		})
	}
	if t.Failed() {
		return
	}
	t.Logf("bad input: %d rows (%d socket frames, %d API requests, %d handshakes), all refused with their code, state unchanged",
		len(rows), frames, requests, handshakes)
}

// TestPointsFarming: the scoring limits hold against a viewer trying to farm points. (Caps under
// concurrency — 64 goroutines against one monthly cap — are proven in package rewards.)
func TestPointsFarming(t *testing.T) {
	t.Run("50 comments over 10 simulated minutes earn at most 10", func(t *testing.T) {
		clock := testenv.NewClock(time.Now())
		opts := fastLimits()
		opts.svcCfg.Now = clock.Now
		ts := newTestServer(t, opts)
		ts.createStream("s1")
		tok := ts.token("ann", engagement.RoleViewer, "")
		c := ts.dial("s1", tok)
		c.expect("welcome")
		const comments, every = 50, 12 * time.Second
		for i := range comments {
			id := fmt.Sprintf("c%d", i)
			c.send("comment.send", id, map[string]string{"text": fmt.Sprintf("great product #%d", i)})
			if r := c.expectReply(id); r.Type != "ack" {
				t.Fatalf("comment %d: %s %s", i, r.Type, r.Data)
			}
			clock.Advance(every)
		}
		acc := ts.do(http.MethodGet, "/api/v1/users/ann/points", tok, nil).json(t)
		if rule := engagement.DefaultRules().Comment; acc["balance"] != float64(rule.MaxPerStream*rule.Points) {
			t.Fatalf("balance %v after %d comments over %s, want %d (rule %+v)", acc["balance"], comments, comments*every, rule.MaxPerStream*rule.Points, rule)
		}
		t.Logf("farming: %d comments over %s simulated, balance %v (rule: 1 per 30 s, 10 per stream)", comments, comments*every, acc["balance"])
	})
	t.Run("likes earn nothing", func(t *testing.T) {
		ts := newTestServer(t, fastLimits())
		ts.createStream("s1")
		tok := ts.token("ann", engagement.RoleViewer, "")
		c := ts.dial("s1", tok)
		c.expect("welcome")
		const frames = 100
		for range frames {
			c.send("like.send", "", map[string]int{"count": engagement.MaxLikesPerFrame})
		}
		c.send("ping", "sync", nil) // frames are handled in order: the pong follows every like
		c.expect("pong")
		likes, err := ts.svc.Likes(context.Background(), "s1")
		if err != nil {
			t.Fatal(err)
		}
		acc := ts.do(http.MethodGet, "/api/v1/users/ann/points", tok, nil).json(t)
		if likes.Total != frames*engagement.MaxLikesPerFrame || acc["balance"] != float64(0) || acc["pending"] != float64(0) {
			t.Fatalf("likes %d, account %v: want %d likes and 0 points", likes.Total, acc, frames*engagement.MaxLikesPerFrame)
		}
		t.Logf("farming: %d likes sent, %d counted, 0 points", frames*engagement.MaxLikesPerFrame, likes.Total)
	})
	t.Run("a vote retried 20 times pays once", func(t *testing.T) {
		ts := newTestServer(t, fastLimits())
		ts.createStream("s1")
		host := ts.token("host-s1", engagement.RoleHost, "s1")
		pollID := ts.do(http.MethodPost, "/api/v1/streams/s1/polls", host, map[string]any{"question": "Q", "options": []string{"a", "b"}}).json(t)["id"].(string)
		tok := ts.token("ann", engagement.RoleViewer, "")
		c := ts.dial("s1", tok)
		c.expect("welcome")
		const tries = 20
		acks, dups := 0, 0
		for i := range tries {
			c.send("poll.vote", "v", map[string]any{"poll_id": pollID, "option": i % 2})
			r := c.expectReply("v")
			switch {
			case r.Type == "ack":
				acks++
			case r.data(t)["code"] == string(engagement.CodeDuplicate):
				dups++
			default:
				t.Fatalf("try %d: %s", i, r.Data)
			}
		}
		p := ts.do(http.MethodGet, "/api/v1/streams/s1/polls/"+pollID, "", nil).json(t)
		acc := ts.do(http.MethodGet, "/api/v1/users/ann/points", tok, nil).json(t)
		want := float64(engagement.DefaultRules().Poll.Points)
		if acks != 1 || dups != tries-1 || p["total"] != float64(1) || acc["balance"] != want {
			t.Fatalf("%d acks, %d duplicates, poll total %v, balance %v: want 1, %d, 1, %v", acks, dups, p["total"], acc["balance"], tries-1, want)
		}
		t.Logf("farming: vote sent %d times, %d counted, %v points", tries, int(p["total"].(float64)), acc["balance"])
	})
}

// sendOK sends a raw frame and fails unless it is acked.
func sendOK(t *testing.T, c *wsClient, raw, id string) {
	t.Helper()
	c.sendRaw([]byte(raw))
	if r := c.expectReply(id); r.Type != "ack" {
		t.Fatalf("reply to %s: %s %s, want ack", id, r.Type, r.Data)
	}
}

func quizAnswer(id, quizID string, choice int) string {
	return frameOf("quiz.answer", id, fmt.Sprintf(`{"quiz_id":%q,"question_id":"q0","choice":%d}`, quizID, choice))
}

func couponClaim(id, couponID string) string {
	return frameOf("coupon.claim", id, fmt.Sprintf(`{"coupon_id":%q}`, couponID))
}

// unsignedToken is a JWT with "alg": "none" and the given claims: it must never be accepted.
func unsignedToken(user, role, streamID string) string {
	enc := base64.RawURLEncoding.EncodeToString
	claims := fmt.Sprintf(`{"sub":%q,"role":%q,"stream":%q,"exp":%d}`, user, role, streamID, time.Now().Add(time.Hour).Unix())
	return enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc([]byte(claims)) + "."
}

// expectProblem asserts r is a problem+json body with code, whose status field matches the response's.
func expectProblem(t *testing.T, r response, code engagement.Code) {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type %q, want application/problem+json (%s)", ct, r.body)
	}
	p := r.json(t)
	if p["code"] != string(code) || p["status"] != float64(r.status) {
		t.Fatalf("problem %v, want code %s status %d", p, code, r.status)
	}
}

func mustUnmarshal(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%q: %v", b, err)
	}
}

func readAll(t *testing.T, res *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
