package engagement

import (
	"testing"
	"time"
)

// BenchmarkScorer measures the scorer's decisions on the hot paths: a comment (rate window and per-stream
// cap), a poll vote and a quiz answer (Kahoot's formula with a streak).
func BenchmarkScorer(b *testing.B) {
	s := NewScorer(DefaultRules()).ForUser("viewer-42")
	now := time.Now()
	b.Run("comment", func(b *testing.B) {
		b.ReportAllocs()
		st := LimitState{Count: 3, Last: now.Add(-time.Minute)}
		for b.Loop() {
			_ = s.Comment(st, now, false)
		}
	})
	b.Run("poll vote", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = s.PollVote(false)
		}
	})
	b.Run("quiz", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = s.Quiz(true, 3*time.Second, 20*time.Second, 2, false)
		}
	})
	b.Run("for user", func(b *testing.B) {
		b.ReportAllocs()
		base := NewScorer(DefaultRules())
		for b.Loop() {
			_ = base.ForUser("viewer-42")
		}
	})
}
