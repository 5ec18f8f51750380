package httpapi

import (
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/kudos-live/kudos/engagement"
)

func TestPollOverHTTPAndSocket(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	ts.createStream("s1")
	host := ts.token("host-s1", engagement.RoleHost, "s1")
	ann := ts.dial("s1", ts.token("ann", engagement.RoleViewer, ""))
	ann.expect("welcome")

	res := ts.do(http.MethodPost, "/api/v1/streams/s1/polls", host, map[string]any{"question": "Colour?", "options": []string{"red", "blue"}})
	if res.status != http.StatusCreated {
		t.Fatalf("open poll: %d %s", res.status, res.body)
	}
	pollID := res.json(t)["id"].(string)
	opened := ann.expect("poll.opened").data(t)
	if p := opened["poll"].(map[string]any); p["id"] != pollID {
		t.Fatalf("poll.opened = %v", opened)
	}
	ann.send("poll.vote", "v1", map[string]any{"poll_id": pollID, "option": 1})
	if r := ann.expectReply("v1"); r.Type != "ack" {
		t.Fatalf("vote reply = %s %s", r.Type, r.Data)
	}
	ann.send("poll.vote", "v2", map[string]any{"poll_id": pollID, "option": 0})
	ann.expectError("v2", engagement.CodeDuplicate)

	res = ts.do(http.MethodPost, "/api/v1/streams/s1/polls/"+pollID+"/close", host, nil)
	if res.status != http.StatusOK || res.json(t)["status"] != "closed" {
		t.Fatalf("close poll: %d %s", res.status, res.body)
	}
	if c := ann.expect("poll.closed").data(t); c["winner"] != float64(1) || c["total"] != float64(1) {
		t.Fatalf("poll.closed = %v", c)
	}
	res = ts.do(http.MethodGet, "/api/v1/streams/s1/polls/"+pollID, "", nil)
	if res.status != http.StatusOK || fmt.Sprint(res.json(t)["counts"]) != "[0 1]" {
		t.Fatalf("get poll: %d %s", res.status, res.body)
	}
}

func TestHostRoutesRefuseOthersAndBadInput(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	ts.createStream("s1")
	ts.createStream("s2")
	viewer := ts.token("ann", engagement.RoleViewer, "")
	otherHost := ts.token("host-s2", engagement.RoleHost, "s2")
	host := ts.token("host-s1", engagement.RoleHost, "s1")
	poll := map[string]any{"question": "Q", "options": []string{"a", "b"}}
	tests := []struct {
		name   string
		path   string
		token  string
		body   any
		status int
		field  string
	}{
		{"viewer opens a poll", "/api/v1/streams/s1/polls", viewer, poll, http.StatusForbidden, ""},
		{"host of another stream", "/api/v1/streams/s1/polls", otherHost, poll, http.StatusForbidden, ""},
		{"no token", "/api/v1/streams/s1/coupons", "", map[string]any{"title": "x", "stock": 1, "expires_s": 60}, http.StatusUnauthorized, ""},
		{"one option", "/api/v1/streams/s1/polls", host, map[string]any{"question": "Q", "options": []string{"a"}}, http.StatusBadRequest, "options"},
		{"stock zero", "/api/v1/streams/s1/coupons", host, map[string]any{"title": "x", "stock": 0, "expires_s": 60}, http.StatusBadRequest, "stock"},
		{"bad quiz", "/api/v1/streams/s1/quizzes", host, map[string]any{"questions": []any{}}, http.StatusBadRequest, "questions"},
		{"bad draw", "/api/v1/streams/s1/draws", host, map[string]any{"prize": "Mug", "winners": 0}, http.StatusBadRequest, "winners"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := ts.do(http.MethodPost, tt.path, tt.token, tt.body)
			if res.status != tt.status {
				t.Fatalf("status = %d %s, want %d", res.status, res.body, tt.status)
			}
			if tt.field != "" && res.json(t)["field"] != tt.field {
				t.Fatalf("problem = %s, want field %q", res.body, tt.field)
			}
		})
	}
}

func TestDrawOverHTTPIsVerifiable(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	ts.createStream("s1")
	host := ts.token("host-s1", engagement.RoleHost, "s1")
	res := ts.do(http.MethodPost, "/api/v1/streams/s1/draws", host, map[string]any{"prize": "Mug", "winners": 2})
	if res.status != http.StatusCreated {
		t.Fatalf("open draw: %d %s", res.status, res.body)
	}
	draw := res.json(t)
	if _, leaked := draw["seed"]; leaked || len(draw["commitment"].(string)) != 64 {
		t.Fatalf("draw = %v", draw)
	}
	id := draw["id"].(string)
	for _, u := range []string{"ann", "bob", "cy", "dee"} {
		c := ts.dial("s1", ts.token(u, engagement.RoleViewer, ""))
		c.expect("welcome")
		c.send("draw.enter", "e", map[string]any{"draw_id": id})
		if r := c.expectReply("e"); r.Type != "ack" {
			t.Fatalf("%s enter: %s %s", u, r.Type, r.Data)
		}
	}
	res = ts.do(http.MethodPost, "/api/v1/streams/s1/draws/"+id+"/run", host, nil)
	if res.status != http.StatusOK {
		t.Fatalf("run draw: %d %s", res.status, res.body)
	}
	out := res.json(t)
	var entrants, winners []string
	for _, e := range out["entrants"].([]any) {
		entrants = append(entrants, e.(string))
	}
	for _, w := range out["winners"].([]any) {
		winners = append(winners, w.(map[string]any)["user"].(string))
	}
	got, err := engagement.VerifyDraw(out["seed"].(string), entrants, 2)
	if err != nil || !slices.Equal(got, winners) || out["commitment"] != draw["commitment"] {
		t.Fatalf("VerifyDraw = %v, %v; published %v", got, err, winners)
	}
}
