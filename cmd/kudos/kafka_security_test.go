package main

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
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kudos-live/kudos/internal/testenv"
)

// runRefused runs the server with env (over a clean environment: no KUDOS_* of the caller's) and wants it
// to exit with status 1 before listening; it returns the output.
func runRefused(t *testing.T, env ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	addr := testenv.FreeAddr(t)
	cmd := exec.CommandContext(ctx, kudosBinary(t))
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KUDOS_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "KUDOS_ADDR="+addr, "KUDOS_SPOOL_DIR="+t.TempDir(), "KUDOS_TOKEN_SECRET="+testSecret)
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || ctx.Err() != nil {
		t.Fatalf("exit: %v (want status 1); output:\n%s", err, out)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatalf("something listens on %s", addr)
	}
	return string(out)
}

// TestIncompleteKafkaSecurityRefusesStart: a half-configured TLS or SASL setting stops the server at start
// with the variable to fix, before any connection: never a silent fall back to plaintext.
func TestIncompleteKafkaSecurityRefusesStart(t *testing.T) {
	garbage := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(garbage, []byte("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Nothing listens on port 1: these must fail on the settings alone.
	const brokers = "KUDOS_KAFKA_BROKERS=127.0.0.1:1"
	for _, c := range []struct {
		name string
		env  []string
		want string
	}{
		{"mechanism without password", []string{brokers, "KUDOS_KAFKA_SASL_MECHANISM=SCRAM-SHA-512", "KUDOS_KAFKA_SASL_USERNAME=kudos"}, "KUDOS_KAFKA_SASL_PASSWORD"},
		{"unknown mechanism", []string{brokers, "KUDOS_KAFKA_SASL_MECHANISM=SCRAM-SHA-1", "KUDOS_KAFKA_SASL_USERNAME=kudos", "KUDOS_KAFKA_SASL_PASSWORD=pw"}, "KUDOS_KAFKA_SASL_MECHANISM"},
		{"CA that does not parse", []string{brokers, "KUDOS_KAFKA_TLS=1", "KUDOS_KAFKA_TLS_CA=" + garbage}, "KUDOS_KAFKA_TLS_CA"},
		{"certificate without key", []string{brokers, "KUDOS_KAFKA_TLS=1", "KUDOS_KAFKA_TLS_CERT=" + garbage}, "KUDOS_KAFKA_TLS_KEY"},
		{"CA without TLS", []string{brokers, "KUDOS_KAFKA_TLS_CA=" + garbage}, "KUDOS_KAFKA_TLS"},
		{"TLS not a boolean", []string{brokers, "KUDOS_KAFKA_TLS=yes please"}, "KUDOS_KAFKA_TLS"},
		{"security with the embedded broker", []string{"KUDOS_KAFKA_TLS=1"}, "KUDOS_KAFKA_BROKERS"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := runRefused(t, c.env...)
			if !strings.Contains(out, "kudos: ") || !strings.Contains(out, c.want) {
				t.Fatalf("output does not name %s:\n%s", c.want, out)
			}
		})
	}
}

// TestKafkaRejectionRefusesStart: against the broker's SASL_SSL listener, a wrong password, or a CA the
// broker's certificate does not chain to, stops the server at start with the broker's answer; the right
// settings start it (TestEventsEndToEndOverTLSAndSCRAM).
func TestKafkaRejectionRefusesStart(t *testing.T) {
	k := testenv.KafkaSecureListener(t)
	t.Run("wrong password", func(t *testing.T) {
		out := runRefused(t, append(k.Env(), "KUDOS_KAFKA_SASL_PASSWORD="+k.Password+"-wrong")...)
		for _, want := range []string{"KUDOS_KAFKA_SASL", "SASL Authentication Failed"} {
			if !strings.Contains(out, want) {
				t.Fatalf("output does not say %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, k.Password) {
			t.Fatalf("output shows the password:\n%s", out)
		}
	})
	t.Run("CA the broker does not chain to", func(t *testing.T) {
		out := runRefused(t, append(k.Env(), "KUDOS_KAFKA_TLS_CA="+otherCA(t))...)
		for _, want := range []string{"KUDOS_KAFKA_TLS", "certificate signed by unknown authority"} {
			if !strings.Contains(out, want) {
				t.Fatalf("output does not say %q:\n%s", want, out)
			}
		}
	})
}

// otherCA writes a CA certificate that signed nothing the broker has, and returns its file.
func otherCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "not the broker's CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "other-ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
