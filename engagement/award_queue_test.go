package engagement

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// runAwardQueueSuite is the contract every AwardQueue passes; newQueue returns an empty queue.
func runAwardQueueSuite(t *testing.T, newQueue func(t *testing.T) AwardQueue) {
	t.Helper()
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 20, 0, 0, 0, time.UTC)
	award := func(key string, pts int64) QueuedAward {
		return QueuedAward{Key: key, User: "ann", Stream: "s1", Source: SourcePoll, Points: pts, Reason: "Voted", At: at}
	}
	keys := func(t *testing.T, q AwardQueue) []string {
		t.Helper()
		p, err := q.Pending(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ks []string
		for _, a := range p {
			ks = append(ks, a.Key)
		}
		return ks
	}
	t.Run("OrderReplaceDone", func(t *testing.T) {
		q := newQueue(t)
		for _, k := range []string{"a", "b", "c"} {
			noErr(t, q.Add(ctx, award(k, 1)))
		}
		noErr(t, q.Add(ctx, award("b", 7))) // replaces, keeps its place
		noErr(t, q.Done(ctx, "a"))
		noErr(t, q.Done(ctx, "a")) // idempotent
		noErr(t, q.Done(ctx, "never"))
		if got := keys(t, q); !slices.Equal(got, []string{"b", "c"}) {
			t.Fatalf("pending %v, want [b c]", got)
		}
		p, _ := q.Pending(ctx)
		if p[0].Points != 7 || !p[0].At.Equal(at) || p[0].Reason != "Voted" {
			t.Fatalf("pending b = %+v, want the replacement, all fields kept", p[0])
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		q := newQueue(t)
		var wg sync.WaitGroup
		for i := range 50 {
			wg.Go(func() {
				k := fmt.Sprintf("k%02d", i)
				if err := q.Add(ctx, award(k, 1)); err != nil {
					t.Error(err)
				}
				if i%2 == 0 {
					if err := q.Done(ctx, k); err != nil {
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
		if got := len(keys(t, q)); got != 25 {
			t.Fatalf("%d pending, want 25", got)
		}
	})
}

func TestMemoryAwardQueue(t *testing.T) {
	runAwardQueueSuite(t, func(*testing.T) AwardQueue { return NewMemoryAwardQueue() })
	t.Run("Bounded", func(t *testing.T) {
		q := NewMemoryAwardQueue()
		ctx := context.Background()
		for i := range MaxQueuedAwards {
			noErr(t, q.Add(ctx, QueuedAward{Key: fmt.Sprint(i), User: "u", Points: 1}))
		}
		if err := q.Add(ctx, QueuedAward{Key: "one more", User: "u", Points: 1}); !errors.Is(err, ErrAwardQueueFull) {
			t.Fatalf("add past the bound: %v, want ErrAwardQueueFull", err)
		}
		noErr(t, q.Add(ctx, QueuedAward{Key: "0", User: "u", Points: 2})) // replacing is not growing
		noErr(t, q.Done(ctx, "1"))
		noErr(t, q.Add(ctx, QueuedAward{Key: "one more", User: "u", Points: 1}))
	})
}

func TestFileAwardQueue(t *testing.T) {
	runAwardQueueSuite(t, func(t *testing.T) AwardQueue {
		q, err := OpenFileAwardQueue(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = q.Close() })
		return q
	})
	ctx := context.Background()
	open := func(t *testing.T, dir string) *FileAwardQueue {
		t.Helper()
		q, err := OpenFileAwardQueue(dir)
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	pendingKeys := func(t *testing.T, q AwardQueue) []string {
		t.Helper()
		p, err := q.Pending(ctx)
		noErr(t, err)
		var ks []string
		for _, a := range p {
			ks = append(ks, a.Key)
		}
		return ks
	}
	t.Run("Reopen", func(t *testing.T) {
		dir := t.TempDir()
		q := open(t, dir)
		noErr(t, q.Add(ctx, QueuedAward{Key: "a", User: "u", Points: 1}))
		noErr(t, q.Add(ctx, QueuedAward{Key: "b", User: "u", Points: 2}))
		noErr(t, q.Done(ctx, "a"))
		noErr(t, q.Close())
		q = open(t, dir)
		defer q.Close()
		if got := pendingKeys(t, q); !slices.Equal(got, []string{"b"}) {
			t.Fatalf("after reopening: %v, want [b]", got)
		}
	})
	t.Run("TornLastLine", func(t *testing.T) {
		dir := t.TempDir()
		q := open(t, dir)
		noErr(t, q.Add(ctx, QueuedAward{Key: "a", User: "u", Points: 1}))
		noErr(t, q.Close())
		f, err := os.OpenFile(filepath.Join(dir, awardFile), os.O_APPEND|os.O_WRONLY, 0)
		noErr(t, err)
		_, err = f.WriteString(`{"add":{"key":"b","us`) // a crash in the middle of a write
		noErr(t, errors.Join(err, f.Close()))
		q = open(t, dir)
		defer q.Close()
		if got := pendingKeys(t, q); !slices.Equal(got, []string{"a"}) {
			t.Fatalf("after a torn write: %v, want [a]", got)
		}
	})
	t.Run("CorruptRefusesToOpen", func(t *testing.T) {
		dir := t.TempDir()
		noErr(t, os.WriteFile(filepath.Join(dir, awardFile), []byte("{\"add\":{\"key\":\"a\",\"user\":\"u\",\"points\":1}}\nnot json\n{\"done\":\"a\"}\n"), 0o600))
		if _, err := OpenFileAwardQueue(dir); err == nil {
			t.Fatal("opened a corrupt queue; want an error (money owed is never silently dropped)")
		}
	})
	t.Run("FailedWriteIsCut", func(t *testing.T) {
		// A write the file-size limit cuts in the middle (as a full disk would) must not leave a torn line
		// in front of later ones: the file must still open, with every award whose Add succeeded.
		dir := t.TempDir()
		q := open(t, dir)
		noErr(t, q.Add(ctx, QueuedAward{Key: "a", User: "u", Points: 1}))
		st, err := os.Stat(filepath.Join(dir, awardFile))
		noErr(t, err)
		signal.Ignore(syscall.SIGXFSZ)
		defer signal.Reset(syscall.SIGXFSZ)
		var old syscall.Rlimit
		noErr(t, syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old))
		noErr(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: uint64(st.Size()) + 16, Max: old.Max}))
		err = q.Add(ctx, QueuedAward{Key: "b", User: "u", Points: 1, Reason: strings.Repeat("x", 200)})
		noErr(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old))
		if err == nil {
			t.Fatal("an Add past the file-size limit succeeded")
		}
		noErr(t, q.Add(ctx, QueuedAward{Key: "c", User: "u", Points: 1}))
		noErr(t, q.Close())
		q = open(t, dir)
		defer q.Close()
		if got := pendingKeys(t, q); !slices.Equal(got, []string{"a", "c"}) {
			t.Fatalf("after a failed write: %v, want [a c]", got)
		}
	})
	t.Run("GroupCommit", func(t *testing.T) {
		dir := t.TempDir()
		q := open(t, dir)
		var wg sync.WaitGroup
		for i := range 200 {
			wg.Go(func() {
				if err := q.Add(ctx, QueuedAward{Key: fmt.Sprint(i), User: "u", Points: 1}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		syncs := q.syncs.Load()
		noErr(t, q.Close())
		q = open(t, dir)
		defer q.Close()
		if got := len(pendingKeys(t, q)); got != 200 {
			t.Fatalf("%d awards after reopening, want all 200 (each Add returned durable)", got)
		}
		t.Logf("200 concurrent Adds, %d fsyncs", syncs)
		if syncs < 1 || syncs > 200 {
			t.Fatalf("%d fsyncs for 200 Adds", syncs)
		}
	})
	t.Run("StaysSmall", func(t *testing.T) {
		dir := t.TempDir()
		q := open(t, dir)
		defer q.Close()
		for i := range 3000 {
			k := fmt.Sprint(i)
			noErr(t, q.Add(ctx, QueuedAward{Key: k, User: "u", Points: 1}))
			noErr(t, q.Done(ctx, k))
		}
		noErr(t, q.Add(ctx, QueuedAward{Key: "owed", User: "u", Points: 1}))
		st, err := os.Stat(filepath.Join(dir, awardFile))
		noErr(t, err)
		if st.Size() > 200<<10 {
			t.Fatalf("file of %d bytes after 3000 awards paid, want it compacted", st.Size())
		}
		if got := pendingKeys(t, q); !slices.Equal(got, []string{"owed"}) {
			t.Fatalf("pending %v, want [owed]", got)
		}
	})
}

// BenchmarkFileAwardQueueAdd measures a durable Add (one fsync, shared by concurrent callers) under
// parallel load: compare ns/op with -cpu 1 and with more goroutines to see the group commit.
func BenchmarkFileAwardQueueAdd(b *testing.B) {
	q, err := OpenFileAwardQueue(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	ctx := context.Background()
	var n atomic.Int64
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			k := fmt.Sprint(n.Add(1))
			if err := q.Add(ctx, QueuedAward{Key: k, User: "u", Points: 1}); err != nil {
				b.Error(err)
				return
			}
			if err := q.Done(ctx, k); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(q.syncs.Load())/float64(b.N), "fsyncs/op")
}
