package stream

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestCgroupCPULimit reads the CPU limit of the process's cgroup from a fake /proc/self/cgroup and cgroup file
// system: v2 cpu.max (the smallest along the hierarchy, "max" being none), v1 cfs quota, and nothing.
func TestCgroupCPULimit(t *testing.T) {
	write := func(name, text string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name   string
		cgroup string
		files  map[string]string
		want   float64
	}{
		{"v2 leaf", "0::/kubepods/pod1\n", map[string]string{
			"kubepods/pod1/cpu.max": "100000 100000\n", "kubepods/cpu.max": "400000 100000\n", "cpu.max": "max 100000\n"}, 1},
		{"v2 parent smaller", "0::/a/b\n", map[string]string{"a/b/cpu.max": "max 100000\n", "a/cpu.max": "150000 100000\n"}, 1.5},
		{"v2 namespaced root", "0::/\n", map[string]string{"cpu.max": "50000 100000\n"}, 0.5},
		{"v2 path not visible", "0::/elsewhere\n", map[string]string{"cpu.max": "200000 100000\n"}, 2},
		{"v2 no limit", "0::/\n", map[string]string{"cpu.max": "max 100000\n"}, 0},
		{"v1", "4:memory:/x\n1:cpu,cpuacct:/x\n0::/\n", map[string]string{
			"cpu/x/cpu.cfs_quota_us": "100000\n", "cpu/x/cpu.cfs_period_us": "100000\n"}, 1},
		{"v1 no limit", "1:cpu:/\n", map[string]string{"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, 0},
		{"nothing", "", nil, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			write(filepath.Join(dir, "self-cgroup"), c.cgroup)
			for name, text := range c.files {
				write(filepath.Join(dir, "fs", name), text)
			}
			if got := cgroupCPULimitAt(filepath.Join(dir, "self-cgroup"), filepath.Join(dir, "fs")); got != c.want {
				t.Errorf("limit %v, want %v", got, c.want)
			}
		})
	}
	if got := cgroupCPULimitAt(filepath.Join(t.TempDir(), "missing"), "/nonexistent"); got != 0 {
		t.Errorf("unreadable cgroup list: limit %v, want 0", got)
	}
}

// TestLoadMeterUnderACgroupLimit: in a container limited to one CPU the runtime still sets GOMAXPROCS to 2,
// so a process saturating its one CPU uses only half of "its cores"; the meter counts against the limit and
// turns busy.
func TestLoadMeterUnderACgroupLimit(t *testing.T) {
	var cpu time.Duration
	l := newLoadMeter(busyAbove, nil)
	l.procs = func() int { return 2 } // GOMAXPROCS 2 on a machine of 2 or more CPUs
	l.limit = 1                       // cpu.max "100000 100000"
	l.cpuTime = func() (time.Duration, bool) { return cpu, true }
	now := int64(1_000_000_000)
	l.Busy(now)
	for range 3 {
		now += int64(loadEvery)
		cpu += time.Duration(0.95 * float64(loadEvery)) // 95% of the one CPU the cgroup allows
		l.Busy(now)
	}
	if !l.Busy(now) {
		t.Errorf("a process using 95%% of its 1-CPU limit (GOMAXPROCS 2) is not busy; cores counted %v", l.cores())
	}
}
