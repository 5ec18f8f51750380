package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kudos-live/kudos/engagement"
)

// expectQuestions returns the next questions frame that satisfies ok (the frame is coalesced, so earlier
// states may arrive first).
func (c *wsClient) expectQuestions(ok func(engagement.QuestionList) bool) engagement.QuestionList {
	c.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		f := c.expect("questions")
		var l engagement.QuestionList
		if err := json.Unmarshal(f.Data, &l); err != nil {
			c.t.Fatalf("questions frame %s: %v", f.Data, err)
		}
		if ok(l) {
			return l
		}
	}
	c.t.Fatal("no matching questions frame within 5 s")
	return engagement.QuestionList{}
}

func TestQuestionsOverSocketAndHTTP(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	ts.createStream("s1")
	host := ts.token("host-s1", engagement.RoleHost, "s1")
	ann := ts.dial("s1", ts.token("ann", engagement.RoleViewer, ""))
	ann.expect("welcome")
	bob := ts.dial("s1", ts.token("bob", engagement.RoleViewer, ""))
	bob.expect("welcome")

	ann.send("question.ask", "a1", map[string]any{"text": "Is it vegan?"})
	r := ann.expectReply("a1")
	if r.Type != "ack" {
		t.Fatalf("ask reply = %s %s", r.Type, r.Data)
	}
	qid, _ := r.data(t)["question_id"].(string)
	if qid == "" {
		t.Fatalf("ack %s has no question_id", r.Data)
	}
	ann.send("question.ask", "a2", map[string]any{"text": ""})
	ann.expectError("a2", engagement.CodeInvalid)
	bob.send("question.upvote", "u1", map[string]any{"question_id": qid})
	if r := bob.expectReply("u1"); r.Type != "ack" {
		t.Fatalf("upvote reply = %s %s", r.Type, r.Data)
	}
	bob.send("question.upvote", "u2", map[string]any{"question_id": qid})
	bob.expectError("u2", engagement.CodeDuplicate)
	ann.send("question.upvote", "u3", map[string]any{"question_id": qid})
	ann.expectError("u3", engagement.CodeForbidden)

	l := bob.expectQuestions(func(l engagement.QuestionList) bool { return len(l.Questions) == 1 && l.Questions[0].Votes == 1 })
	if q := l.Questions[0]; q.ID != qid || q.Text != "Is it vegan?" || q.User != "ann" || q.Pinned || q.Answered {
		t.Errorf("question = %+v", q)
	}

	// A viewer may not moderate; the host pins, answers and hides.
	if res := ts.do(http.MethodPost, "/api/v1/streams/s1/questions/"+qid+"/pin", ts.token("bob", engagement.RoleViewer, ""), nil); res.status != http.StatusForbidden {
		t.Errorf("viewer pin: %d %s", res.status, res.body)
	}
	for _, action := range []string{"pin", "answer"} {
		if res := ts.do(http.MethodPost, "/api/v1/streams/s1/questions/"+qid+"/"+action, host, nil); res.status != http.StatusOK {
			t.Fatalf("%s: %d %s", action, res.status, res.body)
		}
	}
	bob.expectQuestions(func(l engagement.QuestionList) bool {
		return len(l.Questions) == 1 && l.Questions[0].Pinned && l.Questions[0].Answered
	})
	res := ts.do(http.MethodPost, "/api/v1/streams/s1/questions/"+qid+"/pin", host, map[string]bool{"pinned": false})
	if res.status != http.StatusOK || res.json(t)["pinned"] != false {
		t.Errorf("unpin: %d %s", res.status, res.body)
	}
	res = ts.do(http.MethodPost, "/api/v1/streams/s1/questions/"+qid+"/hide", host, nil)
	if res.status != http.StatusOK || res.json(t)["hidden"] != true {
		t.Fatalf("hide: %d %s", res.status, res.body)
	}
	if n := ann.expect("notice").data(t); n["kind"] != "question_hidden" || n["question_id"] != qid {
		t.Errorf("notice to the asker = %v", n)
	}
	bob.expectQuestions(func(l engagement.QuestionList) bool { return len(l.Questions) == 0 && l.Hidden == 1 })

	// Anyone lists the visible questions with the hidden count; the host sees the hidden one, flagged.
	res = ts.do(http.MethodGet, "/api/v1/streams/s1/questions", "", nil)
	if got := res.json(t); res.status != http.StatusOK || fmt.Sprint(got["questions"]) != "[]" || got["hidden"] != float64(1) {
		t.Errorf("public list: %d %s", res.status, res.body)
	}
	res = ts.do(http.MethodGet, "/api/v1/streams/s1/questions", host, nil)
	var hostList engagement.QuestionList
	if err := json.Unmarshal(res.body, &hostList); err != nil || len(hostList.Questions) != 1 || !hostList.Questions[0].Hidden || hostList.Hidden != 1 {
		t.Errorf("host list: %d %s", res.status, res.body)
	}
	if res := ts.do(http.MethodGet, "/api/v1/streams/s1/questions", "forged", nil); res.status != http.StatusUnauthorized {
		t.Errorf("forged token: %d %s", res.status, res.body)
	}
	if n := len(eventsOfType(ts.sink, engagement.EventQuestionAnswered)); n != 1 {
		t.Errorf("%d question.answered events, want 1", n)
	}
}

func eventsOfType(sink *engagement.MemorySink, typ string) []engagement.Event {
	var out []engagement.Event
	for _, e := range sink.Events() {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

func TestTimelineAndReplayOverHTTP(t *testing.T) {
	ts := newTestServer(t, fastLimits())
	ts.createStream("s1")
	host := ts.token("host-s1", engagement.RoleHost, "s1")
	ann := ts.dial("s1", ts.token("ann", engagement.RoleViewer, ""))
	ann.expect("welcome")

	var ids []string
	for i, text := range []string{"hello", "nasty words", "nice serum"} {
		id := fmt.Sprint("c", i)
		ann.send("comment.send", id, map[string]any{"text": text})
		r := ann.expectReply(id)
		if r.Type != "ack" {
			t.Fatalf("comment %d: %s %s", i, r.Type, r.Data)
		}
		ids = append(ids, r.data(t)["comment_id"].(string))
	}
	if res := ts.do(http.MethodPost, "/api/v1/streams/s1/moderation", host, map[string]any{"action": "remove_comment", "comment_id": ids[1]}); res.status != http.StatusOK {
		t.Fatalf("remove comment: %d %s", res.status, res.body)
	}
	res := ts.do(http.MethodPost, "/api/v1/streams/s1/polls", host, map[string]any{"question": "Colour?", "options": []string{"red", "blue"}})
	if res.status != http.StatusCreated {
		t.Fatalf("open poll: %d %s", res.status, res.body)
	}
	pollID := res.json(t)["id"].(string)
	ann.send("poll.vote", "v", map[string]any{"poll_id": pollID, "option": 1})
	ann.expectReply("v")
	if res := ts.do(http.MethodPost, "/api/v1/streams/s1/polls/"+pollID+"/close", host, nil); res.status != http.StatusOK {
		t.Fatalf("close poll: %d %s", res.status, res.body)
	}
	res = ts.do(http.MethodPost, "/api/v1/streams/s1/quizzes", host, map[string]any{"questions": []any{
		map[string]any{"text": "2+2?", "choices": []string{"3", "4"}, "answer": 1, "time_limit_s": 10},
	}})
	if res.status != http.StatusCreated {
		t.Fatalf("create quiz: %d %s", res.status, res.body)
	}
	quizID := res.json(t)["id"].(string)
	if res := ts.do(http.MethodPost, "/api/v1/streams/s1/quizzes/"+quizID+"/next", host, nil); res.status != http.StatusOK {
		t.Fatalf("next: %d %s", res.status, res.body)
	}

	if res := ts.do(http.MethodGet, "/api/v1/streams/s1/timeline", "", nil); res.status != http.StatusConflict || res.json(t)["code"] != "closed" {
		t.Errorf("timeline of a live stream: %d %s", res.status, res.body)
	}
	if res := ts.do(http.MethodPost, "/api/v1/streams/s1/end", host, nil); res.status != http.StatusOK {
		t.Fatalf("end: %d %s", res.status, res.body)
	}

	type page struct {
		Stream     string `json:"stream"`
		DurationMS int64  `json:"duration_ms"`
		Items      []struct {
			OffsetMS int64           `json:"offset_ms"`
			Type     string          `json:"type"`
			Data     json.RawMessage `json:"data"`
		} `json:"items"`
		NextCursor string `json:"next_cursor"`
	}
	var types, texts []string
	var offsets []int64
	var duration int64
	path := "/api/v1/streams/s1/timeline?limit=2"
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("the cursor never ends")
		}
		res := ts.do(http.MethodGet, path, "", nil)
		var pg page
		if res.status != http.StatusOK || json.Unmarshal(res.body, &pg) != nil || len(pg.Items) > 2 {
			t.Fatalf("timeline page: %d %s", res.status, res.body)
		}
		duration = pg.DurationMS
		for _, it := range pg.Items {
			types = append(types, it.Type)
			offsets = append(offsets, it.OffsetMS)
			if it.Type == "comment" {
				var c engagement.Comment
				_ = json.Unmarshal(it.Data, &c)
				texts = append(texts, c.Text)
			}
		}
		if pg.NextCursor == "" {
			break
		}
		path = "/api/v1/streams/s1/timeline?limit=2&cursor=" + pg.NextCursor
	}
	// The question still open at the end is revealed as the show ends.
	if want := []string{"comment", "comment", "poll.opened", "poll.closed", "quiz.question", "quiz.reveal"}; !slices.Equal(types, want) {
		t.Errorf("types = %v, want %v", types, want)
	}
	if want := []string{"hello", "nice serum"}; !slices.Equal(texts, want) {
		t.Errorf("comments = %v, want %v (the removed one left out)", texts, want)
	}
	if !slices.IsSorted(offsets) || offsets[len(offsets)-1] > duration {
		t.Errorf("offsets %v not in order within %d ms", offsets, duration)
	}
	if res := ts.do(http.MethodGet, "/api/v1/streams/s1/timeline?from=x", "", nil); res.status != http.StatusBadRequest || res.json(t)["field"] != "from" {
		t.Errorf("bad from: %d %s", res.status, res.body)
	}

	// Someone watching the replay answers the quiz for a share of the points.
	bobTok := ts.token("bob", engagement.RoleViewer, "")
	body := map[string]any{"quiz_id": quizID, "question_id": "q0", "choice": 1}
	res = ts.do(http.MethodPost, "/api/v1/streams/s1/replay/answers", bobTok, body)
	if got := res.json(t); res.status != http.StatusOK || got["correct"] != true || got["points"] != float64(25) || got["replay"] != true {
		t.Errorf("replay answer: %d %s", res.status, res.body)
	}
	if res := ts.do(http.MethodPost, "/api/v1/streams/s1/replay/answers", bobTok, body); res.status != http.StatusConflict || res.json(t)["code"] != "duplicate" {
		t.Errorf("second replay answer: %d %s", res.status, res.body)
	}
	if res := ts.do(http.MethodPost, "/api/v1/streams/s1/replay/answers", "", body); res.status != http.StatusUnauthorized {
		t.Errorf("replay answer without a token: %d %s", res.status, res.body)
	}
}

func TestNotificationsOverHTTPAreCapped(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	ts.svc.SetNotifyConfig(engagement.NotifyConfig{NoQuietHours: true}) // the test may run at any hour
	ts.createStream("s1")
	shop := ts.token("shop", engagement.RoleService, "")
	ann := ts.dial("s1", ts.token("ann", engagement.RoleViewer, ""))
	ann.expect("welcome")

	for i := 1; i <= 4; i++ {
		res := ts.do(http.MethodPost, "/api/v1/notifications", shop, map[string]any{
			"id": fmt.Sprint("n", i), "kind": "coupon_expiring", "title": fmt.Sprint("Reminder ", i), "users": []string{"ann"},
		})
		if res.status != http.StatusOK {
			t.Fatalf("notification %d: %d %s", i, res.status, res.body)
		}
		got := res.json(t)
		if i <= 3 {
			if got["sent"] != float64(1) || got["capped"] != float64(0) {
				t.Fatalf("notification %d: %s, want sent", i, res.body)
			}
			if n := ann.expect("notification").data(t); n["title"] != fmt.Sprint("Reminder ", i) || n["kind"] != "coupon_expiring" {
				t.Errorf("notification frame %d = %v", i, n)
			}
			continue
		}
		r := got["results"].([]any)[0].(map[string]any)
		if got["sent"] != float64(0) || got["capped"] != float64(1) || r["status"] != "capped" || r["reason"] != "daily_cap" {
			t.Fatalf("notification 4: %s, want capped by the daily cap", res.body)
		}
	}
	// The fourth never reaches the socket: ann's own comment, delivered after it would have been, comes
	// first with no notification before it.
	ann.send("comment.send", "c", map[string]any{"text": "still here"})
	for {
		f, err := ann.next(5 * time.Second)
		if err != nil {
			t.Fatalf("waiting for the comment: %v", err)
		}
		if f.Type == "notification" {
			t.Fatalf("a capped notification was delivered: %s", f.Data)
		}
		if f.Type == "comment" {
			break
		}
	}
	capped := eventsOfType(ts.sink, engagement.EventNotificationCapped)
	if len(capped) != 1 || capped[0].UserID != "ann" {
		t.Fatalf("%d notification.capped events, want 1 for ann", len(capped))
	}
	if n := len(eventsOfType(ts.sink, engagement.EventNotificationSent)); n != 3 {
		t.Errorf("%d notification.sent events, want 3", n)
	}

	tests := []struct {
		name   string
		token  string
		body   any
		status int
	}{
		{"no token", "", map[string]any{"kind": "stream_live", "title": "x", "users": []string{"ann"}}, http.StatusUnauthorized},
		{"viewer", ts.token("bob", engagement.RoleViewer, ""), map[string]any{"kind": "stream_live", "title": "x", "stream": "s1"}, http.StatusForbidden},
		{"bad kind", shop, map[string]any{"kind": "!!", "title": "x", "users": []string{"ann"}}, http.StatusBadRequest},
		{"host to their audience", ts.token("host-s1", engagement.RoleHost, "s1"), map[string]any{"kind": "stream_live", "title": "x", "stream": "s1"}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if res := ts.do(http.MethodPost, "/api/v1/notifications", tt.token, tt.body); res.status != tt.status {
				t.Errorf("status = %d %s, want %d", res.status, res.body, tt.status)
			}
		})
	}
}

func TestBrowserReplaysAnEndedShow(t *testing.T) {
	ts := newTestServer(t, fastLimits())
	ts.createStream("s1")
	host := ts.token("host-s1", engagement.RoleHost, "s1")
	ann := ts.dial("s1", ts.token("ann", engagement.RoleViewer, ""))
	ann.expect("welcome")
	var removed string
	for i, text := range []string{"hello replay", "remove me", "see you"} {
		id := fmt.Sprint("c", i)
		ann.send("comment.send", id, map[string]any{"text": text})
		if i == 1 {
			removed = ann.expectReply(id).data(t)["comment_id"].(string)
		} else {
			ann.expectReply(id)
		}
	}
	if res := ts.do(http.MethodPost, "/api/v1/streams/s1/moderation", host, map[string]any{"action": "remove_comment", "comment_id": removed}); res.status != http.StatusOK {
		t.Fatalf("remove: %d %s", res.status, res.body)
	}
	res := ts.do(http.MethodPost, "/api/v1/streams/s1/polls", host, map[string]any{"question": "Colour?", "options": []string{"red", "blue"}})
	if res.status != http.StatusCreated {
		t.Fatalf("open poll: %d %s", res.status, res.body)
	}
	pollID := res.json(t)["id"].(string)
	ts.do(http.MethodPost, "/api/v1/streams/s1/polls/"+pollID+"/close", host, nil)
	ts.do(http.MethodPost, "/api/v1/streams/s1/end", host, nil)

	b := newBrowser(t)
	bob := b.open("bob", ts.URL+"/?stream=s1&token="+ts.token("bob", engagement.RoleViewer, ""))
	bob.waitFor(`#ended-overlay:not([hidden]) #replay-open:not([hidden])`)
	bob.click("#replay-open")
	bob.waitFor(`#replay-bar:not([hidden])`)
	bob.waitText("#chat-list", "hello replay")
	bob.waitText("#chat-list", "see you")
	bob.waitFor(`#poll-card[data-poll-id="` + pollID + `"][data-status="closed"]`)
	bob.waitFor(`#replay-bar[data-state="paused"]`) // played to the end
	if text, _, err := bob.textOf("#chat-list"); err != nil || strings.Contains(text, "remove me") {
		t.Errorf("replayed chat = %q (%v); the removed comment must not appear", text, err)
	}
	bob.noExceptions()
}
