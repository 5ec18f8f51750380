package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"testing"
	"time"
)

// BenchmarkJoinStormInProcess opens KUDOS_BENCH_VIEWERS viewer sockets (default 5,000), 64 at a time, on an
// in-process server (memory state; events go to a memory sink, not the spool), so that
// `go test -bench JoinStormInProcess -cpuprofile cpu.out` profiles the join path (the token check, the
// upgrade, Service.Join, presence, the welcome) next to the generator's dialling. One iteration is one storm on
// a new stream; joins/s (the sockets welcomed ÷ the time to open them all) is reported.
func BenchmarkJoinStormInProcess(b *testing.B) {
	url := startServer(b)
	viewers := 5000
	if v := os.Getenv("KUDOS_BENCH_VIEWERS"); v != "" {
		if _, err := fmt.Sscan(v, &viewers); err != nil {
			b.Fatalf("KUDOS_BENCH_VIEWERS=%q: %v", v, err)
		}
	}
	var sum float64
	n := 0
	for b.Loop() {
		rep, err := Run(context.Background(), Config{Scenario: ScenarioIdle, URL: url, Secret: testSecret,
			Viewers: viewers, Settle: 10 * time.Millisecond, Stderr: io.Discard})
		if err != nil {
			b.Fatal(err)
		}
		if rep.Connected != viewers || rep.DialErrors > 0 {
			b.Fatalf("%d of %d sockets welcomed, %d dial errors", rep.Connected, viewers, rep.DialErrors)
		}
		sum += rep.JoinsPerSec
		n++
	}
	b.ReportMetric(sum/float64(n), "joins/s")
}
