package stream

import (
	"testing"
	"time"
)

// TestLoadMeterAfterTheClockStepsBack: Busy is given the wall clock; when it steps back (an NTP correction,
// a VM resumed) the meter keeps sampling instead of freezing its last state until the clock catches up, which
// would hold every big stream's writes (or none) for as long as the step.
func TestLoadMeterAfterTheClockStepsBack(t *testing.T) {
	var cpu time.Duration
	l := newLoadMeter(busyAbove, nil)
	l.cpuTime = func() (time.Duration, bool) { return cpu, true }
	cores := l.cores()
	now := int64(1_000_000_000_000)
	step := func(used float64) bool {
		now += int64(loadEvery)
		cpu += time.Duration(used * cores * float64(loadEvery))
		return l.Busy(now)
	}
	l.Busy(now)
	if !step(0.95) || !step(0.95) {
		t.Fatal("not busy at 95% of the cores")
	}
	now -= int64(time.Hour) // the clock steps back an hour; the process goes quiet
	idle := false
	for range 5 {
		if !step(0.05) {
			idle = true
			break
		}
	}
	if !idle {
		t.Error("still busy after five quiet sample periods following a clock step back: the meter stopped sampling")
	}
}
