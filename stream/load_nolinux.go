//go:build !linux

package stream

// cgroupCPULimit: no cgroup CPU limit is known outside Linux; the meter counts GOMAXPROCS and the CPUs.
func cgroupCPULimit() float64 { return 0 }
