package config

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kudos-live/kudos/engagement"
)

const testSecret = "0123456789abcdef"

func TestFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr bool
		check   func(t *testing.T, c Config)
	}{
		{"embedded defaults", nil, false, func(t *testing.T, c Config) {
			if c.Addr != ":8080" || !c.KafkaEmbedded || !c.DevMode() || c.RedisURL != "" || c.KafkaTopic != "kudos.events" {
				t.Fatalf("defaults: %+v", c)
			}
			if !slices.Equal(c.KafkaBrokers, []string{"127.0.0.1:9092"}) || c.PublicURL != "http://127.0.0.1:8080" || c.SpoolDir == "" {
				t.Fatalf("defaults: %+v", c)
			}
		}},
		{"kafka none", map[string]string{"KUDOS_KAFKA_BROKERS": "none", "KUDOS_TOKEN_SECRET": testSecret}, false, func(t *testing.T, c Config) {
			if !c.KafkaDisabled || c.KafkaEmbedded || len(c.KafkaBrokers) != 0 {
				t.Fatalf("%+v", c)
			}
		}},
		{"brokers and origins lists", map[string]string{"KUDOS_KAFKA_BROKERS": "a:1, b:2,", "KUDOS_ALLOWED_ORIGINS": "https://shop.example", "KUDOS_TOKEN_SECRET": testSecret}, false, func(t *testing.T, c Config) {
			if !slices.Equal(c.KafkaBrokers, []string{"a:1", "b:2"}) || !slices.Equal(c.AllowedOrigins, []string{"https://shop.example"}) {
				t.Fatalf("%+v", c)
			}
		}},
		{"short secret", map[string]string{"KUDOS_TOKEN_SECRET": "short"}, true, nil},
		{"short code index key", map[string]string{"KUDOS_TOKEN_SECRET": testSecret, "KUDOS_CODE_INDEX_KEY": "too-short"}, true, nil},
		{"code index key derived per deployment", map[string]string{"KUDOS_TOKEN_SECRET": testSecret}, false, func(t *testing.T, c Config) {
			other := c
			other.TokenSecret = testSecret + "-other"
			if k := c.CodeIndexSecret(); len(k) != 32 || string(k) == string(other.CodeIndexSecret()) || string(k) == string(engagement.DevCodeIndexKey) {
				t.Fatalf("derived code index key %x: want 32 bytes, different per token secret and from the development key", k)
			}
		}},
		{"code index key given", map[string]string{"KUDOS_TOKEN_SECRET": testSecret, "KUDOS_CODE_INDEX_KEY": strings.Repeat("k", 32)}, false, func(t *testing.T, c Config) {
			if string(c.CodeIndexSecret()) != strings.Repeat("k", 32) {
				t.Fatalf("code index key %q, want KUDOS_CODE_INDEX_KEY", c.CodeIndexSecret())
			}
		}},
		{"production secret", map[string]string{"KUDOS_TOKEN_SECRET": testSecret}, false, func(t *testing.T, c Config) {
			if c.DevMode() {
				t.Fatal("a configured secret must leave development mode")
			}
		}},
		{"connection limits", map[string]string{"KUDOS_MAX_CONNS_PER_USER": "3", "KUDOS_MAX_CONNS_PER_IP": "-1"}, false, func(t *testing.T, c Config) {
			if c.MaxConnsPerUser != 3 || c.MaxConnsPerIP != -1 {
				t.Fatalf("%+v", c)
			}
		}},
		{"bad limit", map[string]string{"KUDOS_MAX_CONNS_PER_IP": "many"}, true, nil},
		{"write delay", map[string]string{"KUDOS_WRITE_DELAY": "20ms"}, false, func(t *testing.T, c Config) {
			if c.WriteDelay != 20*time.Millisecond {
				t.Fatalf("%v", c.WriteDelay)
			}
		}},
		{"write delay off", map[string]string{"KUDOS_WRITE_DELAY": "0"}, false, func(t *testing.T, c Config) {
			if c.WriteDelay >= 0 {
				t.Fatalf("0 must turn the delay off (negative), got %v", c.WriteDelay)
			}
		}},
		{"bad write delay", map[string]string{"KUDOS_WRITE_DELAY": "5s"}, true, nil},
		{"notifications", map[string]string{"KUDOS_NOTIFY_DAILY_LIMIT": "5", "KUDOS_QUIET_HOURS": "23:30-07:00", "KUDOS_TIME_ZONE": "UTC"}, false, func(t *testing.T, c Config) {
			if c.NotifyDailyLimit != 5 || c.QuietStart != 23*time.Hour+30*time.Minute || c.QuietEnd != 7*time.Hour || c.TimeZone != time.UTC || c.NoQuietHours {
				t.Fatalf("%+v", c)
			}
		}},
		{"quiet hours off", map[string]string{"KUDOS_QUIET_HOURS": "off"}, false, func(t *testing.T, c Config) {
			if !c.NoQuietHours {
				t.Fatal("off must turn quiet hours off")
			}
		}},
		{"bad quiet hours", map[string]string{"KUDOS_QUIET_HOURS": "late"}, true, nil},
		{"bad time zone", map[string]string{"KUDOS_TIME_ZONE": "Mars/Olympus"}, true, nil},
		{"bad daily limit", map[string]string{"KUDOS_NOTIFY_DAILY_LIMIT": "0"}, true, nil},
		{"http defaults", nil, false, func(t *testing.T, c Config) {
			if c.HTTPReadHeaderTimeout != DefaultHTTPReadHeaderTimeout || c.HTTPReadTimeout != DefaultHTTPReadTimeout ||
				c.HTTPWriteTimeout != DefaultHTTPWriteTimeout || c.HTTPIdleTimeout != DefaultHTTPIdleTimeout ||
				c.HTTPMaxBodyBytes != DefaultHTTPMaxBodyBytes || c.MetricsAddr != "" {
				t.Fatalf("%+v", c)
			}
			if c.HTTPReadTimeout <= 0 || c.HTTPWriteTimeout <= 0 || c.HTTPIdleTimeout <= 0 || c.HTTPReadHeaderTimeout <= 0 {
				t.Fatal("every HTTP timeout must be on by default")
			}
		}},
		{"http settings", map[string]string{
			"KUDOS_HTTP_READ_HEADER_TIMEOUT": "2s", "KUDOS_HTTP_READ_TIMEOUT": "5s", "KUDOS_HTTP_WRITE_TIMEOUT": "7s",
			"KUDOS_HTTP_IDLE_TIMEOUT": "1m", "KUDOS_HTTP_MAX_BODY": "1024", "KUDOS_METRICS_ADDR": "127.0.0.1:9091",
		}, false, func(t *testing.T, c Config) {
			if c.HTTPReadHeaderTimeout != 2*time.Second || c.HTTPReadTimeout != 5*time.Second || c.HTTPWriteTimeout != 7*time.Second ||
				c.HTTPIdleTimeout != time.Minute || c.HTTPMaxBodyBytes != 1024 || c.MetricsAddr != "127.0.0.1:9091" {
				t.Fatalf("%+v", c)
			}
		}},
		{"header timeout within read timeout", map[string]string{"KUDOS_HTTP_READ_TIMEOUT": "1s"}, false, func(t *testing.T, c Config) {
			if c.HTTPReadHeaderTimeout != time.Second {
				t.Fatalf("header timeout %v exceeds the whole request's 1s", c.HTTPReadHeaderTimeout)
			}
		}},
		{"zero read timeout", map[string]string{"KUDOS_HTTP_READ_TIMEOUT": "0"}, true, nil},
		{"bad write timeout", map[string]string{"KUDOS_HTTP_WRITE_TIMEOUT": "soon"}, true, nil},
		{"bad idle timeout", map[string]string{"KUDOS_HTTP_IDLE_TIMEOUT": "-1s"}, true, nil},
		{"bad body limit", map[string]string{"KUDOS_HTTP_MAX_BODY": "0"}, true, nil},
		{"profiles on the metrics listener", map[string]string{"KUDOS_PPROF": "1", "KUDOS_METRICS_ADDR": "127.0.0.1:9091"}, false, func(t *testing.T, c Config) {
			if !c.Pprof {
				t.Fatal("KUDOS_PPROF=1 not read")
			}
		}},
		{"profiles without a private listener", map[string]string{"KUDOS_PPROF": "1"}, true, nil},
		{"profiles not a switch", map[string]string{"KUDOS_PPROF": "yes", "KUDOS_METRICS_ADDR": "127.0.0.1:9091"}, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := FromEnv(func(k string) string { return tt.env[k] })
			if tt.wantErr {
				if err == nil {
					t.Fatal("want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

// TestNoAccidentalDevelopmentMode: a server configured with Redis or Kafka but no token secret is a
// deployment missing its secret, not a laptop; it must refuse to start and name the variable, rather than
// hand out guest tokens and sign with a random secret.
func TestNoAccidentalDevelopmentMode(t *testing.T) {
	for _, env := range []map[string]string{
		{"KUDOS_REDIS_URL": "redis://redis:6379/0"},
		{"KUDOS_KAFKA_BROKERS": "kafka:9092"},
		{"KUDOS_KAFKA_BROKERS": "none"},
		{"KUDOS_REDIS_URL": "redis://redis:6379/0", "KUDOS_KAFKA_BROKERS": "kafka:9092"},
	} {
		c, err := FromEnv(func(k string) string { return env[k] })
		if err == nil {
			t.Fatalf("%v without KUDOS_TOKEN_SECRET started (dev mode %v); it must refuse", env, c.DevMode())
		}
		if !strings.Contains(err.Error(), "KUDOS_TOKEN_SECRET") {
			t.Fatalf("%v: the error does not name KUDOS_TOKEN_SECRET: %v", env, err)
		}
		env["KUDOS_TOKEN_SECRET"] = testSecret
		if c, err = FromEnv(func(k string) string { return env[k] }); err != nil || c.DevMode() {
			t.Fatalf("%v with a secret: dev mode %v, err %v", env, c.DevMode(), err)
		}
	}
	c, err := FromEnv(func(string) string { return "" })
	if err != nil || !c.DevMode() {
		t.Fatalf("neither set: want development mode, got %v, %v", c.DevMode(), err)
	}
	// A Config built by hand with Redis and no secret is not development mode either.
	if (Config{RedisURL: "redis://x:6379/0", KafkaEmbedded: true}).DevMode() {
		t.Fatal("DevMode with Redis configured")
	}
}

// TestDefaultNodeUniquePerProcess: two processes on one host must not share presence entries, so the
// default node name carries the host name and something unique to the process; KUDOS_NODE still sets it.
func TestDefaultNodeUniquePerProcess(t *testing.T) {
	a, errA := FromEnv(func(string) string { return "" })
	b, errB := FromEnv(func(string) string { return "" })
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if a.Node == b.Node {
		t.Fatalf("two default configurations share the node name %q", a.Node)
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "local"
	}
	for _, n := range []string{a.Node, b.Node} {
		if !strings.HasPrefix(n, host+"-") || !strings.Contains(n, fmt.Sprintf("-%d-", os.Getpid())) {
			t.Fatalf("default node %q is not the host name %q, the process id and a random part", n, host)
		}
	}
	c, err := FromEnv(func(k string) string { return map[string]string{"KUDOS_NODE": "kudos-a"}[k] })
	if err != nil || c.Node != "kudos-a" {
		t.Fatalf("KUDOS_NODE: %q, %v", c.Node, err)
	}
}

func TestTokenAndHandshakeSettings(t *testing.T) {
	env := map[string]string{
		"KUDOS_TOKEN_MAX_LIFETIME":       "2h",
		"KUDOS_TOKEN_ISSUER":             "https://shop.example",
		"KUDOS_TOKEN_AUDIENCE":           "kudos",
		"KUDOS_HANDSHAKE_RATE_PER_USER":  "0.5",
		"KUDOS_HANDSHAKE_BURST_PER_USER": "4",
		"KUDOS_HANDSHAKE_RATE_PER_IP":    "-1",
		"KUDOS_STREAM_TTL":               "24h",
		"KUDOS_STREAM_RETENTION":         "168h",
		"KUDOS_TEXT_RETENTION":           "7d",
		"KUDOS_EVENTS_TEXT":              "omit",
	}
	c, err := FromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.TokenMaxLifetime != 2*time.Hour || c.TokenIssuer != "https://shop.example" || c.TokenAudience != "kudos" ||
		c.HandshakeRatePerUser != 0.5 || c.HandshakeBurstPerUser != 4 || c.HandshakeRatePerIP != -1 || c.HandshakeBurstPerIP != 0 ||
		c.StreamTTL != 24*time.Hour || c.StreamRetention != 7*24*time.Hour || c.TextRetention != 7*24*time.Hour || !c.OmitEventText {
		t.Fatalf("config %+v", c)
	}
	if c, err := FromEnv(func(k string) string { return map[string]string{"KUDOS_TOKEN_MAX_LIFETIME": "-1"}[k] }); err != nil || c.TokenMaxLifetime != engagement.ErasedMarkTTL {
		t.Fatalf("KUDOS_TOKEN_MAX_LIFETIME=-1: %v, %v; want the erased mark's lifetime", c.TokenMaxLifetime, err)
	}
	for _, bad := range []map[string]string{
		{"KUDOS_TOKEN_MAX_LIFETIME": "forever"},
		{"KUDOS_TOKEN_MAX_LIFETIME": "9601h"}, // longer than an erased user's mark refuses their tokens
		{"KUDOS_SPOOL_MAX_BYTES": "1MiB"},     // under 16 MiB
		{"KUDOS_SPOOL_MAX_BYTES": "lots"},
		{"KUDOS_SPOOL_MAX_BYTES": "-5GiB"},
		{"KUDOS_HANDSHAKE_RATE_PER_USER": "0"},
		{"KUDOS_HANDSHAKE_BURST_PER_IP": "-3"},
		{"KUDOS_STREAM_RETENTION": "a month"},
		{"KUDOS_TEXT_RETENTION": "a month"},
		{"KUDOS_TEXT_RETENTION": "0d"},
		{"KUDOS_TEXT_RETENTION": "12h"}, // shorter than the default KUDOS_STREAM_TTL
		{"KUDOS_TEXT_RETENTION": "30h", "KUDOS_STREAM_TTL": "36h"},
		{"KUDOS_EVENTS_TEXT": "drop"},
		{"KUDOS_LOG_FORMAT": "xml"},
	} {
		if _, err := FromEnv(func(k string) string { return bad[k] }); err == nil {
			t.Errorf("%v accepted, want an error naming the variable", bad)
		}
	}
}

// TestSpoolMaxBytes: KUDOS_SPOOL_MAX_BYTES takes bytes or KiB/MiB/GiB/TiB; unset leaves the sink's default.
func TestSpoolMaxBytes(t *testing.T) {
	for v, want := range map[string]int64{"": 0, "4GiB": 4 << 30, "512MiB": 512 << 20, "16777216": 16 << 20, "1TiB": 1 << 40} {
		c, err := FromEnv(func(k string) string { return map[string]string{"KUDOS_SPOOL_MAX_BYTES": v}[k] })
		if err != nil || c.SpoolMaxBytes != want {
			t.Errorf("KUDOS_SPOOL_MAX_BYTES=%q: %d, %v; want %d", v, c.SpoolMaxBytes, err, want)
		}
	}
}
