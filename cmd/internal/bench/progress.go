package bench

import (
	"fmt"
	"time"
)

// progress prints one line a second on the run's stderr until the returned stop is called. extra, if set,
// adds the posters' figures.
func progress(cfg Config, phase string, snap func() Stats, extra func() string) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(finished)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		var last int64
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			if cfg.Scenario == ScenarioKafka {
				fmt.Fprintf(cfg.stderr(), "[%5.1fs] %s: %s\n", time.Since(start).Seconds(), phase, extra())
				continue
			}
			st := snap()
			line := fmt.Sprintf("[%5.1fs] %s: %d/%d open, %d dial errors, %d dropped, %d read errors | comments %d (%d/s)",
				time.Since(start).Seconds(), phase, st.Open, cfg.Viewers, st.DialErrors, st.dropped(), st.ReadErrors,
				st.Comments, st.Comments-last)
			last = st.Comments
			if n := st.Latency.Count(); n > 0 {
				line += fmt.Sprintf(" p99 %.1f ms", float64(st.Latency.Quantile(0.99).Microseconds())/1000)
			}
			if st.VotesSent > 0 {
				line += fmt.Sprintf(" | votes %d sent %d acked", st.VotesSent, st.VotesAcked)
			}
			if extra != nil {
				line += " | " + extra()
			}
			fmt.Fprintln(cfg.stderr(), line)
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}
