package config

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/kudos-live/kudos/cmd/internal/kafkasec"
)

// KafkaSecurityFromEnv reads the Kafka TLS and SASL settings (README.md, "Kafka security"). It only parses;
// kafkasec.New checks the settings and loads the files when a process connects to Kafka. kudos-loyalty
// calls it too, so both commands read the same variables the same way.
func KafkaSecurityFromEnv(getenv func(string) string) (kafkasec.Settings, error) {
	s := kafkasec.Settings{
		CAFile:        strings.TrimSpace(getenv(kafkasec.EnvTLSCA)),
		CertFile:      strings.TrimSpace(getenv(kafkasec.EnvTLSCert)),
		KeyFile:       strings.TrimSpace(getenv(kafkasec.EnvTLSKey)),
		ServerName:    strings.TrimSpace(getenv(kafkasec.EnvTLSServerName)),
		SASLMechanism: strings.TrimSpace(getenv(kafkasec.EnvSASLMechanism)),
		SASLUsername:  getenv(kafkasec.EnvSASLUsername),
		SASLPassword:  getenv(kafkasec.EnvSASLPassword),
	}
	if v := strings.TrimSpace(getenv(kafkasec.EnvTLS)); v != "" {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return s, fmt.Errorf("%s must be 1 or 0 (true or false), not %q", kafkasec.EnvTLS, v)
		}
		s.TLS = on
	}
	return s, nil
}
