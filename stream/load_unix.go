//go:build unix

package stream

import (
	"syscall"
	"time"
)

// processCPUTime is the process's user and system CPU time so far (getrusage).
func processCPUTime() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
