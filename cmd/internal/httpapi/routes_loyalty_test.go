package httpapi

import (
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/kudos-live/kudos/engagement"
)

func TestPurchaseIsIdempotentAndPaysPerYuan(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	ts.createStream("s1")
	shop := ts.token("shop", engagement.RoleService, "")
	viewer := ts.dial("s1", ts.token("ann", engagement.RoleViewer, ""))
	viewer.expect("welcome")

	order := map[string]any{"order_id": "o-123", "user_id": "ann", "stream_id": "s1", "amount_fen": 12345}
	var wg sync.WaitGroup
	statuses := make([]int, 8)
	bodies := make([]map[string]any, 8)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := ts.do(http.MethodPost, "/api/v1/purchases", shop, order)
			statuses[i] = r.status
			bodies[i] = r.json(t)
		}()
	}
	wg.Wait()
	created := 0
	for i, st := range statuses {
		if st == http.StatusCreated {
			created++
		} else if st != http.StatusOK {
			t.Fatalf("post %d: status %d %v", i, st, bodies[i])
		}
		if bodies[i]["points"] != float64(123) {
			t.Fatalf("post %d: points %v, want 123", i, bodies[i]["points"])
		}
	}
	if created != 1 {
		t.Fatalf("%d posts created the purchase, want exactly 1", created)
	}
	p := viewer.expect("points").data(t)
	if p["delta"] != float64(123) || p["pending"] != true {
		t.Fatalf("points frame %v, want +123 pending", p)
	}
	acc := ts.do(http.MethodGet, "/api/v1/users/ann/points", ts.token("ann", engagement.RoleViewer, ""), nil).json(t)
	if acc["pending"] != float64(123) || acc["balance"] != float64(0) {
		t.Fatalf("account %v, want 123 pending and 0 spendable (return window)", acc)
	}
}

func TestLoyaltyBadInput(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	ts.createStream("s1")
	shop := ts.token("shop", engagement.RoleService, "")
	ann := ts.token("ann", engagement.RoleViewer, "")
	tests := []struct {
		name   string
		method string
		path   string
		token  string
		body   any
		status int
		code   string
		field  string
	}{
		{"negative amount", "POST", "/api/v1/purchases", shop, map[string]any{"order_id": "o1", "user_id": "ann", "amount_fen": -5}, 400, "invalid", "amount_fen"},
		{"non-integer amount", "POST", "/api/v1/purchases", shop, `{"order_id":"o1","user_id":"ann","amount_fen":123.45}`, 400, "invalid", "amount_fen"},
		{"amount as string", "POST", "/api/v1/purchases", shop, `{"order_id":"o1","user_id":"ann","amount_fen":"100"}`, 400, "invalid", "amount_fen"},
		{"missing order id", "POST", "/api/v1/purchases", shop, map[string]any{"user_id": "ann", "amount_fen": 100}, 400, "invalid", "order_id"},
		{"viewer cannot post purchases", "POST", "/api/v1/purchases", ann, map[string]any{"order_id": "o1", "user_id": "ann", "amount_fen": 100}, 403, "forbidden", ""},
		{"no token", "POST", "/api/v1/purchases", "", map[string]any{"order_id": "o1", "user_id": "ann", "amount_fen": 100}, 401, "unauthorized", ""},
		{"malformed JSON", "POST", "/api/v1/purchases", shop, `{"order_id":`, 400, "invalid", ""},
		{"other user's points", "GET", "/api/v1/users/bob/points", ann, nil, 403, "forbidden", ""},
		{"unknown reward", "POST", "/api/v1/users/ann/redemptions", ann, map[string]any{"reward_id": "nope", "request_id": "r1"}, 404, "not_found", ""},
		{"insufficient points", "POST", "/api/v1/users/ann/redemptions", ann, map[string]any{"reward_id": "coupon-5", "request_id": "r2"}, 409, "insufficient_points", ""},
		{"redeem for another user", "POST", "/api/v1/users/bob/redemptions", ann, map[string]any{"reward_id": "coupon-5", "request_id": "r3"}, 403, "forbidden", ""},
		{"leaderboard of unknown stream", "GET", "/api/v1/streams/nope/leaderboard", ann, nil, 404, "not_found", ""},
		{"leaderboard without a token", "GET", "/api/v1/streams/s1/leaderboard", "", nil, 401, "unauthorized", ""},
		{"refund of unknown order", "POST", "/api/v1/purchases/never/refund", shop, nil, 404, "not_found", ""},
		{"viewer refunds with a bad body", "POST", "/api/v1/purchases/o1/refund", ann, `{"amount_fen":`, 403, "forbidden", ""},
		{"viewer posts a purchase with a bad body", "POST", "/api/v1/purchases", ann, `{"order_id":`, 403, "forbidden", ""},
		{"partial refund without id", "POST", "/api/v1/purchases/o1/refund", shop, map[string]any{"amount_fen": 100}, 400, "invalid", "refund_id"},
		{"negative refund", "POST", "/api/v1/purchases/o1/refund", shop, map[string]any{"refund_id": "r", "amount_fen": -1}, 400, "invalid", "amount_fen"},
		{"refund id without amount", "POST", "/api/v1/purchases/o1/refund", shop, map[string]any{"refund_id": "r"}, 400, "invalid", "amount_fen"},
		{"refund items not adding up", "POST", "/api/v1/purchases/o1/refund", shop,
			map[string]any{"refund_id": "r", "amount_fen": 5, "items": []map[string]any{{"product_id": "p1", "qty": 1, "price_fen": 100}}}, 400, "invalid", "amount_fen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.do(tt.method, tt.path, tt.token, tt.body)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("content type %q", ct)
			}
			p := r.json(t)
			if p["code"] != tt.code || (tt.field != "" && p["field"] != tt.field) {
				t.Fatalf("problem %v, want code %s field %q", p, tt.code, tt.field)
			}
		})
	}
	// Nothing above changed anyone's points.
	acc := ts.do(http.MethodGet, "/api/v1/users/ann/points", ann, nil).json(t)
	if acc["balance"] != float64(0) || acc["pending"] != float64(0) {
		t.Fatalf("account after bad input: %v", acc)
	}
}

func TestCommentEarnsPointsOnlyForTheCommenter(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	ts.createStream("s1")
	ann := ts.dial("s1", ts.token("ann", engagement.RoleViewer, ""))
	bob := ts.dial("s1", ts.token("bob", engagement.RoleViewer, ""))
	if w := ann.expect("welcome").data(t); w["points"].(map[string]any)["tier"] != "bronze" {
		t.Fatalf("welcome points %v", w["points"])
	}
	bob.expect("welcome")
	ann.send("comment.send", "c1", map[string]string{"text": "love this jacket"})
	ann.expectReply("c1")
	if p := ann.expect("points").data(t); p["delta"] != float64(1) || p["balance"] != float64(1) {
		t.Fatalf("ann's points frame %v, want +1 → 1", p)
	}
	// A second comment within 30 s earns nothing more.
	ann.send("comment.send", "c2", map[string]string{"text": "what sizes?"})
	ann.expectReply("c2")
	// Bob sees both comments and no points frame of Ann's.
	bob.expectComment("ann")
	bob.expectComment("ann")
	bob.send("ping", "p", nil)
	for {
		f, err := bob.next(2e9)
		if err != nil {
			t.Fatal(err)
		}
		if f.Type == "points" {
			t.Fatalf("bob received a points frame: %s", f.Data)
		}
		if f.Type == "pong" {
			break
		}
	}
	lb := ts.do(http.MethodGet, "/api/v1/streams/s1/leaderboard", ts.token("bob", engagement.RoleViewer, ""), nil).json(t)
	top := lb["top"].([]any)
	if len(top) != 1 || top[0].(map[string]any)["user"] != "ann" || top[0].(map[string]any)["points"] != float64(1) {
		t.Fatalf("leaderboard %v, want ann with 1", lb)
	}
}

// TestPartialRefunds: refunds by amount and by items take back their share of the points, once per
// refund_id (a replay answers the same; the id with another amount is 409); more than is left is 400; the
// refund of the rest makes the order whole; the stream's sales follow (GMV, units, orders, buyers), and every
// refund publishes purchase.refunded on the order's stream.
func TestPartialRefunds(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	ts.createStream("s1")
	shop := ts.token("shop", engagement.RoleService, "")
	order := map[string]any{"order_id": "o-9", "user_id": "ann", "stream_id": "s1",
		"items": []map[string]any{{"product_id": "coat", "qty": 2, "price_fen": 30000}, {"product_id": "hat", "qty": 1, "price_fen": 6000}}}
	if r := ts.do(http.MethodPost, "/api/v1/purchases", shop, order); r.status != http.StatusCreated {
		t.Fatalf("purchase: %d %s", r.status, r.body)
	}
	sales := func() map[string]any {
		t.Helper()
		r := ts.do(http.MethodGet, "/api/v1/streams/s1/sales", shop, nil)
		if r.status != http.StatusOK {
			t.Fatalf("sales: %d %s", r.status, r.body)
		}
		return r.json(t)
	}
	product := func(sa map[string]any, id string) map[string]any {
		for _, p := range sa["products"].([]any) {
			if p := p.(map[string]any); p["product_id"] == id {
				return p
			}
		}
		return nil
	}
	refund := func(body any, status int) map[string]any {
		t.Helper()
		r := ts.do(http.MethodPost, "/api/v1/purchases/o-9/refund", shop, body)
		if r.status != status {
			t.Fatalf("refund %v: %d %s, want %d", body, r.status, r.body, status)
		}
		return r.json(t)
	}

	// One coat back (30000 of 66000 fen): 660 × 30000 ÷ 66000 = 300 points cancelled (inside the window).
	coat := map[string]any{"refund_id": "rma-1", "items": []map[string]any{{"product_id": "coat", "qty": 1, "price_fen": 30000}}}
	first := refund(coat, http.StatusOK)
	if first["cancelled"] != float64(300) || first["full"] != false || first["refunded_fen"] != float64(30000) || first["replayed"] != false {
		t.Fatalf("first part: %v", first)
	}
	if again := refund(coat, http.StatusOK); again["cancelled"] != float64(300) || again["replayed"] != true {
		t.Fatalf("replayed part: %v", again)
	}
	if p := refund(map[string]any{"refund_id": "rma-1", "amount_fen": 100}, http.StatusConflict); p["code"] != "conflict" {
		t.Fatalf("refund id reused: %v", p)
	}
	if p := refund(map[string]any{"refund_id": "rma-2", "amount_fen": 36001}, http.StatusBadRequest); p["field"] != "amount_fen" {
		t.Fatalf("more than is left: %v", p)
	}
	sa := sales()
	if sa["gmv_fen"] != float64(36000) || sa["orders"] != float64(1) || sa["buyers"] != float64(1) {
		t.Fatalf("sales after a coat came back: %v", sa)
	}
	if c := product(sa, "coat"); c["units"] != float64(1) || c["gmv_fen"] != float64(30000) || c["orders"] != float64(1) {
		t.Fatalf("coat after one came back: %v", c)
	}
	// A goodwill refund by amount (1000 fen: 10 points), then the rest.
	if r := refund(map[string]any{"refund_id": "goodwill", "amount_fen": 1000}, http.StatusOK); r["cancelled"] != float64(10) {
		t.Fatalf("goodwill part: %v", r)
	}
	rest := refund(nil, http.StatusOK)
	if rest["cancelled"] != float64(350) || rest["full"] != true || rest["amount_fen"] != float64(35000) {
		t.Fatalf("refund of the rest: %v", rest)
	}
	if again := refund(nil, http.StatusOK); again["replayed"] != true || again["cancelled"] != float64(350) || again["full"] != true {
		t.Fatalf("a retried refund of the rest must answer as the first: %v", again)
	}
	if p := refund(map[string]any{"refund_id": "late", "amount_fen": 1}, http.StatusConflict); p["code"] != "duplicate" {
		t.Fatalf("a part after the whole order: %v", p)
	}
	sa = sales()
	if sa["gmv_fen"] != float64(0) || sa["orders"] != float64(0) || sa["buyers"] != float64(0) {
		t.Fatalf("sales after the whole order came back: %v", sa)
	}
	if c := product(sa, "hat"); c["units"] != float64(0) || c["gmv_fen"] != float64(0) || c["orders"] != float64(0) {
		t.Fatalf("hat after the whole order: %v", c)
	}
	acc := ts.do(http.MethodGet, "/api/v1/users/ann/points", shop, nil).json(t)
	if acc["pending"] != float64(0) || acc["balance"] != float64(0) {
		t.Fatalf("account after the refunds: %v", acc)
	}
	var refunds []engagement.Event
	for _, e := range ts.sink.Events() {
		if e.Type == engagement.EventPurchaseRefunded {
			refunds = append(refunds, e)
		}
	}
	if len(refunds) != 5 { // rma-1 twice (same id), goodwill, the rest twice (same id)
		t.Fatalf("%d purchase.refunded events, want 5: %+v", len(refunds), refunds)
	}
	if refunds[3].ID != refunds[4].ID {
		t.Fatalf("a retried refund of the rest must repeat its event id: %s %s", refunds[3].ID, refunds[4].ID)
	}
	if refunds[0].ID != refunds[1].ID || refunds[0].ID == refunds[2].ID || refunds[2].ID == refunds[3].ID {
		t.Fatalf("event ids: a replayed part must repeat its id, other refunds must not: %s %s %s %s",
			refunds[0].ID, refunds[1].ID, refunds[2].ID, refunds[3].ID)
	}
	for _, e := range refunds {
		if e.Subject != "s1" {
			t.Fatalf("refund event on stream %q, want s1: %+v", e.Subject, e)
		}
	}
}

// TestShopAwardOverHTTP: the shop awards a review: 201, then 200 with the same body on a retry; the user's
// open room gets the points frame; a viewer is refused before the body is read; per_day is 409
// limit_reached; an unknown kind is 400 naming it.
func TestShopAwardOverHTTP(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	ts.createStream("s1")
	shop := ts.token("shop", engagement.RoleService, "")
	ann := ts.token("ann", engagement.RoleViewer, "")
	room := ts.dial("s1", ann)
	room.expect("welcome")
	body := map[string]any{"user_id": "ann", "kind": "review", "key": "review:SO-77"}
	first := ts.do(http.MethodPost, "/api/v1/points/award", shop, body)
	if first.status != http.StatusCreated {
		t.Fatalf("award: %d %s", first.status, first.body)
	}
	if f := room.expect("points").data(t); f["delta"] != float64(10) || f["source"] != "review" {
		t.Fatalf("points frame %v, want +10 from review", f)
	}
	again := ts.do(http.MethodPost, "/api/v1/points/award", shop, body)
	if again.status != http.StatusOK || again.json(t)["replayed"] != true || again.json(t)["balance"] != first.json(t)["balance"] {
		t.Fatalf("retry: %d %s", again.status, again.body)
	}
	if r := ts.do(http.MethodPost, "/api/v1/points/award", ann, `{"user_id":`); r.status != http.StatusForbidden {
		t.Fatalf("viewer with a broken body: %d %s, want 403", r.status, r.body)
	}
	for i := 2; i <= 3; i++ {
		if r := ts.do(http.MethodPost, "/api/v1/points/award", shop, map[string]any{"user_id": "ann", "kind": "review", "key": "review:" + strconv.Itoa(i)}); r.status != http.StatusCreated {
			t.Fatalf("review %d: %d %s", i, r.status, r.body)
		}
	}
	if r := ts.do(http.MethodPost, "/api/v1/points/award", shop, map[string]any{"user_id": "ann", "kind": "review", "key": "review:4"}); r.status != http.StatusConflict || r.json(t)["code"] != "limit_reached" {
		t.Fatalf("fourth review of the day: %d %s, want 409 limit_reached", r.status, r.body)
	}
	if r := ts.do(http.MethodPost, "/api/v1/points/award", shop, map[string]any{"user_id": "ann", "kind": "selfie", "key": "k"}); r.status != http.StatusBadRequest || r.json(t)["field"] != "kind" {
		t.Fatalf("unknown kind: %d %s", r.status, r.body)
	}
	acc := ts.do(http.MethodGet, "/api/v1/users/ann/points", ann, nil).json(t)
	if acc["balance"] != float64(30) {
		t.Fatalf("balance %v, want 30 (three reviews)", acc["balance"])
	}
}

// TestAuthorisationBeforeBody: on every staff and shop route, someone the policy refuses gets 403 (or 404 for
// a stream that does not exist) whatever the body holds, a broken one included; the route's staff then get
// the body's own answer (400), so the refusal above was the policy's.
func TestAuthorisationBeforeBody(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	ts.createStream("s1")
	ann := ts.token("ann", engagement.RoleViewer, "")
	otherHost := ts.token("host-9", engagement.RoleHost, "s9")
	admin := ts.token("root", engagement.RoleAdmin, "")
	routes := []struct{ method, path string }{
		{http.MethodPatch, "/api/v1/streams/s1"},
		{http.MethodPost, "/api/v1/streams/s1/moderation"},
		{http.MethodPost, "/api/v1/streams/s1/polls"},
		{http.MethodPost, "/api/v1/streams/s1/quizzes"},
		{http.MethodPost, "/api/v1/streams/s1/coupons"},
		{http.MethodPost, "/api/v1/streams/s1/draws"},
		{http.MethodPost, "/api/v1/streams/s1/feedback/prompt"},
		{http.MethodPost, "/api/v1/streams/s1/products"},
		{http.MethodPost, "/api/v1/purchases"},
		{http.MethodPost, "/api/v1/purchases/o1/refund"},
		{http.MethodPost, "/api/v1/points/award"},
		{http.MethodPut, "/api/v1/catalogue"},
		{http.MethodPost, "/api/v1/coupons/codes/ABC/redeem"},
	}
	for _, r := range routes {
		for name, tok := range map[string]string{"viewer": ann, "host of another stream": otherHost} {
			res := ts.do(r.method, r.path, tok, `{"broken":`)
			if res.status != http.StatusForbidden {
				t.Errorf("%s %s as %s with a broken body: %d %s, want 403", r.method, r.path, name, res.status, res.body)
			}
		}
		if res := ts.do(r.method, r.path, admin, `{"broken":`); res.status != http.StatusBadRequest {
			t.Errorf("%s %s as admin with a broken body: %d %s, want 400 (the body's answer)", r.method, r.path, res.status, res.body)
		}
	}
	if res := ts.do(http.MethodPost, "/api/v1/streams/nope/polls", ann, `{"broken":`); res.status != http.StatusNotFound {
		t.Errorf("a stream that does not exist: %d, want 404", res.status)
	}
}
