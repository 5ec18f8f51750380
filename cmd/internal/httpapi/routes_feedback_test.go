package httpapi

import (
	"net/http"
	"testing"
	"time"

	"github.com/kudos-live/kudos/engagement"
)

// POST /streams/:id/feedback/prompt: its host pushes feedback.prompt to every viewer; anyone else is refused
// before the body is judged; a bad kind is invalid naming "kind"; an ended stream is closed.
func TestPromptFeedbackRoute(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	ts.createStream("s1")
	host := ts.token("host-s1", engagement.RoleHost, "s1")
	v := ts.dial("s1", ts.token("ann", engagement.RoleViewer, ""))
	v.expect("welcome")

	r := ts.do(http.MethodPost, "/api/v1/streams/s1/feedback/prompt", host, map[string]any{"kind": "rating"})
	if r.status != http.StatusOK {
		t.Fatalf("prompt: %d %s", r.status, r.body)
	}
	if body := r.json(t); body["kind"] != "rating" || body["min"] != float64(1) || body["max"] != float64(5) {
		t.Errorf("prompt answer %v", body)
	}
	d := v.expect("feedback.prompt").data(t)
	if d["kind"] != "rating" || d["question"] != "How would you rate this show?" || d["stream"] != "s1" {
		t.Errorf("feedback.prompt %v", d)
	}

	tests := []struct {
		token  string
		body   any
		status int
		field  string
	}{
		{"", map[string]any{"kind": "nps"}, http.StatusUnauthorized, ""},
		{ts.token("ann", engagement.RoleViewer, ""), map[string]any{"kind": "nps"}, http.StatusForbidden, ""},
		{ts.token("ann", engagement.RoleViewer, ""), map[string]any{"kind": "stars"}, http.StatusForbidden, ""},
		{ts.token("host-s2", engagement.RoleHost, "s2"), map[string]any{"kind": "nps"}, http.StatusForbidden, ""},
		{host, map[string]any{"kind": "stars"}, http.StatusBadRequest, "kind"},
		{host, map[string]any{}, http.StatusBadRequest, "kind"},
	}
	for _, tt := range tests {
		r := ts.do(http.MethodPost, "/api/v1/streams/s1/feedback/prompt", tt.token, tt.body)
		if r.status != tt.status {
			t.Errorf("%v: %d %s, want %d", tt.body, r.status, r.body, tt.status)
			continue
		}
		if tt.field != "" && r.json(t)["field"] != tt.field {
			t.Errorf("%v: %s, want field %q", tt.body, r.body, tt.field)
		}
	}
	if f, err := v.next(300 * time.Millisecond); err == nil && f.Type == "feedback.prompt" {
		t.Errorf("a refused prompt reached the viewer: %+v", f)
	}

	if r := ts.do(http.MethodPost, "/api/v1/streams/s1/end", host, nil); r.status != http.StatusOK {
		t.Fatalf("end: %d %s", r.status, r.body)
	}
	if r := ts.do(http.MethodPost, "/api/v1/streams/s1/feedback/prompt", host, map[string]any{"kind": "nps"}); r.status != http.StatusConflict {
		t.Errorf("prompt on an ended stream: %d %s, want 409", r.status, r.body)
	}
}
