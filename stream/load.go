package stream

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Load sampling: whether the node is busy decides whether big streams' writes are held to be batched
// (Config.WriteDelay). The process's CPU time is sampled at most every loadEvery; the node turns busy when it
// used more than Config.WriteDelayLoad (busyAbove by default) of the cores it may run on (GOMAXPROCS, at most
// its cgroup's CPU limit) over the last sample, and idle again below idleShare of that (the gap keeps it from
// flapping as batching itself lowers the load).
const (
	loadEvery = 200 * time.Millisecond
	busyAbove = 0.6
	idleShare = 0.6
)

// loadMeter tells whether the process is busy. Busy may be called from any goroutine; one of them samples.
type loadMeter struct {
	next atomic.Int64 // UnixNano of the next sample
	busy atomic.Bool
	// cpuTime returns the process's CPU time so far (user and system) and whether it is known; nil: not known.
	cpuTime func() (time.Duration, bool)
	onFlip  func(busy bool) // called (from the sampling goroutine) when busy changes
	// above and below: the shares of the cores over which the node turns busy, and under which idle again
	above, below float64
	// limit: the CPUs the process's cgroup may use (0: no limit known), which may be fewer than GOMAXPROCS
	limit float64
	// procs: the CPUs the runtime may run Go code on at once (GOMAXPROCS, at most the machine's)
	procs func() int

	mu      sync.Mutex // held while sampling
	lastAt  int64      // UnixNano of the last sample
	lastCPU time.Duration
}

// newLoadMeter returns a meter that counts the node busy above the share above of its cores; a negative
// share: always busy.
func newLoadMeter(above float64, onFlip func(bool)) *loadMeter {
	l := &loadMeter{cpuTime: processCPUTime, onFlip: onFlip, above: above, below: above * idleShare, limit: cgroupCPULimit(),
		procs: func() int { return min(runtime.GOMAXPROCS(0), runtime.NumCPU()) }}
	if above < 0 {
		l.cpuTime = nil
	}
	return l
}

// Busy reports whether the node was busy at its last sample, taking a new one if it is due at now (UnixNano).
// Where the CPU time cannot be read (or the share is negative) the node counts as busy, which is how writes
// were batched before the meter: always, on big streams.
func (l *loadMeter) Busy(now int64) bool {
	if l.due(now) && l.mu.TryLock() {
		l.sample(now)
		l.mu.Unlock()
	}
	return l.busy.Load()
}

// due reports whether a sample is due at now: the next sample's time has come, or the clock stepped back
// since the last one (now is the wall clock), which would otherwise freeze the meter until it caught up.
func (l *loadMeter) due(now int64) bool {
	next := l.next.Load()
	return now >= next || next-now > int64(loadEvery)
}

func (l *loadMeter) sample(now int64) {
	if !l.due(now) {
		return // another goroutine sampled meanwhile
	}
	l.next.Store(now + int64(loadEvery))
	cpu, ok := time.Duration(0), false
	if l.cpuTime != nil {
		cpu, ok = l.cpuTime()
	}
	if !ok {
		l.set(true)
		return
	}
	if l.lastAt != 0 && now > l.lastAt {
		used := float64(cpu-l.lastCPU) / float64(now-l.lastAt) / l.cores()
		switch {
		case used > l.above:
			l.set(true)
		case used < l.below:
			l.set(false)
		}
	}
	l.lastAt, l.lastCPU = now, cpu
}

// cores is how many CPUs the process may use: GOMAXPROCS, at most the CPUs it may run on, at most its
// cgroup's CPU limit (which the runtime rounds up, and to at least 2, for GOMAXPROCS).
func (l *loadMeter) cores() float64 {
	cores := float64(l.procs())
	if l.limit > 0 && l.limit < cores {
		cores = l.limit
	}
	return cores
}

func (l *loadMeter) set(busy bool) {
	if l.busy.Swap(busy) != busy && l.onFlip != nil {
		l.onFlip(busy)
	}
}
