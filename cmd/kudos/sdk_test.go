package main

import (
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
	nodeBin := testenv.Node(t, 20, 10) // Node's own WebSocket (--experimental-websocket) arrived in 20.10
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
