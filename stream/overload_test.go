package stream

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/kudos-live/kudos/engagement"
)

// overloadRoom is a hub with one viewer whose writer is stalled: what the hub queues piles up until the test
// writes it (writeOut), as writeLoop would when it runs again.
type overloadRoom struct {
	t      *testing.T
	reg    *Registry
	hub    *Hub
	viewer *Client
	out    bytes.Buffer // every message written to the viewer, one per line group
}

func newOverloadRoom(t *testing.T, cfg Config) *overloadRoom {
	cfg.Metrics = NewMetrics(nil)
	reg := NewRegistry(cfg, nil)
	t.Cleanup(func() { reg.cancel() })
	h := newHub("show", reg)
	v := newClient(h, nil, engagement.Actor{User: "viewer", Role: engagement.RoleViewer}, reg.cfg.SendBuffer)
	h.clients[v] = struct{}{}
	h.byUser["viewer"] = map[*Client]struct{}{v: {}}
	return &overloadRoom{t: t, reg: reg, hub: h, viewer: v}
}

// chat delivers a comment by user, accepted at acceptedAt.
func (r *overloadRoom) chat(user string, n int, acceptedAt time.Time) {
	b := fmt.Appendf(nil, `{"type":"comment","data":{"user":%q,"n":%d}}`, user, n)
	r.hub.deliver(Message{Stream: "show", Sampled: true, From: user, Types: []string{"comment"},
		Accepted: acceptedAt.UnixNano(), Payload: b})
}

// frame delivers a non-chat frame of typ to the room (or, with user set, to that user).
func (r *overloadRoom) frame(typ, user string, n int) {
	b := fmt.Appendf(nil, `{"type":%q,"data":{"n":%d}}`, typ, n)
	r.hub.deliver(Message{Stream: "show", User: user, Types: []string{typ}, Payload: b})
}

// writeOut writes what is queued for the viewer at now, as flush does, into r.out.
func (r *overloadRoom) writeOut(now time.Time) {
	_, kept, skipped := r.viewer.next(now.UnixNano())
	if len(kept) == 0 {
		return
	}
	r.viewer.compose(&r.out, kept, skipped)
	r.out.WriteByte('\n')
}

// received counts the viewer's frames: by type, others' comments, own comments, and the skipped count.
type received struct {
	types        map[string]int
	chat, own    int
	skipped      int
	markers      int
	markerCounts []int
}

func (r *overloadRoom) received() received {
	got := received{types: map[string]int{}}
	for line := range bytes.SplitSeq(bytes.TrimSpace(r.out.Bytes()), []byte{'\n'}) {
		var env struct {
			Type string `json:"type"`
			Data struct {
				User  string `json:"user"`
				Count int    `json:"count"`
			} `json:"data"`
		}
		if err := json.Unmarshal(line, &env); err != nil {
			r.t.Fatalf("frame %q: %v", line, err)
		}
		got.types[env.Type]++
		switch {
		case env.Type == "comment" && env.Data.User == "viewer":
			got.own++
		case env.Type == "comment":
			got.chat++
		case env.Type == "chat.skipped":
			if env.Data.Count <= 0 {
				r.t.Errorf("chat.skipped with count %d", env.Data.Count)
			}
			got.skipped += env.Data.Count
			got.markers++
			got.markerCounts = append(got.markerCounts, env.Data.Count)
		}
	}
	return got
}

func skippedMetric(m *Metrics, reason string) int {
	return counterValue(m.ChatSkipped.WithLabelValues(reason))
}

func counterValue(c prometheus.Counter) int {
	var pb dto.Metric
	if err := c.Write(&pb); err != nil {
		panic(err)
	}
	return int(pb.GetCounter().GetValue())
}

// Under a flood of chat with a stalled writer, only chat is skipped: every poll, quiz, coupon, points frame,
// ack and the viewer's own comments arrive; the chat.skipped counts add up to exactly what was not sent, and
// so does the metric.
func TestOverloadSkipsOnlyChat(t *testing.T) {
	room := newOverloadRoom(t, Config{SampleRate: 1 << 30}) // no sampling: the backlog and age limits act
	nonChat := []string{"poll.opened", "poll.tally", "poll.closed", "quiz.question", "quiz.reveal", "coupon.dropped", "coupon.stock", "presence", "likes"}
	sentNonChat := map[string]int{}
	sentChat, sentOwn, sentDirect, sentAcks := 0, 0, 0, 0
	start := time.Now()
	for i := range 3000 {
		at := start.Add(time.Duration(i) * time.Millisecond)
		room.chat(fmt.Sprintf("poster-%d", i%50), i, at)
		sentChat++
		switch {
		case i%40 == 0:
			typ := nonChat[(i/40)%len(nonChat)]
			room.frame(typ, "", i)
			sentNonChat[typ]++
		case i%97 == 0:
			room.chat("viewer", i, at) // the viewer's own comment, and its ack
			sentOwn++
			room.viewer.reply(encodeAck(fmt.Sprint("c", i), map[string]any{"comment_id": i}), "")
			sentAcks++
		case i%211 == 0:
			room.frame("points", "viewer", i) // to the viewer only
			sentDirect++
		case i%333 == 0:
			room.frame("points", "someone-else", i) // not for this viewer
		}
		// The writer runs now and then: every 400 messages, 100 ms of the flood's clock late.
		if i%400 == 399 {
			room.writeOut(at.Add(100 * time.Millisecond))
		}
		// And once it was stalled so long that all that waits is stale chat: nothing is written, the count
		// goes with the next write.
		if i == 2010 {
			room.writeOut(at) // on time: then only the chat of 2011 and 2012 waits
		}
		if i == 2012 {
			before := room.out.Len()
			room.writeOut(at.Add(chatMaxAge + 50*time.Millisecond))
			if room.out.Len() != before {
				t.Errorf("a write of nothing but skipped chat: %q", room.out.Bytes()[before:])
			}
		}
	}
	room.writeOut(start.Add(3 * time.Second))
	select {
	case <-room.viewer.done:
		t.Fatalf("the viewer was dropped (%s): chat must be skipped, not the socket", room.viewer.reason)
	default:
	}

	got := room.received()
	for typ, n := range sentNonChat {
		if got.types[typ] != n {
			t.Errorf("%s frames received %d, sent %d", typ, got.types[typ], n)
		}
	}
	if got.types["points"] != sentDirect || got.types["ack"] != sentAcks || got.own != sentOwn {
		t.Errorf("points %d/%d, acks %d/%d, own comments %d/%d: all must arrive",
			got.types["points"], sentDirect, got.types["ack"], sentAcks, got.own, sentOwn)
	}
	if got.chat+got.skipped != sentChat {
		t.Errorf("chat received %d + skipped %d = %d, sent %d", got.chat, got.skipped, got.chat+got.skipped, sentChat)
	}
	if got.skipped < sentChat/2 || got.chat == 0 {
		t.Errorf("chat received %d, skipped %d of %d: the flood should thin chat, not stop it", got.chat, got.skipped, sentChat)
	}
	m := room.reg.metrics
	backlog, stale := skippedMetric(m, skipBacklog), skippedMetric(m, skipStale)
	if backlog+stale+skippedMetric(m, skipSampled) != got.skipped || backlog == 0 || stale == 0 {
		t.Errorf("metric: backlog %d + stale %d + sampled %d, want the %d told to the viewer, backlog and stale > 0",
			backlog, stale, skippedMetric(m, skipSampled), got.skipped)
	}
	if n := counterValue(m.FramesOut.WithLabelValues("chat.skipped")); n != got.markers {
		t.Errorf("frames_out{chat.skipped} = %d, markers received %d", n, got.markers)
	}
	// A write carries at most chatBacklog chat messages: the newest (each write's chat is fresh).
	if got.chat > chatBacklog*9 {
		t.Errorf("chat received %d over 9 writes; at most %d each", got.chat, chatBacklog)
	}
}

// Sampling a flooding stream (Config.SampleRate) is skipping too: counted and told to the viewer.
func TestSampledChatIsToldToTheViewer(t *testing.T) {
	room := newOverloadRoom(t, Config{SampleRate: 20})
	now := time.Now()
	for i := range 200 { // 200 comments at once: the viewer's bucket holds 20
		room.chat("poster", i, now)
	}
	room.writeOut(now)
	got := room.received()
	if got.chat != 20 || got.skipped != 180 || got.markers != 1 {
		t.Errorf("chat %d, skipped %d in %d markers; want 20, 180 in 1", got.chat, got.skipped, got.markers)
	}
	m := room.reg.metrics
	if s := skippedMetric(m, skipSampled); s != 180 || counterValue(m.Sampled) != 180 {
		t.Errorf("chat_skipped{sampled} %d, sampled_total %d; want 180", s, counterValue(m.Sampled))
	}
	// Nothing skipped since: the next write has no marker.
	room.frame("poll.opened", "", 1)
	room.writeOut(now)
	if got := room.received(); got.markers != 1 || got.types["poll.opened"] != 1 {
		t.Errorf("after a clean write: markers %d (want still 1), poll.opened %d", got.markers, got.types["poll.opened"])
	}
}

// A queue full of chat never drops the socket; one full of other frames does (slow consumer), as before.
func TestFullQueueSkipsChatOrDropsTheSlowConsumer(t *testing.T) {
	room := newOverloadRoom(t, Config{SampleRate: 1 << 30, SendBuffer: 8})
	now := time.Now()
	for i := range 8 {
		room.frame("poll.tally", "", i)
	}
	room.chat("poster", 1, now) // the queue is full of non-chat: this chat is skipped
	if room.viewer.reason != "" {
		t.Fatalf("dropped for chat: %s", room.viewer.reason)
	}
	room.viewer.qmu.Lock()
	queued, skipped := len(room.viewer.queue), room.viewer.skipped
	room.viewer.qmu.Unlock()
	if queued != 8 || skipped != 1 {
		t.Fatalf("queued %d, skipped %d; want 8, 1", queued, skipped)
	}
	room.frame("quiz.question", "", 9) // no chat to make room for it: the viewer cannot keep up
	select {
	case <-room.viewer.done:
		if room.viewer.reason != reasonSlow {
			t.Errorf("dropped with %q, want %q", room.viewer.reason, reasonSlow)
		}
	default:
		t.Fatal("a queue full of non-chat frames did not drop the slow consumer")
	}
}

// The load meter: busy above busyAbove of the cores, idle again only below idleShare of that; unknown CPU,
// or a negative share, is busy.
func TestLoadMeter(t *testing.T) {
	var cpu time.Duration
	var flips []bool
	l := newLoadMeter(busyAbove, func(b bool) { flips = append(flips, b) })
	cores := l.cores()
	l.cpuTime = func() (time.Duration, bool) { return cpu, true }
	now := int64(1_000_000_000)
	step := func(used float64) bool { // one sample period with the process using this share of its cores
		now += int64(loadEvery)
		cpu += time.Duration(used * cores * float64(loadEvery))
		return l.Busy(now)
	}
	l.Busy(now) // the first sample only sets the baseline
	for i, c := range []struct {
		used float64
		want bool
	}{{0.2, false}, {0.5, false}, {0.9, true}, {0.5, true}, {0.4, true}, {0.2, false}, {0.7, true}} {
		if got := step(c.used); got != c.want {
			t.Fatalf("step %d at %.0f%% of the cores: busy %v, want %v", i, c.used*100, got, c.want)
		}
	}
	if fmt.Sprint(flips) != "[true false true]" {
		t.Errorf("flips %v, want [true false true]", flips)
	}
	// Between samples nothing is read again.
	reads := 0
	l.cpuTime = func() (time.Duration, bool) { reads++; return cpu, true }
	l.Busy(now + int64(loadEvery)/2)
	if reads != 0 {
		t.Errorf("sampled %d times within loadEvery", reads)
	}
	unknown := newLoadMeter(busyAbove, nil)
	unknown.cpuTime = func() (time.Duration, bool) { return 0, false }
	if !unknown.Busy(now) {
		t.Error("a node whose CPU time is unknown must count as busy (writes batched, as before the meter)")
	}
	if always := newLoadMeter(-1, nil); !always.Busy(now) || !always.Busy(now+int64(time.Second)) {
		t.Error("a negative share must count the node as always busy")
	}
}

// Held writes of one hub share one flush: the gate closes once, d after the first wait, then a new one opens.
func TestFlushGateIsShared(t *testing.T) {
	h := newHub("show", NewRegistry(Config{}, nil))
	const d = 30 * time.Millisecond
	start := time.Now()
	a, b := h.flushGate(d), h.flushGate(d)
	if a != b {
		t.Fatal("two writers waiting at once got different gates")
	}
	<-a
	if waited := time.Since(start); waited < d {
		t.Errorf("gate closed after %v, before %v", waited, d)
	}
	deadline := time.Now().Add(time.Second)
	for {
		h.flushMu.Lock()
		cleared := h.flushC == nil
		h.flushMu.Unlock()
		if cleared {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the closed gate was not cleared")
		}
		time.Sleep(time.Millisecond)
	}
	if c := h.flushGate(d); c == a {
		t.Error("a wait after the flush got the closed gate")
	}
}

// A sampled outcome that broadcasts more than its comment is split: only the comment may be skipped.
func TestSplitChatKeepsOtherFramesUnskippable(t *testing.T) {
	out := engagement.Outcome{Stream: "show", Sampled: true, From: "ann", Broadcast: []engagement.Frame{
		{Type: "comment"}, {Type: "leaderboard"}, {Type: "draw.entered"}}}
	chat, rest := splitChat(out)
	if len(chat) != 1 || chat[0].Type != "comment" || len(rest) != 2 || rest[0].Type != "leaderboard" || rest[1].Type != "draw.entered" {
		t.Errorf("chat %v, rest %v", chat, rest)
	}
	out.Sampled = false // the host's comment: nothing is chat to skip
	if chat, rest := splitChat(out); len(chat) != 0 || len(rest) != 3 {
		t.Errorf("not sampled: chat %v, rest %v", chat, rest)
	}
}
