package testenv

import (
	"strings"
	"testing"
)

// KafkaSecure is the broker's SASL_SSL listener that scripts/test.sh opens next to the plaintext one
// (scripts/kafka.sh, secure mode): TLS with a CA made for the run, client certificates required, SASL
// SCRAM-SHA-512, SCRAM-SHA-256 and PLAIN for one user.
type KafkaSecure struct {
	Brokers  []string // KUDOS_TEST_KAFKA_SECURE_BROKERS
	CA       string   // KUDOS_TEST_KAFKA_SECURE_CA: the CA file the broker's certificate chains to
	Cert     string   // KUDOS_TEST_KAFKA_SECURE_CERT: a client certificate the broker accepts
	Key      string   // KUDOS_TEST_KAFKA_SECURE_KEY: its key
	User     string   // KUDOS_TEST_KAFKA_SECURE_USER
	Password string   // KUDOS_TEST_KAFKA_SECURE_PASSWORD
}

// KafkaSecureListener returns the secure listener, skipping tb without it (failing under CI=true).
func KafkaSecureListener(tb testing.TB) KafkaSecure {
	tb.Helper()
	return KafkaSecure{
		Brokers:  strings.Split(Lookup(tb, "KUDOS_TEST_KAFKA_SECURE_BROKERS"), ","),
		CA:       Lookup(tb, "KUDOS_TEST_KAFKA_SECURE_CA"),
		Cert:     Lookup(tb, "KUDOS_TEST_KAFKA_SECURE_CERT"),
		Key:      Lookup(tb, "KUDOS_TEST_KAFKA_SECURE_KEY"),
		User:     Lookup(tb, "KUDOS_TEST_KAFKA_SECURE_USER"),
		Password: Lookup(tb, "KUDOS_TEST_KAFKA_SECURE_PASSWORD"),
	}
}

// Env is the listener as the server's KUDOS_KAFKA_* settings, SASL SCRAM-SHA-512, as KEY=value entries.
func (k KafkaSecure) Env() []string {
	return []string{
		"KUDOS_KAFKA_BROKERS=" + strings.Join(k.Brokers, ","),
		"KUDOS_KAFKA_TLS=1",
		"KUDOS_KAFKA_TLS_CA=" + k.CA,
		"KUDOS_KAFKA_TLS_CERT=" + k.Cert,
		"KUDOS_KAFKA_TLS_KEY=" + k.Key,
		"KUDOS_KAFKA_SASL_MECHANISM=SCRAM-SHA-512",
		"KUDOS_KAFKA_SASL_USERNAME=" + k.User,
		"KUDOS_KAFKA_SASL_PASSWORD=" + k.Password,
	}
}
