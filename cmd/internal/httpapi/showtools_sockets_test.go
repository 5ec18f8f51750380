package httpapi

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/kudos-live/kudos/engagement"
	"github.com/kudos-live/kudos/internal/testenv"
)

// sendAndWait sends one frame per client concurrently and returns each reply.
func sendAndWait(t *testing.T, clients []*wsClient, typ string, data func(i int) any, id string) []frame {
	t.Helper()
	replies := make([]frame, len(clients))
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.send(typ, id, data(i))
			replies[i] = c.expectReply(id)
		}()
	}
	wg.Wait()
	return replies
}

func dialMany(t *testing.T, ts *testServer, stream string, n int, prefix string) []*wsClient {
	t.Helper()
	clients := make([]*wsClient, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 50)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c := ts.dial(stream, ts.token(fmt.Sprintf("%s%d", prefix, i), engagement.RoleViewer, ""))
			c.expect("welcome")
			clients[i] = c
		}()
	}
	wg.Wait()
	return clients
}

// TestHostToolsUnderConcurrentViewers: over real sockets, 500 viewers vote at once (each twice) and the tally
// equals the votes cast with every duplicate refused; 200 viewers claim a coupon of stock 10 at once and exactly
// 10 get a code; a quiz answer after the deadline is refused.
func TestHostToolsUnderConcurrentViewers(t *testing.T) {
	clk := testenv.NewClock(time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC))
	opts := serverOpts{}
	opts.svcCfg.Now = clk.Now
	ts := newTestServer(t, opts)
	ts.createStream("s1")
	host := ts.token("host-s1", engagement.RoleHost, "s1")
	viewers := dialMany(t, ts, "s1", 500, "voter")

	res := ts.do(http.MethodPost, "/api/v1/streams/s1/polls", host, map[string]any{"question": "Which bag?", "options": []string{"tote", "clutch", "backpack"}})
	if res.status != http.StatusCreated {
		t.Fatalf("open poll: %d %s", res.status, res.body)
	}
	pollID := res.json(t)["id"].(string)
	want := make([]int, 3)
	for i := range viewers {
		want[i%3]++
	}
	for try, id := range []string{"first", "retry"} {
		replies := sendAndWait(t, viewers, "poll.vote", func(i int) any { return map[string]any{"poll_id": pollID, "option": i % 3} }, id)
		for i, r := range replies {
			switch {
			case try == 0 && r.Type != "ack":
				t.Fatalf("voter %d first vote: %s %s", i, r.Type, r.Data)
			case try == 1 && (r.Type != "error" || r.data(t)["code"] != "duplicate"):
				t.Fatalf("voter %d retry: %s %s, want duplicate", i, r.Type, r.Data)
			}
		}
	}
	p := ts.do(http.MethodGet, "/api/v1/streams/s1/polls/"+pollID, "", nil).json(t)
	if p["total"] != float64(500) || fmt.Sprint(p["counts"]) != fmt.Sprint(want) {
		t.Fatalf("tally %v total %v, want %v total 500", p["counts"], p["total"], want)
	}

	res = ts.do(http.MethodPost, "/api/v1/streams/s1/coupons", host, map[string]any{"title": "¥20 off", "stock": 10, "expires_s": 600})
	if res.status != http.StatusCreated {
		t.Fatalf("drop coupon: %d %s", res.status, res.body)
	}
	couponID := res.json(t)["id"].(string)
	claims := sendAndWait(t, viewers[:200], "coupon.claim", func(int) any { return map[string]any{"coupon_id": couponID} }, "claim")
	codes := map[string]bool{}
	for i, r := range claims {
		if r.Type == "ack" {
			codes[r.data(t)["code"].(string)] = true
		} else if code := r.data(t)["code"]; code != "closed" {
			t.Fatalf("claimer %d: %s, want ack or closed", i, r.Data)
		}
	}
	if len(codes) != 10 {
		t.Fatalf("%d distinct coupon codes handed out, want exactly the stock of 10", len(codes))
	}

	res = ts.do(http.MethodPost, "/api/v1/streams/s1/quizzes", host, map[string]any{"questions": []any{
		map[string]any{"text": "Fabric of the tote?", "choices": []string{"linen", "canvas"}, "answer": 1, "time_limit_s": 10},
	}})
	if res.status != http.StatusCreated {
		t.Fatalf("create quiz: %d %s", res.status, res.body)
	}
	quizID := res.json(t)["id"].(string)
	q := ts.do(http.MethodPost, "/api/v1/streams/s1/quizzes/"+quizID+"/next", host, nil)
	if q.status != http.StatusOK {
		t.Fatalf("next: %d %s", q.status, q.body)
	}
	questionID := viewers[0].expect("quiz.question").data(t)["question_id"].(string)
	viewers[0].send("quiz.answer", "in-time", map[string]any{"quiz_id": quizID, "question_id": questionID, "choice": 1})
	if r := viewers[0].expectReply("in-time"); r.Type != "ack" {
		t.Fatalf("answer in time: %s", r.Data)
	}
	clk.Advance(11 * time.Second)
	viewers[1].send("quiz.answer", "late", map[string]any{"quiz_id": quizID, "question_id": questionID, "choice": 1})
	viewers[1].expectError("late", engagement.CodeClosed)
	viewers[0].send("quiz.answer", "again", map[string]any{"quiz_id": quizID, "question_id": questionID, "choice": 0})
	if r := viewers[0].expectReply("again"); r.Type != "error" {
		t.Fatalf("second answer accepted: %s", r.Data)
	}
}

// TestViewerEarnsPointsForCommentVoteAndQuiz: one viewer comments, votes and answers a quiz at once, and sees a
// points frame for each with the default amounts (docs/architecture.md, "Scoring": comment 1, vote 5, a correct
// answer at t=0 of the limit 100).
func TestViewerEarnsPointsForCommentVoteAndQuiz(t *testing.T) {
	clk := testenv.NewClock(time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC))
	opts := serverOpts{}
	opts.svcCfg.Now = clk.Now
	ts := newTestServer(t, opts)
	ts.createStream("s1")
	host := ts.token("host-s1", engagement.RoleHost, "s1")
	ann := ts.dial("s1", ts.token("ann", engagement.RoleViewer, ""))
	ann.expect("welcome")

	ann.send("comment.send", "c", map[string]string{"text": "is the tote waterproof?"})
	ann.expectReply("c")
	if p := ann.expect("points").data(t); p["delta"] != float64(1) || p["balance"] != float64(1) {
		t.Fatalf("comment points %v, want +1 → 1", p)
	}
	pollID := ts.do(http.MethodPost, "/api/v1/streams/s1/polls", host, map[string]any{"question": "Colour?", "options": []string{"sand", "black"}}).json(t)["id"]
	ann.send("poll.vote", "v", map[string]any{"poll_id": pollID, "option": 0})
	ann.expectReply("v")
	if p := ann.expect("points").data(t); p["delta"] != float64(5) || p["balance"] != float64(6) {
		t.Fatalf("vote points %v, want +5 → 6", p)
	}
	quizID := ts.do(http.MethodPost, "/api/v1/streams/s1/quizzes", host, map[string]any{"questions": []any{
		map[string]any{"text": "Price?", "choices": []string{"¥199", "¥299"}, "answer": 0, "time_limit_s": 20},
	}}).json(t)["id"].(string)
	ts.do(http.MethodPost, "/api/v1/streams/s1/quizzes/"+quizID+"/next", host, nil)
	qid := ann.expect("quiz.question").data(t)["question_id"]
	ann.send("quiz.answer", "a", map[string]any{"quiz_id": quizID, "question_id": qid, "choice": 0})
	if r := ann.expectReply("a"); r.Type != "ack" {
		t.Fatalf("answer: %s", r.Data)
	}
	ts.do(http.MethodPost, "/api/v1/streams/s1/quizzes/"+quizID+"/next", host, nil) // reveal: points are paid now
	if p := ann.expect("points").data(t); p["delta"] != float64(100) || p["balance"] != float64(106) {
		t.Fatalf("quiz points %v, want +100 → 106", p)
	}
	acc := ts.do(http.MethodGet, "/api/v1/users/ann/points", ts.token("ann", engagement.RoleViewer, ""), nil).json(t)
	if acc["balance"] != float64(106) {
		t.Fatalf("account %v, want balance 106", acc)
	}
}
