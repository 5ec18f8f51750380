package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/kudos-live/kudos/cmd/internal/config"
)

// redisTLS returns the TLS configuration of rs (nil: plaintext), with the CA file's certificates as roots
// when KUDOS_REDIS_TLS_CA is set. An unreadable file, or one without a certificate, is an error naming it.
func redisTLS(rs config.RedisSettings) (*tls.Config, error) {
	if !rs.TLS {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if rs.TLSCAFile == "" {
		return c, nil
	}
	pem, err := os.ReadFile(rs.TLSCAFile)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", config.EnvRedisTLSCA, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: %s holds no PEM certificate", config.EnvRedisTLSCA, rs.TLSCAFile)
	}
	c.RootCAs = pool
	return c, nil
}

// newRedisClient builds the one go-redis client of the configured topology, checks that it answers (and,
// for a cluster, that the cluster is healthy) within redisPingTimeout, and returns it with a description
// for the startup log. Errors never quote a URL (it may hold a password).
func newRedisClient(ctx context.Context, rs config.RedisSettings, log *slog.Logger) (redis.UniversalClient, string, error) {
	tlsConf, err := redisTLS(rs)
	if err != nil {
		return nil, "", err
	}
	pctx, cancel := context.WithTimeout(ctx, redisPingTimeout)
	defer cancel()
	switch rs.Topology() {
	case config.RedisSingle:
		opts, err := redis.ParseURL(rs.URL)
		if err != nil {
			return nil, "", errors.New(config.EnvRedisURL + " is not a valid redis:// or rediss:// URL")
		}
		if rs.Username != "" {
			opts.Username = rs.Username
		}
		if rs.Password != "" {
			opts.Password = rs.Password
		}
		if tlsConf != nil {
			if opts.TLSConfig != nil {
				tlsConf.ServerName = opts.TLSConfig.ServerName
			}
			opts.TLSConfig = tlsConf
		}
		rdb := redis.NewClient(opts)
		if err := rdb.Ping(pctx).Err(); err != nil {
			_ = rdb.Close()
			return nil, "", fmt.Errorf("ping Redis at %s: %w", opts.Addr, err)
		}
		return rdb, fmt.Sprintf("one Redis instance at %s (db %d%s)", opts.Addr, opts.DB, tlsNote(tlsConf)), nil
	case config.RedisCluster:
		rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: rs.Cluster, Username: rs.Username, Password: rs.Password, TLSConfig: tlsConf})
		primaries, err := checkCluster(pctx, rdb, rs, tlsConf, log)
		if err != nil {
			_ = rdb.Close()
			return nil, "", err
		}
		return rdb, fmt.Sprintf("Redis Cluster of %d primaries (seeds %s%s)", primaries, strings.Join(rs.Cluster, ","), tlsNote(tlsConf)), nil
	case config.RedisSentinel:
		addr, err := sentinelMaster(pctx, rs, tlsConf)
		if err != nil {
			return nil, "", err
		}
		rdb := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: rs.SentinelMaster, SentinelAddrs: rs.Sentinels,
			SentinelPassword: rs.SentinelPassword, Username: rs.Username, Password: rs.Password, TLSConfig: tlsConf})
		if err := rdb.Ping(pctx).Err(); err != nil {
			_ = rdb.Close()
			return nil, "", fmt.Errorf("ping the Redis primary %q (at %s, from the sentinels): %w", rs.SentinelMaster, addr, err)
		}
		return rdb, fmt.Sprintf("Redis Sentinel master %q, now at %s (sentinels %s%s)", rs.SentinelMaster, addr, strings.Join(rs.Sentinels, ","), tlsNote(tlsConf)), nil
	}
	return nil, "", errors.New("no Redis topology is set")
}

func tlsNote(c *tls.Config) string {
	if c == nil {
		return ""
	}
	return ", TLS"
}

// checkCluster pings every seed node on its own: an unreachable one is a warning if the rest answer, and
// every one unreachable is an error. It then asks the cluster for its state: anything but cluster_state:ok
// (slots not covered, a primary down without a replica to promote) is an error. It returns how many
// primaries the cluster has (cluster_size).
func checkCluster(ctx context.Context, rdb *redis.ClusterClient, rs config.RedisSettings, tlsConf *tls.Config, log *slog.Logger) (int, error) {
	var reached []string
	var firstErr error
	var info string // CLUSTER INFO as the first seed that answers sees it
	for _, addr := range rs.Cluster {
		c := redis.NewClient(&redis.Options{Addr: addr, Username: rs.Username, Password: rs.Password, TLSConfig: tlsConf,
			MaxRetries: -1, DialTimeout: redisPingTimeout / 3})
		err := c.Ping(ctx).Err()
		if err == nil && info == "" {
			if info, err = c.ClusterInfo(ctx).Result(); err != nil {
				err = fmt.Errorf("CLUSTER INFO (is it a cluster node?): %w", err)
			}
		}
		_ = c.Close()
		if err != nil {
			log.Warn("Redis Cluster seed node does not answer; using the others", "addr", addr, "err", err)
			if firstErr == nil {
				firstErr = fmt.Errorf("%s: %w", addr, err)
			}
			continue
		}
		reached = append(reached, addr)
	}
	if len(reached) == 0 {
		return 0, fmt.Errorf("no node of %s answers (%s): %w", config.EnvRedisCluster, strings.Join(rs.Cluster, ","), firstErr)
	}
	fields := map[string]string{}
	for _, line := range strings.Split(info, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			fields[k] = v
		}
	}
	if fields["cluster_state"] != "ok" {
		return 0, fmt.Errorf("the Redis Cluster of %s is not healthy: cluster_state:%s (slots ok %s of 16384)", config.EnvRedisCluster, fields["cluster_state"], fields["cluster_slots_ok"])
	}
	if err := rdb.Ping(ctx).Err(); err != nil {
		return 0, fmt.Errorf("ping the Redis Cluster (%s): %w", config.EnvRedisCluster, err)
	}
	var primaries int
	_, _ = fmt.Sscan(fields["cluster_size"], &primaries)
	return primaries, nil
}

// sentinelMaster asks the sentinels, in order, where the primary named rs.SentinelMaster is. A name that no
// reachable sentinel knows is an error naming it; no sentinel reachable is an error naming them.
func sentinelMaster(ctx context.Context, rs config.RedisSettings, tlsConf *tls.Config) (string, error) {
	var unknown int
	var lastErr error
	for _, addr := range rs.Sentinels {
		sc := redis.NewSentinelClient(&redis.Options{Addr: addr, Password: rs.SentinelPassword, TLSConfig: tlsConf,
			MaxRetries: -1, DialTimeout: redisPingTimeout / 3})
		hp, err := sc.GetMasterAddrByName(ctx, rs.SentinelMaster).Result()
		_ = sc.Close()
		switch {
		case errors.Is(err, redis.Nil):
			unknown++
		case err != nil:
			lastErr = fmt.Errorf("sentinel %s: %w", addr, err)
		case len(hp) == 2:
			return hp[0] + ":" + hp[1], nil
		}
	}
	if unknown > 0 {
		return "", fmt.Errorf("%s: no sentinel knows a master named %q (asked %d of %s)", config.EnvRedisSentinel, rs.SentinelMaster, unknown, strings.Join(rs.Sentinels, ","))
	}
	return "", fmt.Errorf("%s: no sentinel answers: %w", config.EnvRedisSentinel, lastErr)
}
