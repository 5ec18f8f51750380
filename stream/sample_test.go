package stream

import (
	"testing"
	"time"
)

func TestSampleTokenBucket(t *testing.T) {
	tests := []struct {
		name     string
		times    func() []time.Duration // arrival offsets
		min, max int                    // how many may pass
	}{
		{"steady 20/s with jitter passes whole", func() []time.Duration {
			var ts []time.Duration
			for i := range 200 { // 10 s
				jitter := time.Duration((i*7919)%41-20) * time.Millisecond // ±20 ms, deterministic
				ts = append(ts, time.Duration(i)*50*time.Millisecond+jitter)
			}
			return ts
		}, 200, 200},
		{"a flood is thinned to the rate", func() []time.Duration {
			var ts []time.Duration
			for i := range 2000 { // 2,000 in 2 s
				ts = append(ts, time.Duration(i)*time.Millisecond)
			}
			return ts
		}, 20 + 2*20 - 1, 20 + 2*20 + 1}, // the burst, then 20/s for 2 s
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Client{}
			base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
			passed := 0
			for _, at := range tt.times() {
				if c.sample(base+int64(at), 20) {
					passed++
				}
			}
			if passed < tt.min || passed > tt.max {
				t.Fatalf("passed %d, want %d..%d", passed, tt.min, tt.max)
			}
		})
	}
}
