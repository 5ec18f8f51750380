package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/kudos-live/kudos/internal/testenv"
)

// TestClientSDK runs the JavaScript client SDK's tests (static/sdk/test, Node's test runner) against this
// server's binary: join, comment, vote, refusals, reconnect after a restart and after a token expires.
// Without Node it skips, and fails under CI=true.
func TestClientSDK(t *testing.T) {
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is not installed, and CI=true requires it")
		}
		t.Skip("node is not installed")
	}
	// Node's own WebSocket (--experimental-websocket) arrived in 20.10.
	if v, err := exec.Command(nodeBin, "-e", "process.stdout.write(process.versions.node)").Output(); err != nil || !nodeAtLeast(string(v), 20, 10) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("node %s is too old: the SDK tests need Node.js 20.10 or later", v)
		}
		t.Skipf("node %s is too old: the SDK tests need Node.js 20.10 or later", v)
	}
	dir, err := filepath.Abs("../../static/sdk")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(nodeBin, "--test", "--experimental-websocket", "test/")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "KUDOS_BIN="+kudosBinary(t), "KUDOS_TEST_SECRET=sdk-test-secret-0123456789")
	out := &testenv.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		t.Fatalf("node --test: %v\n%s", err, out)
	}
	t.Logf("node --test:\n%s", out)
}

// nodeAtLeast reports whether version ("20.20.2") is at least major.minor.
func nodeAtLeast(version string, major, minor int) bool {
	var ma, mi int
	if _, err := fmt.Sscanf(version, "%d.%d", &ma, &mi); err != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}
