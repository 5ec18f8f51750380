package engagement

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
)

// TestRedisTimelineData checks that an item comes back as it went in, whatever its key, type and
// data hold, and with offsets at the edges of the range.
func TestRedisTimelineData(t *testing.T) {
	s := newTestRedisStore(t)
	ctx := context.Background()
	in := []TimelineItem{
		{OffsetMS: 0, Type: "comment", Data: json.RawMessage(`{"text":"a}:{b\u0000 ✓"}`), Key: "comment:x:{y}"},
		{OffsetMS: 1 << 40, Type: "poll.results", Data: json.RawMessage(`[1,2,3]`), Key: ""},
		{OffsetMS: 1 << 40, Type: "", Data: json.RawMessage(`null`), Key: strings.Repeat("k", 300)},
	}
	for _, it := range in {
		if ok, err := s.AppendTimeline(ctx, "s1", it, 10); err != nil || !ok {
			t.Fatalf("AppendTimeline %q: %v, %v", it.Key, ok, err)
		}
	}
	got, err := s.TimelineItems(ctx, "s1", math.MinInt64, math.MaxInt64, math.MinInt64, -1, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(in) {
		t.Fatalf("%d items, want %d", len(got), len(in))
	}
	for i, it := range got {
		want := in[i]
		if it.OffsetMS != want.OffsetMS || it.Type != want.Type || string(it.Data) != string(want.Data) || it.Key != want.Key || it.Seq != int64(i) {
			t.Errorf("item %d = %+v (data %s), want %+v (data %s), seq %d", i, it, it.Data, want, want.Data, i)
		}
	}
	if got, err := s.TimelineItems(ctx, "s1", 0, 10, math.MinInt64, -1, 0); err != nil || len(got) != 0 {
		t.Errorf("limit 0: %v, %v; want none", got, err)
	}
}

// TestRedisTimelinePaging checks pages that must skip more items than the script reads at once:
// hidden runs, and a cursor deep inside a run of equal offsets.
func TestRedisTimelinePaging(t *testing.T) {
	s := newTestRedisStore(t)
	ctx := context.Background()
	const n = 200
	for i := range n {
		offset := int64(5)
		if i >= n/2 {
			offset = int64(i) * 10
		}
		if ok, err := s.AppendTimeline(ctx, "s1", timelineItem(offset, fmt.Sprintf("k%03d", i)), n); err != nil || !ok {
			t.Fatalf("append %d: %v, %v", i, ok, err)
		}
	}
	for i := n / 2; i < n; i++ {
		if i%50 != 0 {
			if err := s.HideTimeline(ctx, "s1", fmt.Sprintf("k%03d", i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	var keys []string
	afterOffset, afterSeq := int64(math.MinInt64), int64(-1)
	for page := 0; ; page++ {
		items, err := s.TimelineItems(ctx, "s1", 0, math.MaxInt64, afterOffset, afterSeq, 7)
		if err != nil {
			t.Fatal(err)
		}
		if len(items) == 0 || page > n {
			break
		}
		keys = append(keys, timelineKeys(items)...)
		last := items[len(items)-1]
		afterOffset, afterSeq = last.OffsetMS, last.Seq
	}
	var want []string
	for i := range n {
		if i < n/2 || i%50 == 0 {
			want = append(want, fmt.Sprintf("k%03d", i))
		}
	}
	if !slices.Equal(keys, want) {
		t.Errorf("paged keys = %v, want %v", keys, want)
	}
}
