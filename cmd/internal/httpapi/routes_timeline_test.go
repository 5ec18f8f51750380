package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/kudos-live/kudos/engagement"
)

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
