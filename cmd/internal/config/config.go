// Package config reads Kudos's settings from KUDOS_* environment variables. Only cmd/ reads the environment.
package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kudos-live/kudos/engagement"
)

// Config is the server's settings (README.md, "Configuration").
type Config struct {
	Addr             string        // KUDOS_ADDR, default ":8080"
	PublicURL        string        // KUDOS_PUBLIC_URL, the base URL printed in logs; default from Addr
	RedisURL         string        // KUDOS_REDIS_URL; empty: in-memory state, single node
	KafkaBrokers     []string      // KUDOS_KAFKA_BROKERS; empty: embedded development broker; "none": spool only
	KafkaEmbedded    bool          // true when KUDOS_KAFKA_BROKERS is empty
	KafkaDisabled    bool          // true when KUDOS_KAFKA_BROKERS is "none"
	DevBrokerAddr    string        // KUDOS_DEV_BROKER_ADDR, default "127.0.0.1:9092"
	KafkaTopic       string        // KUDOS_KAFKA_TOPIC, default engagement.EventTopic
	SpoolDir         string        // KUDOS_SPOOL_DIR, default "<user cache dir>/kudos/spool"
	TokenSecret      string        // KUDOS_TOKEN_SECRET; empty: development mode
	AllowedOrigins   []string      // KUDOS_ALLOWED_ORIGINS, comma separated
	RulesPath        string        // KUDOS_RULES
	Node             string        // KUDOS_NODE, default the host name
	LogLevel         string        // KUDOS_LOG_LEVEL: debug, info (default), warn, error
	MaxConnsPerUser  int           // KUDOS_MAX_CONNS_PER_USER, default 5; -1 no limit
	MaxConnsPerIP    int           // KUDOS_MAX_CONNS_PER_IP, default 1000; -1 no limit
	NotifyDailyLimit int           // KUDOS_NOTIFY_DAILY_LIMIT: notifications per user per day, default 3
	QuietStart       time.Duration // KUDOS_QUIET_HOURS "22:00-08:00" (the default) or "off"
	QuietEnd         time.Duration
	NoQuietHours     bool
	TimeZone         *time.Location // KUDOS_TIME_ZONE of the quiet hours, default Asia/Shanghai
	WriteDelay       time.Duration  // KUDOS_WRITE_DELAY: batch big streams' writes; 0 = the default (50ms), -1 = off
}

// DevMode reports whether the server runs without a configured secret: random secret, guest tokens allowed.
func (c Config) DevMode() bool { return c.TokenSecret == "" }

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
		RulesPath:     getenv("KUDOS_RULES"),
		Node:          getenv("KUDOS_NODE"),
		LogLevel:      or(getenv("KUDOS_LOG_LEVEL"), "info"),
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
	c.AllowedOrigins = splitList(getenv("KUDOS_ALLOWED_ORIGINS"))
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
	if c.TokenSecret != "" && len(c.TokenSecret) < 16 {
		return c, fmt.Errorf("KUDOS_TOKEN_SECRET must be at least 16 characters")
	}
	if c.Node == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "local"
		}
		c.Node = h
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
