package engagement

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// queued returns how many joins of stream wait for the read that starts after the running one.
func (rr *roomReads) queued(stream string) int {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	if q := rr.streams[stream]; q != nil && q.next != nil {
		return q.next.joins
	}
	return 0
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestRoomReadsShareOnlyLaterReads: joins that arrive while a read of the room runs all share the next read,
// never the running one (it began before they arrived); another stream does not wait; a join that gives up
// leaves the others their read; nothing stays behind.
func TestRoomReadsShareOnlyLaterReads(t *testing.T) {
	rr := newRoomReads()
	var reads atomic.Int64
	release := make(chan struct{})
	read := func(_ context.Context, stream string) (Welcome, error) {
		n := reads.Add(1)
		if n == 1 {
			<-release
		}
		return Welcome{Viewers: int(n), Stream: Stream{ID: stream}}, nil
	}
	ctx := context.Background()
	first := make(chan Welcome, 1)
	go func() {
		w, err := rr.read(ctx, "s1", read)
		if err != nil {
			t.Error(err)
		}
		first <- w
	}()
	waitFor(t, "the first read", func() bool { return reads.Load() == 1 })

	const joins = 10
	got := make([]Welcome, joins)
	var wg sync.WaitGroup
	for i := range joins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, err := rr.read(ctx, "s1", read)
			if err != nil {
				t.Error(err)
			}
			got[i] = w
		}()
	}
	cctx, cancel := context.WithCancel(ctx)
	gaveUp := make(chan error, 1)
	go func() { _, err := rr.read(cctx, "s1", read); gaveUp <- err }()
	waitFor(t, "the joins to queue", func() bool { return rr.queued("s1") == joins+1 })

	// Another stream reads at once, while s1's read still runs.
	if w, err := rr.read(ctx, "s2", read); err != nil || w.Stream.ID != "s2" || w.Viewers != 2 {
		t.Fatalf("s2 while s1 reads: %+v, %v; want its own read (number 2)", w, err)
	}
	cancel()
	if err := <-gaveUp; !errors.Is(err, context.Canceled) {
		t.Fatalf("a join that gave up: %v, want context.Canceled", err)
	}
	close(release)
	if w := <-first; w.Viewers != 1 {
		t.Errorf("the first join got read %d, want 1", w.Viewers)
	}
	wg.Wait()
	for i, w := range got {
		if w.Viewers != 3 || w.Stream.ID != "s1" {
			t.Errorf("join %d got read %d of %q, want read 3 of s1 (the one after theirs began)", i, w.Viewers, w.Stream.ID)
		}
	}
	if n := reads.Load(); n != 3 {
		t.Errorf("%d reads for 12 joins, want 3 (s1's first, s2's, and one shared by the 10 that queued)", n)
	}
	rr.mu.Lock()
	left := len(rr.streams)
	rr.mu.Unlock()
	if left != 0 {
		t.Errorf("%d streams' queues left after every join ended, want 0", left)
	}
}

// gatedRecent holds the first RecentComments after it has read, until release is closed, and counts the
// renewals of stream records.
type gatedRecent struct {
	Store
	reads   atomic.Int64
	renews  atomic.Int64
	release chan struct{}
}

func (g *gatedRecent) RenewStream(ctx context.Context, stream string) error {
	g.renews.Add(1)
	return g.Store.RenewStream(ctx, stream)
}

func (g *gatedRecent) RecentComments(ctx context.Context, stream string, n int) ([]Comment, error) {
	cs, err := g.Store.RecentComments(ctx, stream, n)
	if g.reads.Add(1) == 1 {
		<-g.release
	}
	return cs, err
}

// TestJoinsShareTheRoomReadButNotAnOlderOne: while a join's read of the room is held, a comment is posted and
// 20 viewers join. They share one read, which sees the comment (the held read, older, does not); each
// welcome is its own viewer's, and each join has its event. The live stream's record is renewed once per read.
func TestJoinsShareTheRoomReadButNotAnOlderOne(t *testing.T) {
	svc, sink, _ := newTestService(t)
	ctx := context.Background()
	g := &gatedRecent{Store: svc.store, release: make(chan struct{})}
	svc.store = g
	first := make(chan Welcome, 1)
	go func() {
		w, err := svc.Join(ctx, Actor{User: "early", Name: "Early", Role: RoleViewer}, "s1")
		if err != nil {
			t.Error(err)
		}
		first <- w
	}()
	waitFor(t, "the first read", func() bool { return g.reads.Load() == 1 })
	if _, err := svc.PostComment(ctx, testViewer, "s1", "hello"); err != nil {
		t.Fatal(err)
	}
	const joins = 20
	got := make([]Welcome, joins)
	var wg sync.WaitGroup
	for i := range joins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, err := svc.Join(ctx, Actor{User: fmt.Sprintf("v%d", i), Name: "V", Role: RoleViewer}, "s1")
			if err != nil {
				t.Error(err)
			}
			got[i] = w
		}()
	}
	waitFor(t, "the joins to queue", func() bool { return svc.rooms.queued("s1") == joins })
	close(g.release)
	if w := <-first; len(w.Recent) != 0 || w.User != "early" {
		t.Errorf("the first join: user %q, %d recent comments; want early, 0 (its read began before the comment)", w.User, len(w.Recent))
	}
	wg.Wait()
	for i, w := range got {
		if w.User != fmt.Sprintf("v%d", i) || w.Role != RoleViewer || len(w.Recent) != 1 || w.Recent[0].Text != "hello" {
			t.Errorf("join %d: user %q role %q recent %+v; want v%d, viewer, the comment posted before it joined", i, w.User, w.Role, w.Recent, i)
		}
	}
	if n := g.reads.Load(); n != 2 {
		t.Errorf("%d reads of the room for %d joins, want 2", n, joins+1)
	}
	if n := g.renews.Load(); n != 2 {
		t.Errorf("the stream's record renewed %d times by %d joins in 2 rounds, want 2", n, joins+1)
	}
	joined := 0
	for _, e := range sink.Events() {
		if e.Type == EventViewerJoined {
			joined++
		}
	}
	if joined != joins+1 {
		t.Errorf("%d viewer.joined events, want %d", joined, joins+1)
	}
}

// TestRoomReadsSurviveAPanickingRead: a read that panics in a join's own call panics there (the HTTP layer
// recovers) and one that panics for the joins that waited gives them an error; either way the stream's
// queue moves on and the next join reads.
func TestRoomReadsSurviveAPanickingRead(t *testing.T) {
	rr := newRoomReads()
	release := make(chan struct{})
	var reads atomic.Int64
	read := func(context.Context, string) (Welcome, error) {
		switch reads.Add(1) {
		case 1:
			<-release
			panic("first")
		case 2:
			panic("second")
		}
		return Welcome{Viewers: 3}, nil
	}
	ctx := context.Background()
	leader := make(chan any, 1)
	go func() {
		defer func() { leader <- recover() }()
		_, _ = rr.read(ctx, "s1", read)
	}()
	waitFor(t, "the first read", func() bool { return reads.Load() == 1 })
	waited := make(chan error, 1)
	go func() { _, err := rr.read(ctx, "s1", read); waited <- err }()
	waitFor(t, "a join to queue", func() bool { return rr.queued("s1") == 1 })
	close(release)
	if p := <-leader; p != "first" {
		t.Errorf("the first join's own read: recovered %v, want its panic", p)
	}
	if err := <-waited; err == nil || !strings.Contains(err.Error(), "panic: second") {
		t.Errorf("the join that waited: %v, want an error naming the panic", err)
	}
	if w, err := rr.read(ctx, "s1", read); err != nil || w.Viewers != 3 {
		t.Errorf("the next join: %+v, %v; want read 3", w, err)
	}
}
