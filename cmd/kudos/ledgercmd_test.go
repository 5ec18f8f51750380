package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kudos-live/kudos/internal/testenv"
)

// ledgerMigrateDB is the database of the test Redis that TestLedgerMigrateCommand takes for itself: the server
// keeps its ledger under its default prefix, which other tests' servers share in database 0.
const ledgerMigrateDB = 11

// TestLedgerMigrateCommand: a server refuses a Redis whose ledger has the earlier layout (rewards' fixture of
// it), saying what to run; `kudos ledger migrate` moves it and reports the counts; a server then starts on it
// and answers a migrated account's points as the earlier layout held them.
func TestLedgerMigrateCommand(t *testing.T) {
	opts, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	opts.DB = ledgerMigrateDB
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	ctx := context.Background()
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.FlushDB(ctx).Err() })
	testenv.LoadRedisDump(t, rdb, "kudos:rw:", "../../rewards/testdata/ledger-layout1.json")
	url := strings.TrimSuffix(testenv.RedisURL(t), "/0") + "/11"
	if !strings.HasSuffix(url, "/11") {
		t.Fatalf("test Redis URL %q: want one ending in a database number", testenv.RedisURL(t))
	}
	env := map[string]string{
		"KUDOS_REDIS_URL": url, "KUDOS_KAFKA_BROKERS": "none", "KUDOS_SPOOL_DIR": t.TempDir(),
		"KUDOS_TOKEN_SECRET": testSecret, "KUDOS_ADDR": testenv.FreeAddr(t),
	}
	getenv := func(k string) string { return env[k] }
	var out testenv.Buffer
	runCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := run(runCtx, nil, getenv, &out, &out); !errors.Is(err, errLedgerMigrationNeeded) {
		t.Fatalf("serve on a layout-1 ledger: %v, want errLedgerMigrationNeeded", err)
	}
	if !strings.Contains(errLedgerMigrationNeeded.Error(), "kudos ledger migrate") {
		t.Fatal("the refusal does not say what to run")
	}
	out = testenv.Buffer{}
	if err := run(runCtx, []string{"ledger", "migrate"}, getenv, &out, &out); err != nil {
		t.Fatalf("kudos ledger migrate: %v\n%s", err, out.String())
	}
	if s := out.String(); !strings.Contains(s, "4 accounts, 30 award records, 2 leaderboards") {
		t.Fatalf("migrate printed %q; want the counts of the fixture", s)
	}
	n := startNodeNoRedis(t, "migrated", "KUDOS_REDIS_URL="+url)
	st, acc := n.do("GET", "/api/v1/users/u1/points", mint(t, "u1", "viewer", ""), nil)
	if st != http.StatusOK {
		t.Fatalf("points of a migrated account: %d %v", st, acc)
	}
	var fixture struct {
		Users []struct {
			User     string
			Snapshot struct{ Balance, Pending, Expired int64 }
		}
	}
	raw, err := os.ReadFile("../../rewards/testdata/ledger-layout1.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &fixture); err != nil {
		t.Fatal(err)
	}
	// The server's clock is today's: the fixture's pending purchases have settled since, and its points may
	// have expired, so balance + pending + expired is what it was.
	u1 := fixture.Users[0]
	want := u1.Snapshot.Balance + u1.Snapshot.Pending + u1.Snapshot.Expired
	var got int64
	for _, k := range []string{"balance", "pending", "expired"} {
		v, ok := acc[k].(float64)
		if !ok {
			t.Fatalf("points of u1: no %s in %v", k, acc)
		}
		got += int64(v)
	}
	if u1.User != "u1" || u1.Snapshot.Balance == 0 || got != want {
		t.Fatalf("u1's points on the migrated ledger: %v; want balance + pending + expired = %d", acc, want)
	}
}
