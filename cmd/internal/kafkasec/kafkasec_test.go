package kafkasec

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/kudos-live/kudos/internal/testenv"
)

// pki is a CA made for a test, able to issue certificates, all written as PEM files in dir.
type pki struct {
	dir    string
	caFile string
	cert   *x509.Certificate
	key    *ecdsa.PrivateKey
}

func newPKI(t *testing.T, name string) *pki {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	p := &pki{dir: t.TempDir(), cert: cert, key: key}
	p.caFile = p.write(t, name+"-ca.pem", "CERTIFICATE", der)
	return p
}

func (p *pki) write(t *testing.T, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// client issues a client certificate and returns its certificate and key files.
func (p *pki) client(t *testing.T, name string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.cert, &key.PublicKey, p.key)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return p.write(t, name+".pem", "CERTIFICATE", der), p.write(t, name+".key", "PRIVATE KEY", pk)
}

func TestNothingSetIsPlaintext(t *testing.T) {
	sec, err := New(Settings{})
	if err != nil || sec != nil {
		t.Fatalf("New(nothing) = %v, %v; want nil, nil", sec, err)
	}
	if sec.String() != "plaintext" || sec.TLSConfig() != nil || sec.SASL() != nil {
		t.Fatalf("nil Security: %q %v %v", sec.String(), sec.TLSConfig(), sec.SASL())
	}
	tr := sec.Transport(&kafka.Transport{ClientID: "x"})
	if tr.TLS != nil || tr.SASL != nil || tr.ClientID != "x" {
		t.Fatalf("nil Security changed the transport: %+v", tr)
	}
	if d := sec.Dialer(nil); d != nil {
		t.Fatalf("nil Security made a dialer: %+v", d)
	}
	if err := sec.Check(context.Background(), []string{"127.0.0.1:1"}); err != nil {
		t.Fatalf("nil Security checked something: %v", err)
	}
}

// TestIncompleteSettingsAreRefused: every half-configured security is refused with the variable to fix, and
// never silently becomes plaintext; no message carries the password.
func TestIncompleteSettingsAreRefused(t *testing.T) {
	p := newPKI(t, "test")
	cert, key := p.client(t, "kudos")
	_, otherKey := p.client(t, "other")
	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const pw = "s3cret-password"
	scram := func(s Settings) Settings {
		s.SASLMechanism, s.SASLUsername, s.SASLPassword = "SCRAM-SHA-512", "kudos", pw
		return s
	}
	for _, c := range []struct {
		name string
		s    Settings
		want string
	}{
		{"CA without TLS", Settings{CAFile: p.caFile}, EnvTLS},
		{"client certificate without TLS", Settings{CertFile: cert, KeyFile: key}, EnvTLS},
		{"server name without TLS", Settings{ServerName: "kafka"}, EnvTLS},
		{"mechanism without password", Settings{SASLMechanism: "SCRAM-SHA-512", SASLUsername: "kudos"}, EnvSASLPassword},
		{"mechanism without user", Settings{SASLMechanism: "SCRAM-SHA-256", SASLPassword: pw}, EnvSASLUsername},
		{"password without mechanism", Settings{TLS: true, SASLUsername: "kudos", SASLPassword: pw}, EnvSASLMechanism},
		{"unknown mechanism", Settings{SASLMechanism: "GSSAPI", SASLUsername: "kudos", SASLPassword: pw}, EnvSASLMechanism},
		{"PLAIN without TLS", Settings{SASLMechanism: "PLAIN", SASLUsername: "kudos", SASLPassword: pw}, EnvTLS},
		{"CA file missing", scram(Settings{TLS: true, CAFile: filepath.Join(t.TempDir(), "none.pem")}), EnvTLSCA},
		{"CA file not PEM", scram(Settings{TLS: true, CAFile: garbage}), EnvTLSCA},
		{"certificate without key", scram(Settings{TLS: true, CAFile: p.caFile, CertFile: cert}), EnvTLSKey},
		{"key without certificate", scram(Settings{TLS: true, CAFile: p.caFile, KeyFile: key}), EnvTLSCert},
		{"key of another certificate", scram(Settings{TLS: true, CAFile: p.caFile, CertFile: cert, KeyFile: otherKey}), EnvTLSCert},
	} {
		t.Run(c.name, func(t *testing.T) {
			sec, err := New(c.s)
			if err == nil {
				t.Fatalf("New accepted it: %v", sec)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not name %s", err, c.want)
			}
			if strings.Contains(err.Error(), pw) {
				t.Fatalf("error %q shows the password", err)
			}
		})
	}
}

func TestCompleteSettings(t *testing.T) {
	p := newPKI(t, "test")
	cert, key := p.client(t, "kudos")
	for _, mech := range []string{"PLAIN", "scram-sha-256", "SCRAM-SHA-512"} {
		sec, err := New(Settings{TLS: true, CAFile: p.caFile, CertFile: cert, KeyFile: key, ServerName: "kafka.internal",
			SASLMechanism: mech, SASLUsername: "kudos", SASLPassword: "pw-123"})
		if err != nil {
			t.Fatalf("%s: %v", mech, err)
		}
		tc := sec.TLSConfig()
		if tc == nil || tc.RootCAs == nil || len(tc.Certificates) != 1 || tc.ServerName != "kafka.internal" || tc.MinVersion < 0x0303 {
			t.Fatalf("%s: TLS config %+v", mech, tc)
		}
		if got := sec.SASL().Name(); got != strings.ToUpper(mech) {
			t.Fatalf("SASL mechanism %q, want %q", got, strings.ToUpper(mech))
		}
		if s := sec.String(); strings.Contains(s, "pw-123") || !strings.Contains(s, strings.ToUpper(mech)) || !strings.Contains(s, p.caFile) {
			t.Fatalf("description %q", s)
		}
		tr := sec.Transport(&kafka.Transport{})
		d := sec.Dialer(nil)
		if tr.TLS != tc || tr.SASL != sec.SASL() || d.TLS != tc || d.SASLMechanism != sec.SASL() || d.Timeout == 0 {
			t.Fatalf("%s: transport %+v, dialer %+v do not carry the security", mech, tr, d)
		}
	}
	// TLS alone, with the system's roots: still TLS, never plaintext.
	sec, err := New(Settings{TLS: true})
	if err != nil || sec.TLSConfig() == nil || sec.TLSConfig().RootCAs != nil || sec.SASL() != nil {
		t.Fatalf("TLS only: %v, %v", sec, err)
	}
	// SCRAM without TLS is allowed (the password never crosses the wire).
	if sec, err := New(Settings{SASLMechanism: "SCRAM-SHA-512", SASLUsername: "u", SASLPassword: "p"}); err != nil || sec.TLSConfig() != nil || sec.SASL() == nil {
		t.Fatalf("SCRAM only: %v, %v", sec, err)
	}
}

// TestCheckAgainstTheSecureBroker runs Check and a metadata request through Transport against the real
// broker's SASL_SSL listener: each mechanism with the right settings is accepted, and each wrong setting is
// rejected as the configuration's fault (ErrRejected), not taken for an outage.
func TestCheckAgainstTheSecureBroker(t *testing.T) {
	k := testenv.KafkaSecureListener(t)
	good := Settings{TLS: true, CAFile: k.CA, CertFile: k.Cert, KeyFile: k.Key, SASLMechanism: "SCRAM-SHA-512", SASLUsername: k.User, SASLPassword: k.Password}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, mech := range []string{"SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"} {
		t.Run(mech, func(t *testing.T) {
			s := good
			s.SASLMechanism = mech
			sec, err := New(s)
			if err != nil {
				t.Fatal(err)
			}
			if err := sec.Check(ctx, k.Brokers); err != nil {
				t.Fatalf("Check: %v", err)
			}
			tr := sec.Transport(&kafka.Transport{})
			defer tr.CloseIdleConnections()
			client := &kafka.Client{Addr: kafka.TCP(k.Brokers...), Transport: tr}
			meta, err := client.Metadata(ctx, &kafka.MetadataRequest{})
			if err != nil || len(meta.Brokers) == 0 {
				t.Fatalf("metadata through the transport: %v, %+v", err, meta)
			}
		})
	}

	other := newPKI(t, "other")
	otherCert, otherKey := other.client(t, "kudos")
	for _, c := range []struct {
		name string
		edit func(*Settings)
	}{
		{"wrong password", func(s *Settings) { s.SASLPassword += "x" }},
		{"unknown user", func(s *Settings) { s.SASLUsername = "nobody" }},
		{"CA the broker does not chain to", func(s *Settings) { s.CAFile = other.caFile }},
		{"system CAs", func(s *Settings) { s.CAFile = "" }},
		{"server name not in the certificate", func(s *Settings) { s.ServerName = "kafka.example.com" }},
		{"no client certificate", func(s *Settings) { s.CertFile, s.KeyFile = "", "" }},
		{"client certificate of another CA", func(s *Settings) { s.CertFile, s.KeyFile = otherCert, otherKey }},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := good
			c.edit(&s)
			sec, err := New(s)
			if err != nil {
				t.Fatal(err)
			}
			err = sec.Check(ctx, k.Brokers)
			if !errors.Is(err, ErrRejected) {
				t.Fatalf("Check = %v; want ErrRejected", err)
			}
			if strings.Contains(err.Error(), k.Password) {
				t.Fatalf("error shows the password: %v", err)
			}
			t.Log(err)
		})
	}

	// Nothing listening: a network error, not a rejection (the sink then waits for Kafka, as without security).
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	sec, err := New(good)
	if err != nil {
		t.Fatal(err)
	}
	if err := sec.Check(ctx, []string{closed}); err == nil || errors.Is(err, ErrRejected) {
		t.Fatalf("Check on a closed port = %v; want a network error", err)
	}
}
