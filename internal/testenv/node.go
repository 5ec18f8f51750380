package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Node returns the node binary, at least Node.js major.minor, skipping tb without it (failing under CI=true):
// the JavaScript under static/ is tested with Node's test runner.
func Node(tb testing.TB, major, minor int) string {
	tb.Helper()
	miss := func(format string, args ...any) {
		tb.Helper()
		if os.Getenv("CI") == "true" {
			tb.Fatalf(format+", and CI=true requires it", args...)
		}
		tb.Skipf(format, args...)
	}
	bin, err := exec.LookPath("node")
	if err != nil {
		miss("node is not installed")
	}
	v, err := exec.Command(bin, "-e", "process.stdout.write(process.versions.node)").Output()
	if err != nil || !versionAtLeast(string(v), major, minor) {
		miss("node %s is too old: Node.js %d.%d or later is needed", v, major, minor)
	}
	return bin
}

// RunNodeTests runs node --test with args (after the flags, the test files or folder) in dir ("" for the
// current one) and fails tb unless every test passed and at least one ran. It returns the runner's output.
func RunNodeTests(tb testing.TB, node, dir string, args ...string) string {
	tb.Helper()
	cmd := exec.Command(node, append([]string{"--test"}, args...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("node --test %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	if !strings.Contains(string(out), "# fail 0") || strings.Contains(string(out), "# pass 0\n") {
		tb.Fatalf("node --test %s ran no passing test:\n%s", strings.Join(args, " "), out)
	}
	return string(out)
}

// versionAtLeast reports whether a "major.minor.patch" version is at least major.minor.
func versionAtLeast(version string, major, minor int) bool {
	var ma, mi int
	if _, err := fmt.Sscanf(version, "%d.%d", &ma, &mi); err != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}
