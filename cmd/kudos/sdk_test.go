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
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is not installed, and CI=true requires it")
		}
		t.Skip("node is not installed")
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
