// Package redisack runs a Redis write and, when asked, waits for replicas to hold it before the caller
// acknowledges it: Redis replicates asynchronously, so a write answered by a primary that then dies before
// its replica copied it is lost when Sentinel promotes the replica. WAIT closes that window for the writes
// that are money or promises (ledger entries, votes, coupon claims).
package redisack

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrNotReplicated reports a write that the primary applied but fewer replicas than Wait.Replicas confirmed
// within Wait.Timeout. The write may survive or not: the caller must report it unavailable, never as done,
// and rely on the write being idempotent when it is retried.
var ErrNotReplicated = errors.New("redis: the write was not confirmed by enough replicas")

// ReplicationChannel is the Pub/Sub channel Run publishes an empty message to before WAIT.
const ReplicationChannel = "kudos:redisack"

// Wait is how many replicas must confirm a write, and how long to wait for them. Replicas 0 waits for none.
type Wait struct {
	Replicas int
	Timeout  time.Duration
}

// Run runs sc with keys and args on rdb and, when w.Replicas > 0, sends WAIT w.Replicas w.Timeout right
// after it in one pipeline. WAIT counts the replicas that hold every write made on its own connection, so it
// must travel on the script's connection: a go-redis pipeline runs on one connection from the pool (retried
// as a whole on another when the connection breaks), where a separate rdb.Do("WAIT") could take any idle
// connection and would then confirm nothing. A script the server does not hold yet (NOSCRIPT) is loaded and
// the pipeline sent once more.
//
// WAIT waits for the replication offset the server noted for the connection. A script that wrote nothing
// (a retry finding its key done: a replay) must still wait for everything before it, the original write
// included, which was reported unavailable and may not be on a replica yet. Redis 7.0 notes the offset after
// every command, so it does; a server that noted it only after commands that replicate would leave it at the
// connection's own last write. So a PUBLISH to ReplicationChannel (no subscriber; a PUBLISH is replicated)
// goes between the script and WAIT, which makes the rule hold whatever the server's bookkeeping. If fewer replicas confirm, the returned command's error wraps
// ErrNotReplicated; the script's reply is kept in it.
func Run(ctx context.Context, rdb redis.UniversalClient, w Wait, sc *redis.Script, keys []string, args ...any) *redis.Cmd {
	if w.Replicas <= 0 {
		return sc.Run(ctx, rdb, keys, args...)
	}
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		// A cluster pipeline splits by node and a keyless WAIT would go to any of them: the pipeline goes to
		// the primary of the script's slot (every script's keys share one), where WAIT counts its replicas.
		cmd := redis.NewCmd(ctx)
		if len(keys) == 0 {
			cmd.SetErr(errors.New("redis: waiting for replicas on a Redis Cluster needs the script's keys"))
			return cmd
		}
		node, err := cc.MasterForKey(ctx, keys[0])
		if err != nil {
			cmd.SetErr(fmt.Errorf("redis: the primary of %s: %w", keys[0], err))
			return cmd
		}
		rdb = node
	}
	cmd, acked := runWait(ctx, rdb, w, sc, keys, args)
	if redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
		if err := sc.Load(ctx, rdb).Err(); err != nil {
			cmd.SetErr(err)
			return cmd
		}
		cmd, acked = runWait(ctx, rdb, w, sc, keys, args)
	}
	if cmd.Err() != nil {
		return cmd
	}
	n, err := acked.Int()
	switch {
	case err != nil:
		cmd.SetErr(fmt.Errorf("%w: WAIT: %v", ErrNotReplicated, err))
	case n < w.Replicas:
		cmd.SetErr(fmt.Errorf("%w: %d of %d replicas within %s", ErrNotReplicated, n, w.Replicas, w.Timeout))
	}
	return cmd
}

func runWait(ctx context.Context, rdb redis.UniversalClient, w Wait, sc *redis.Script, keys []string, args []any) (*redis.Cmd, *redis.Cmd) {
	pipe := rdb.Pipeline()
	cmd := pipe.EvalSha(ctx, sc.Hash(), keys, args...)
	pipe.Publish(ctx, ReplicationChannel, "")
	acked := pipe.Do(ctx, "WAIT", w.Replicas, w.Timeout.Milliseconds())
	_, _ = pipe.Exec(ctx) // each command keeps its own error
	return cmd, acked
}
