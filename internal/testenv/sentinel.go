package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentinelGroup is a Redis primary with its replicas watched by three sentinels, all on 127.0.0.1.
type SentinelGroup struct {
	Master    string   // the master name the sentinels know
	Primary   string   // the primary's address when the group started
	Replicas  []string // the replicas' addresses
	Sentinels []string // the sentinels' addresses
	procs     map[string]*exec.Cmd
}

// Env is the group as KUDOS_REDIS_SENTINEL takes it: master@host:port,host:port,...
func (g *SentinelGroup) Env() string { return g.Master + "@" + strings.Join(g.Sentinels, ",") }

// SharedSentinel returns the test Sentinel group that scripts/test.sh starts (KUDOS_TEST_REDIS_SENTINEL, with
// KUDOS_TEST_REDIS_SENTINEL_PRIMARY and _REPLICA): one primary, one replica, three sentinels. Tests must not
// stop its processes; StartSentinelGroup gives a group of the test's own.
func SharedSentinel(tb testing.TB) *SentinelGroup {
	tb.Helper()
	env := Lookup(tb, "KUDOS_TEST_REDIS_SENTINEL")
	master, list, _ := strings.Cut(env, "@")
	return &SentinelGroup{Master: master, Sentinels: strings.Split(list, ","),
		Primary: Lookup(tb, "KUDOS_TEST_REDIS_SENTINEL_PRIMARY"), Replicas: []string{Lookup(tb, "KUDOS_TEST_REDIS_SENTINEL_REPLICA")}}
}

// StartSentinelGroup starts a private group (KUDOS_TEST_REDIS_SERVER_BIN, no persistence): a primary,
// replicas replicas and three sentinels (quorum 2, a primary is down after 1 s without answering), for faults
// that must not touch the shared group: killing the primary. It returns once every replica is in sync and
// every sentinel knows the replicas and the two other sentinels, so that a failover can be elected. Every
// process is stopped at cleanup.
func StartSentinelGroup(tb testing.TB, replicas int) *SentinelGroup {
	tb.Helper()
	bin := RedisServerBin(tb)
	dir := tb.TempDir()
	g := &SentinelGroup{Master: "kudosfail", procs: map[string]*exec.Cmd{}}
	start := func(addr string, args ...string) {
		_, port, _ := strings.Cut(addr, ":")
		// Each process in a directory of its own: a replica writes the primary's snapshot to its directory
		// when it syncs (and a sentinel rewrites its config file), never into the package under test.
		pdir := filepath.Join(dir, port)
		if err := os.MkdirAll(pdir, 0o700); err != nil {
			tb.Fatal(err)
		}
		full := append(args, "--bind", "127.0.0.1", "--port", port, "--dir", pdir, "--save", "", "--appendonly", "no",
			"--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0")
		cmd := exec.Command(bin, full...)
		if err := cmd.Start(); err != nil {
			tb.Fatal(err)
		}
		g.procs[addr] = cmd
		tb.Cleanup(func() {
			_ = cmd.Process.Kill() // also ends a SIGSTOPped one
			_ = cmd.Wait()
		})
	}
	g.Primary = FreeAddr(tb)
	start(g.Primary)
	waitPing(tb, g.Primary)
	host, port, _ := strings.Cut(g.Primary, ":")
	for range replicas {
		addr := FreeAddr(tb)
		start(addr, "--replicaof", host, port)
		g.Replicas = append(g.Replicas, addr)
	}
	for i := range 3 {
		addr := FreeAddr(tb)
		conf := filepath.Join(dir, fmt.Sprintf("sentinel-%d.conf", i))
		body := fmt.Sprintf("sentinel monitor %[1]s %[2]s %[3]s 2\nsentinel down-after-milliseconds %[1]s 1000\n"+
			"sentinel failover-timeout %[1]s 5000\nsentinel parallel-syncs %[1]s 1\n", g.Master, host, port)
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			tb.Fatal(err)
		}
		start(addr, conf, "--sentinel")
		g.Sentinels = append(g.Sentinels, addr)
	}
	ctx := context.Background()
	primary := redis.NewClient(&redis.Options{Addr: g.Primary})
	defer primary.Close()
	waitUntil(tb, 20*time.Second, "the replicas to be in sync", func() bool {
		info, err := primary.Info(ctx, "replication").Result()
		return err == nil && strings.Count(info, "state=online") == replicas
	})
	for _, s := range g.Sentinels {
		waitPing(tb, s)
		sc := redis.NewSentinelClient(&redis.Options{Addr: s})
		waitUntil(tb, 20*time.Second, "sentinel "+s+" to know the group", func() bool {
			m, err := sc.Master(ctx, g.Master).Result()
			return err == nil && m["num-other-sentinels"] == "2" && m["num-slaves"] == fmt.Sprint(replicas)
		})
		_ = sc.Close()
	}
	return g
}

// KillPrimary kills the group's first primary with SIGKILL: no shutdown, no last write to the replicas.
func (g *SentinelGroup) KillPrimary(tb testing.TB) {
	tb.Helper()
	g.signal(tb, g.Primary, syscall.SIGKILL)
}

// Pause stops the process at addr (one of a private group's) with SIGSTOP: it keeps its connections and
// answers nothing, as a replica cut off. Resume continues it; cleanup kills it either way.
func (g *SentinelGroup) Pause(tb testing.TB, addr string) { g.signal(tb, addr, syscall.SIGSTOP) }

// Resume continues a paused process.
func (g *SentinelGroup) Resume(tb testing.TB, addr string) { g.signal(tb, addr, syscall.SIGCONT) }

func (g *SentinelGroup) signal(tb testing.TB, addr string, sig syscall.Signal) {
	tb.Helper()
	cmd := g.procs[addr]
	if cmd == nil {
		tb.Fatalf("%s is not a process of a private group", addr)
	}
	if err := cmd.Process.Signal(sig); err != nil {
		tb.Fatal(err)
	}
}

// CurrentPrimary asks the first sentinel that answers where the primary is now.
func (g *SentinelGroup) CurrentPrimary(ctx context.Context) (string, error) {
	var last error
	for _, s := range g.Sentinels {
		sc := redis.NewSentinelClient(&redis.Options{Addr: s, MaxRetries: -1})
		hp, err := sc.GetMasterAddrByName(ctx, g.Master).Result()
		_ = sc.Close()
		if err == nil && len(hp) == 2 {
			return hp[0] + ":" + hp[1], nil
		}
		last = err
	}
	return "", fmt.Errorf("no sentinel names the primary of %s: %v", g.Master, last)
}

func waitPing(tb testing.TB, addr string) {
	tb.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	waitUntil(tb, 10*time.Second, addr+" to answer", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return c.Ping(ctx).Err() == nil
	})
}

func waitUntil(tb testing.TB, limit time.Duration, what string, ok func() bool) {
	tb.Helper()
	for deadline := time.Now().Add(limit); !ok(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", limit, what)
		}
	}
}
