package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
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
