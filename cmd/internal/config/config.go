// Package config reads Kudos's settings from KUDOS_* environment variables. Only cmd/ reads the environment.
package config

import (
	"cmp"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kudos-live/kudos/cmd/internal/kafkasec"
	"github.com/kudos-live/kudos/engagement"
)

// Config is the server's settings (README.md, "Configuration").
type Config struct {
	Addr             string        // KUDOS_ADDR, default ":8080"
	PublicURL        string        // KUDOS_PUBLIC_URL, the base URL printed in logs; default from Addr
	RedisURL         string        // KUDOS_REDIS_URL; empty: in-memory state, single node
	Redis            RedisSettings // the Redis topology (redis.go): KUDOS_REDIS_URL, _CLUSTER or _SENTINEL; none: in-memory state
	KafkaBrokers     []string      // KUDOS_KAFKA_BROKERS; empty: embedded development broker; "none": spool only
	KafkaEmbedded    bool          // true when KUDOS_KAFKA_BROKERS is empty
	KafkaDisabled    bool          // true when KUDOS_KAFKA_BROKERS is "none"
	DevBrokerAddr    string        // KUDOS_DEV_BROKER_ADDR, default "127.0.0.1:9092"
	KafkaTopic       string        // KUDOS_KAFKA_TOPIC, default engagement.EventTopic
	SpoolDir         string        // KUDOS_SPOOL_DIR, default "<user cache dir>/kudos/spool"
	SpoolMaxBytes    int64         // KUDOS_SPOOL_MAX_BYTES (e.g. 4GiB); 0: eventsink.DefaultMaxBytes (1 GiB)
	TokenSecret      string        // KUDOS_TOKEN_SECRET; empty: development mode, refused with Redis or Kafka set
	CodeIndexKey     string        // KUDOS_CODE_INDEX_KEY; empty: derived from TokenSecret (CodeIndexSecret)
	AllowedOrigins   []string      // KUDOS_ALLOWED_ORIGINS, comma separated
	FrameAncestors   []string      // KUDOS_FRAME_ANCESTORS: origins that may frame /embed/* (frame.go)
	RulesPath        string        // KUDOS_RULES
	Node             string        // KUDOS_NODE, default "<host name>-<pid>-<random>": unique per process
	LogLevel         string        // KUDOS_LOG_LEVEL: debug, info (default), warn, error
	LogFormat        string        // KUDOS_LOG_FORMAT: text (default) or json (one object per line, for log pipelines)
	MaxConnsPerUser  int           // KUDOS_MAX_CONNS_PER_USER, default 5; -1 no limit
	MaxConnsPerIP    int           // KUDOS_MAX_CONNS_PER_IP, default 1000; -1 no limit
	NotifyDailyLimit int           // KUDOS_NOTIFY_DAILY_LIMIT: notifications per user per day, default 3
	QuietStart       time.Duration // KUDOS_QUIET_HOURS "22:00-08:00" (the default) or "off"
	QuietEnd         time.Duration
	NoQuietHours     bool
	TimeZone         *time.Location // KUDOS_TIME_ZONE, the business calendar (ledger months, the notification day, quiet hours); nil: Asia/Shanghai
	WriteDelay       time.Duration  // KUDOS_WRITE_DELAY: batch big streams' writes; 0 = the default (50ms), -1 = off

	// The HTTP server's edges. The timeouts bound plain requests only: a WebSocket is hijacked from the
	// server (which clears its deadlines) and keeps its own ping/pong and write deadlines in stream.
	HTTPReadHeaderTimeout time.Duration // KUDOS_HTTP_READ_HEADER_TIMEOUT, default DefaultHTTPReadHeaderTimeout
	HTTPReadTimeout       time.Duration // KUDOS_HTTP_READ_TIMEOUT: a request's headers and body, default DefaultHTTPReadTimeout
	HTTPWriteTimeout      time.Duration // KUDOS_HTTP_WRITE_TIMEOUT: handling and answering a request, default DefaultHTTPWriteTimeout
	HTTPIdleTimeout       time.Duration // KUDOS_HTTP_IDLE_TIMEOUT: a keep-alive connection between requests, default DefaultHTTPIdleTimeout
	HTTPMaxBodyBytes      int64         // KUDOS_HTTP_MAX_BODY: bytes of a request body, default DefaultHTTPMaxBodyBytes
	MetricsAddr           string        // KUDOS_METRICS_ADDR: serve /metrics there only; empty: on Addr
	Pprof                 bool          // KUDOS_PPROF=1: Go's profiles at /debug/pprof/ on MetricsAddr (required)

	StreamTTL       time.Duration // KUDOS_STREAM_TTL: a stream's hot state lives this long after its last write; 0 = the default (48h)
	StreamRetention time.Duration // KUDOS_STREAM_RETENTION: an ended stream's record, timeline and replay live this long; 0 = the default (720h, 30 days)
	TextRetention   time.Duration // KUDOS_TEXT_RETENTION: the names and text of a replay's comments live this long; 0 = the default (30 days)
	OmitEventText   bool          // KUDOS_EVENTS_TEXT=omit: events are published without personal text (engagement.EventTextFields)

	TokenMaxLifetime time.Duration // KUDOS_TOKEN_MAX_LIFETIME: longest token accepted; 0 = the default (24h), -1 = no limit
	TokenIssuer      string        // KUDOS_TOKEN_ISSUER: required iss, written into minted tokens
	TokenAudience    string        // KUDOS_TOKEN_AUDIENCE: required aud, written into minted tokens

	HandshakeRatePerUser  float64 // KUDOS_HANDSHAKE_RATE_PER_USER: sockets opened a second per user per node; 0 = the default (1), -1 = off
	HandshakeBurstPerUser int     // KUDOS_HANDSHAKE_BURST_PER_USER: and the burst; 0 = the default (10)
	HandshakeRatePerIP    float64 // KUDOS_HANDSHAKE_RATE_PER_IP: the same per remote address; 0 = the default (20), -1 = off
	HandshakeBurstPerIP   int     // KUDOS_HANDSHAKE_BURST_PER_IP: 0 = the default (KUDOS_MAX_CONNS_PER_IP)

	KafkaSecurity kafkasec.Settings // KUDOS_KAFKA_TLS*, KUDOS_KAFKA_SASL_* (KafkaSecurityFromEnv); kafkasec.New checks them
}

// The defaults of the HTTP server's edges (README.md, "Configuration").
const (
	// DefaultHTTPReadHeaderTimeout bounds the request line and headers: a slowloris sending headers slowly.
	DefaultHTTPReadHeaderTimeout = 10 * time.Second
	// DefaultHTTPReadTimeout bounds the whole request, body included: a client trickling a body byte by byte
	// is cut after this. API bodies are at most DefaultHTTPMaxBodyBytes, which even a poor mobile link sends
	// in a few seconds.
	DefaultHTTPReadTimeout = 30 * time.Second
	// DefaultHTTPWriteTimeout bounds handling a request and writing its answer, so a client that stops
	// reading cannot hold a handler and its connection.
	DefaultHTTPWriteTimeout = 30 * time.Second
	// DefaultHTTPIdleTimeout closes keep-alive connections idle this long.
	DefaultHTTPIdleTimeout = 120 * time.Second
	// DefaultHTTPMaxBodyBytes bounds every request body (the API's JSON bodies are far smaller).
	DefaultHTTPMaxBodyBytes = 64 << 10
)

// DevMode reports whether the server runs in development mode: no configured secret (a random one per
// process, guest tokens allowed) and neither Redis nor a real Kafka configured. FromEnv refuses a
// configuration that sets Redis or Kafka without a secret, so a shared deployment never lands here by accident.
func (c Config) DevMode() bool {
	return c.TokenSecret == "" && c.RedisURL == "" && !c.Redis.Configured() && c.KafkaEmbedded
}

// FromEnv reads the configuration from getenv (os.Getenv in main; a map in tests).
func FromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		Addr:          or(getenv("KUDOS_ADDR"), ":8080"),
		PublicURL:     getenv("KUDOS_PUBLIC_URL"),
		RedisURL:      getenv("KUDOS_REDIS_URL"),
		DevBrokerAddr: or(getenv("KUDOS_DEV_BROKER_ADDR"), "127.0.0.1:9092"),
		KafkaTopic:    or(getenv("KUDOS_KAFKA_TOPIC"), engagement.EventTopic),
		SpoolDir:      getenv("KUDOS_SPOOL_DIR"),
		TokenSecret:   getenv("KUDOS_TOKEN_SECRET"),
		CodeIndexKey:  getenv("KUDOS_CODE_INDEX_KEY"),
		RulesPath:     getenv("KUDOS_RULES"),
		Node:          getenv("KUDOS_NODE"),
		LogLevel:      or(getenv("KUDOS_LOG_LEVEL"), "info"),
		LogFormat:     or(getenv("KUDOS_LOG_FORMAT"), "text"),
	}
	switch b := strings.TrimSpace(getenv("KUDOS_KAFKA_BROKERS")); b {
	case "":
		c.KafkaEmbedded = true
		c.KafkaBrokers = []string{c.DevBrokerAddr}
	case "none":
		c.KafkaDisabled = true
	default:
		c.KafkaBrokers = splitList(b)
	}
	rs, err := RedisFromEnv(getenv)
	if err != nil {
		return c, err
	}
	c.Redis = rs
	sec, err := KafkaSecurityFromEnv(getenv)
	if err != nil {
		return c, err
	}
	if sec.Configured() && c.KafkaEmbedded {
		return c, fmt.Errorf("Kafka TLS or SASL is set (%s, %s, ...) but KUDOS_KAFKA_BROKERS is not: the embedded development broker speaks plaintext only; set KUDOS_KAFKA_BROKERS", kafkasec.EnvTLS, kafkasec.EnvSASLMechanism)
	}
	c.KafkaSecurity = sec
	if c.AllowedOrigins, err = allowedOrigins(getenv("KUDOS_ALLOWED_ORIGINS")); err != nil {
		return c, err
	}
	if c.FrameAncestors, err = frameAncestors(getenv("KUDOS_FRAME_ANCESTORS")); err != nil {
		return c, err
	}
	for _, n := range []struct {
		name string
		dst  *int
	}{{"KUDOS_MAX_CONNS_PER_USER", &c.MaxConnsPerUser}, {"KUDOS_MAX_CONNS_PER_IP", &c.MaxConnsPerIP}} {
		if v := getenv(n.name); v != "" {
			i, err := strconv.Atoi(v)
			if err != nil || i < -1 {
				return c, fmt.Errorf("%s must be a whole number (-1 for no limit), not %q", n.name, v)
			}
			*n.dst = i
		}
	}
	if v := getenv("KUDOS_NOTIFY_DAILY_LIMIT"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return c, fmt.Errorf("KUDOS_NOTIFY_DAILY_LIMIT must be a whole number of at least 1, not %q", v)
		}
		c.NotifyDailyLimit = n
	}
	if v := strings.TrimSpace(getenv("KUDOS_QUIET_HOURS")); v != "" {
		if v == "off" {
			c.NoQuietHours = true
		} else {
			from, to, ok := strings.Cut(v, "-")
			start, err1 := clockTime(from)
			end, err2 := clockTime(to)
			if !ok || err1 != nil || err2 != nil || start == end {
				return c, fmt.Errorf("KUDOS_QUIET_HOURS must be HH:MM-HH:MM (e.g. 22:00-08:00) or off, not %q", v)
			}
			c.QuietStart, c.QuietEnd = start, end
		}
	}
	if v := getenv("KUDOS_TIME_ZONE"); v != "" {
		loc, err := time.LoadLocation(v)
		if err != nil {
			return c, fmt.Errorf("KUDOS_TIME_ZONE %q: %w", v, err)
		}
		c.TimeZone = loc
	}
	if v := getenv("KUDOS_WRITE_DELAY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > time.Second {
			return c, fmt.Errorf("KUDOS_WRITE_DELAY must be a duration from 0 (off) to 1s, not %q", v)
		}
		c.WriteDelay = d
		if d == 0 {
			c.WriteDelay = -1 // explicitly off; the zero value means the stream package's default
		}
	}
	if err := c.readHTTP(getenv); err != nil {
		return c, err
	}
	if err := c.readLimits(getenv); err != nil {
		return c, err
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return c, fmt.Errorf("KUDOS_LOG_FORMAT must be text or json, not %q", c.LogFormat)
	}
	if c.TokenSecret != "" && len(c.TokenSecret) < 16 {
		return c, fmt.Errorf("KUDOS_TOKEN_SECRET must be at least 16 characters")
	}
	if c.CodeIndexKey != "" && len(c.CodeIndexKey) < 32 {
		return c, fmt.Errorf("KUDOS_CODE_INDEX_KEY must be at least 32 characters (for example: openssl rand -hex 32)")
	}
	if c.TokenSecret == "" && !c.DevMode() {
		// Development mode only on a laptop: a node sharing Redis or Kafka is a deployment, and a random
		// secret there means guest tokens for anyone and tokens that die with the process.
		set := "KUDOS_KAFKA_BROKERS"
		for _, name := range []string{EnvRedisURL, EnvRedisCluster, EnvRedisSentinel} {
			if getenv(name) != "" {
				set = name
			}
		}
		return c, fmt.Errorf("KUDOS_TOKEN_SECRET is not set but %s is: development mode (a random token secret, guest tokens) runs only with neither Redis (KUDOS_REDIS_URL, _CLUSTER, _SENTINEL) nor KUDOS_KAFKA_BROKERS; set KUDOS_TOKEN_SECRET (at least 16 characters, the same on every node)", set)
	}
	if c.Node == "" {
		c.Node = defaultNode()
	}
	if c.SpoolDir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		c.SpoolDir = filepath.Join(base, "kudos", "spool")
	}
	if c.PublicURL == "" {
		host := c.Addr
		if strings.HasPrefix(host, ":") {
			host = "127.0.0.1" + host
		}
		c.PublicURL = "http://" + host
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	return c, nil
}

// readHTTP reads the HTTP server's timeouts, body limit and metrics address.
// readLimits reads the storage lifetimes and the token and handshake settings.
func (c *Config) readLimits(getenv func(string) string) error {
	for _, d := range []struct {
		name string
		dst  *time.Duration
	}{{"KUDOS_STREAM_TTL", &c.StreamTTL}, {"KUDOS_STREAM_RETENTION", &c.StreamRetention}} {
		if v := strings.TrimSpace(getenv(d.name)); v != "" {
			t, err := time.ParseDuration(v)
			if err != nil || t <= 0 {
				return fmt.Errorf("%s must be a positive duration (e.g. 48h), not %q", d.name, v)
			}
			*d.dst = t
		}
	}
	if v := strings.TrimSpace(getenv("KUDOS_TEXT_RETENTION")); v != "" {
		t, err := engagement.ParseTextRetention(v)
		if err != nil {
			return fmt.Errorf("KUDOS_TEXT_RETENTION: %v", err)
		}
		// The live state (recent comments, the Q&A) keeps text for KUDOS_STREAM_TTL after the stream's last
		// write: a shorter text retention would be a promise that state does not keep.
		if ttl := cmp.Or(c.StreamTTL, engagement.DefaultStreamTTL); t < ttl {
			return fmt.Errorf("KUDOS_TEXT_RETENTION (%s) must be at least KUDOS_STREAM_TTL (%s): the live chat and Q&A keep text that long", t, ttl)
		}
		c.TextRetention = t
	}
	switch v := strings.TrimSpace(getenv("KUDOS_EVENTS_TEXT")); v {
	case "", "keep":
	case "omit":
		c.OmitEventText = true
	default:
		return fmt.Errorf("KUDOS_EVENTS_TEXT must be keep or omit, not %q", v)
	}
	if v := strings.TrimSpace(getenv("KUDOS_SPOOL_MAX_BYTES")); v != "" {
		n, err := parseSize(v)
		if err != nil || n < 16<<20 {
			return fmt.Errorf("KUDOS_SPOOL_MAX_BYTES must be a size of at least 16MiB (e.g. 4GiB, 512MiB or a number of bytes), not %q", v)
		}
		c.SpoolMaxBytes = n
	}
	c.TokenIssuer = strings.TrimSpace(getenv("KUDOS_TOKEN_ISSUER"))
	c.TokenAudience = strings.TrimSpace(getenv("KUDOS_TOKEN_AUDIENCE"))
	if v := strings.TrimSpace(getenv("KUDOS_TOKEN_MAX_LIFETIME")); v != "" {
		// Never longer than an erased user's mark lives (engagement.ErasedMarkTTL): a token minted before an
		// erasure must not outlive the mark that refuses it. -1 asks for that longest lifetime.
		if v == "-1" || v == "off" {
			c.TokenMaxLifetime = engagement.ErasedMarkTTL
		} else if d, err := time.ParseDuration(v); err != nil || d <= 0 || d > engagement.ErasedMarkTTL {
			return fmt.Errorf("KUDOS_TOKEN_MAX_LIFETIME must be a positive duration (e.g. 24h) up to %s (how long an erased user's mark refuses their tokens), or -1 for that longest, not %q", engagement.ErasedMarkTTL, v)
		} else {
			c.TokenMaxLifetime = d
		}
	}
	for _, r := range []struct {
		name string
		dst  *float64
	}{{"KUDOS_HANDSHAKE_RATE_PER_USER", &c.HandshakeRatePerUser}, {"KUDOS_HANDSHAKE_RATE_PER_IP", &c.HandshakeRatePerIP}} {
		if v := strings.TrimSpace(getenv(r.name)); v != "" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || (f <= 0 && f != -1) {
				return fmt.Errorf("%s must be a positive number of handshakes a second, or -1 for off, not %q", r.name, v)
			}
			*r.dst = f
		}
	}
	for _, b := range []struct {
		name string
		dst  *int
	}{{"KUDOS_HANDSHAKE_BURST_PER_USER", &c.HandshakeBurstPerUser}, {"KUDOS_HANDSHAKE_BURST_PER_IP", &c.HandshakeBurstPerIP}} {
		if v := strings.TrimSpace(getenv(b.name)); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return fmt.Errorf("%s must be a whole number of at least 1, not %q", b.name, v)
			}
			*b.dst = n
		}
	}
	return nil
}

func (c *Config) readHTTP(getenv func(string) string) error {
	c.MetricsAddr = strings.TrimSpace(getenv("KUDOS_METRICS_ADDR"))
	switch v := strings.TrimSpace(getenv("KUDOS_PPROF")); v {
	case "", "0", "false":
	case "1", "true":
		if c.MetricsAddr == "" {
			return errors.New("KUDOS_PPROF is set but KUDOS_METRICS_ADDR is not: the profiles are served only on the private metrics listener, never on the public one")
		}
		c.Pprof = true
	default:
		return fmt.Errorf("KUDOS_PPROF must be 1 or 0, not %q", v)
	}
	for _, d := range []struct {
		name string
		dst  *time.Duration
		def  time.Duration
	}{
		{"KUDOS_HTTP_READ_HEADER_TIMEOUT", &c.HTTPReadHeaderTimeout, DefaultHTTPReadHeaderTimeout},
		{"KUDOS_HTTP_READ_TIMEOUT", &c.HTTPReadTimeout, DefaultHTTPReadTimeout},
		{"KUDOS_HTTP_WRITE_TIMEOUT", &c.HTTPWriteTimeout, DefaultHTTPWriteTimeout},
		{"KUDOS_HTTP_IDLE_TIMEOUT", &c.HTTPIdleTimeout, DefaultHTTPIdleTimeout},
	} {
		*d.dst = d.def
		if v := getenv(d.name); v != "" {
			t, err := time.ParseDuration(v)
			if err != nil || t <= 0 {
				return fmt.Errorf("%s must be a positive duration (e.g. %s), not %q", d.name, d.def, v)
			}
			*d.dst = t
		}
	}
	if c.HTTPReadHeaderTimeout > c.HTTPReadTimeout {
		c.HTTPReadHeaderTimeout = c.HTTPReadTimeout // the whole request's bound covers its headers too
	}
	c.HTTPMaxBodyBytes = DefaultHTTPMaxBodyBytes
	if v := getenv("KUDOS_HTTP_MAX_BODY"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return fmt.Errorf("KUDOS_HTTP_MAX_BODY must be a whole number of bytes of at least 1, not %q", v)
		}
		c.HTTPMaxBodyBytes = n
	}
	return nil
}

// defaultNode names this process among the nodes: the host name, the process id and a random suffix, so
// that two processes on one host (or a restarted one whose predecessor's presence has not yet expired)
// never share presence entries.
func defaultNode() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "local"
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
	return fmt.Sprintf("%s-%d-%s", h, os.Getpid(), hex.EncodeToString(b))
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// clockTime parses "HH:MM" as a time of day.
func clockTime(s string) (time.Duration, error) {
	t, err := time.Parse("15:04", strings.TrimSpace(s))
	if err != nil {
		return 0, err
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
}

// CodeIndexSecret is the key of the coupon codes index (engagement.RedisConfig.CodeIndexKey): KUDOS_CODE_INDEX_KEY,
// or else one derived from KUDOS_TOKEN_SECRET (HMAC-SHA-256 of a fixed label), so that a deployment has its
// own key without another setting. Set KUDOS_CODE_INDEX_KEY before rotating the token secret: the index is
// keyed once, and a new key would not find the codes already claimed.
func (c Config) CodeIndexSecret() []byte {
	if c.CodeIndexKey != "" {
		return []byte(c.CodeIndexKey)
	}
	m := hmac.New(sha256.New, []byte(c.TokenSecret))
	m.Write([]byte("kudos/coupon-code-index/v1"))
	return m.Sum(nil)
}

// parseSize reads a size: a number of bytes, or a number with KiB, MiB, GiB or TiB.
func parseSize(v string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}}
	mult := int64(1)
	for _, u := range units {
		if n, ok := strings.CutSuffix(v, u.suffix); ok {
			v, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("not a size: %q", v)
	}
	return n * mult, nil
}
