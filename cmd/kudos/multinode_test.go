package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/kudos-live/kudos/internal/testenv"

	"github.com/gorilla/websocket"

	"github.com/kudos-live/kudos/cmd/internal/authtoken"
)

const testSecret = "multinode-test-secret-0123456789"

// needRedis returns the test Redis URL (see testenv.RedisURL).
func needRedis(t *testing.T) string {
	t.Helper()
	return testenv.RedisURL(t)
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// kudosBinary builds the server once per test run.
func kudosBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "kudos-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "kudos")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// node is one kudos server process.
type node struct {
	t    *testing.T
	name string
	base string
	cmd  *exec.Cmd
	logs *testenv.Buffer
}

func startNode(t *testing.T, name, redisURL string, extra ...string) *node {
	t.Helper()
	return startNodeNoRedis(t, name, append([]string{"KUDOS_REDIS_URL=" + redisURL}, extra...)...)
}

// startNodeNoRedis starts a server process with memory state; extra environment entries override the
// defaults (later entries win).
func startNodeNoRedis(t *testing.T, name string, extra ...string) *node {
	t.Helper()
	addr := testenv.FreeAddr(t)
	cmd := exec.Command(kudosBinary(t))
	cmd.Env = append(os.Environ(),
		"KUDOS_ADDR="+addr,
		"KUDOS_KAFKA_BROKERS=none",
		"KUDOS_SPOOL_DIR="+t.TempDir(),
		"KUDOS_TOKEN_SECRET="+testSecret,
		"KUDOS_NODE="+name,
		"KUDOS_MAX_CONNS_PER_IP=-1",
	)
	cmd.Env = append(cmd.Env, extra...)
	n := &node{t: t, name: name, base: "http://" + addr, cmd: cmd, logs: &testenv.Buffer{}}
	cmd.Stdout, cmd.Stderr = n.logs, n.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.Process == nil {
			return // killed by the test
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("node %s log:\n%s", name, n.logs.String())
		}
	})
	waitFor(t, func() bool { return n.status("/readyz") == http.StatusOK })
	return n
}

func (n *node) status(path string) int {
	res, err := http.Get(n.base + path)
	if err != nil {
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}

func (n *node) do(method, path, token string, body any) (int, map[string]any) {
	n.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, n.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatalf("%s %s on %s: %v", method, path, n.name, err)
	}
	defer res.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m
}

func mint(t *testing.T, user, role, streamID string) string {
	t.Helper()
	tokens, err := authtoken.NewKey([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := tokens.Mint(user, user, role, streamID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func randomID(prefix string) string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// viewerConn is a socket that records every frame it reads.
type viewerConn struct {
	conn   *websocket.Conn
	mu     sync.Mutex
	frames []map[string]any
	done   chan struct{}
}

func openViewer(t *testing.T, n *node, streamID, token string) *viewerConn {
	t.Helper()
	v := openViewerNoCleanup(t, n, streamID, token)
	if v.conn == nil {
		t.FailNow()
	}
	t.Cleanup(v.close)
	return v
}

func (v *viewerConn) send(t *testing.T, typ, id string, data any) {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"type": typ, "id": id, "data": data})
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := v.conn.WriteMessage(websocket.TextMessage, b); err != nil {
		t.Fatal(err)
	}
}

// matching returns the data of frames of typ for which keep is true.
func (v *viewerConn) matching(typ string, keep func(d map[string]any) bool) []map[string]any {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []map[string]any
	for _, f := range v.frames {
		if f["type"] != typ {
			continue
		}
		d, _ := f["data"].(map[string]any)
		if keep == nil || keep(d) {
			out = append(out, d)
		}
	}
	return out
}

func (v *viewerConn) reply(id string) map[string]any {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, f := range v.frames {
		if (f["type"] == "ack" || f["type"] == "error") && f["id"] == id {
			return f
		}
	}
	return nil
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(25 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatalf("not within 15 s: %s", what)
}

// TestTwoNodesShareOneStream runs two server processes on one Redis: comments cross nodes exactly once,
// 1,000 votes (each sent twice) spread over both nodes count exactly 1,000, points awarded through one node
// reach the user's socket on the other, and both nodes show the stream-wide viewer count.
func TestTwoNodesShareOneStream(t *testing.T) {
	redisURL := needRedis(t)
	testTwoNodesShareOneStream(t, startNode(t, "node-a", redisURL), startNode(t, "node-b", redisURL))
}

// TestTwoNodesShareOneStreamOnCluster is TestTwoNodesShareOneStream with both nodes on the test's 3-primary
// Redis Cluster (KUDOS_REDIS_CLUSTER): the stream's state, the fan-out (sharded Pub/Sub), presence and the
// loyalty ledger all run there.
func TestTwoNodesShareOneStreamOnCluster(t *testing.T) {
	seeds := "KUDOS_REDIS_CLUSTER=" + strings.Join(testenv.RedisClusterAddrs(t), ",")
	a, b := startNodeNoRedis(t, "node-a", seeds), startNodeNoRedis(t, "node-b", seeds)
	for _, n := range []*node{a, b} {
		eventually(t, n.name+" says it runs on the cluster", func() bool { return strings.Contains(n.logs.String(), "Redis Cluster") })
	}
	testTwoNodesShareOneStream(t, a, b)
}

func testTwoNodesShareOneStream(t *testing.T, a, b *node) {
	streamID := randomID("mn-")
	host := mint(t, "host-"+streamID, "host", streamID)
	if st, body := a.do("POST", "/api/v1/streams", host, map[string]any{"id": streamID, "title": "two nodes"}); st != http.StatusCreated {
		t.Fatalf("create stream: %d %v", st, body)
	}

	// Viewers split over both nodes.
	nodes := []*node{a, b}
	var viewers []*viewerConn
	var users []string
	for i := range 10 {
		user := fmt.Sprintf("%s-v%d", streamID, i)
		users = append(users, user)
		viewers = append(viewers, openViewer(t, nodes[i%2], streamID, mint(t, user, "viewer", "")))
	}
	for _, v := range viewers {
		eventually(t, "welcome", func() bool { return len(v.matching("welcome", nil)) == 1 })
	}
	eventually(t, "viewer count 10 on both nodes", func() bool {
		for _, v := range viewers[:2] { // one viewer on each node
			p := v.matching("presence", nil)
			if len(p) == 0 || p[len(p)-1]["viewers"] != float64(10) {
				return false
			}
		}
		return true
	})
	for _, n := range nodes {
		if st, body := n.do("GET", "/api/v1/streams/"+streamID, "", nil); st != 200 || body["viewers"] != float64(10) {
			t.Fatalf("GET stream on %s: %d viewers=%v, want 10", n.name, st, body["viewers"])
		}
	}

	// Comments from both nodes reach everyone exactly once.
	const perPoster = 5
	for i := range 4 {
		for j := range perPoster {
			viewers[i].send(t, "comment.send", fmt.Sprintf("c%d-%d", i, j), map[string]string{"text": fmt.Sprintf("hello %d-%d", i, j)})
		}
	}
	// Per-user comment limit (burst 5) admits all 5 of each poster.
	eventually(t, "every viewer sees all 20 comments", func() bool {
		for _, v := range viewers {
			if len(v.matching("comment", nil)) < 4*perPoster {
				return false
			}
		}
		return true
	})
	for i, v := range viewers {
		seen := map[string]int{}
		for _, c := range v.matching("comment", nil) {
			seen[c["id"].(string)]++
		}
		for id, k := range seen {
			if k != 1 {
				t.Fatalf("viewer %d saw comment %s %d times", i, id, k)
			}
		}
		if len(seen) != 4*perPoster {
			t.Fatalf("viewer %d saw %d distinct comments, want %d", i, len(seen), 4*perPoster)
		}
	}

	// Points awarded through node A reach the user's socket on node B.
	shop := mint(t, "shop", "service", "")
	onB := viewers[1] // odd viewers are on node B
	if st, body := a.do("POST", "/api/v1/purchases", shop, map[string]any{"order_id": randomID("o-"), "user_id": users[1], "stream_id": streamID, "amount_fen": 50000}); st != http.StatusCreated {
		t.Fatalf("purchase on A: %d %v", st, body)
	}
	eventually(t, "points frame on node B", func() bool {
		return len(onB.matching("points", func(d map[string]any) bool { return d["delta"] == float64(500) })) == 1
	})
	if st, acc := b.do("GET", "/api/v1/users/"+users[1]+"/points", mint(t, users[1], "viewer", ""), nil); st != 200 || acc["pending"] != float64(500) {
		t.Fatalf("points on B: %d %v", st, acc)
	}

	// 1,000 voters over both nodes, each vote sent twice: exactly 1,000 counted.
	st, poll := a.do("POST", "/api/v1/streams/"+streamID+"/polls", host, map[string]any{"question": "Which colour?", "options": []string{"red", "blue", "green"}})
	if st != http.StatusCreated {
		t.Fatalf("open poll: %d %v", st, poll)
	}
	pollID := poll["id"].(string)
	var accepted, duplicates atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, 40)
	for i := range 1000 {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			user := fmt.Sprintf("%s-voter%d", streamID, i)
			n := nodes[i%2]
			v := openViewerNoCleanup(t, n, streamID, mint(t, user, "viewer", ""))
			defer v.close()
			for try := range 2 {
				id := fmt.Sprintf("v%d", try)
				v.send(t, "poll.vote", id, map[string]any{"poll_id": pollID, "option": i % 3})
				var r map[string]any
				deadline := time.Now().Add(10 * time.Second)
				for r == nil && time.Now().Before(deadline) {
					time.Sleep(5 * time.Millisecond)
					r = v.reply(id)
				}
				switch {
				case r == nil:
					t.Errorf("voter %d: no reply to try %d", i, try)
				case r["type"] == "ack":
					accepted.Add(1)
				case r["data"].(map[string]any)["code"] == "duplicate":
					duplicates.Add(1)
				default:
					t.Errorf("voter %d try %d: %v", i, try, r)
				}
			}
		}()
	}
	wg.Wait()
	if accepted.Load() != 1000 || duplicates.Load() != 1000 {
		t.Fatalf("accepted %d, duplicates %d; want 1000 and 1000", accepted.Load(), duplicates.Load())
	}
	for _, n := range nodes {
		st, p := n.do("GET", "/api/v1/streams/"+streamID+"/polls/"+pollID, "", nil)
		if st != 200 || p["total"] != float64(1000) {
			t.Fatalf("poll on %s: %d total=%v, want 1000", n.name, st, p["total"])
		}
	}
	eventually(t, "tally frame of 1000 on both nodes", func() bool {
		for _, v := range viewers[:2] {
			if len(v.matching("poll.tally", func(d map[string]any) bool { return d["total"] == float64(1000) })) == 0 {
				return false
			}
		}
		return true
	})
}

// openViewerNoCleanup is openViewer for sockets the caller closes itself (many short-lived voters).
func openViewerNoCleanup(t *testing.T, n *node, streamID, token string) *viewerConn {
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(n.base, "http")+"/ws/streams/"+streamID+"?token="+token, nil)
	if err != nil {
		t.Errorf("dial %s: %v", n.name, err)
		return &viewerConn{done: closedChan()}
	}
	v := &viewerConn{conn: c, done: make(chan struct{})}
	go func() {
		defer close(v.done)
		for {
			_, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			for _, line := range bytes.Split(msg, []byte{'\n'}) {
				var f map[string]any
				if json.Unmarshal(line, &f) == nil {
					v.mu.Lock()
					v.frames = append(v.frames, f)
					v.mu.Unlock()
				}
			}
		}
	}()
	return v
}

func (v *viewerConn) close() {
	if v.conn != nil {
		v.conn.Close()
	}
	<-v.done
}

func closedChan() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}
