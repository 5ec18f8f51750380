package httpapi

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/kudos-live/kudos/engagement"
)

// TestPrivacyOverHTTP: the export for the user, the shop and admins only; the erasure for the shop and admins
// only (a viewer is refused before the request is looked at), idempotent, telling the live room to drop the
// user's comment at once; afterwards the user's token is refused, reason erased, on HTTP and the socket, and a
// new joiner's welcome holds nothing of theirs.
func TestPrivacyOverHTTP(t *testing.T) {
	ts := newTestServer(t, fastLimits())
	ts.createStream("s1")
	const secret = "ann's private words 9281"
	ann, bob := ts.token("ann", engagement.RoleViewer, ""), ts.token("bob", engagement.RoleViewer, "")
	shop, admin := ts.token("shop", engagement.RoleService, ""), ts.token("root", engagement.RoleAdmin, "")

	annWS, bobWS := ts.dial("s1", ann), ts.dial("s1", bob)
	annWS.expect("welcome")
	bobWS.expect("welcome")
	annWS.send("comment.send", "c1", map[string]any{"text": secret})
	annWS.expectReply("c1")
	commentID := bobWS.expectComment("ann")["id"]
	annWS.send("question.ask", "q1", map[string]any{"text": secret + "?"})
	if f := annWS.expectReply("q1"); f.Type != "ack" {
		t.Fatalf("question: %s %s", f.Type, f.Data)
	}

	// Who may read and erase.
	for name, tok := range map[string]string{"bob": bob} {
		if res := ts.do(http.MethodGet, "/api/v1/users/ann/export", tok, nil); res.status != http.StatusForbidden {
			t.Errorf("%s exports ann: %d %s, want 403", name, res.status, res.body)
		}
	}
	for _, path := range []string{"/api/v1/users/ann", "/api/v1/users/%20bad%20id"} {
		if res := ts.do(http.MethodDelete, path, bob, nil); res.status != http.StatusForbidden || res.json(t)["code"] != "forbidden" {
			t.Errorf("a viewer erases %s: %d %s, want 403 forbidden", path, res.status, res.body)
		}
	}
	if res := ts.do(http.MethodGet, "/api/v1/users/nobody/export", admin, nil); res.status != http.StatusNotFound {
		t.Errorf("export of an unknown user: %d %s, want 404", res.status, res.body)
	}
	for name, tok := range map[string]string{"ann": ann, "the shop": shop, "an admin": admin} {
		res := ts.do(http.MethodGet, "/api/v1/users/ann/export", tok, nil)
		if res.status != http.StatusOK || !strings.Contains(string(res.body), secret) {
			t.Fatalf("%s exports ann: %d %s, want 200 with the comment", name, res.status, res.body)
		}
		if d := res.json(t); len(d["comments"].([]any)) != 1 || len(d["questions"].([]any)) != 1 || d["ledger"] == nil {
			t.Errorf("export = %s", res.body)
		}
	}

	// The erasure: 204, the room drops the comment, again 204, an unknown user 204.
	if res := ts.do(http.MethodDelete, "/api/v1/users/ann", shop, nil); res.status != http.StatusNoContent {
		t.Fatalf("erase: %d %s, want 204", res.status, res.body)
	}
	if got := bobWS.expect("comment.removed").data(t)["id"]; got != commentID {
		t.Errorf("comment.removed names %v, want %v", got, commentID)
	}
	if qs := bobWS.expect("questions"); strings.Contains(string(qs.Data), secret) {
		t.Errorf("the questions frame after the erasure still holds the text: %s", qs.Data)
	}
	for _, who := range []string{"ann", "nobody"} {
		if res := ts.do(http.MethodDelete, "/api/v1/users/"+who, admin, nil); res.status != http.StatusNoContent {
			t.Errorf("erase %s again: %d %s, want 204", who, res.status, res.body)
		}
	}

	// Ann's token is refused everywhere, reason erased.
	res := ts.do(http.MethodGet, "/api/v1/users/ann/export", ann, nil)
	if p := res.json(t); res.status != http.StatusForbidden || p["code"] != "forbidden" || p["reason"] != "erased" {
		t.Errorf("ann's token after the erasure: %d %s, want 403 forbidden, reason erased", res.status, res.body)
	}
	_, hres, err := ts.tryDial("s1", ann, nil)
	if err == nil || hres == nil || hres.StatusCode != http.StatusForbidden {
		t.Errorf("ann dials after the erasure: %v, want 403", err)
	} else if body, _ := io.ReadAll(hres.Body); !strings.Contains(string(body), `"reason":"erased"`) {
		t.Errorf("the refused handshake says %s, want reason erased", body)
	}
	annWS.send("comment.send", "c2", map[string]any{"text": "back again"})
	annWS.expectError("c2", engagement.CodeForbidden)
	// A socket opened before the erasure cannot be kept alive with a fresh token either.
	annWS.send("auth.refresh", "r1", map[string]string{"token": ts.token("ann", engagement.RoleViewer, "")})
	annWS.expectError("r1", engagement.CodeForbidden)
	if res := ts.do(http.MethodGet, "/api/v1/users/ann/export", admin, nil); res.status != http.StatusNotFound {
		t.Errorf("export after the erasure: %d %s, want 404", res.status, res.body)
	}

	// A new joiner sees nothing of ann's.
	cat := ts.dial("s1", ts.token("cat", engagement.RoleViewer, ""))
	if w := cat.expect("welcome"); strings.Contains(string(w.Data), secret) || strings.Contains(string(w.Data), `"Ann"`) {
		t.Errorf("a new joiner's welcome holds ann's text or name: %s", w.Data)
	}
}
