package config

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The Redis topologies (README.md, "Configuration"): exactly one of these names where the shared state is.
const (
	EnvRedisURL      = "KUDOS_REDIS_URL"      // one instance: redis:// or rediss:// URL
	EnvRedisCluster  = "KUDOS_REDIS_CLUSTER"  // Redis Cluster: host:port,host:port,... (seed nodes)
	EnvRedisSentinel = "KUDOS_REDIS_SENTINEL" // Sentinel: master@host:port,host:port,... (the sentinels)

	EnvRedisUsername         = "KUDOS_REDIS_USERNAME"          // ACL user of the data nodes
	EnvRedisPassword         = "KUDOS_REDIS_PASSWORD"          // password of the data nodes
	EnvRedisSentinelPassword = "KUDOS_REDIS_SENTINEL_PASSWORD" // password of the sentinels themselves
	EnvRedisTLS              = "KUDOS_REDIS_TLS"               // 1: TLS to every node
	EnvRedisTLSCA            = "KUDOS_REDIS_TLS_CA"            // PEM file of the CAs the nodes' certificates chain to
	EnvRedisWaitReplicas     = "KUDOS_REDIS_WAIT_REPLICAS"     // replicas that must hold a ledger write, vote or claim before its ack
	EnvRedisWaitTimeout      = "KUDOS_REDIS_WAIT_TIMEOUT"      // how long to wait for them (Go duration)
)

// DefaultRedisWaitTimeout is KUDOS_REDIS_WAIT_TIMEOUT's default; MaxRedisWaitTimeout its bound, below the
// client's 3 s read timeout so that a WAIT is answered before the connection is given up.
const (
	DefaultRedisWaitTimeout = 500 * time.Millisecond
	MaxRedisWaitTimeout     = 2 * time.Second
)

// Redis topologies, as RedisSettings.Topology names them.
const (
	RedisSingle   = "single"
	RedisCluster  = "cluster"
	RedisSentinel = "sentinel"
)

// RedisSettings is where the shared state lives: one Redis instance, a Redis Cluster or a Sentinel-managed
// primary. RedisFromEnv reads and checks them; cmd/kudos builds the one go-redis universal client from them.
type RedisSettings struct {
	URL              string   // KUDOS_REDIS_URL
	Cluster          []string // KUDOS_REDIS_CLUSTER: the seed addresses
	SentinelMaster   string   // KUDOS_REDIS_SENTINEL: the master's name, before '@'
	Sentinels        []string // KUDOS_REDIS_SENTINEL: the sentinels' addresses, after '@'
	Username         string   // KUDOS_REDIS_USERNAME
	Password         string   // KUDOS_REDIS_PASSWORD
	SentinelPassword string   // KUDOS_REDIS_SENTINEL_PASSWORD
	TLS              bool     // KUDOS_REDIS_TLS, or a rediss:// URL
	TLSCAFile        string   // KUDOS_REDIS_TLS_CA; empty: the system's CAs
	// WaitReplicas (KUDOS_REDIS_WAIT_REPLICAS, default 0: none) replicas must hold a ledger write, a vote or
	// a coupon claim, within WaitTimeout (KUDOS_REDIS_WAIT_TIMEOUT, default 500ms), before it is
	// acknowledged; fewer and the write is reported unavailable (docs/reliability.md).
	WaitReplicas int
	WaitTimeout  time.Duration
}

// Configured reports whether a Redis topology is set (otherwise the state is in memory, one node).
func (r RedisSettings) Configured() bool { return r.Topology() != "" }

// Topology is RedisSingle, RedisCluster, RedisSentinel, or "" when none is set.
func (r RedisSettings) Topology() string {
	switch {
	case r.URL != "":
		return RedisSingle
	case len(r.Cluster) > 0:
		return RedisCluster
	case len(r.Sentinels) > 0:
		return RedisSentinel
	}
	return ""
}

// RedisFromEnv reads the Redis topology and its credentials and TLS. It refuses, naming the variables, two
// topologies at once, an address that is not host:port, a Sentinel setting without its master name,
// credentials or TLS options without a topology, and a CA file without TLS. Files are read when the client
// is built (cmd/kudos), where an unreadable CA file is a startup error naming KUDOS_REDIS_TLS_CA.
func RedisFromEnv(getenv func(string) string) (RedisSettings, error) {
	r := RedisSettings{
		URL:              strings.TrimSpace(getenv(EnvRedisURL)),
		Username:         getenv(EnvRedisUsername),
		Password:         getenv(EnvRedisPassword),
		SentinelPassword: getenv(EnvRedisSentinelPassword),
		TLSCAFile:        strings.TrimSpace(getenv(EnvRedisTLSCA)),
	}
	cluster := strings.TrimSpace(getenv(EnvRedisCluster))
	sentinel := strings.TrimSpace(getenv(EnvRedisSentinel))
	var set []string
	for _, v := range []struct{ name, value string }{{EnvRedisURL, r.URL}, {EnvRedisCluster, cluster}, {EnvRedisSentinel, sentinel}} {
		if v.value != "" {
			set = append(set, v.name)
		}
	}
	if len(set) > 1 {
		return r, fmt.Errorf("%s are all set: set exactly one Redis topology (%s for one instance, %s for a Redis Cluster, %s for Sentinel)",
			strings.Join(set, " and "), EnvRedisURL, EnvRedisCluster, EnvRedisSentinel)
	}
	if v := strings.TrimSpace(getenv(EnvRedisTLS)); v != "" {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return r, fmt.Errorf("%s must be 1 or 0 (true or false), not %q", EnvRedisTLS, v)
		}
		r.TLS = on
	}
	switch {
	case r.URL != "":
		u, err := url.Parse(r.URL)
		if err != nil || !((u.Scheme == "redis" || u.Scheme == "rediss") && u.Host != "" || u.Scheme == "unix" && u.Path != "") {
			// Not quoted: the URL may hold a password.
			return r, fmt.Errorf("%s is not a valid redis:// or rediss:// URL", EnvRedisURL)
		}
		if _, has := u.User.Password(); has && r.Password != "" {
			return r, fmt.Errorf("%s carries a password and %s is set too: give the password in one place", EnvRedisURL, EnvRedisPassword)
		}
		if u.Scheme == "rediss" {
			r.TLS = true
		}
	case cluster != "":
		addrs, err := redisAddrs(EnvRedisCluster, cluster)
		if err != nil {
			return r, err
		}
		r.Cluster = addrs
	case sentinel != "":
		master, list, ok := strings.Cut(sentinel, "@")
		master = strings.TrimSpace(master)
		if !ok || master == "" {
			return r, fmt.Errorf("%s must be master@host:port,host:port,... (the master's name, then the sentinels), not %q", EnvRedisSentinel, sentinel)
		}
		addrs, err := redisAddrs(EnvRedisSentinel, list)
		if err != nil {
			return r, err
		}
		r.SentinelMaster, r.Sentinels = master, addrs
	}
	if err := r.readWait(getenv); err != nil {
		return r, err
	}
	if !r.Configured() {
		for _, name := range []string{EnvRedisUsername, EnvRedisPassword, EnvRedisSentinelPassword, EnvRedisTLS, EnvRedisTLSCA, EnvRedisWaitReplicas, EnvRedisWaitTimeout} {
			if getenv(name) != "" {
				return r, fmt.Errorf("%s is set but no Redis topology is (%s, %s or %s)", name, EnvRedisURL, EnvRedisCluster, EnvRedisSentinel)
			}
		}
	}
	if r.SentinelPassword != "" && r.Topology() != RedisSentinel {
		return r, fmt.Errorf("%s is set but %s is not", EnvRedisSentinelPassword, EnvRedisSentinel)
	}
	if r.TLSCAFile != "" && !r.TLS {
		return r, fmt.Errorf("%s is set but TLS is off: set %s=1 (or use a rediss:// URL)", EnvRedisTLSCA, EnvRedisTLS)
	}
	return r, nil
}

// readWait reads KUDOS_REDIS_WAIT_REPLICAS (a whole number, 0 to 16) and KUDOS_REDIS_WAIT_TIMEOUT (a Go
// duration from 1ms to MaxRedisWaitTimeout, and only with replicas to wait for). Waiting is refused on a
// Redis Cluster: its pipelines are split by node, and a WAIT would not follow the write it must confirm.
func (r *RedisSettings) readWait(getenv func(string) string) error {
	r.WaitTimeout = DefaultRedisWaitTimeout
	if v := strings.TrimSpace(getenv(EnvRedisWaitReplicas)); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 16 {
			return fmt.Errorf("%s must be a whole number of replicas from 0 to 16, not %q", EnvRedisWaitReplicas, v)
		}
		r.WaitReplicas = n
	}
	if v := strings.TrimSpace(getenv(EnvRedisWaitTimeout)); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Millisecond || d > MaxRedisWaitTimeout {
			return fmt.Errorf("%s must be a duration from 1ms to %s (like 500ms), not %q", EnvRedisWaitTimeout, MaxRedisWaitTimeout, v)
		}
		if r.WaitReplicas == 0 {
			return fmt.Errorf("%s is set but %s is 0 (no replica is waited for)", EnvRedisWaitTimeout, EnvRedisWaitReplicas)
		}
		r.WaitTimeout = d
	}
	return nil
}

// redisAddrs splits a comma-separated list of host:port, refusing an empty list and a bad address.
func redisAddrs(name, list string) ([]string, error) {
	addrs := splitList(list)
	if len(addrs) == 0 {
		return nil, fmt.Errorf("%s holds no address (host:port,host:port,...)", name)
	}
	for _, a := range addrs {
		host, port, err := net.SplitHostPort(a)
		p, perr := strconv.Atoi(port)
		if err != nil || host == "" || perr != nil || p < 1 || p > 65535 {
			return nil, fmt.Errorf("%s: %q is not host:port", name, a)
		}
	}
	return addrs, nil
}
