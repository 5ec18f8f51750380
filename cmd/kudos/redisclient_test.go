package main

import (
	"context"
	"crypto/x509"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kudos-live/kudos/cmd/internal/config"
	"github.com/kudos-live/kudos/internal/testenv"
)

// TestRedisClientCluster builds the client of a real Redis Cluster from its seeds, one of them unreachable:
// a warning names it, the client works, and the description names the topology and its three primaries.
func TestRedisClientCluster(t *testing.T) {
	addrs := testenv.RedisClusterAddrs(t)
	dead := testenv.FreeAddr(t)
	rs := config.RedisSettings{Cluster: append([]string{dead}, addrs[:2]...)}
	var logs testenv.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	rdb, desc, err := newRedisClient(context.Background(), rs, log)
	if err != nil {
		t.Fatalf("newRedisClient: %v", err)
	}
	defer rdb.Close()
	if _, ok := rdb.(*redis.ClusterClient); !ok {
		t.Errorf("client is %T, want a *redis.ClusterClient", rdb)
	}
	if !strings.Contains(desc, "Redis Cluster of 3 primaries") {
		t.Errorf("description %q does not name a cluster of 3 primaries", desc)
	}
	if !strings.Contains(logs.String(), "seed node does not answer") || !strings.Contains(logs.String(), dead) {
		t.Errorf("no warning naming the unreachable seed %s in the log:\n%s", dead, logs.String())
	}
	ctx := context.Background()
	for _, k := range []string{"kudostest:{a}", "kudostest:{b}", "kudostest:{c}"} { // three slots
		if err := rdb.Set(ctx, k, "1", time.Minute).Err(); err != nil {
			t.Errorf("SET %s on the cluster: %v", k, err)
		}
		rdb.Del(ctx, k)
	}

	// Every seed unreachable: an error naming the variable.
	_, _, err = newRedisClient(context.Background(), config.RedisSettings{Cluster: []string{dead}}, log)
	if err == nil || !strings.Contains(err.Error(), "no node of KUDOS_REDIS_CLUSTER answers") {
		t.Errorf("all seeds unreachable: err = %v, want no node answers", err)
	}
}

// TestRedisClientClusterUnhealthy: a cluster node that answers but whose cluster serves no slots
// (cluster_state:fail) is a startup error, not a warning.
func TestRedisClientClusterUnhealthy(t *testing.T) {
	bin := testenv.RedisServerBin(t)
	addr := testenv.FreeAddr(t)
	bus := testenv.FreeAddr(t)
	dir := t.TempDir()
	startRedisProcess(t, bin, addr, "--cluster-enabled", "yes", "--cluster-port", strings.Split(bus, ":")[1],
		"--cluster-config-file", filepath.Join(dir, "nodes.conf"), "--dir", dir)
	log := slog.New(slog.NewTextHandler(&testenv.Buffer{}, nil))
	_, _, err := newRedisClient(context.Background(), config.RedisSettings{Cluster: []string{addr}}, log)
	if err == nil || !strings.Contains(err.Error(), "is not healthy: cluster_state:fail") {
		t.Fatalf("a cluster without slots: err = %v, want not healthy", err)
	}
}

// TestRedisClientSentinel builds the client of a primary through a real Sentinel, and refuses a master name
// the sentinel does not know, naming it.
func TestRedisClientSentinel(t *testing.T) {
	bin := testenv.RedisServerBin(t)
	primary := testenv.StartRedis(t)
	sentinel := testenv.FreeAddr(t)
	conf := filepath.Join(t.TempDir(), "sentinel.conf")
	host, port, _ := strings.Cut(primary.Addr, ":")
	if err := os.WriteFile(conf, []byte("sentinel monitor kudosprimary "+host+" "+port+" 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	startRedisProcess(t, bin, sentinel, conf, "--sentinel")
	log := slog.New(slog.NewTextHandler(&testenv.Buffer{}, nil))
	ctx := context.Background()

	rdb, desc, err := newRedisClient(ctx, config.RedisSettings{SentinelMaster: "kudosprimary", Sentinels: []string{sentinel}}, log)
	if err != nil {
		t.Fatalf("newRedisClient: %v", err)
	}
	defer rdb.Close()
	if want := `Redis Sentinel master "kudosprimary", now at ` + primary.Addr; !strings.Contains(desc, want) {
		t.Errorf("description %q, want it to say %q", desc, want)
	}
	if err := rdb.Set(ctx, "kudostest:sentinel", "1", time.Minute).Err(); err != nil {
		t.Errorf("SET through the sentinel's primary: %v", err)
	}
	direct := redis.NewClient(&redis.Options{Addr: primary.Addr})
	defer direct.Close()
	if v, err := direct.Get(ctx, "kudostest:sentinel").Result(); err != nil || v != "1" {
		t.Errorf("the primary holds %q, %v; want the value written through the sentinel", v, err)
	}

	_, _, err = newRedisClient(ctx, config.RedisSettings{SentinelMaster: "nosuchprimary", Sentinels: []string{sentinel}}, log)
	if err == nil || !strings.Contains(err.Error(), `no sentinel knows a master named "nosuchprimary"`) {
		t.Errorf("unknown master: err = %v, want it named", err)
	}
}

// startRedisProcess runs redis-server (bin) on addr with args, waits until it answers, and stops it at cleanup.
func startRedisProcess(t *testing.T, bin, addr string, args ...string) {
	t.Helper()
	host, port, _ := strings.Cut(addr, ":")
	// A config file must come first (the sentinel's); the rest are options.
	var full []string
	if len(args) > 0 && strings.HasSuffix(args[0], ".conf") {
		full, args = append(full, args[0]), args[1:]
	}
	full = append(full, "--bind", host, "--port", port, "--save", "", "--appendonly", "no")
	full = append(full, args...)
	cmd := exec.Command(bin, full...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	for i := 0; ; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		var reply redis.Error // an error reply (NOAUTH with --requirepass): the server is up
		if err == nil || errors.As(err, &reply) {
			return
		}
		if i == 100 {
			t.Fatalf("redis-server %v on %s did not start: %v", args, addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRedisClientSingle: one instance from KUDOS_REDIS_URL, described as such; KUDOS_REDIS_USERNAME and
// KUDOS_REDIS_PASSWORD are what the client authenticates with (a server requiring a password refuses a
// wrong or missing one, and the error does not quote it).
func TestRedisClientSingle(t *testing.T) {
	bin := testenv.RedisServerBin(t)
	addr := testenv.FreeAddr(t)
	startRedisProcess(t, bin, addr, "--requirepass", "right-password-42")
	url := "redis://" + addr + "/0"
	log := slog.New(slog.NewTextHandler(&testenv.Buffer{}, nil))
	rdb, desc, err := newRedisClient(context.Background(), config.RedisSettings{URL: url, Username: "default", Password: "right-password-42"}, log)
	if err != nil {
		t.Fatalf("newRedisClient: %v", err)
	}
	defer rdb.Close()
	if _, ok := rdb.(*redis.Client); !ok || desc != "one Redis instance at "+addr+" (db 0)" {
		t.Errorf("client %T described %q, want one instance at %s", rdb, desc, addr)
	}
	for _, pw := range []string{"", "wrong-password-42"} {
		_, _, err = newRedisClient(context.Background(), config.RedisSettings{URL: url, Password: pw}, log)
		if err == nil {
			t.Fatalf("password %q accepted by a server requiring another", pw)
		}
		if strings.Contains(err.Error(), "password-42") {
			t.Errorf("error %q quotes a password", err)
		}
	}
}

// TestRedisTLSSettings: TLS off is no TLS configuration; a CA file that cannot be read or holds no
// certificate is an error naming KUDOS_REDIS_TLS_CA; a real PEM certificate becomes the only root.
func TestRedisTLSSettings(t *testing.T) {
	if c, err := redisTLS(config.RedisSettings{URL: "redis://x:1/0"}); c != nil || err != nil {
		t.Errorf("TLS off: %v, %v", c, err)
	}
	if c, err := redisTLS(config.RedisSettings{TLS: true}); err != nil || c == nil || c.RootCAs != nil {
		t.Errorf("TLS with the system's CAs: %+v, %v", c, err)
	}
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(junk, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{filepath.Join(dir, "missing.pem"), junk} {
		if _, err := redisTLS(config.RedisSettings{TLS: true, TLSCAFile: f}); err == nil || !strings.Contains(err.Error(), "KUDOS_REDIS_TLS_CA") {
			t.Errorf("CA file %s: err = %v, want one naming KUDOS_REDIS_TLS_CA", f, err)
		}
	}
	ca := otherCA(t) // a real CA certificate (kafka_security_test.go)
	c, err := redisTLS(config.RedisSettings{TLS: true, TLSCAFile: ca})
	if err != nil {
		t.Fatalf("CA file: %v", err)
	}
	b, err := os.ReadFile(ca)
	if err != nil {
		t.Fatal(err)
	}
	want := x509.NewCertPool()
	want.AppendCertsFromPEM(b)
	if c.RootCAs == nil || !c.RootCAs.Equal(want) {
		t.Error("the CA file's certificate is not the only root")
	}
}
