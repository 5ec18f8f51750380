package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kudos-live/kudos/cmd/internal/kafkasec"
	"github.com/kudos-live/kudos/cmd/internal/loyalty"
	"github.com/kudos-live/kudos/internal/testenv"
)

// TestOnceOverTLSAndSCRAM: with the server's KUDOS_KAFKA_TLS* and KUDOS_KAFKA_SASL_* settings the command
// reads the topic through the broker's SASL_SSL listener (group join, offsets and fetches all go through it:
// the listener is the only address it is given); a wrong password stops it at once with the broker's answer.
func TestOnceOverTLSAndSCRAM(t *testing.T) {
	k := testenv.KafkaSecureListener(t)
	topic := fmt.Sprintf("kudos.test.loyalty-secure.%d", time.Now().UnixNano())
	produceLikes(t, testenv.KafkaBrokers(t), topic) // the same broker, through its plaintext listener
	vars := map[string]string{}
	for _, kv := range k.Env() {
		name, value, _ := strings.Cut(kv, "=")
		vars[name] = value
	}
	args := []string{"--log-level", "debug", "--once", "--json", "--from-beginning", "--topic", topic, "--group", "g-" + topic}

	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := run(ctx, args, env(vars), &out, &errOut); err != nil {
		t.Fatalf("run: %v\n%s", err, errOut.String())
	}
	var r loyalty.Report
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("printed %q: %v", out.String(), err)
	}
	if r.Events != 5 || r.Overall.Viewers != 3 {
		t.Fatalf("read %d events of %d viewers over TLS and SCRAM, want 5 of 3\n%s", r.Events, r.Overall.Viewers, errOut.String())
	}

	vars["KUDOS_KAFKA_SASL_PASSWORD"] = k.Password + "-wrong"
	out.Reset()
	start := time.Now()
	err := run(ctx, args, env(vars), &out, &errOut)
	if !errors.Is(err, kafkasec.ErrRejected) || !strings.Contains(err.Error(), "SASL Authentication Failed") {
		t.Fatalf("run with a wrong password: %v; want the broker's SASL rejection", err)
	}
	if time.Since(start) > 30*time.Second || out.Len() != 0 {
		t.Fatalf("a rejected run took %v and printed %q", time.Since(start), out.String())
	}

	// Settings that cannot work are refused before connecting, naming the variable.
	vars["KUDOS_KAFKA_SASL_PASSWORD"] = ""
	if err := run(ctx, args, env(vars), &out, &errOut); err == nil || !strings.Contains(err.Error(), kafkasec.EnvSASLPassword) {
		t.Fatalf("run without a password: %v; want an error naming %s", err, kafkasec.EnvSASLPassword)
	}
}
