package testenv

import (
	"context"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisServer is a private redis-server the test started on 127.0.0.1 (no persistence), for faults that
// must not touch the shared test Redis: pausing it, stopping it.
type RedisServer struct {
	Addr string
	cmd  *exec.Cmd
}

// StartRedis starts a private redis-server (KUDOS_TEST_REDIS_SERVER_BIN) and stops it at cleanup.
func StartRedis(tb testing.TB) *RedisServer {
	tb.Helper()
	bin := RedisServerBin(tb)
	addr := FreeAddr(tb)
	_, port, _ := strings.Cut(addr, ":")
	r := &RedisServer{Addr: addr, cmd: exec.Command(bin, "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no")}
	if err := r.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = r.cmd.Process.Signal(syscall.SIGCONT)
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
	})
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	for i := 0; ; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return r
		}
		if i == 100 {
			tb.Fatalf("private redis-server on %s did not start: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Pause stops the server's process (SIGSTOP): connections stay open and every command waits unanswered, as
// with a Redis stuck or cut off. Resume continues it.
func (r *RedisServer) Pause(tb testing.TB) {
	tb.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		tb.Fatal(err)
	}
}

// Resume continues a paused server.
func (r *RedisServer) Resume(tb testing.TB) {
	tb.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		tb.Fatal(err)
	}
}
