package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/kudos-live/kudos/cmd/internal/authtoken"
	"github.com/kudos-live/kudos/engagement"
	"github.com/kudos-live/kudos/stream"
	"golang.org/x/time/rate"
)

// testServer is a full Kudos HTTP server on a real socket, with memory backends.
type testServer struct {
	t      *testing.T
	URL    string
	srv    *httptest.Server
	svc    *engagement.Service
	reg    *stream.Registry
	tokens *authtoken.Key
	sink   *engagement.MemorySink
	store  *engagement.MemoryStore
}

type serverOpts struct {
	streamCfg stream.Config
	svcCfg    engagement.Config
	origins   []string
	// frameAncestors are KUDOS_FRAME_ANCESTORS (the embed, routes_embed.go).
	frameAncestors []string
}

func newTestServer(t *testing.T, opts serverOpts) *testServer {
	t.Helper()
	tokens, err := authtoken.NewKey([]byte("test-secret-0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	store := engagement.NewMemoryStore()
	sink := engagement.NewMemorySink()
	svc := engagement.New(opts.svcCfg, store, sink)
	opts.streamCfg.AllowedOrigins = opts.origins
	reg := stream.NewRegistry(opts.streamCfg, svc)
	e := New(Config{Service: svc, Registry: reg, Tokens: tokens, DevMode: true, AllowedOrigins: opts.origins, FrameAncestors: opts.frameAncestors})
	srv := httptest.NewServer(e)
	ts := &testServer{t: t, URL: srv.URL, srv: srv, svc: svc, reg: reg, tokens: tokens, sink: sink, store: store}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = reg.Shutdown(ctx)
		srv.Close()
	})
	return ts
}

// token mints a token for a test actor.
func (ts *testServer) token(user, role, streamID string) string {
	ts.t.Helper()
	tok, _, err := ts.tokens.Mint(user, strings.ToUpper(user[:1])+user[1:], role, streamID, time.Hour)
	if err != nil {
		ts.t.Fatal(err)
	}
	return tok
}

// createStream creates a live stream hosted by "host-<id>".
func (ts *testServer) createStream(id string) {
	ts.t.Helper()
	res := ts.do(http.MethodPost, "/api/v1/streams", ts.token("host-"+id, engagement.RoleHost, id), map[string]any{"id": id, "title": "Show " + id})
	if res.status != http.StatusCreated {
		ts.t.Fatalf("create stream %s: %d %s", id, res.status, res.body)
	}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.body, err)
	}
	return m
}

// do sends a JSON request; body may be nil, a string (sent raw) or a value to marshal.
func (ts *testServer) do(method, path, token string, body any) response {
	ts.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			ts.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, ts.URL+path, rd)
	if err != nil {
		ts.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// wsClient is a test viewer on a real WebSocket.
type wsClient struct {
	t       *testing.T
	conn    *websocket.Conn
	pending []frame
}

type frame struct {
	Type string          `json:"type"`
	ID   string          `json:"id"`
	Data json.RawMessage `json:"data"`
}

func (f frame) data(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(f.Data, &m); err != nil {
		t.Fatalf("frame %s data %q: %v", f.Type, f.Data, err)
	}
	return m
}

// dial opens a socket; it fails the test unless the upgrade succeeds.
func (ts *testServer) dial(streamID, token string) *wsClient {
	ts.t.Helper()
	c, res, err := ts.tryDial(streamID, token, nil)
	if err != nil {
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		ts.t.Fatalf("dial %s: %v (HTTP %d)", streamID, err, status)
	}
	return c
}

func (ts *testServer) tryDial(streamID, token string, header http.Header) (*wsClient, *http.Response, error) {
	u := "ws" + strings.TrimPrefix(ts.URL, "http") + "/ws/streams/" + streamID
	if token != "" {
		u += "?token=" + token
	}
	conn, res, err := websocket.DefaultDialer.Dial(u, header)
	if err != nil {
		return nil, res, err
	}
	c := &wsClient{t: ts.t, conn: conn}
	ts.t.Cleanup(func() { _ = conn.Close() })
	return c, res, nil
}

// send writes one client frame.
func (c *wsClient) send(typ, id string, data any) {
	c.t.Helper()
	b, err := json.Marshal(map[string]any{"type": typ, "id": id, "data": data})
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(b)
}

func (c *wsClient) sendRaw(b []byte) {
	c.t.Helper()
	if err := c.conn.WriteMessage(websocket.TextMessage, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// next returns the next frame, splitting batched messages on newlines.
func (c *wsClient) next(timeout time.Duration) (frame, error) {
	if len(c.pending) > 0 {
		f := c.pending[0]
		c.pending = c.pending[1:]
		return f, nil
	}
	_ = c.conn.SetReadDeadline(time.Now().Add(timeout))
	_, msg, err := c.conn.ReadMessage()
	if err != nil {
		return frame{}, err
	}
	for _, line := range bytes.Split(msg, []byte{'\n'}) {
		var f frame
		if err := json.Unmarshal(line, &f); err != nil {
			c.t.Fatalf("server sent a line that is not an envelope: %q", line)
		}
		c.pending = append(c.pending, f)
	}
	return c.next(timeout)
}

// expect returns the next frame of type typ, skipping others (presence, likes…), or fails.
func (c *wsClient) expect(typ string) frame {
	c.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		f, err := c.next(time.Until(deadline))
		if err != nil {
			c.t.Fatalf("waiting for %s: %v", typ, err)
		}
		if f.Type == typ {
			return f
		}
	}
	c.t.Fatalf("no %s frame within 5 s", typ)
	return frame{}
}

// expectReply returns the ack or error answering frame id, skipping broadcasts.
func (c *wsClient) expectReply(id string) frame {
	c.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		f, err := c.next(time.Until(deadline))
		if err != nil {
			c.t.Fatalf("waiting for reply to %q: %v", id, err)
		}
		if (f.Type == "ack" || f.Type == "error") && f.ID == id {
			return f
		}
	}
	c.t.Fatalf("no reply to %q within 5 s", id)
	return frame{}
}

// expectError asserts the reply to id is an error with code.
func (c *wsClient) expectError(id string, code engagement.Code) {
	c.t.Helper()
	f := c.expectReply(id)
	if f.Type != "error" {
		c.t.Fatalf("reply to %q: got %s %s, want error %s", id, f.Type, f.Data, code)
	}
	if got := f.data(c.t)["code"]; got != string(code) {
		c.t.Fatalf("reply to %q: got code %v, want %s (%s)", id, got, code, f.Data)
	}
}

// expectClose reads until the connection closes and returns the close code.
func (c *wsClient) expectClose(timeout time.Duration) int {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		_ = c.conn.SetReadDeadline(deadline)
		_, _, err := c.conn.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if ok := asCloseError(err, &ce); ok {
				return ce.Code
			}
			c.t.Fatalf("connection ended without a close frame: %v", err)
		}
	}
}

func asCloseError(err error, target **websocket.CloseError) bool {
	ce, ok := err.(*websocket.CloseError)
	if ok {
		*target = ce
	}
	return ok
}

// fastLimits lifts the per-connection and per-user limits for tests that send many frames.
func fastLimits() serverOpts {
	return serverOpts{
		streamCfg: stream.Config{FrameRate: rate.Inf},
		svcCfg:    engagement.Config{CommentRate: rate.Inf},
	}
}

// expectComment returns the data of the next comment frame by user, skipping other frames and comments.
func (c *wsClient) expectComment(user string) map[string]any {
	c.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		f := c.expect("comment")
		if d := f.data(c.t); d["user"] == user {
			return d
		}
	}
	c.t.Fatalf("no comment by %s within 5 s", user)
	return nil
}

// expectAny returns the next frame or fails.
func (c *wsClient) expectAny() frame {
	c.t.Helper()
	f, err := c.next(5 * time.Second)
	if err != nil {
		c.t.Fatalf("waiting for a frame: %v", err)
	}
	return f
}
