package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/kudos-live/kudos/internal/testenv"
)

// startServer runs the server in this process as a deployment would (a token secret, no Kafka, memory
// state), with extra settings on top; it stops when the test ends.
func startServer(t *testing.T, extra map[string]string) (*node, *testenv.Buffer) {
	t.Helper()
	env := map[string]string{
		"KUDOS_ADDR":               testenv.FreeAddr(t),
		"KUDOS_KAFKA_BROKERS":      "none",
		"KUDOS_SPOOL_DIR":          t.TempDir(),
		"KUDOS_TOKEN_SECRET":       testSecret,
		"KUDOS_MAX_CONNS_PER_IP":   "-1",
		"KUDOS_MAX_CONNS_PER_USER": "-1",
	}
	for k, v := range extra {
		env[k] = v
	}
	logs := &testenv.Buffer{}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, func(k string) string { return env[k] }, logs, logs) }()
	t.Cleanup(func() {
		stop()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("the server did not stop within 30 s")
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	n := &node{t: t, name: "in-process", base: "http://" + env["KUDOS_ADDR"], logs: logs}
	waitFor(t, func() bool {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("the server stopped while starting: %v", err)
		default:
		}
		return n.status("/readyz") == http.StatusOK
	})
	return n, logs
}

// TestRunRefusesSharedDeploymentWithoutSecret: with KUDOS_REDIS_URL or KUDOS_KAFKA_BROKERS set, a missing
// KUDOS_TOKEN_SECRET stops the start with an error naming it; no development mode, no guest tokens, no
// host URL in the log, nothing listening.
func TestRunRefusesSharedDeploymentWithoutSecret(t *testing.T) {
	for _, setting := range []string{"KUDOS_REDIS_URL=redis://127.0.0.1:1/0", "KUDOS_KAFKA_BROKERS=127.0.0.1:1"} {
		name, value, _ := strings.Cut(setting, "=")
		t.Run(name, func(t *testing.T) {
			addr := testenv.FreeAddr(t)
			env := map[string]string{"KUDOS_ADDR": addr, "KUDOS_SPOOL_DIR": t.TempDir(), "KUDOS_DEV_BROKER_ADDR": testenv.FreeAddr(t), name: value}
			logs := &testenv.Buffer{}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := run(ctx, nil, func(k string) string { return env[k] }, logs, logs)
			if ctx.Err() != nil {
				t.Fatalf("the server ran (in %s) until stopped instead of refusing to start; log:\n%s",
					map[bool]string{true: "DEVELOPMENT MODE", false: "production mode"}[strings.Contains(logs.String(), "DEVELOPMENT MODE")], logs)
			}
			if err == nil || !strings.Contains(err.Error(), "KUDOS_TOKEN_SECRET") || !strings.Contains(err.Error(), name) {
				t.Fatalf("run: %v; want an error naming KUDOS_TOKEN_SECRET and %s", err, name)
			}
			for _, leak := range []string{"DEVELOPMENT MODE", "host_url", "token="} {
				if strings.Contains(logs.String(), leak) {
					t.Fatalf("log shows %q:\n%s", leak, logs)
				}
			}
			if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				c.Close()
				t.Fatalf("something listens on %s", addr)
			}
		})
	}
}

// TestBinaryExitsWithoutSecret: the process itself exits non-zero and says why on stderr.
func TestBinaryExitsWithoutSecret(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kudosBinary(t))
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KUDOS_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "KUDOS_ADDR="+testenv.FreeAddr(t), "KUDOS_SPOOL_DIR="+t.TempDir(), "KUDOS_REDIS_URL=redis://127.0.0.1:1/0")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || ctx.Err() != nil {
		t.Fatalf("exit: %v (want status 1); output:\n%s", err, out)
	}
	if !strings.Contains(string(out), "kudos: KUDOS_TOKEN_SECRET is not set") {
		t.Fatalf("stderr does not name KUDOS_TOKEN_SECRET:\n%s", out)
	}
}

// TestTrickledBodyIsCut: a client that sends its headers and then trickles a body one byte every 100 ms
// (slowloris) is disconnected once the read timeout has passed, instead of holding a connection and a
// handler for as long as it likes.
func TestTrickledBodyIsCut(t *testing.T) {
	const readTimeout = time.Second
	n, _ := startServer(t, map[string]string{"KUDOS_HTTP_READ_TIMEOUT": readTimeout.String()})
	host := strings.TrimPrefix(n.base, "http://")
	conn, err := net.DialTimeout("tcp", host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	if _, err := fmt.Fprintf(conn, "POST /api/v1/tokens/guest HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 10000\r\n\r\n{", host); err != nil {
		t.Fatal(err)
	}
	closed := make(chan time.Duration, 1)
	go func() {
		_, _ = io.Copy(io.Discard, conn) // until the server closes the connection
		closed <- time.Since(start)
	}()
	bound := readTimeout + 4*time.Second
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for sent := 1; ; {
		select {
		case took := <-closed:
			t.Logf("read timeout %v: cut after %v and %d body bytes", readTimeout, took.Round(time.Millisecond), sent)
			return
		case <-tick.C:
			if time.Since(start) > bound {
				t.Fatalf("still connected after trickling %d body bytes over %v (read timeout %v)", sent, time.Since(start).Round(time.Millisecond), readTimeout)
			}
			if _, err := conn.Write([]byte{' '}); err == nil {
				sent++
			}
		}
	}
}

// TestSocketOutlivesHTTPTimeouts: the server's read, write and idle timeouts bound plain requests only; a
// WebSocket open longer than all of them still carries frames both ways.
func TestSocketOutlivesHTTPTimeouts(t *testing.T) {
	const timeout = time.Second
	n, _ := startServer(t, map[string]string{
		"KUDOS_HTTP_READ_HEADER_TIMEOUT": timeout.String(), "KUDOS_HTTP_READ_TIMEOUT": timeout.String(),
		"KUDOS_HTTP_WRITE_TIMEOUT": timeout.String(), "KUDOS_HTTP_IDLE_TIMEOUT": timeout.String(),
	})
	streamID := randomID("edge-")
	n.createStream(t, streamID)
	v := openViewer(t, n, streamID, mint(t, streamID+"-ann", "viewer", ""))
	eventually(t, "welcome", func() bool { return len(v.matching("welcome", nil)) == 1 })
	time.Sleep(3 * timeout) // past every server timeout
	v.send(t, "comment.send", "c1", map[string]any{"text": "still here"})
	eventually(t, "ack after the timeouts", func() bool { return v.reply("c1") != nil })
	if r := v.reply("c1"); r["type"] != "ack" {
		t.Fatalf("reply %v", r)
	}
}

// TestBodyLimitSetting: KUDOS_HTTP_MAX_BODY bounds request bodies (413 past it).
func TestBodyLimitSetting(t *testing.T) {
	n, _ := startServer(t, map[string]string{"KUDOS_HTTP_MAX_BODY": "1024"})
	streamID := randomID("edge-")
	body := `{"id":"` + streamID + `","title":"big"}` + strings.Repeat(" ", 2048)
	req, _ := http.NewRequest(http.MethodPost, n.base+"/api/v1/streams", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+mint(t, "host-"+streamID, "host", streamID))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("a %d-byte body with KUDOS_HTTP_MAX_BODY=1024: %s, want 413", len(body), res.Status)
	}
	n.createStream(t, streamID) // a small body still passes
}

// TestMetricsOnOwnAddress: with KUDOS_METRICS_ADDR the metrics are served there and the main listener
// answers /metrics with 404; without it they stay on the main listener.
func TestMetricsOnOwnAddress(t *testing.T) {
	get := func(url string) (int, string) {
		t.Helper()
		res, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	t.Run("own address", func(t *testing.T) {
		metricsAddr := testenv.FreeAddr(t)
		n, _ := startServer(t, map[string]string{"KUDOS_METRICS_ADDR": metricsAddr})
		if st, body := get("http://" + metricsAddr + "/metrics"); st != http.StatusOK || !strings.Contains(body, "go_goroutines") {
			t.Fatalf("metrics address: %d %.200s", st, body)
		}
		for _, path := range []string{"/metrics", "/metrics?format=text", "/%6Detrics"} {
			if st, body := get(n.base + path); st != http.StatusNotFound || strings.Contains(body, "go_goroutines") {
				t.Fatalf("main listener %s: %d %.200s, want 404", path, st, body)
			}
		}
		if st, _ := get("http://" + metricsAddr + "/healthz"); st != http.StatusNotFound {
			t.Fatalf("the metrics listener serves /healthz: %d", st)
		}
		if st, _ := get(n.base + "/healthz"); st != http.StatusOK {
			t.Fatalf("main /healthz: %d", st)
		}
		if st, _ := get("http://" + metricsAddr + "/debug/pprof/"); st != http.StatusNotFound {
			t.Fatalf("profiles without KUDOS_PPROF: %d, want 404", st)
		}
	})
	t.Run("profiles", func(t *testing.T) {
		metricsAddr := testenv.FreeAddr(t)
		n, _ := startServer(t, map[string]string{"KUDOS_METRICS_ADDR": metricsAddr, "KUDOS_PPROF": "1"})
		if st, body := get("http://" + metricsAddr + "/debug/pprof/goroutine?debug=1"); st != http.StatusOK || !strings.Contains(body, "goroutine profile") {
			t.Fatalf("goroutine profile on the metrics address: %d %.200s", st, body)
		}
		if st, body := get(n.base + "/debug/pprof/goroutine?debug=1"); st == http.StatusOK || strings.Contains(body, "goroutine profile") {
			t.Fatalf("the main listener serves profiles: %d %.200s", st, body)
		}
	})
	t.Run("default", func(t *testing.T) {
		n, _ := startServer(t, nil)
		if st, body := get(n.base + "/metrics"); st != http.StatusOK || !strings.Contains(body, "go_goroutines") {
			t.Fatalf("main listener /metrics: %d %.200s", st, body)
		}
	})
}

// TestJSONLogs: KUDOS_LOG_FORMAT=json writes one JSON object per line with the fixed keys; text stays text.
func TestJSONLogs(t *testing.T) {
	var buf bytes.Buffer
	newLogger("info", "json", &buf).Info("kudos listening", "addr", "127.0.0.1:8080", "node", "n1")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("json log line %q: %v", buf.String(), err)
	}
	if line["msg"] != "kudos listening" || line["addr"] != "127.0.0.1:8080" || line["level"] != "INFO" {
		t.Fatalf("json log line %v", line)
	}
	buf.Reset()
	newLogger("info", "text", &buf).Info("kudos listening", "addr", "x")
	if !strings.Contains(buf.String(), `msg="kudos listening" addr=x`) {
		t.Fatalf("text log line %q", buf.String())
	}
}
