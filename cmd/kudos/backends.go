package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/kudos-live/kudos/cmd/internal/config"
	"github.com/kudos-live/kudos/engagement"
	"github.com/kudos-live/kudos/internal/redisack"
	"github.com/kudos-live/kudos/rewards"
	"github.com/kudos-live/kudos/stream"
)

// backends are the state and event components chosen by configuration.
type backends struct {
	store    engagement.Store
	fanout   stream.Fanout
	presence stream.Presence
	sink     engagement.Sink
	ledger   *rewards.Ledger
	econ     rewards.Config // the ledger's configuration
	ready    func(context.Context) error
	rdb      redis.UniversalClient // the shared Redis client; nil with in-memory state
	closers  []func() error
}

// buildBackends picks memory or Redis state and the Kafka sink, and logs which.
// econ is the ledger's economics from the rules file (engagement.Economics.LedgerConfig); the business
// calendar comes from cfg.
func buildBackends(ctx context.Context, cfg config.Config, log *slog.Logger, reg prometheus.Registerer, econ rewards.Config) (*backends, error) {
	econ.Location = cfg.TimeZone
	b := &backends{econ: econ}
	sink, closers, err := buildSink(ctx, cfg, log, reg)
	if err != nil {
		return nil, err
	}
	b.sink = sink
	b.closers = append(b.closers, closers...)
	if cfg.Redis.Configured() {
		if err := b.useRedis(ctx, cfg, log, reg); err != nil {
			b.close(log)
			return nil, err
		}
		return b, nil
	}
	log.Info("state: in-memory (no KUDOS_REDIS_URL, _CLUSTER or _SENTINEL): single node, lost on restart")
	b.store = engagement.NewMemoryStoreWith(engagement.MemoryConfig{StreamTTL: cfg.StreamTTL, Retention: cfg.StreamRetention,
		TextRetention: cfg.TextRetention})
	ledger, err := rewards.NewLedger(rewards.NewMemoryStore(), b.econ)
	if err != nil {
		return nil, err
	}
	b.ledger = ledger
	b.fanout = stream.NewMemoryFanout()
	b.presence = stream.NewMemoryPresence()
	return b, nil
}

// redisPingTimeout bounds the startup and readiness pings of Redis.
const redisPingTimeout = 3 * time.Second

// useRedis shares state between nodes through the configured Redis topology (redisclient.go: one instance,
// a Redis Cluster or a Sentinel-managed primary): the store, the ledger, the fan-out and presence. Startup
// fails if Redis does not answer, rather than serving a node that shares nothing; a cluster is refused until
// the ledger is cluster-ready (errLedgerNotClusterReady). Every call of the client is timed and its failures
// counted (redismetrics.go).
func (b *backends) useRedis(ctx context.Context, cfg config.Config, log *slog.Logger, reg prometheus.Registerer) error {
	rm, err := newRedisMetrics(reg)
	if err != nil {
		return fmt.Errorf("register Redis metrics: %w", err)
	}
	rdb, topology, err := newRedisClient(ctx, cfg.Redis, log)
	if err != nil {
		return err
	}
	rdb.AddHook(rm)
	b.rdb = rdb
	b.closers = append(b.closers, rdb.Close)
	wait := redisack.Wait{Replicas: cfg.Redis.WaitReplicas, Timeout: cfg.Redis.WaitTimeout}
	if err := checkReplicas(ctx, rdb, wait); err != nil {
		return err
	}
	b.store = engagement.NewRedisStore(rdb, engagement.RedisConfig{StreamTTL: cfg.StreamTTL, Retention: cfg.StreamRetention,
		TextRetention: cfg.TextRetention, CodeIndexKey: cfg.CodeIndexSecret(), Wait: wait})
	ledger, err := rewards.NewLedger(rewards.NewRedisStore(rdb, rewards.RedisConfig{Wait: wait}), b.econ)
	if err != nil {
		return err
	}
	if err := checkLedgerLayout(ctx, ledger); err != nil {
		return err
	}
	b.ledger = ledger
	fanout := stream.NewRedisFanout(rdb, stream.RedisFanoutConfig{Logger: log})
	b.closers = append(b.closers, fanout.Close) // closed before rdb
	b.fanout = fanout
	b.presence = stream.NewRedisPresence(rdb, stream.RedisPresenceConfig{})
	b.ready = func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, redisPingTimeout)
		defer cancel()
		if err := rdb.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("ping Redis: %w", err)
		}
		return nil
	}
	log.Info("state: "+topology, "topology", cfg.Redis.Topology(), "wait_replicas", wait.Replicas)
	return nil
}

// checkReplicas refuses to start when writes are to wait for more replicas than a primary has connected
// (on a cluster, any of its primaries): every ledger write, vote and claim would be reported unavailable.
func checkReplicas(ctx context.Context, rdb redis.UniversalClient, w redisack.Wait) error {
	if w.Replicas == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, redisPingTimeout)
	defer cancel()
	check := func(ctx context.Context, c redis.Cmdable) error {
		info, err := c.Info(ctx, "replication").Result()
		if err != nil {
			return fmt.Errorf("read the Redis primary's replicas (%s): %w", config.EnvRedisWaitReplicas, err)
		}
		var connected int
		for _, line := range strings.Split(info, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "connected_slaves:"); ok {
				connected, _ = strconv.Atoi(v)
			}
		}
		if connected < w.Replicas {
			return fmt.Errorf("%s=%d but a Redis primary has %d replica(s) connected: every ledger write, vote and coupon claim would be refused", config.EnvRedisWaitReplicas, w.Replicas, connected)
		}
		return nil
	}
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return check(ctx, c) })
	}
	return check(ctx, rdb)
}

// close releases the backends in reverse order of creation.
func (b *backends) close(log *slog.Logger) {
	for i := len(b.closers) - 1; i >= 0; i-- {
		if err := b.closers[i](); err != nil {
			log.Error("close backend", "err", err)
		}
	}
}

// openAwardQueue opens where awards wait until they are paid and their events durable: a file beside the
// event spool (under its lock) when the ledger is shared, so that a restart keeps what is owed; memory in
// development mode, where the ledger itself is memory. A queue that cannot be opened stops the server.
func openAwardQueue(cfg config.Config, log *slog.Logger) (engagement.AwardQueue, error) {
	if !cfg.Redis.Configured() {
		return engagement.NewMemoryAwardQueue(), nil
	}
	dir := filepath.Join(cfg.SpoolDir, "awards")
	q, err := engagement.OpenFileAwardQueue(dir)
	if err != nil {
		return nil, fmt.Errorf("open the award queue in %s: %w", dir, err)
	}
	if p, err := q.Pending(context.Background()); err == nil && len(p) > 0 {
		log.Warn("awards owed from an earlier run: paying them", "count", len(p), "dir", dir)
	}
	return q, nil
}
