// Package deploy holds the shipped deployment files; its tests hold nginx.conf to what the README promises.
package deploy

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kudos-live/kudos/internal/testenv"
)

// queryVars are the nginx variables that carry a request's query string (and so a `?token=`).
var queryVars = regexp.MustCompile(`\$(request|request_uri|args|query_string|is_args|arg_\w+|http_referer)\b`)

// directives returns nginx.conf's directives without comments, one per entry, whitespace collapsed.
func directives(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	var code strings.Builder
	for _, line := range strings.Split(string(b), "\n") {
		line, _, _ = strings.Cut(line, "#") // the config has no '#' inside strings
		code.WriteString(line + "\n")
	}
	var out []string
	for _, d := range regexp.MustCompile(`[;{}]`).Split(code.String(), -1) {
		if d = strings.Join(strings.Fields(d), " "); d != "" {
			out = append(out, d)
		}
	}
	return out
}

// TestNginxConfigLogsNoQueryAndLimitsAddresses reads deploy/nginx.conf: the access log uses a format without
// the query string, nothing else logs requests in full, and connections and requests are limited per client
// address by zones that the server uses.
func TestNginxConfigLogsNoQueryAndLimitsAddresses(t *testing.T) {
	formats := map[string]string{}
	var accessLogs, errorLogs []string
	zones := map[string]string{} // zone name → limit_conn or limit_req
	used := map[string]bool{}
	for _, d := range directives(t) {
		f := strings.Fields(d)
		switch f[0] {
		case "log_format":
			formats[f[1]] = strings.Join(f[2:], " ")
		case "access_log":
			accessLogs = append(accessLogs, d)
		case "error_log":
			errorLogs = append(errorLogs, d)
		case "limit_conn_zone", "limit_req_zone":
			for _, a := range f[1:] {
				if name, ok := strings.CutPrefix(a, "zone="); ok {
					name, _, _ = strings.Cut(name, ":")
					zones[name] = strings.TrimSuffix(f[0], "_zone")
				}
			}
			if f[1] != "$binary_remote_addr" && f[1] != "$remote_addr" {
				t.Errorf("%s is not keyed by the client address: %s", f[0], d)
			}
		case "limit_conn":
			used["limit_conn "+f[1]] = true
		case "limit_req":
			for _, a := range f[1:] {
				if name, ok := strings.CutPrefix(a, "zone="); ok {
					used["limit_req "+name] = true
				}
			}
		}
	}
	// Without an access_log directive nginx logs the "combined" format, whose $request has the query.
	if len(accessLogs) == 0 {
		t.Fatal("no access_log: nginx would log the combined format, query strings included")
	}
	for _, a := range accessLogs {
		f := strings.Fields(a)
		if len(f) == 2 && f[1] == "off" {
			continue
		}
		if len(f) < 3 {
			t.Fatalf("%q uses the default combined format, query strings included", a)
		}
		format, ok := formats[f[2]]
		if !ok {
			t.Fatalf("%q names no log_format of this file", a)
		}
		if m := queryVars.FindString(format); m != "" {
			t.Fatalf("log format %s logs %s, which carries the query string (tokens): %s", f[2], m, format)
		}
		if !strings.Contains(format, "$uri") {
			t.Errorf("log format %s has no $uri: the path is worth logging", f[2])
		}
	}
	// nginx's error log quotes the whole request line, query included, at level error and below.
	if len(errorLogs) == 0 {
		t.Fatal("no error_log: nginx's default level (error) quotes request lines with their query strings")
	}
	for _, e := range errorLogs {
		f := strings.Fields(e)
		if len(f) < 3 || (f[2] != "crit" && f[2] != "alert" && f[2] != "emerg") {
			t.Fatalf("%q: below crit the error log quotes request lines with their query strings", e)
		}
	}
	for _, kind := range []string{"limit_conn", "limit_req"} {
		n := 0
		for name, k := range zones {
			if k == kind && used[kind+" "+name] {
				n++
			}
		}
		if n == 0 {
			t.Errorf("no %s_zone by client address that a %s directive uses (zones %v, used %v)", kind, kind, zones, used)
		}
	}
}

// TestNginxConfigRuns runs deploy/nginx.conf under a real nginx (skipped where none is installed: `apt-get
// install nginx-light`) on 127.0.0.1, in front of one node that is down and one that answers: `nginx -t`
// accepts it, a token in the query reaches the node but neither log, and a flood from one address gets 429.
func TestNginxConfigRuns(t *testing.T) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("nginx is not installed, and CI=true requires it: bash scripts/test.sh installs nginx-light")
		}
		t.Skip("nginx is not installed (apt-get install nginx-light); the static checks above still ran")
	}
	var seen sync.Map
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.URL.RawQuery, true)
		_, _ = io.WriteString(w, "ok")
	}))
	defer up.Close()
	conf, err := os.ReadFile("nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	listen := testenv.FreeAddr(t)
	down := testenv.FreeAddr(t) // nothing listens: the first node is down
	dir := t.TempDir()
	s := strings.NewReplacer(
		"server kudos-a:8080;", "server "+down+";",
		"server kudos-b:8080;", "server "+strings.TrimPrefix(up.URL, "http://")+";",
		"listen 8080;", "listen "+listen+";",
	).Replace(string(conf))
	if s == string(conf) || strings.Contains(s, "kudos-a") || strings.Contains(s, "8080;") {
		t.Fatal("nginx.conf no longer names kudos-a:8080, kudos-b:8080 and port 8080; update this test")
	}
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"-p", dir, "-e", "stderr", "-c", path, "-g", "pid " + filepath.Join(dir, "nginx.pid") + "; daemon off;"}
	if out, err := exec.Command(bin, append([]string{"-t"}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t: %v\n%s", err, out)
	}
	stdout, stderr := &testenv.Buffer{}, &testenv.Buffer{}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM) // the master stops its workers
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("nginx stdout:\n%s\nstderr:\n%s", stdout, stderr)
		}
	}()
	base := "http://" + listen
	client := &http.Client{Timeout: 5 * time.Second}
	get := func(path string) int {
		res, err := client.Get(base + path)
		if err != nil {
			return 0
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	for deadline := time.Now().Add(10 * time.Second); get("/healthz") != http.StatusOK; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("nginx did not answer within 10 s")
		}
	}

	const secret = "SECRET-TOKEN-0123456789"
	for i := range 4 { // round robin meets the node that is down, which nginx logs as an error
		if st := get(fmt.Sprintf("/ws/streams/demo?token=%s&i=%d", secret, i)); st != http.StatusOK {
			t.Fatalf("request %d through nginx: %d", i, st)
		}
	}
	if _, ok := seen.Load("token=" + secret + "&i=0"); !ok {
		t.Fatal("the query string did not reach the node")
	}
	if st := get("/metrics"); st != http.StatusNotFound {
		t.Fatalf("/metrics through the balancer: %d, want 404", st)
	}
	n429 := 0
	for range 300 {
		if get("/") == http.StatusTooManyRequests {
			n429++
		}
	}
	if n429 == 0 {
		t.Fatal("300 requests at once from one address: none limited (429)")
	}
	// nginx writes a request's access-log line just after its response.
	for deadline := time.Now().Add(5 * time.Second); strings.Count(stdout.String(), "/ws/streams/demo") < 4; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the access log lacks the four socket requests:\n%s", stdout)
		}
	}
	logs := stdout.String() + stderr.String()
	if strings.Contains(logs, secret) || strings.Contains(logs, "token=") {
		t.Fatalf("a log holds the token:\n%s", logs)
	}
	t.Logf("300 requests from one address: %d answered 429", n429)
}
