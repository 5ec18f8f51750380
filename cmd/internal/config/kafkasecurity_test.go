package config

import (
	"strings"
	"testing"

	"github.com/kudos-live/kudos/cmd/internal/kafkasec"
)

func TestKafkaSecurityFromEnv(t *testing.T) {
	vars := map[string]string{
		"KUDOS_KAFKA_BROKERS":         "k1:9093",
		"KUDOS_TOKEN_SECRET":          "0123456789abcdef",
		"KUDOS_KAFKA_TLS":             "true",
		"KUDOS_KAFKA_TLS_CA":          " ca.pem ",
		"KUDOS_KAFKA_TLS_CERT":        "client.pem",
		"KUDOS_KAFKA_TLS_KEY":         "client.key",
		"KUDOS_KAFKA_TLS_SERVER_NAME": "kafka.internal",
		"KUDOS_KAFKA_SASL_MECHANISM":  "SCRAM-SHA-512",
		"KUDOS_KAFKA_SASL_USERNAME":   "kudos",
		"KUDOS_KAFKA_SASL_PASSWORD":   " pass word ", // kept as given: spaces may be part of a password
	}
	c, err := FromEnv(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	want := kafkasec.Settings{TLS: true, CAFile: "ca.pem", CertFile: "client.pem", KeyFile: "client.key", ServerName: "kafka.internal",
		SASLMechanism: "SCRAM-SHA-512", SASLUsername: "kudos", SASLPassword: " pass word "}
	if c.KafkaSecurity != want {
		t.Fatalf("KafkaSecurity %+v, want %+v", c.KafkaSecurity, want)
	}

	// Nothing set: nothing configured (plaintext).
	c, err = FromEnv(func(k string) string {
		return map[string]string{"KUDOS_KAFKA_BROKERS": "k1:9092", "KUDOS_TOKEN_SECRET": "0123456789abcdef"}[k]
	})
	if err != nil || c.KafkaSecurity.Configured() {
		t.Fatalf("no security settings: %+v, %v", c.KafkaSecurity, err)
	}

	vars["KUDOS_KAFKA_TLS"] = "yes"
	if _, err := FromEnv(func(k string) string { return vars[k] }); err == nil || !strings.Contains(err.Error(), "KUDOS_KAFKA_TLS") {
		t.Fatalf("KUDOS_KAFKA_TLS=yes: %v; want an error naming it", err)
	}

	// The embedded development broker is plaintext: security settings without KUDOS_KAFKA_BROKERS are refused.
	for _, name := range []string{"KUDOS_KAFKA_TLS", "KUDOS_KAFKA_SASL_MECHANISM", "KUDOS_KAFKA_SASL_PASSWORD"} {
		_, err := FromEnv(func(k string) string { return map[string]string{name: "1"}[k] })
		if err == nil || !strings.Contains(err.Error(), "KUDOS_KAFKA_BROKERS") {
			t.Fatalf("%s without brokers: %v; want an error naming KUDOS_KAFKA_BROKERS", name, err)
		}
	}
}
