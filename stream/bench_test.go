package stream

import (
	"fmt"
	"testing"
	"time"

	"github.com/kudos-live/kudos/engagement"
)

// BenchmarkDecodeClient measures decoding one client frame (envelope, UTF-8 check, action), the per-frame
// cost of every viewer's vote, comment or like.
func BenchmarkDecodeClient(b *testing.B) {
	frames := []struct {
		name string
		msg  []byte
	}{
		{"comment", []byte(`{"type":"comment.send","id":"c42","data":{"text":"t=1795611494588064143 love this colour!"}}`)},
		{"vote", []byte(`{"type":"poll.vote","id":"v2","data":{"poll_id":"p01JABCDEF","option":2}}`)},
		{"like", []byte(`{"type":"like.send","data":{"count":3}}`)},
	}
	for _, f := range frames {
		b.Run(f.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(f.msg)))
			for b.Loop() {
				if _, _, err := DecodeClient(f.msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEncodeFrames measures encoding a comment broadcast once; the payload is then shared by every
// viewer, so this cost is per comment, not per delivery.
func BenchmarkEncodeFrames(b *testing.B) {
	c := engagement.Comment{ID: "01JABCDEFGHJKMNPQRSTVWXYZ0", User: "bench-poster-7", Name: "Poster 7",
		Text: "t=1795611494588064143 love this colour!", At: time.Now().UTC()}
	frames := []engagement.Frame{{Type: "comment", Data: c}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeFrames(frames); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHubDeliver measures the hub's fan-out loop: one encoded comment queued to every viewer's send
// queue (sampled chat, as comments are). The writers are not running; the queues are emptied between
// rounds outside the timer's concern, as the writers would.
func BenchmarkHubDeliver(b *testing.B) {
	for _, viewers := range []int{1_000, 15_000} {
		b.Run(fmt.Sprintf("viewers=%d", viewers), func(b *testing.B) {
			reg := NewRegistry(Config{SampleRate: 1 << 30}, nil)
			h := newHub("bench", reg)
			clients := make([]*Client, viewers)
			for i := range clients {
				c := newClient(h, nil, engagement.Actor{User: fmt.Sprintf("viewer-%d", i)}, 4)
				clients[i] = c
				h.clients[c] = struct{}{}
			}
			m := Message{Stream: "bench", Sampled: true, From: "poster", Types: []string{"comment"},
				Payload: []byte(`{"type":"comment","data":{"id":"x","user":"poster","name":"P","text":"t=1 hi","at":"2026-01-01T00:00:00Z"}}`)}
			b.ReportAllocs()
			for b.Loop() {
				h.deliver(m)
				b.StopTimer()
				for _, c := range clients {
					batch, _ := c.take()
					c.spare = batch[:0] // as the writer does
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*viewers), "ns/delivery")
		})
	}
}
