package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/kudos-live/kudos/cmd/internal/authtoken"
	"github.com/kudos-live/kudos/engagement"
	"github.com/kudos-live/kudos/stream"
)

func TestTwoViewersExchangeComments(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	ts.createStream("s1")
	ann := ts.dial("s1", ts.token("ann", engagement.RoleViewer, ""))
	bob := ts.dial("s1", ts.token("bob", engagement.RoleViewer, ""))
	if w := ann.expect("welcome").data(t); w["user"] != "ann" {
		t.Fatalf("welcome user = %v, want ann", w["user"])
	}
	bob.expect("welcome")

	ann.send("comment.send", "c1", map[string]string{"text": "  hello from Ann  "})
	if ack := ann.expectReply("c1"); ack.Type != "ack" || ack.data(t)["comment_id"] == "" {
		t.Fatalf("reply = %s %s, want ack with comment_id", ack.Type, ack.Data)
	}
	got := bob.expectComment("ann")
	if got["text"] != "hello from Ann" || got["name"] != "Ann" {
		t.Fatalf("bob got %v, want Ann's trimmed comment", got)
	}
	bob.send("comment.send", "c2", map[string]string{"text": "hi Ann 👋"})
	bob.expectReply("c2")
	if got := ann.expectComment("bob"); got["text"] != "hi Ann 👋" {
		t.Fatalf("ann got %v, want Bob's comment", got)
	}
	// The sender sees its own comment too (the page renders from the broadcast).
	bob.expectComment("bob")
}

func TestLateJoinerGetsRecentComments(t *testing.T) {
	ts := newTestServer(t, fastLimits())
	ts.createStream("s1")
	ann := ts.dial("s1", ts.token("ann", engagement.RoleViewer, ""))
	ann.expect("welcome")
	for i := range 55 {
		id := fmt.Sprintf("c%d", i)
		ann.send("comment.send", id, map[string]string{"text": fmt.Sprintf("comment %d", i)})
		if r := ann.expectReply(id); r.Type != "ack" {
			t.Fatalf("comment %d: %s", i, r.Data)
		}
	}
	late := ts.dial("s1", ts.token("late", engagement.RoleViewer, ""))
	w := late.expect("welcome").data(t)
	recent, _ := w["recent"].([]any)
	if len(recent) != 50 {
		t.Fatalf("welcome has %d recent comments, want the last 50", len(recent))
	}
	first := recent[0].(map[string]any)["text"]
	last := recent[49].(map[string]any)["text"]
	if first != "comment 5" || last != "comment 54" {
		t.Fatalf("recent runs %v..%v, want comment 5..comment 54 oldest first", first, last)
	}
}

func TestBadFramesGetErrorCodesAndConnectionStays(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	ts.createStream("s1")
	c := ts.dial("s1", ts.token("ann", engagement.RoleViewer, ""))
	c.expect("welcome")
	tests := []struct {
		name string
		raw  string
		id   string
		want engagement.Code
	}{
		{"invalid JSON", `{"type":"comment.send","id":"j1",`, "", engagement.CodeBadFrame},
		{"not an object", `[1,2,3]`, "", engagement.CodeBadFrame},
		{"no type", `{"id":"n1","data":{}}`, "n1", engagement.CodeBadFrame},
		{"unknown type", `{"type":"teleport","id":"u1"}`, "u1", engagement.CodeUnknownType},
		{"empty comment", `{"type":"comment.send","id":"e1","data":{"text":"   "}}`, "e1", engagement.CodeInvalid},
		{"too long comment", `{"type":"comment.send","id":"l1","data":{"text":"` + strings.Repeat("é", 201) + `"}}`, "l1", engagement.CodeInvalid},
		{"wrong type", `{"type":"comment.send","id":"w1","data":{"text":42}}`, "w1", engagement.CodeInvalid},
		{"invalid UTF-8", "{\"type\":\"comment.send\",\"id\":\"i1\",\"data\":{\"text\":\"\xff\xfe\"}}", "i1", engagement.CodeBadFrame},
		{"like count out of range", `{"type":"like.send","id":"k1","data":{"count":51}}`, "k1", engagement.CodeInvalid},
		{"huge number", `{"type":"like.send","id":"k2","data":{"count":1e300}}`, "k2", engagement.CodeInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			c.sendRaw([]byte(tt.raw))
			c.expectError(tt.id, tt.want)
		})
	}
	c.t = t
	// Still connected and working after every bad frame.
	c.send("comment.send", "ok", map[string]string{"text": "still here"})
	if r := c.expectReply("ok"); r.Type != "ack" {
		t.Fatalf("after bad frames: %s %s, want ack", r.Type, r.Data)
	}
	c.send("ping", "p1", nil)
	if f := c.expect("pong"); f.data(t)["id"] != "p1" {
		t.Fatalf("pong = %s", f.Data)
	}
}

func TestCommentRateLimitThenAllowed(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	ts.createStream("s1")
	c := ts.dial("s1", ts.token("ann", engagement.RoleViewer, ""))
	c.expect("welcome")
	limited := 0
	for i := range 8 { // default per-user burst is 5 comments
		id := fmt.Sprintf("r%d", i)
		c.send("comment.send", id, map[string]string{"text": "spam"})
		r := c.expectReply(id)
		if r.Type == "error" {
			if code := r.data(t)["code"]; code != string(engagement.CodeRateLimited) {
				t.Fatalf("reply %s: code %v, want rate_limited", id, code)
			}
			limited++
		}
	}
	if limited != 3 {
		t.Fatalf("%d of 8 quick comments rate limited, want 3 (burst 5)", limited)
	}
}

func TestFloodingClosesWith1008(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	ts.createStream("s1")
	c := ts.dial("s1", ts.token("ann", engagement.RoleViewer, ""))
	c.expect("welcome")
	sawLimited := false
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 400; i++ {
			if c.conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping","id":"f"}`)) != nil {
				return
			}
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_ = c.conn.SetReadDeadline(deadline)
		_, msg, err := c.conn.ReadMessage()
		if err != nil {
			ce, ok := err.(*websocket.CloseError)
			if !ok {
				t.Fatalf("connection ended without a close frame: %v", err)
			}
			if ce.Code != websocket.ClosePolicyViolation {
				t.Fatalf("close code %d, want 1008", ce.Code)
			}
			break
		}
		if strings.Contains(string(msg), `"rate_limited"`) {
			sawLimited = true
		}
	}
	<-done
	if !sawLimited {
		t.Fatal("client was closed without first being told rate_limited")
	}
}

func TestOversizedMessageClosesWith1009(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	ts.createStream("s1")
	c := ts.dial("s1", ts.token("ann", engagement.RoleViewer, ""))
	c.expect("welcome")
	c.sendRaw([]byte(`{"type":"comment.send","data":{"text":"` + strings.Repeat("a", 5000) + `"}}`))
	if code := c.expectClose(5 * time.Second); code != websocket.CloseMessageTooBig {
		t.Fatalf("close code %d, want 1009", code)
	}
}

func TestHandshakeRefusals(t *testing.T) {
	ts := newTestServer(t, serverOpts{origins: []string{"https://shop.example"}})
	ts.createStream("s1")
	other, err := authtoken.NewKey([]byte("another-secret-0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	forged, _, _ := other.Mint("eve", "Eve", engagement.RoleViewer, "", time.Hour)
	expired, _, _ := ts.tokens.Mint("old", "Old", engagement.RoleViewer, "", -time.Minute)
	good := ts.token("ann", engagement.RoleViewer, "")
	tests := []struct {
		name   string
		stream string
		token  string
		origin string
		want   int
	}{
		{"missing token", "s1", "", "", http.StatusUnauthorized},
		{"garbage token", "s1", "not-a-jwt", "", http.StatusUnauthorized},
		{"forged token", "s1", forged, "", http.StatusUnauthorized},
		{"expired token", "s1", expired, "", http.StatusUnauthorized},
		{"unknown stream", "nope", good, "", http.StatusNotFound},
		{"wrong origin", "s1", good, "https://evil.example", http.StatusForbidden},
		{"allowed origin", "s1", good, "https://shop.example", http.StatusSwitchingProtocols},
		{"same origin", "s1", good, ts.URL, http.StatusSwitchingProtocols},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.origin != "" {
				h.Set("Origin", tt.origin)
			}
			_, res, err := ts.tryDial(tt.stream, tt.token, h)
			if res == nil {
				t.Fatalf("no HTTP response: %v", err)
			}
			if res.StatusCode != tt.want {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.want)
			}
			if tt.want >= 400 && res.Header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("content type %q, want a problem body", res.Header.Get("Content-Type"))
			}
		})
	}
}

func TestSlowViewerIsDroppedOthersStillServed(t *testing.T) {
	opts := fastLimits()
	opts.streamCfg.SendBuffer = 16
	ts := newTestServer(t, opts)
	ts.createStream("s1")
	slow := ts.dial("s1", ts.token("slow", engagement.RoleViewer, "")) // never reads after this
	fast := ts.dial("s1", ts.token("fast", engagement.RoleViewer, ""))
	fast.expect("welcome")

	// Large frames fill the slow viewer's TCP buffers, then its send queue. The publisher keeps pace with
	// the fast viewer, as a real show's comment rate does, so only the one that stopped reading falls behind.
	big := strings.Repeat("x", 16<<10)
	const n = 2000
	var got atomic.Int64
	readErr := make(chan error, 1)
	go func() {
		for got.Load() < n {
			f, err := fast.next(10 * time.Second)
			if err != nil {
				readErr <- err
				return
			}
			if f.Type == "comment" {
				got.Add(1)
			}
		}
		readErr <- nil
	}()
	for i := range n {
		out := engagement.Outcome{Stream: "s1", Broadcast: []engagement.Frame{{Type: "comment", Data: map[string]any{"id": i, "text": big}}}}
		if err := ts.reg.Deliver(context.Background(), out); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(5 * time.Second); got.Load() < int64(i-8) && time.Now().Before(deadline); {
			time.Sleep(100 * time.Microsecond)
		}
	}
	if err := <-readErr; err != nil {
		t.Fatalf("fast viewer got %d of %d comments, then: %v", got.Load(), n, err)
	}
	// The slow viewer was cut off: draining its socket ends in a close frame 1008, long before n frames.
	count := 0
	for {
		_ = slow.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, msg, err := slow.conn.ReadMessage()
		if err != nil {
			ce, ok := err.(*websocket.CloseError)
			if !ok || ce.Code != websocket.ClosePolicyViolation {
				t.Fatalf("slow viewer ended with %v, want close 1008", err)
			}
			break
		}
		count += strings.Count(string(msg), `"type":"comment"`)
	}
	if count >= n {
		t.Fatalf("slow viewer received all %d comments; it should have been dropped", count)
	}
}

func TestShutdownClosesSocketsWith1001(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	ts.createStream("s1")
	c := ts.dial("s1", ts.token("ann", engagement.RoleViewer, ""))
	c.expect("welcome")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- ts.reg.Shutdown(ctx) }()
	if code := c.expectClose(5 * time.Second); code != websocket.CloseGoingAway {
		t.Fatalf("close code %d, want 1001", code)
	}
	if err := <-errc; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if _, res, err := ts.tryDial("s1", ts.token("bob", engagement.RoleViewer, ""), nil); err == nil || res == nil || res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("dial after shutdown: %v, want 503", err)
	}
}

func TestPresenceCountsViewers(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	ts.createStream("s1")
	a := ts.dial("s1", ts.token("ann", engagement.RoleViewer, ""))
	a.expect("welcome")
	b := ts.dial("s1", ts.token("bob", engagement.RoleViewer, ""))
	if v := b.expect("welcome").data(t)["viewers"]; v != float64(2) {
		t.Fatalf("welcome viewers = %v, want 2", v)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if f := a.expect("presence"); f.data(t)["viewers"] == float64(2) {
			return
		}
	}
	t.Fatal("presence never reached 2")
}

func TestLikesAreCoalesced(t *testing.T) {
	ts := newTestServer(t, fastLimits())
	ts.createStream("s1")
	a := ts.dial("s1", ts.token("ann", engagement.RoleViewer, ""))
	a.expect("welcome")
	for range 10 {
		a.send("like.send", "", map[string]int{"count": 5})
	}
	deadline := time.Now().Add(5 * time.Second)
	frames := 0
	for time.Now().Before(deadline) {
		f := a.expect("likes")
		frames++
		if f.data(t)["total"] == float64(50) {
			if frames > 5 {
				t.Fatalf("%d likes frames for 10 like.send, want them coalesced", frames)
			}
			return
		}
	}
	t.Fatal("likes total never reached 50")
}

func TestConnectionLimitPerUser(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	ts.createStream("s1")
	tok := ts.token("ann", engagement.RoleViewer, "")
	var open []*wsClient
	for range 5 {
		c := ts.dial("s1", tok)
		c.expect("welcome")
		open = append(open, c)
	}
	_, res, err := ts.tryDial("s1", tok, nil)
	if err == nil || res == nil || res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("sixth socket of one user: %v, want 429", err)
	}
	// Another user is not affected, and closing one of Ann's sockets frees a slot.
	ts.dial("s1", ts.token("bob", engagement.RoleViewer, "")).expect("welcome")
	_ = open[0].conn.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, _, err := ts.tryDial("s1", tok, nil)
		if err == nil {
			c.expect("welcome")
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot never freed after a socket closed: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFloodedChatIsSampledPerViewer: when a stream floods, a viewer gets a readable share of chat while the
// author still sees every one of their own comments.
func TestFloodedChatIsSampledPerViewer(t *testing.T) {
	ts := newTestServer(t, fastLimits())
	ts.createStream("s1")
	author := ts.dial("s1", ts.token("ann", engagement.RoleViewer, ""))
	reader := ts.dial("s1", ts.token("bob", engagement.RoleViewer, ""))
	author.expect("welcome")
	reader.expect("welcome")
	const n = 200
	for i := range n {
		out := engagement.Outcome{Stream: "s1", Sampled: true, From: "ann",
			Broadcast: []engagement.Frame{{Type: "comment", Data: map[string]any{"id": fmt.Sprint(i), "user": "ann", "text": "flood"}}}}
		if err := ts.reg.Deliver(context.Background(), out); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond) // 500/s: a flood, but one the author's socket can drain
	}
	if err := ts.reg.Deliver(context.Background(), engagement.Outcome{Stream: "s1", Broadcast: []engagement.Frame{{Type: "notice", Data: map[string]any{"kind": "end-marker"}}}}); err != nil {
		t.Fatal(err)
	}
	// count returns the comments c received and the sum of the chat.skipped counts it was told.
	count := func(c *wsClient) (got, skipped int) {
		for {
			f := c.expectAny()
			switch f.Type {
			case "notice":
				return got, skipped
			case "comment":
				got++
			case "chat.skipped":
				var d struct{ Count int }
				if err := json.Unmarshal(f.Data, &d); err != nil || d.Count <= 0 {
					t.Fatalf("chat.skipped %s: %v", f.Data, err)
				}
				skipped += d.Count
			}
		}
	}
	if got, skipped := count(author); got != n || skipped != 0 {
		t.Fatalf("author saw %d of own %d comments (told %d skipped), want all", got, n, skipped)
	}
	got, skipped := count(reader)
	if got < 20 || got > 40 { // the burst of 20, then 20/s for the ~0.5 s of flood
		t.Fatalf("reader saw %d of %d flooded comments, want about the 20/s sample", got, n)
	}
	if got+skipped != n {
		t.Fatalf("reader saw %d comments and was told %d skipped: %d, want %d", got, skipped, got+skipped, n)
	}
}

// TestWriteDelayBatchesMessages: with a write delay, frames queued close together reach the viewer in one
// WebSocket message, newline-separated.
func TestWriteDelayBatchesMessages(t *testing.T) {
	opts := serverOpts{}
	opts.streamCfg.WriteDelay = 500 * time.Millisecond
	opts.streamCfg.WriteDelayFrom = 1  // every stream counts as big
	opts.streamCfg.WriteDelayLoad = -1 // and the node as busy
	ts := newTestServer(t, opts)
	ts.createStream("s1")
	c := ts.dial("s1", ts.token("ann", engagement.RoleViewer, ""))
	c.expect("welcome")
	time.Sleep(300 * time.Millisecond) // let the first presence frame go out on its own
	c.pending = nil
	// 20 ms apart: without the delay each would leave in a message of its own, the writer being idle between.
	for i := range 5 {
		out := engagement.Outcome{Stream: "s1", Broadcast: []engagement.Frame{{Type: "comment", Data: map[string]any{"id": fmt.Sprint(i)}}}}
		if err := ts.reg.Deliver(context.Background(), out); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for {
		_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, msg, err := c.conn.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(msg), `"type":"comment"`); n > 0 {
			if n != 5 {
				t.Fatalf("first message with comments carried %d of 5: %s", n, msg)
			}
			return
		}
	}
}

// TestPlainGetIsRefusedAndRecordsNothing: a GET without the upgrade is answered 400 before any join is
// recorded, so it cannot be looped to flood viewer.joined events.
func TestPlainGetIsRefusedAndRecordsNothing(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	ts.createStream("s1")
	before := len(ts.sink.Events())
	for range 5 {
		res := ts.do(http.MethodGet, "/ws/streams/s1?token="+ts.token("ann", engagement.RoleViewer, ""), "", nil)
		if res.status != http.StatusBadRequest || res.json(t)["code"] != "invalid" {
			t.Fatalf("plain GET: %d %s, want 400 invalid", res.status, res.body)
		}
	}
	if got := ts.sink.Events()[before:]; len(got) != 0 {
		t.Fatalf("plain GETs recorded %d events (first %s), want none", len(got), got[0].Type)
	}
}

// failingFanout cannot subscribe (Redis down when the first viewer of a stream arrives).
type failingFanout struct{ *stream.MemoryFanout }

func (*failingFanout) Subscribe(context.Context, string, func(stream.Message)) (func(), error) {
	return nil, errors.New("fan-out unreachable")
}

// TestHubWithoutFanoutRefusesJoins: a hub that cannot subscribe would deliver nothing; the socket is closed
// with 1013 (try again later) instead of silently receiving no chat.
func TestHubWithoutFanoutRefusesJoins(t *testing.T) {
	opts := serverOpts{}
	opts.streamCfg.Fanout = &failingFanout{stream.NewMemoryFanout()}
	ts := newTestServer(t, opts)
	ts.createStream("s1")
	c := ts.dial("s1", ts.token("ann", engagement.RoleViewer, ""))
	if code := c.expectClose(5 * time.Second); code != websocket.CloseTryAgainLater {
		t.Fatalf("close code %d, want 1013", code)
	}
}

// TestEndedStreamClosesSocketsWithoutTheMessage: a stream ended elsewhere (its stream.ended message lost) still
// closes this node's sockets, from the hub's own check of the stream.
func TestEndedStreamClosesSocketsWithoutTheMessage(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	ts.createStream("s1")
	c := ts.dial("s1", ts.token("ann", engagement.RoleViewer, ""))
	c.expect("welcome")
	if _, err := ts.store.UpdateStream(context.Background(), "s1", func(st *engagement.Stream) error {
		st.Status = engagement.StatusEnded
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	c.expect("stream.ended")
	if code := c.expectClose(5 * time.Second); code != websocket.CloseNormalClosure {
		t.Fatalf("close code %d, want 1000", code)
	}
}
