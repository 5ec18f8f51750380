package engagement

import (
	"context"
	"fmt"
	"sync"
)

// Welcome is what a viewer receives on joining, less the viewer count that the transport adds.
type Welcome struct {
	User      string    `json:"user"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	Stream    Stream    `json:"stream"`
	Viewers   int       `json:"viewers"`
	Recent    []Comment `json:"recent"`
	Likes     LikeStats `json:"likes"`
	SlowModeS int       `json:"slow_mode_s"`
	Poll      any       `json:"poll,omitempty"`
	Quiz      any       `json:"quiz,omitempty"`
	Coupons   any       `json:"coupons,omitempty"`
	Draw      any       `json:"draw,omitempty"`
	Questions any       `json:"questions,omitempty"`
	Points    any       `json:"points,omitempty"`
	Product   any       `json:"product,omitempty"`
}

// Join checks that actor may watch stream and returns their welcome, and emits viewer.joined.
//
// The stream-wide part of the welcome (readRoom) is shared by the joins that arrive together (roomReads): a
// join storm reads it once per round, not once per viewer.
func (s *Service) Join(ctx context.Context, actor Actor, stream string) (Welcome, error) {
	w, err := s.rooms.read(ctx, stream, s.readRoom)
	if err != nil {
		return Welcome{}, err
	}
	w.User, w.Name, w.Role = actor.User, actor.Name, actor.Role
	st := w.Stream
	for _, part := range joinSteps {
		if err := part(ctx, s, actor, st, &w); err != nil {
			return Welcome{}, err
		}
	}
	if err := s.noteParticipant(ctx, actor.User, stream); err != nil { // the user's index of streams (privacy.go)
		return Welcome{}, err
	}
	if actor.Role == RoleViewer { // the audience of the sales' conversion: not the show's own people
		if err := s.store.CountSaleViewer(ctx, stream, actor.User); err != nil {
			s.log.Warn("count viewer", "stream", stream, "user", actor.User, "err", err)
		}
	}
	s.emit(ctx, EventViewerJoined, stream, actor.User, map[string]any{"stream": stream, "role": actor.Role})
	return w, nil
}

// readRoom reads the stream-wide part of a welcome: the stream, recent comments, moderation's slow mode,
// likes, and what the roomSteps add. Its slices are shared by every welcome made from it: read-only.
func (s *Service) readRoom(ctx context.Context, stream string) (Welcome, error) {
	st, err := s.Stream(ctx, stream)
	if err != nil {
		return Welcome{}, err
	}
	recent, err := s.store.RecentComments(ctx, stream, s.cfg.RecentComments)
	if err != nil {
		return Welcome{}, fmt.Errorf("recent comments of %s: %w", stream, err)
	}
	mod, err := s.store.Moderation(ctx, stream)
	if err != nil {
		return Welcome{}, fmt.Errorf("moderation of %s: %w", stream, err)
	}
	likes, err := s.Likes(ctx, stream)
	if err != nil {
		return Welcome{}, err
	}
	if recent == nil {
		recent = []Comment{}
	}
	w := Welcome{Stream: st, Recent: recent, Likes: likes, SlowModeS: mod.SlowModeS}
	for _, part := range roomSteps {
		if err := part(ctx, s, st, &w); err != nil {
			return Welcome{}, err
		}
	}
	return w, nil
}

// roomReads lets the joins of a stream that arrive together share one readRoom. A join never takes a read
// that began before it arrived: with none running it reads itself; otherwise it waits for the read that
// starts as soon as the running one ends, together with everyone who arrived meanwhile. So a welcome is as
// fresh as if its join had read alone, and a storm of joins costs one read per round instead of one each
// (about ten store reads, each a round trip on Redis).
type roomReads struct {
	mu      sync.Mutex
	streams map[string]*roomQueue
}

// roomQueue is one stream's reads: whether one is running, and the one that starts after it.
type roomQueue struct {
	running bool
	next    *roomRead
}

// roomRead is a read that joins wait for.
type roomRead struct {
	ctx   context.Context // of the first join that waits for it, without its cancellation
	done  chan struct{}   // closed when w and err are set
	joins int             // how many joins wait for it
	w     Welcome
	err   error
}

func newRoomReads() *roomReads { return &roomReads{streams: map[string]*roomQueue{}} }

// read returns the stream-wide welcome of stream from a call of read that began after this call did.
func (rr *roomReads) read(ctx context.Context, stream string, read func(context.Context, string) (Welcome, error)) (Welcome, error) {
	rr.mu.Lock()
	q := rr.streams[stream]
	if q == nil {
		q = &roomQueue{}
		rr.streams[stream] = q
	}
	if !q.running {
		q.running = true
		rr.mu.Unlock()
		defer rr.finish(stream, q, read) // also if read panics (the HTTP layer recovers): the queue moves on
		return read(ctx, stream)
	}
	if q.next == nil {
		q.next = &roomRead{ctx: context.WithoutCancel(ctx), done: make(chan struct{})}
	}
	r := q.next
	r.joins++
	rr.mu.Unlock()
	select {
	case <-r.done:
		return r.w, r.err
	case <-ctx.Done():
		return Welcome{}, ctx.Err()
	}
}

// finish ends q's running read: the read that joins queued meanwhile starts now, or the stream's queue goes.
func (rr *roomReads) finish(stream string, q *roomQueue, read func(context.Context, string) (Welcome, error)) {
	rr.mu.Lock()
	r := q.next
	q.next = nil
	if r == nil {
		q.running = false
		delete(rr.streams, stream)
		rr.mu.Unlock()
		return
	}
	rr.mu.Unlock()
	go func() {
		defer rr.finish(stream, q, read)
		defer close(r.done)
		defer func() { // no HTTP layer here to recover: the joins that wait get an error instead
			if p := recover(); p != nil {
				r.err = fmt.Errorf("read the room of %s: panic: %v", stream, p)
			}
		}()
		r.w, r.err = read(r.ctx, stream)
	}()
}

// Leave records that actor left stream after watching for watched seconds.
func (s *Service) Leave(ctx context.Context, actor Actor, stream string, watchedSeconds int64) {
	s.emit(ctx, EventViewerLeft, stream, actor.User, map[string]any{"stream": stream, "watch_seconds": watchedSeconds})
}

// Tick runs what time drives on a stream (polls closing, quiz deadlines passing) and returns what it produced.
// The hub of each node calls it a few times a second; a transition happens on one node only.
func (s *Service) Tick(ctx context.Context, stream string) (Outcome, error) {
	out := Outcome{Stream: stream}
	var err error
	for _, t := range tickSteps {
		var o Outcome
		if o, err = t(ctx, s, stream); err != nil {
			break
		}
		out.Merge(o)
	}
	s.record(ctx, out) // the hub delivers what the steps before a failure produced
	return out, err
}

// Snapshot returns the coalesced frames of a stream's current state (likes, tallies): the hub sends those
// that changed since it last sent them.
func (s *Service) Snapshot(ctx context.Context, stream string) ([]Frame, error) {
	likes, err := s.Likes(ctx, stream)
	if err != nil {
		return nil, err
	}
	frames := []Frame{{Type: "likes", Data: likes}}
	for _, p := range snapshotSteps {
		f, err := p(ctx, s, stream)
		if err != nil {
			return nil, err
		}
		frames = append(frames, f...)
	}
	return frames, nil
}
