package stream

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/kudos-live/kudos/engagement"
)

// TestWriterRunsOnlyWhileThereIsSomethingToWrite: a socket's writer goroutine starts with the first frame,
// exits writerLinger after the last, starts again for the next, and on a kick writes what is queued, then
// the close frame, closes the connection and reports it once.
func TestWriterRunsOnlyWhileThereIsSomethingToWrite(t *testing.T) {
	reg := NewRegistry(Config{}, nil)
	t.Cleanup(reg.cancel)
	h := newHub("show", reg)
	server := make(chan *websocket.Conn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := reg.upgrader.Upgrade(w, r, nil)
		if err != nil {
			t.Error(err)
			return
		}
		server <- conn
	}))
	defer srv.Close()
	peer, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	c := newClient(h, <-server, engagement.Actor{User: "viewer"}, 8)
	close(c.readDone) // no reader in this test
	writing := func() bool {
		c.qmu.Lock()
		defer c.qmu.Unlock()
		return c.writing
	}
	read := func() string {
		t.Helper()
		_ = peer.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, msg, err := peer.ReadMessage()
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		return string(msg)
	}

	c.enqueue(outbound{payload: []byte(`{"type":"welcome"}`)})
	if writing() {
		t.Fatal("a writer started before the client went live")
	}
	closed := make(chan struct{})
	c.start(func() { close(closed) })
	if got := read(); got != `{"type":"welcome"}` {
		t.Fatalf("first message %q", got)
	}
	if !writing() {
		t.Fatal("no writer right after a write (it should linger)")
	}
	deadline := time.Now().Add(writerLinger + 2*time.Second)
	for writing() {
		if time.Now().After(deadline) {
			t.Fatalf("the writer still runs %v after the last write", writerLinger+2*time.Second)
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.enqueue(outbound{payload: []byte(`{"type":"presence"}`)})
	if got := read(); got != `{"type":"presence"}` {
		t.Fatalf("after the writer exited: %q", got)
	}

	c.enqueue(outbound{payload: []byte(`{"type":"stream.ended"}`)})
	c.kick(websocket.CloseNormalClosure, reasonEnded)
	var got []string
	for {
		_ = peer.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, msg, err := peer.ReadMessage()
		if err != nil {
			if !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
				t.Fatalf("ended with %v, want close 1000", err)
			}
			break
		}
		got = append(got, string(msg))
	}
	if strings.Join(got, "|") != `{"type":"stream.ended"}` {
		t.Errorf("before the close frame: %q, want the queued stream.ended", got)
	}
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("onClosed was not called")
	}
}
