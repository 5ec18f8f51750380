package config

import (
	"slices"
	"testing"
	"time"
)

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
		{"kafka none", map[string]string{"KUDOS_KAFKA_BROKERS": "none"}, false, func(t *testing.T, c Config) {
			if !c.KafkaDisabled || c.KafkaEmbedded || len(c.KafkaBrokers) != 0 {
				t.Fatalf("%+v", c)
			}
		}},
		{"brokers and origins lists", map[string]string{"KUDOS_KAFKA_BROKERS": "a:1, b:2,", "KUDOS_ALLOWED_ORIGINS": "https://shop.example"}, false, func(t *testing.T, c Config) {
			if !slices.Equal(c.KafkaBrokers, []string{"a:1", "b:2"}) || !slices.Equal(c.AllowedOrigins, []string{"https://shop.example"}) {
				t.Fatalf("%+v", c)
			}
		}},
		{"short secret", map[string]string{"KUDOS_TOKEN_SECRET": "short"}, true, nil},
		{"production secret", map[string]string{"KUDOS_TOKEN_SECRET": "0123456789abcdef"}, false, func(t *testing.T, c Config) {
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
