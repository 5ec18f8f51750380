package stream

import (
	"context"
	"errors"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/kudos-live/kudos/internal/testenv"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/kudos-live/kudos/engagement"
)

// testRedisURL returns the test Redis (see testenv.RedisURL).
func testRedisURL(t *testing.T) string {
	t.Helper()
	return testenv.RedisURL(t)
}

// newTestClient returns a client of url that is closed when the test ends.
func newTestClient(t *testing.T, url string) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("parse redis URL: %v", err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// testPrefix returns a key prefix of the test's own whose keys are deleted when the test ends.
func testPrefix(t *testing.T, rdb *redis.Client) string {
	t.Helper()
	return testenv.Prefix(t, rdb)
}

// twoRedisNodes returns two clients of url, as two nodes have, and a shared prefix.
func twoRedisNodes(t *testing.T, url string) (a, b *redis.Client, prefix string) {
	t.Helper()
	a, b = newTestClient(t, url), newTestClient(t, url)
	if err := a.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("ping redis: %v", err)
	}
	return a, b, testPrefix(t, a)
}

// newTestRedisFanout returns a fan-out over rdb (or, given, over cluster) closed when the test ends.
func newTestRedisFanout(t *testing.T, rdb *redis.Client, prefix string, cluster ...*redis.ClusterClient) *RedisFanout {
	t.Helper()
	var c redis.UniversalClient = rdb
	if len(cluster) > 0 {
		c = cluster[0]
	}
	f := NewRedisFanout(c, RedisFanoutConfig{Prefix: prefix})
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Errorf("close fan-out: %v", err)
		}
	})
	return f
}

func TestRedisFanoutConformance(t *testing.T) {
	url := testRedisURL(t)
	runFanoutConformance(t, func(t *testing.T) (Fanout, Fanout) {
		ra, rb, prefix := twoRedisNodes(t, url)
		return newTestRedisFanout(t, ra, prefix), newTestRedisFanout(t, rb, prefix)
	})
}

func TestRedisPresenceConformance(t *testing.T) {
	url := testRedisURL(t)
	runPresenceConformance(t, func(t *testing.T) (Presence, Presence) {
		ra, rb, prefix := twoRedisNodes(t, url)
		return NewRedisPresence(ra, RedisPresenceConfig{Prefix: prefix}), NewRedisPresence(rb, RedisPresenceConfig{Prefix: prefix})
	})
}

// TestRedisPresenceDeadNodeAgesOut stops one node's Sets and expects its count to leave the sum.
func TestRedisPresenceDeadNodeAgesOut(t *testing.T) {
	ra, rb, prefix := twoRedisNodes(t, testRedisURL(t))
	const expiry = 400 * time.Millisecond
	live := NewRedisPresence(ra, RedisPresenceConfig{Prefix: prefix, Expiry: expiry})
	dead := NewRedisPresence(rb, RedisPresenceConfig{Prefix: prefix, Expiry: expiry})
	ctx := context.Background()
	if err := live.Set(ctx, "s1", "live", 3); err != nil {
		t.Fatalf("Set: %v", err)
	}
	if err := dead.Set(ctx, "s1", "dead", 4); err != nil {
		t.Fatalf("Set: %v", err)
	}
	if n, err := live.Count(ctx, "s1"); err != nil || n != 7 {
		t.Fatalf("Count with both nodes = %d, %v; want 7", n, err)
	}
	start := time.Now()
	for {
		time.Sleep(50 * time.Millisecond)
		if err := live.Set(ctx, "s1", "live", 3); err != nil { // the live node keeps ticking
			t.Fatalf("Set: %v", err)
		}
		n, err := live.Count(ctx, "s1")
		if err != nil {
			t.Fatalf("Count: %v", err)
		}
		if n == 3 {
			break
		}
		if n != 7 {
			t.Fatalf("Count = %d, want 7 then 3", n)
		}
		if time.Since(start) > 10*expiry {
			t.Fatalf("dead node still counted %v after its last Set", time.Since(start))
		}
	}
	if elapsed := time.Since(start); elapsed < expiry-50*time.Millisecond {
		t.Errorf("dead node dropped after %v, before the %v expiry", elapsed, expiry)
	}
	fields, err := ra.HKeys(ctx, prefix+"presence:{s1}").Result()
	if err != nil {
		t.Fatalf("HKEYS: %v", err)
	}
	if len(fields) != 1 || fields[0] != "live" {
		t.Errorf("presence fields = %v, want [live] (Count deletes expired ones)", fields)
	}
	// When every node is gone the key itself expires.
	time.Sleep(expiry + 200*time.Millisecond)
	if n, err := ra.Exists(ctx, prefix+"presence:{s1}").Result(); err != nil || n != 0 {
		t.Errorf("presence key exists = %d, %v after every node stopped; want 0", n, err)
	}
}

// TestRedisFanoutClose checks that Close stops the dispatch goroutine and go-redis's own, and that the
// fan-out refuses new subscriptions afterwards.
func TestRedisFanoutClose(t *testing.T) {
	url := testRedisURL(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("parse redis URL: %v", err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	f := NewRedisFanout(rdb, RedisFanoutConfig{Prefix: "kudostest:close:"})
	c := newCollector()
	cancel, err := f.Subscribe(context.Background(), "s1", c.handle)
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	defer cancel() // after Close: harmless
	publish(t, f, Message{Stream: "s1", Payload: []byte("x")})
	c.waitFor(t, "message before close", hasPayload("x"))
	if err := f.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := f.Subscribe(context.Background(), "s2", c.handle); !errors.Is(err, errFanoutClosed) {
		t.Errorf("Subscribe after Close: err = %v, want errFanoutClosed", err)
	}
}

// TestRedisFanoutUnreachable checks that Subscribe fails in bounded time when Redis cannot be reached, and
// that Close still returns. It needs no Redis.
func TestRedisFanoutUnreachable(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 100 * time.Millisecond, DialerRetries: 1, DialerRetryTimeout: time.Millisecond})
	defer rdb.Close()
	f := NewRedisFanout(rdb, RedisFanoutConfig{SubscribeTimeout: time.Second})
	start := time.Now()
	if _, err := f.Subscribe(context.Background(), "s1", func(Message) {}); err == nil {
		t.Error("Subscribe to an unreachable Redis succeeded")
	}
	if err := f.Publish(context.Background(), Message{Stream: "s1"}); err == nil {
		t.Error("Publish to an unreachable Redis succeeded")
	}
	p := NewRedisPresence(rdb, RedisPresenceConfig{})
	if err := p.Set(context.Background(), "s1", "n1", 1); err == nil {
		t.Error("presence Set on an unreachable Redis succeeded")
	}
	if _, err := p.Count(context.Background(), "s1"); err == nil {
		t.Error("presence Count on an unreachable Redis succeeded")
	}
	if err := f.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("took %v", elapsed)
	}
}

// redisServer is a redis-server of the test's own, with append-only persistence in a temp dir.
type redisServer struct {
	bin, dir string
	port     int
	cmd      *exec.Cmd
}

func (s *redisServer) url() string { return "redis://127.0.0.1:" + strconv.Itoa(s.port) + "/0" }

func (s *redisServer) start(t *testing.T) {
	t.Helper()
	s.cmd = exec.Command(s.bin, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1", "--dir", s.dir,
		"--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no",
		"--logfile", filepath.Join(s.dir, "redis.log"))
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(s.port)})
	defer rdb.Close()
	deadline := time.Now().Add(10 * time.Second)
	for rdb.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not answer within 10s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends SIGTERM (Redis flushes its append-only file and exits) and waits for the process.
func (s *redisServer) stop(t *testing.T) {
	t.Helper()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
		t.Error("redis-server ignored SIGTERM for 10s; killed")
	}
	s.cmd = nil
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestRedisRestart restarts a Redis of its own and checks that stored state persisted and that both nodes'
// fan-out subscriptions recovered without being asked.
func TestRedisRestart(t *testing.T) {
	bin := testenv.RedisServerBin(t)
	srv := &redisServer{bin: bin, dir: t.TempDir(), port: freePort(t)}
	srv.start(t)
	t.Cleanup(func() { srv.stop(t) })

	ra, rb := newTestClient(t, srv.url()), newTestClient(t, srv.url())
	store := engagement.NewRedisStore(ra, engagement.RedisConfig{})
	fa := NewRedisFanout(ra, RedisFanoutConfig{})
	fb := NewRedisFanout(rb, RedisFanoutConfig{})
	t.Cleanup(func() { _ = fa.Close(); _ = fb.Close() })
	ctx := context.Background()

	st := engagement.Stream{ID: "s1", Title: "before restart", Host: "h1", Status: engagement.StatusLive, StartedAt: time.Now().UTC()}
	if err := store.CreateStream(ctx, st); err != nil {
		t.Fatalf("CreateStream: %v", err)
	}
	if _, err := store.AddLikes(ctx, "s1", 42); err != nil {
		t.Fatalf("AddLikes: %v", err)
	}
	onA, onB := newCollector(), newCollector()
	subscribe(t, fa, "s1", onA)
	subscribe(t, fb, "s1", onB)
	publish(t, fa, Message{Stream: "s1", Payload: []byte("before")})
	onB.waitFor(t, "before restart", hasPayload("before"))

	srv.stop(t)
	if _, err := store.Stream(ctx, "s1"); !errors.Is(err, engagement.ErrUnavailable) {
		t.Errorf("Stream with Redis down: err = %v, want ErrUnavailable", err)
	}
	srv.start(t)

	got, err := store.Stream(ctx, "s1")
	if err != nil || got.Title != st.Title {
		t.Errorf("Stream after restart = %+v, %v; want the stream created before", got, err)
	}
	if n, err := store.Likes(ctx, "s1"); err != nil || n != 42 {
		t.Errorf("Likes after restart = %d, %v; want 42", n, err)
	}

	// Delivery is at most once, so publish until both nodes hear again (go-redis resubscribes on reconnect).
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; ; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("fan-out did not recover within 20s of the restart (a: %d, b: %d messages)", len(onA.snapshot()), len(onB.snapshot()))
		}
		p := "after " + strconv.Itoa(i)
		_ = fa.Publish(ctx, Message{Stream: "s1", Payload: []byte(p)})
		time.Sleep(100 * time.Millisecond)
		if hasPayload(p)(onA.snapshot()) && hasPayload(p)(onB.snapshot()) {
			break
		}
	}
}
