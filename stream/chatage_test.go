package stream

import (
	"fmt"
	"testing"
	"time"
)

// TestChatAgeIsNotAnotherNodesClockSkew: a comment accepted on another node carries that node's clock; one
// whose clock runs a second ahead of or behind this one (no NTP on a VM) must not have every comment it
// accepts count as stale here (skipped for every viewer) when it has only just arrived: the age of chat is
// counted from no earlier than its arrival at this node's hub.
func TestChatAgeIsNotAnotherNodesClockSkew(t *testing.T) {
	r := newOverloadRoom(t, Config{})
	arrive := func(n int, accepted time.Time) {
		b := fmt.Appendf(nil, `{"type":"comment","data":{"user":"remote","n":%d}}`, n)
		go r.hub.post(Message{Stream: "show", Sampled: true, From: "remote", Types: []string{"comment"},
			Accepted: accepted.UnixNano(), Payload: b})
		select {
		case m := <-r.hub.inbox:
			r.hub.deliver(m)
		case <-time.After(5 * time.Second):
			t.Fatal("nothing posted")
		}
	}
	arrive(1, time.Now().Add(-2*time.Second)) // the other node's clock is 2 s behind this one's
	arrive(2, time.Now().Add(2*time.Second))  // or 2 s ahead
	r.writeOut(time.Now())
	got := r.received()
	if got.chat != 2 || got.skipped != 0 || skippedMetric(r.reg.metrics, skipStale) != 0 {
		t.Fatalf("just-arrived remote comments: %d written, %d told skipped, stale metric %d; want 2, 0, 0",
			got.chat, got.skipped, skippedMetric(r.reg.metrics, skipStale))
	}
	// Chat that waited here too long is still stale.
	arrive(3, time.Now())
	r.writeOut(time.Now().Add(chatMaxAge + 100*time.Millisecond))
	arrive(4, time.Now())
	r.writeOut(time.Now())
	got = r.received()
	if got.chat != 3 || got.skipped != 1 || skippedMetric(r.reg.metrics, skipStale) != 1 {
		t.Fatalf("after a comment waited past chatMaxAge: %d written, %d told skipped, stale metric %d; want 3, 1, 1",
			got.chat, got.skipped, skippedMetric(r.reg.metrics, skipStale))
	}
}
