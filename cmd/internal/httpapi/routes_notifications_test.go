package httpapi

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/kudos-live/kudos/engagement"
)

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
