package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/kudos-live/kudos/internal/testenv"
	"github.com/segmentio/kafka-go"
)

// TestRunOnEmbeddedDefaults starts the real server as `go run ./cmd/kudos` would, with no Redis and no Kafka
// configured: two guests chat on the demo stream, the events reach the embedded broker, and SIGTERM (ctx
// cancel) closes the sockets with 1001.
func TestRunOnEmbeddedDefaults(t *testing.T) {
	addr, broker := testenv.FreeAddr(t), testenv.FreeAddr(t)
	env := map[string]string{
		"KUDOS_ADDR":            addr,
		"KUDOS_DEV_BROKER_ADDR": broker,
		"KUDOS_SPOOL_DIR":       t.TempDir(),
	}
	logs := &testenv.Buffer{}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, func(k string) string { return env[k] }, logs, logs) }()
	defer func() {
		stop()
		<-done
	}()
	base := "http://" + addr
	waitFor(t, func() bool {
		res, err := http.Get(base + "/readyz")
		if err == nil {
			res.Body.Close()
		}
		return err == nil && res.StatusCode == http.StatusOK
	})
	for _, want := range []string{"DEVELOPMENT MODE", "in-memory", "IN-MEMORY DEVELOPMENT", `viewer_url="` + base + "/?stream=demo", `host_url="` + base + "/host?stream=demo&token="} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
	for _, page := range []string{"/", "/host"} {
		res, err := http.Get(base + page)
		if err != nil || res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("GET %s: %v %v", page, err, res)
		}
		res.Body.Close()
	}

	tab1, tab2 := guestSocket(t, base, "Ann"), guestSocket(t, base, "Bob")
	sendFrame(t, tab1, `{"type":"comment.send","id":"1","data":{"text":"is the blue one in stock?"}}`)
	if got := readUntil(t, tab2, `"type":"comment"`); !strings.Contains(got, "is the blue one in stock?") {
		t.Fatalf("second tab got %s", got)
	}

	found := map[string]bool{}
	rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The topic has several partitions; read each until the comment shows up.
	for p := 0; p < 3 && !found["kudos.comment.posted"]; p++ {
		pr := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{broker}, Topic: "kudos.events", Partition: p, MaxWait: 200 * time.Millisecond})
		for {
			pctx, pcancel := context.WithTimeout(rctx, 2*time.Second)
			m, err := pr.ReadMessage(pctx)
			pcancel()
			if err != nil {
				break
			}
			var ev struct{ Type string }
			if json.Unmarshal(m.Value, &ev) == nil {
				found[ev.Type] = true
			}
		}
		pr.Close()
	}
	if !found["kudos.comment.posted"] {
		t.Fatalf("no comment.posted event in the embedded broker; saw %v", found)
	}

	stop()
	for _, c := range []*websocket.Conn{tab1, tab2} {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
					t.Fatalf("socket ended with %v, want close 1001", err)
				}
				break
			}
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	done <- nil
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatal("condition not met within 15 s")
}

func guestSocket(t *testing.T, base, name string) *websocket.Conn {
	t.Helper()
	res, err := http.Post(base+"/api/v1/tokens/guest", "application/json", strings.NewReader(`{"name":"`+name+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var tok struct{ Token string }
	if err := json.NewDecoder(res.Body).Decode(&tok); err != nil || tok.Token == "" {
		t.Fatalf("guest token: %v", err)
	}
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/ws/streams/demo?token="+tok.Token, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	readUntil(t, c, `"type":"welcome"`)
	return c
}

func sendFrame(t *testing.T, c *websocket.Conn, s string) {
	t.Helper()
	if err := c.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		t.Fatal(err)
	}
}

func readUntil(t *testing.T, c *websocket.Conn, substr string) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, msg, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("waiting for %s: %v", substr, err)
		}
		for _, line := range strings.Split(string(msg), "\n") {
			if strings.Contains(line, substr) {
				return line
			}
		}
	}
}

func TestTokenSubcommand(t *testing.T) {
	var out bytes.Buffer
	env := map[string]string{"KUDOS_TOKEN_SECRET": "operator-secret-0123456789"}
	if err := run(context.Background(), []string{"token", "--role", "host", "--stream", "spring-sale", "--name", "Mia"}, func(k string) string { return env[k] }, &out, &out); err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(out.String())
	if strings.Count(tok, ".") != 2 {
		t.Fatalf("output %q is not a JWT", tok)
	}
	if err := run(context.Background(), []string{"token", "--role", "host"}, func(string) string { return "" }, &out, &out); err == nil {
		t.Fatal("minting without KUDOS_TOKEN_SECRET succeeded; it must refuse")
	}
	if err := run(context.Background(), []string{"token", "--role", "emperor"}, func(k string) string { return env[k] }, &out, &out); err == nil {
		t.Fatal("minting an unknown role succeeded")
	}
}
