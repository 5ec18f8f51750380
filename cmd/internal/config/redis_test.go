package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRedisFromEnv(t *testing.T) {
	ok := []struct {
		name  string
		env   map[string]string
		check func(t *testing.T, r RedisSettings)
	}{
		{"none", nil, func(t *testing.T, r RedisSettings) {
			if r.Configured() || r.Topology() != "" {
				t.Errorf("%+v configured", r)
			}
		}},
		{"one instance", map[string]string{EnvRedisURL: "redis://r:6379/2", EnvRedisPassword: "pw", EnvRedisUsername: "kudos"}, func(t *testing.T, r RedisSettings) {
			if r.Topology() != RedisSingle || r.URL != "redis://r:6379/2" || r.Password != "pw" || r.Username != "kudos" || r.TLS {
				t.Errorf("%+v", r)
			}
		}},
		{"rediss is TLS", map[string]string{EnvRedisURL: "rediss://r:6380/0", EnvRedisTLSCA: "ca.pem"}, func(t *testing.T, r RedisSettings) {
			if !r.TLS || r.TLSCAFile != "ca.pem" {
				t.Errorf("%+v", r)
			}
		}},
		{"cluster", map[string]string{EnvRedisCluster: " a:7000, b:7001 ,c:7002", EnvRedisTLS: "1"}, func(t *testing.T, r RedisSettings) {
			if r.Topology() != RedisCluster || !slices.Equal(r.Cluster, []string{"a:7000", "b:7001", "c:7002"}) || !r.TLS {
				t.Errorf("%+v", r)
			}
		}},
		{"sentinel", map[string]string{EnvRedisSentinel: "mymaster@s1:26379,s2:26379", EnvRedisSentinelPassword: "spw"}, func(t *testing.T, r RedisSettings) {
			if r.Topology() != RedisSentinel || r.SentinelMaster != "mymaster" || !slices.Equal(r.Sentinels, []string{"s1:26379", "s2:26379"}) || r.SentinelPassword != "spw" {
				t.Errorf("%+v", r)
			}
		}},
	}
	for _, c := range ok {
		t.Run(c.name, func(t *testing.T) {
			r, err := RedisFromEnv(func(k string) string { return c.env[k] })
			if err != nil {
				t.Fatalf("RedisFromEnv: %v", err)
			}
			c.check(t, r)
		})
	}

	bad := []struct {
		name string
		env  map[string]string
		says []string // what the error must name
	}{
		{"two topologies", map[string]string{EnvRedisURL: "redis://r:6379/0", EnvRedisCluster: "a:1"}, []string{EnvRedisURL, EnvRedisCluster, "exactly one"}},
		{"three topologies", map[string]string{EnvRedisURL: "redis://r:6379/0", EnvRedisCluster: "a:1", EnvRedisSentinel: "m@s:2"}, []string{EnvRedisSentinel, "exactly one"}},
		{"bad URL", map[string]string{EnvRedisURL: "http://user:secret@r:6379"}, []string{EnvRedisURL, "redis://"}},
		{"password twice", map[string]string{EnvRedisURL: "redis://:secret@r:6379/0", EnvRedisPassword: "other"}, []string{EnvRedisURL, EnvRedisPassword}},
		{"cluster address without port", map[string]string{EnvRedisCluster: "a:7000,b"}, []string{EnvRedisCluster, `"b"`}},
		{"cluster bad port", map[string]string{EnvRedisCluster: "a:70000"}, []string{EnvRedisCluster, "host:port"}},
		{"cluster empty list", map[string]string{EnvRedisCluster: " , "}, []string{EnvRedisCluster, "no address"}},
		{"sentinel without master", map[string]string{EnvRedisSentinel: "s1:26379"}, []string{EnvRedisSentinel, "master@"}},
		{"sentinel empty master", map[string]string{EnvRedisSentinel: "@s1:26379"}, []string{EnvRedisSentinel, "master@"}},
		{"sentinel without addresses", map[string]string{EnvRedisSentinel: "m@"}, []string{EnvRedisSentinel, "no address"}},
		{"password without topology", map[string]string{EnvRedisPassword: "pw"}, []string{EnvRedisPassword, "no Redis topology"}},
		{"TLS without topology", map[string]string{EnvRedisTLS: "1"}, []string{EnvRedisTLS, "no Redis topology"}},
		{"TLS not a bool", map[string]string{EnvRedisCluster: "a:1", EnvRedisTLS: "yes please"}, []string{EnvRedisTLS}},
		{"CA without TLS", map[string]string{EnvRedisCluster: "a:1", EnvRedisTLSCA: "ca.pem"}, []string{EnvRedisTLSCA, EnvRedisTLS}},
		{"sentinel password without sentinel", map[string]string{EnvRedisCluster: "a:1", EnvRedisSentinelPassword: "x"}, []string{EnvRedisSentinelPassword, EnvRedisSentinel}},
		{"wait replicas not a number", map[string]string{EnvRedisSentinel: "m@s:1", EnvRedisWaitReplicas: "one"}, []string{EnvRedisWaitReplicas, `"one"`}},
		{"wait replicas negative", map[string]string{EnvRedisSentinel: "m@s:1", EnvRedisWaitReplicas: "-1"}, []string{EnvRedisWaitReplicas}},
		{"wait replicas too many", map[string]string{EnvRedisSentinel: "m@s:1", EnvRedisWaitReplicas: "17"}, []string{EnvRedisWaitReplicas}},
		{"wait timeout not a duration", map[string]string{EnvRedisSentinel: "m@s:1", EnvRedisWaitReplicas: "1", EnvRedisWaitTimeout: "500"}, []string{EnvRedisWaitTimeout, `"500"`}},
		{"wait timeout zero", map[string]string{EnvRedisSentinel: "m@s:1", EnvRedisWaitReplicas: "1", EnvRedisWaitTimeout: "0s"}, []string{EnvRedisWaitTimeout}},
		{"wait timeout too long", map[string]string{EnvRedisSentinel: "m@s:1", EnvRedisWaitReplicas: "1", EnvRedisWaitTimeout: "3s"}, []string{EnvRedisWaitTimeout, "2s"}},
		{"wait timeout without replicas", map[string]string{EnvRedisSentinel: "m@s:1", EnvRedisWaitTimeout: "1s"}, []string{EnvRedisWaitTimeout, EnvRedisWaitReplicas}},
		{"wait without topology", map[string]string{EnvRedisWaitReplicas: "1"}, []string{EnvRedisWaitReplicas, "no Redis topology"}},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			_, err := RedisFromEnv(func(k string) string { return c.env[k] })
			if err == nil {
				t.Fatalf("%v accepted", c.env)
			}
			for _, s := range c.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q quotes a password", err)
			}
		})
	}
}

// TestRedisTopologyNeedsSecret: every Redis topology is a deployment, so each one without a token secret
// is refused, naming the variable that was set.
func TestRedisTopologyNeedsSecret(t *testing.T) {
	for name, v := range map[string]string{EnvRedisURL: "redis://r:6379/0", EnvRedisCluster: "a:1,b:2", EnvRedisSentinel: "m@s:26379"} {
		env := map[string]string{name: v}
		_, err := FromEnv(func(k string) string { return env[k] })
		if err == nil || !strings.Contains(err.Error(), "KUDOS_TOKEN_SECRET is not set but "+name+" is") {
			t.Errorf("%s without a secret: err = %v", name, err)
		}
		env["KUDOS_TOKEN_SECRET"] = testSecret
		c, err := FromEnv(func(k string) string { return env[k] })
		if err != nil || c.DevMode() || !c.Redis.Configured() {
			t.Errorf("%s with a secret: dev mode %v, configured %v, err %v", name, c.DevMode(), c.Redis.Configured(), err)
		}
	}
}

// TestRedisWaitSettings: waiting for replicas is off by default, and KUDOS_REDIS_WAIT_REPLICAS and
// _TIMEOUT are read as given.
func TestRedisWaitSettings(t *testing.T) {
	r, err := RedisFromEnv(func(k string) string { return map[string]string{EnvRedisURL: "redis://r:6379/0"}[k] })
	if err != nil || r.WaitReplicas != 0 || r.WaitTimeout != DefaultRedisWaitTimeout {
		t.Fatalf("defaults: %+v, %v; want no replicas, %s", r, err, DefaultRedisWaitTimeout)
	}
	env := map[string]string{EnvRedisSentinel: "m@s:26379", EnvRedisWaitReplicas: "2", EnvRedisWaitTimeout: "250ms"}
	r, err = RedisFromEnv(func(k string) string { return env[k] })
	if err != nil || r.WaitReplicas != 2 || r.WaitTimeout != 250*time.Millisecond {
		t.Fatalf("set: %d replicas, %s, %v; want 2, 250ms", r.WaitReplicas, r.WaitTimeout, err)
	}
}
