package bench

import (
	"strings"
	"testing"
	"time"
)

// The chat.skipped frames of an overloaded server are counted by their counts, merged over processes.
func TestHandleCountsSkippedChat(t *testing.T) {
	p := newPool(Config{}, 0, "t")
	m := &member{}
	now := time.Now()
	for _, l := range []string{
		`{"type":"chat.skipped","data":{"count":12}}`,
		`{"type":"comment","data":{"id":"c1","user":"u","text":"hi"}}`,
		`{"type":"chat.skipped","data":{"count":3}}`,
		`{"type":"chat.skipped","data":{}}`, // no count: a frame, nothing skipped
	} {
		p.handle(m, []byte(l), now)
	}
	st := p.snapshot()
	if st.ChatSkipped != 15 || st.Frames["chat.skipped"] != 3 || st.Comments != 1 {
		t.Fatalf("skipped %d in %d frames, comments %d; want 15 in 3, 1 (frames %v)", st.ChatSkipped, st.Frames["chat.skipped"], st.Comments, st.Frames)
	}
	var all Stats
	all.Add(st)
	all.Add(st)
	if all.ChatSkipped != 30 {
		t.Errorf("merged skipped %d, want 30", all.ChatSkipped)
	}
}

// The overload set gets its table: chat delivered and its share, skipped (told), unaccounted, latency.
func TestMethodTablesOverload(t *testing.T) {
	const lines = `
{"set":"overload","run":1,"scenario":"fanout","viewers":16000,"connected":16000,"rate":20,"comments_acked":400,"deliveries":5000000,"expected_deliveries":6400000,"delivered_share":0.78125,"chat_skipped":1400000,"missing":1400000,"p50_ms":300,"p99_ms":900,"load_before":"1.0 0.4 0.3"}
{"set":"overload","run":1,"scenario":"fanout","viewers":16000,"connected":16000,"rate":40,"comments_acked":400,"deliveries":3200000,"expected_deliveries":12800000,"delivered_share":0.25,"chat_skipped":9500000,"missing":9600000,"p50_ms":500,"p99_ms":990,"dropped":2,"load_before":"1.1 0.4 0.3"}
`
	out := tablesOf(t, lines)
	wantInTables(t, out,
		"### Overload (40 posting users, past capacity)",
		"| 16,000 × 20 | 320,000 | 5,000,000 (78.1%) | 1,400,000 | 0 | 300 | 900 | 0 | 0.781; 900 | 1.0 |\n| 16,000 × 40 | 640,000 | 3,200,000 (25.0%) | 9,500,000 | 100,000 | 500 | 990 | 2 | 0.250; 990 | 1.1 |",
	)
	if strings.Contains(out, "Capacity sweep") {
		t.Errorf("overload runs must not make a capacity table:\n%s", out)
	}
}
