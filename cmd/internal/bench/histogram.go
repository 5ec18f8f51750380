package bench

import (
	"encoding/json"
	"math/bits"
	"sync/atomic"
	"time"
)

// Histogram records durations in log-linear buckets (HDR style): exact below 64 µs, then 32 buckets per
// power of two, so a reported percentile is within ~3% of the true value. Buckets are atomic counters, so
// many reader goroutines record into one histogram, and histograms of several processes merge by adding.
type Histogram struct {
	counts [histBuckets]atomic.Uint64
	max    atomic.Int64 // µs
}

const (
	histSubBits = 5 // 32 sub-buckets per power of two
	histSub     = 1 << histSubBits
	histShifts  = 40 // values up to 2^45 µs, far beyond any run
	histBuckets = 2*histSub + histShifts*histSub
)

// bucketOf returns the bucket of v microseconds.
func bucketOf(v uint64) int {
	if v < 2*histSub {
		return int(v)
	}
	shift := bits.Len64(v) - (histSubBits + 1)
	idx := 2*histSub + (shift-1)*histSub + int(v>>shift) - histSub
	if idx >= histBuckets {
		return histBuckets - 1
	}
	return idx
}

// bucketUpper returns the largest value (µs) that falls in bucket i.
func bucketUpper(i int) uint64 {
	if i < 2*histSub {
		return uint64(i)
	}
	shift := (i-2*histSub)/histSub + 1
	r := uint64((i-2*histSub)%histSub + histSub)
	return (r+1)<<shift - 1
}

// Record adds one observation; negative durations (clock steps) count as zero.
func (h *Histogram) Record(d time.Duration) {
	us := d.Microseconds()
	if us < 0 {
		us = 0
	}
	h.counts[bucketOf(uint64(us))].Add(1)
	for {
		m := h.max.Load()
		if us <= m || h.max.CompareAndSwap(m, us) {
			return
		}
	}
}

// Count is the number of observations.
func (h *Histogram) Count() uint64 {
	var n uint64
	for i := range h.counts {
		n += h.counts[i].Load()
	}
	return n
}

// Quantile returns the value at quantile q (0..1), as the upper bound of its bucket capped at the maximum.
func (h *Histogram) Quantile(q float64) time.Duration {
	total := h.Count()
	if total == 0 {
		return 0
	}
	rank := uint64(q*float64(total) + 0.5)
	rank = max(rank, 1)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			v := min(bucketUpper(i), uint64(h.max.Load()))
			return time.Duration(v) * time.Microsecond
		}
	}
	return h.Max()
}

// Max is the largest observation.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max.Load()) * time.Microsecond }

// Merge adds other's observations to h.
func (h *Histogram) Merge(other *Histogram) {
	if other == nil {
		return
	}
	for i := range other.counts {
		if n := other.counts[i].Load(); n > 0 {
			h.counts[i].Add(n)
		}
	}
	for {
		m, o := h.max.Load(), other.max.Load()
		if o <= m || h.max.CompareAndSwap(m, o) {
			return
		}
	}
}

// histJSON is the wire form between processes: sparse buckets.
type histJSON struct {
	Buckets map[int]uint64 `json:"buckets,omitempty"`
	MaxUS   int64          `json:"max_us"`
}

// MarshalJSON implements json.Marshaler.
func (h *Histogram) MarshalJSON() ([]byte, error) {
	out := histJSON{Buckets: map[int]uint64{}, MaxUS: h.max.Load()}
	for i := range h.counts {
		if n := h.counts[i].Load(); n > 0 {
			out.Buckets[i] = n
		}
	}
	return json.Marshal(out)
}

// UnmarshalJSON implements json.Unmarshaler.
func (h *Histogram) UnmarshalJSON(b []byte) error {
	var in histJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	for i, n := range in.Buckets {
		if i >= 0 && i < histBuckets {
			h.counts[i].Store(n)
		}
	}
	h.max.Store(in.MaxUS)
	return nil
}
