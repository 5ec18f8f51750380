package engagement

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/kudos-live/kudos/internal/testenv"
)

// commentItem is a timeline comment with a name and a text.
func commentItem(t *testing.T, offset int64, id, name, text string) TimelineItem {
	t.Helper()
	raw, err := json.Marshal(Comment{ID: id, User: "u-" + id, Name: name, Text: text, At: conformanceT0})
	noErr(t, err)
	return TimelineItem{OffsetMS: offset, Type: "comment", Data: raw, Key: "comment:" + id}
}

// testTimelineTextRetention (an aged case of the suite): a comment's name and text are kept
// DefaultTextRetention after it was recorded, then purged; the item stays (id, user, time, offset), and so
// do the items without personal text.
func testTimelineTextRetention(t *testing.T, s Store, age func(time.Duration)) {
	ctx := context.Background()
	read := func() []TimelineItem {
		t.Helper()
		got, err := s.TimelineItems(ctx, "s1", 0, math.MaxInt64, math.MinInt64, -1, 10)
		noErr(t, err)
		return got
	}
	c1 := commentItem(t, 1000, "c1", "Ann", "where is the red one")
	for _, it := range []TimelineItem{c1,
		{OffsetMS: 2000, Type: "poll.opened", Data: json.RawMessage(`{"poll":{"id":"p1","question":"Which colour?"}}`), Key: "poll.opened:p1"}} {
		_, err := s.AppendTimeline(ctx, "s1", it, 10)
		noErr(t, err)
	}

	age(DefaultTextRetention - time.Minute)
	_, err := s.AppendTimeline(ctx, "s1", timelineItem(3000, "x"), 10) // keeps the timeline alive
	noErr(t, err)
	got := read()
	if len(got) != 3 || !bytes.Equal(got[0].Data, c1.Data) {
		t.Fatalf("a minute before the text retention: %v, want the comment as written", got)
	}

	age(time.Minute)
	_, err = s.AppendTimeline(ctx, "s1", timelineItem(4000, "y"), 10)
	noErr(t, err)
	got = read()
	if keys := timelineKeys(got); !slices.Equal(keys, []string{"c1", "", "x", "y"}) {
		t.Fatalf("at the text retention: items %v, want c1, the poll, x, y", keys)
	}
	var c Comment
	noErr(t, json.Unmarshal(got[0].Data, &c))
	want := Comment{ID: "c1", User: "u-c1", At: conformanceT0}
	if c.ID != want.ID || c.User != want.User || !c.At.Equal(want.At) || c.Name != "" || c.Text != "" || got[0].OffsetMS != 1000 {
		t.Errorf("the purged comment: %+v at %d, want %+v at 1000 with no name or text", c, got[0].OffsetMS, want)
	}
	if bytes.Contains(got[0].Data, []byte("red one")) || bytes.Contains(got[0].Data, []byte("Ann")) {
		t.Errorf("the purged comment still has its text: %s", got[0].Data)
	}
	if string(got[1].Data) != `{"poll":{"id":"p1","question":"Which colour?"}}` {
		t.Errorf("an item without personal text changed: %s", got[1].Data)
	}
}

// TestMemoryTimelineTextSweep: the memory store purges due texts in every timeline once a minute, whether
// or not anyone reads them: the text is gone from its memory, not only from what a read returns.
func TestMemoryTimelineTextSweep(t *testing.T) {
	ctx := context.Background()
	clock := testenv.NewClock(conformanceT0)
	s := NewMemoryStoreWith(MemoryConfig{Now: clock.Now, TextRetention: time.Hour})
	_, err := s.AppendTimeline(ctx, "s1", commentItem(t, 1000, "c1", "Ann", "where is the red one"), 10)
	noErr(t, err)
	_, err = s.AppendTimeline(ctx, "s1", commentItem(t, 2000, "c2", "Bo", "a later one"), 10)
	noErr(t, err)
	held := func() string {
		m := s.timelineMemory
		m.mu.Lock()
		defer m.mu.Unlock()
		var b bytes.Buffer
		for _, it := range m.timelines["s1"].items {
			b.Write(it.Data)
		}
		return b.String()
	}
	clock.Advance(30 * time.Minute)
	_, err = s.AppendTimeline(ctx, "s1", commentItem(t, 3000, "c3", "Cy", "the newest"), 10)
	noErr(t, err)
	clock.Advance(30 * time.Minute)
	_, err = s.AppendTimeline(ctx, "s2", timelineItem(1000, "x"), 10) // a write elsewhere: the sweep
	noErr(t, err)
	h := held()
	if bytes.Contains([]byte(h), []byte("red one")) || bytes.Contains([]byte(h), []byte("a later one")) {
		t.Errorf("an hour on, the texts are still held: %s", h)
	}
	if !bytes.Contains([]byte(h), []byte("the newest")) || !bytes.Contains([]byte(h), []byte(`"id":"c1"`)) {
		t.Errorf("the sweep took too much: %s", h)
	}
}

func TestParseTextRetention(t *testing.T) {
	for in, want := range map[string]time.Duration{"30d": 30 * 24 * time.Hour, "1d": 24 * time.Hour, "720h": 720 * time.Hour, " 90m ": 90 * time.Minute} {
		if got, err := ParseTextRetention(in); err != nil || got != want {
			t.Errorf("%q: %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0", "0d", "-1d", "-5m", "30", "d", "1.5d", "thirty days", "99999999d"} {
		if got, err := ParseTextRetention(bad); err == nil {
			t.Errorf("%q: %v, want an error", bad, got)
		}
	}
}
