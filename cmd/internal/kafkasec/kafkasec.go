// Package kafkasec is how every Kafka client of Kudos encrypts and authenticates: the event sink's writer
// and its admin requests (topic creation, the dead-letter topic), and the loyalty consumer's reader and
// client. It offers TLS (a CA file, optionally a client certificate and a server name) and SASL PLAIN,
// SCRAM-SHA-256 or SCRAM-SHA-512, through kafka-go's own packages.
//
// config reads the Settings from the KUDOS_KAFKA_TLS* and KUDOS_KAFKA_SASL_* variables; New checks them and
// loads the files once, refusing anything incomplete with the variable to fix, and the Security it returns
// gives every client the same TLS and SASL (Transport, Dialer). A nil *Security is plaintext: it is what New
// returns when nothing is configured, and only then.
package kafkasec

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// The variables the Settings come from (README.md, "Configuration"); errors name them.
const (
	EnvTLS           = "KUDOS_KAFKA_TLS"
	EnvTLSCA         = "KUDOS_KAFKA_TLS_CA"
	EnvTLSCert       = "KUDOS_KAFKA_TLS_CERT"
	EnvTLSKey        = "KUDOS_KAFKA_TLS_KEY"
	EnvTLSServerName = "KUDOS_KAFKA_TLS_SERVER_NAME"
	EnvSASLMechanism = "KUDOS_KAFKA_SASL_MECHANISM"
	EnvSASLUsername  = "KUDOS_KAFKA_SASL_USERNAME"
	EnvSASLPassword  = "KUDOS_KAFKA_SASL_PASSWORD"
)

// The SASL mechanisms, as Kafka names them.
const (
	MechanismPlain       = "PLAIN"
	MechanismSCRAMSHA256 = "SCRAM-SHA-256"
	MechanismSCRAMSHA512 = "SCRAM-SHA-512"
)

// Settings are the security settings as configured, before New checks them.
type Settings struct {
	TLS           bool   // KUDOS_KAFKA_TLS: connect with TLS
	CAFile        string // KUDOS_KAFKA_TLS_CA: PEM CA certificates the brokers' certificates chain to; empty: the system's roots
	CertFile      string // KUDOS_KAFKA_TLS_CERT: PEM client certificate, for brokers that require one; with KeyFile
	KeyFile       string // KUDOS_KAFKA_TLS_KEY: its PEM private key
	ServerName    string // KUDOS_KAFKA_TLS_SERVER_NAME: the name the brokers' certificates must carry; empty: the host dialled
	SASLMechanism string // KUDOS_KAFKA_SASL_MECHANISM: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; empty: no SASL
	SASLUsername  string // KUDOS_KAFKA_SASL_USERNAME
	SASLPassword  string // KUDOS_KAFKA_SASL_PASSWORD
}

// Configured reports whether any security setting is set: then New either returns a Security or fails,
// and never plaintext.
func (s Settings) Configured() bool {
	return s.TLS || s.CAFile != "" || s.CertFile != "" || s.KeyFile != "" || s.ServerName != "" ||
		s.SASLMechanism != "" || s.SASLUsername != "" || s.SASLPassword != ""
}

// Security is a checked configuration, shared by every Kafka client of the process.
type Security struct {
	tls  *tls.Config
	sasl sasl.Mechanism
	desc string
}

// New checks the settings and loads the CA and the client key pair. It returns nil (plaintext) when no
// setting is set, and an error naming the variable to fix for anything incomplete or unreadable: a TLS file
// without KUDOS_KAFKA_TLS, a CA file with no certificate in it, a certificate without its key or the other
// way round, an unknown mechanism, a mechanism without user name or password, a user name or password
// without mechanism, and PLAIN without TLS (it would send the password in clear).
func New(s Settings) (*Security, error) {
	if !s.Configured() {
		return nil, nil
	}
	sec := &Security{}
	var desc []string
	if !s.TLS {
		for _, f := range []struct{ name, v string }{{EnvTLSCA, s.CAFile}, {EnvTLSCert, s.CertFile}, {EnvTLSKey, s.KeyFile}, {EnvTLSServerName, s.ServerName}} {
			if f.v != "" {
				return nil, fmt.Errorf("%s is set but %s is not: set %s=1 to connect to Kafka with TLS", f.name, EnvTLS, EnvTLS)
			}
		}
	} else {
		cfg, d, err := tlsConfig(s)
		if err != nil {
			return nil, err
		}
		sec.tls = cfg
		desc = append(desc, d)
	}

	mech := strings.ToUpper(strings.TrimSpace(s.SASLMechanism))
	switch {
	case mech == "" && (s.SASLUsername != "" || s.SASLPassword != ""):
		set := EnvSASLUsername
		if s.SASLUsername == "" {
			set = EnvSASLPassword
		}
		return nil, fmt.Errorf("%s is set but %s is not: set it to %s, %s or %s", set, EnvSASLMechanism, MechanismPlain, MechanismSCRAMSHA256, MechanismSCRAMSHA512)
	case mech == "":
	case s.SASLUsername == "":
		return nil, fmt.Errorf("%s=%s needs %s", EnvSASLMechanism, mech, EnvSASLUsername)
	case s.SASLPassword == "":
		return nil, fmt.Errorf("%s=%s needs %s", EnvSASLMechanism, mech, EnvSASLPassword)
	default:
		var err error
		switch mech {
		case MechanismPlain:
			if sec.tls == nil {
				return nil, fmt.Errorf("%s=%s sends the password in clear: set %s=1 (or use %s)", EnvSASLMechanism, mech, EnvTLS, MechanismSCRAMSHA512)
			}
			sec.sasl = plain.Mechanism{Username: s.SASLUsername, Password: s.SASLPassword}
		case MechanismSCRAMSHA256:
			sec.sasl, err = scram.Mechanism(scram.SHA256, s.SASLUsername, s.SASLPassword)
		case MechanismSCRAMSHA512:
			sec.sasl, err = scram.Mechanism(scram.SHA512, s.SASLUsername, s.SASLPassword)
		default:
			return nil, fmt.Errorf("%s %q is not one of %s, %s, %s", EnvSASLMechanism, s.SASLMechanism, MechanismPlain, MechanismSCRAMSHA256, MechanismSCRAMSHA512)
		}
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %w", EnvSASLUsername, EnvSASLPassword, err)
		}
		desc = append(desc, "SASL "+mech+" as "+s.SASLUsername)
	}
	sec.desc = strings.Join(desc, ", ")
	return sec, nil
}

func tlsConfig(s Settings) (*tls.Config, string, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: s.ServerName}
	desc := "TLS"
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", EnvTLSCA, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, "", fmt.Errorf("%s: %s holds no PEM certificate", EnvTLSCA, s.CAFile)
		}
		cfg.RootCAs = pool
		desc += " (CA " + s.CAFile
	} else {
		desc += " (system CAs"
	}
	switch {
	case s.CertFile != "" && s.KeyFile == "":
		return nil, "", fmt.Errorf("%s is set but %s is not: a client certificate needs its key", EnvTLSCert, EnvTLSKey)
	case s.CertFile == "" && s.KeyFile != "":
		return nil, "", fmt.Errorf("%s is set but %s is not: a client key needs its certificate", EnvTLSKey, EnvTLSCert)
	case s.CertFile != "":
		pair, err := tls.LoadX509KeyPair(s.CertFile, s.KeyFile)
		if err != nil {
			return nil, "", fmt.Errorf("%s/%s: %w", EnvTLSCert, EnvTLSKey, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
		desc += ", client certificate " + s.CertFile
	}
	if s.ServerName != "" {
		desc += ", server name " + s.ServerName
	}
	return cfg, desc + ")", nil
}

// String describes the security for logs (never the password): "plaintext" for a nil Security.
func (s *Security) String() string {
	if s == nil {
		return "plaintext"
	}
	return s.desc
}

// TLSConfig is the TLS configuration every client uses; nil without TLS. Callers must not modify it.
func (s *Security) TLSConfig() *tls.Config {
	if s == nil {
		return nil
	}
	return s.tls
}

// SASL is the SASL mechanism every client uses; nil without SASL.
func (s *Security) SASL() sasl.Mechanism {
	if s == nil {
		return nil
	}
	return s.sasl
}

// Transport sets the security on t (for kafka.Writer and kafka.Client) and returns it. A nil Security
// leaves t as it is.
func (s *Security) Transport(t *kafka.Transport) *kafka.Transport {
	if s != nil {
		t.TLS, t.SASL = s.tls, s.sasl
	}
	return t
}

// Dialer sets the security on d (for kafka.Reader and kafka.Dial) and returns it; a nil d starts from
// kafka-go's default dialer settings. A nil Security leaves d as it is (nil: the reader's default).
func (s *Security) Dialer(d *kafka.Dialer) *kafka.Dialer {
	if s == nil {
		return d
	}
	if d == nil {
		d = &kafka.Dialer{Timeout: 10 * time.Second, DualStack: true}
	}
	d.TLS, d.SASLMechanism = s.tls, s.sasl
	return d
}

// ErrRejected marks a Check failure that is the configuration's fault, not the network's: the broker's
// certificate does not verify, the TLS handshake is refused, or SASL authentication fails.
var ErrRejected = errors.New("the Kafka broker refused this client's security settings")

// checkTimeout bounds Check: the dials, TLS handshakes and SASL exchanges of all the brokers tried.
const checkTimeout = 10 * time.Second

// Check connects to the brokers in turn with the security (TLS handshake and SASL authentication) until one
// accepts. An error that is the configuration's fault (see ErrRejected) wraps ErrRejected and is returned at
// once; otherwise the last network error is returned, after checkTimeout at most. A nil Security checks
// nothing.
func (s *Security) Check(ctx context.Context, brokers []string) error {
	if s == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	d := s.Dialer(&kafka.Dialer{Timeout: checkTimeout, DualStack: true, ClientID: "kudos"})
	var last error
	for _, b := range brokers {
		conn, err := d.DialContext(ctx, "tcp", b)
		if err == nil {
			// SASL is done inside the dial; with TLS only, a broker that wants a client certificate says so
			// on the first request (TLS 1.3 finishes the handshake before the broker checks it).
			_, err = conn.ApiVersions()
			conn.Close()
		}
		if err == nil {
			return nil
		}
		if rejected(err) {
			return fmt.Errorf("%w: %s with %s: %w", ErrRejected, b, s, err)
		}
		last = fmt.Errorf("%s: %w", b, err)
	}
	return last
}

// rejected tells a security failure from a network one.
func rejected(err error) bool {
	var (
		unknownCA *x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		verify    *tls.CertificateVerificationError
		record    tls.RecordHeaderError
		op        *net.OpError
	)
	switch {
	case errors.Is(err, kafka.SASLAuthenticationFailed), errors.Is(err, kafka.UnsupportedSASLMechanism),
		errors.Is(err, kafka.IllegalSASLState):
		return true
	case errors.As(err, &unknownCA), errors.As(err, &hostname), errors.As(err, &invalid), errors.As(err, &verify),
		errors.As(err, &record):
		return true
	case errors.As(err, &op) && op.Op == "remote error":
		// A TLS alert from the broker: it refused our certificate (or its absence) or the handshake.
		return true
	}
	return false
}
