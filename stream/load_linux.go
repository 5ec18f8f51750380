package stream

import (
	"os"
	"path"
	"strconv"
	"strings"
)

// cgroupCPULimit is the number of CPUs the process's cgroup may use (its CPU quota over its period, the
// smallest along the hierarchy), or 0 when there is none or it cannot be read. The runtime rounds GOMAXPROCS
// up to at least 2 under a smaller quota, so without it a container limited to one CPU could never use more
// than half of "its cores" and would never count as busy.
func cgroupCPULimit() float64 { return cgroupCPULimitAt("/proc/self/cgroup", "/sys/fs/cgroup") }

// cgroupCPULimitAt reads the limit from the cgroup list procCgroup and the cgroup file systems under root:
// cgroup v2 (cpu.max) or v1 (cpu.cfs_quota_us and cpu.cfs_period_us).
func cgroupCPULimitAt(procCgroup, root string) float64 {
	b, err := os.ReadFile(procCgroup)
	if err != nil {
		return 0
	}
	limit := 0.0
	note := func(quota, period float64) {
		if quota > 0 && period > 0 && (limit == 0 || quota/period < limit) {
			limit = quota / period
		}
	}
	for line := range strings.Lines(string(b)) {
		// hierarchy-ID:controller-list:cgroup-path
		parts := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(parts) != 3 || !strings.HasPrefix(parts[2], "/") {
			continue
		}
		var v1 bool
		switch {
		case parts[0] == "0" && parts[1] == "":
		case strings.Contains(","+parts[1]+",", ",cpu,"):
			v1 = true
		default:
			continue
		}
		// From the process's own cgroup up to the root; where the cgroup path is not visible (a container
		// without its own cgroup namespace sees its cgroup at the mount's root) only the root is read.
		for p := parts[2]; ; p = path.Dir(p) {
			if v1 {
				q, okQ := readNumber(path.Join(root, "cpu", p, "cpu.cfs_quota_us"))
				per, okP := readNumber(path.Join(root, "cpu", p, "cpu.cfs_period_us"))
				if okQ && okP {
					note(q, per)
				}
			} else if f, err := os.ReadFile(path.Join(root, p, "cpu.max")); err == nil {
				// "max 100000" (no limit) or "<quota> <period>"
				if q, per, ok := strings.Cut(strings.TrimSpace(string(f)), " "); ok && q != "max" {
					qv, err1 := strconv.ParseFloat(q, 64)
					pv, err2 := strconv.ParseFloat(per, 64)
					if err1 == nil && err2 == nil {
						note(qv, pv)
					}
				}
			}
			if p == "/" {
				break
			}
		}
	}
	return limit
}

// readNumber reads a file holding one number.
func readNumber(name string) (float64, bool) {
	b, err := os.ReadFile(name)
	if err != nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
	return v, err == nil
}
