package stream

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/kudos-live/kudos/engagement"
)

// Hub timings: state frames are coalesced to one per tickEvery (≤ 4/s); presence to ≤ 2/s, and on a big
// stream (Config.WriteDelayFrom viewers on this node) its frame to one per bigPresenceEvery.
const (
	tickEvery        = 250 * time.Millisecond
	presenceEvery    = 500 * time.Millisecond
	bigPresenceEvery = 2 * time.Second
)

// presenceFrameEvery is how often a hub with viewers sockets on a stream may send them the viewer count. On a
// big stream each presence frame is one write per socket, and while a show's audience pours in the count
// changes at every tick: at 15,000 viewers that was 30,000 writes a second for the count alone, most of a
// join storm's cost. The count itself is still shared every presenceEvery.
func presenceFrameEvery(viewers, bigFrom int) time.Duration {
	if bigFrom > 0 && viewers >= bigFrom {
		return bigPresenceEvery
	}
	return presenceEvery
}

// Hub is the live room of one stream on this node. Its run goroutine alone owns the set of clients; a
// second goroutine (ticker) polls shared state and time-driven transitions and feeds the run loop, so that
// nothing in the run loop waits on the network.
type Hub struct {
	id  string
	reg *Registry

	join  chan *Client
	leave chan *Client
	inbox chan Message
	done  chan struct{} // closed when the hub stops accepting work

	pending int // joins on their way in; guarded by reg.mu
	count   atomic.Int64
	// joining counts the sockets between their presence write in ServeWS and the hub taking them in: the
	// ticker's presence write counts them too, so that it never writes a count without a viewer whose welcome
	// already counted them.
	joining atomic.Int64

	// the next flush of held writes (writeLoop): closed when it is due, nil when no write waits
	flushMu sync.Mutex
	flushC  chan struct{}

	// owned by run
	clients map[*Client]struct{}
	byUser  map[string]map[*Client]struct{}
}

func newHub(id string, reg *Registry) *Hub {
	return &Hub{
		id:      id,
		reg:     reg,
		join:    make(chan *Client),
		leave:   make(chan *Client, 64),
		inbox:   make(chan Message, 1024),
		done:    make(chan struct{}),
		clients: map[*Client]struct{}{},
		byUser:  map[string]map[*Client]struct{}{},
	}
}

// post queues m for the run loop unless the hub has stopped.
func (h *Hub) post(m Message) {
	m.arrived = time.Now().UnixNano()
	select {
	case h.inbox <- m:
	case <-h.done:
	}
}

// run owns the hub until ctx ends (shutdown: clients closed with 1001), the stream ends, or the hub has been
// idle for the registry's IdleTimeout.
func (h *Hub) run(ctx context.Context) {
	tctx, stopTicker := context.WithCancel(ctx)
	var tickerDone sync.WaitGroup
	tickerDone.Add(1)
	go func() {
		defer tickerDone.Done()
		h.tick(tctx)
	}()
	unsubscribe, err := h.reg.fanout.Subscribe(ctx, h.id, h.post)
	if err != nil {
		// Without its subscription the hub would deliver nothing, not even its own broadcasts: stop, so
		// that the joins on their way are refused (1013, try again) and the next join starts a new hub.
		h.reg.log.Error("subscribe to stream fan-out; refusing joins until it works", "stream", h.id, "err", err)
		h.reg.removeHub(h, true)
		close(h.done)
		stopTicker()
		tickerDone.Wait()
		return
	}
	idle := time.NewTimer(h.reg.cfg.IdleTimeout)
	defer func() {
		idle.Stop()
		close(h.done) // before unsubscribing: a publisher blocked in post must be released
		unsubscribe()
		stopTicker()
		tickerDone.Wait()
		// A newer hub may already serve the stream on this node (a viewer came back meanwhile): leave its
		// presence and per-stream state alone.
		if !h.reg.hasHub(h.id) {
			_ = h.reg.presence.Set(context.WithoutCancel(ctx), h.id, h.reg.cfg.Node, 0)
			h.reg.svc.ForgetStream(h.id)
		}
	}()
	for {
		select {
		case c := <-h.join:
			h.add(c)
			h.joining.Add(-1)
			idle.Stop()
		case c := <-h.leave:
			h.remove(c)
			if len(h.clients) == 0 {
				idle.Reset(h.reg.cfg.IdleTimeout)
			}
		case m := <-h.inbox:
			h.deliver(m)
			if m.End {
				h.closeAll(websocket.CloseNormalClosure, reasonEnded)
				h.reg.removeHub(h, true)
				return
			}
		case <-idle.C:
			if h.reg.removeHub(h, false) {
				return
			}
		case <-ctx.Done():
			h.closeAll(websocket.CloseGoingAway, reasonShutdown)
			return
		}
	}
}

func (h *Hub) add(c *Client) {
	h.reg.mu.Lock()
	h.pending--
	h.reg.mu.Unlock()
	h.clients[c] = struct{}{}
	if h.byUser[c.actor.User] == nil {
		h.byUser[c.actor.User] = map[*Client]struct{}{}
	}
	h.byUser[c.actor.User][c] = struct{}{}
	h.count.Store(int64(len(h.clients)))
}

func (h *Hub) remove(c *Client) {
	if _, ok := h.clients[c]; !ok {
		return
	}
	delete(h.clients, c)
	if set := h.byUser[c.actor.User]; set != nil {
		delete(set, c)
		if len(set) == 0 {
			delete(h.byUser, c.actor.User)
		}
	}
	h.count.Store(int64(len(h.clients)))
}

func (h *Hub) closeAll(code int, reason string) {
	for c := range h.clients {
		c.kick(code, reason)
	}
}

// deliver hands m to the sockets it is for, holding it back first if it is not yet due (video delay).
func (h *Hub) deliver(m Message) {
	if m.NotBeforeMS > 0 {
		if wait := time.Until(time.UnixMilli(m.NotBeforeMS)); wait > 0 {
			time.AfterFunc(wait, func() {
				m.NotBeforeMS = 0
				h.post(m)
			})
			return
		}
	}
	var n, skipped int
	switch {
	case m.Sampled:
		// Chat: skippable for everyone but its author (sampling here, backlog and age in the client).
		now := time.Now().UnixNano()
		own := outbound{payload: m.Payload, accepted: m.Accepted}
		chat := outbound{payload: m.Payload, accepted: m.Accepted, chat: true, since: chatSince(m)}
		for c := range h.clients {
			if c.actor.User == m.From {
				c.enqueue(own)
			} else if !c.sample(now, h.reg.cfg.SampleRate) {
				c.skipChat(1)
				skipped++
				continue
			} else {
				c.enqueue(chat)
			}
			n++
		}
		if skipped > 0 {
			h.reg.metrics.Sampled.Add(float64(skipped))
			h.reg.skipSampled.Add(float64(skipped))
		}
	case m.User != "":
		o := outbound{payload: m.Payload, accepted: m.Accepted}
		for c := range h.byUser[m.User] {
			c.enqueue(o)
			n++
		}
	default:
		o := outbound{payload: m.Payload, accepted: m.Accepted}
		for c := range h.clients {
			if m.HostsOnly && !c.staff {
				continue
			}
			c.enqueue(o)
			n++
		}
	}
	if n > 0 {
		for _, t := range m.Types {
			h.reg.metrics.FramesOut.WithLabelValues(t).Add(float64(n))
		}
	}
}

// tick polls shared state a few times a second: this node's presence and the stream-wide count, coalesced
// state frames (likes, tallies) that changed, and time-driven transitions (a poll closing).
func (h *Hub) tick(ctx context.Context) {
	t := time.NewTicker(tickEvery)
	defer t.Stop()
	last := map[string][]byte{}
	var lastViewers = -1
	var lastPresence, lastPresenceFrame time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		if now.Sub(lastPresence) >= presenceEvery {
			lastPresence = now
			if err := h.reg.presence.Set(ctx, h.id, h.reg.cfg.Node, h.present()); err != nil {
				h.reg.log.Warn("set presence", "stream", h.id, "err", err)
			}
			every := presenceFrameEvery(int(h.count.Load()), h.reg.cfg.WriteDelayFrom)
			if n, err := h.reg.presence.Count(ctx, h.id); err == nil && n != lastViewers && now.Sub(lastPresenceFrame) >= every {
				lastViewers, lastPresenceFrame = n, now
				h.local("presence", map[string]int{"viewers": n})
			}
			// A stream ended on another node, or whose stream.ended message was lost, still closes here.
			if st, err := h.reg.svc.Stream(ctx, h.id); err == nil && !st.Live() && h.count.Load() > 0 {
				if b, err := EncodeFrame("stream.ended", map[string]string{"id": h.id}); err == nil {
					h.post(Message{Stream: h.id, Payload: b, Types: []string{"stream.ended"}, End: true})
				}
			}
		}
		if h.count.Load() > 0 {
			frames, err := h.reg.svc.Snapshot(ctx, h.id)
			if err != nil {
				h.reg.log.Warn("snapshot", "stream", h.id, "err", err)
			}
			for _, f := range frames {
				b, err := EncodeFrame(f.Type, f.Data)
				if err != nil {
					continue
				}
				key := snapshotKey(f)
				if bytes.Equal(last[key], b) {
					continue
				}
				last[key] = b
				h.post(Message{Stream: h.id, Payload: b, Types: []string{f.Type}})
			}
		}
		out, err := h.reg.svc.Tick(ctx, h.id)
		if err != nil {
			h.reg.log.Warn("tick", "stream", h.id, "err", err)
		}
		if err := h.reg.Deliver(ctx, out); err != nil {
			h.reg.log.Warn("deliver tick outcome", "stream", h.id, "err", err)
		}
	}
}

// snapshotKey identifies what a coalesced frame describes (its type and the id of its poll or coupon), so
// that a change is detected per item.
func snapshotKey(f engagement.Frame) string {
	if m, ok := f.Data.(map[string]any); ok {
		for _, k := range []string{"id", "poll_id", "coupon_id", "quiz_id"} {
			if v, ok := m[k]; ok {
				return fmt.Sprint(f.Type, "/", v)
			}
		}
	}
	return f.Type
}

// local queues a frame for this node's sockets only.
func (h *Hub) local(typ string, data any) {
	b, err := EncodeFrame(typ, data)
	if err != nil {
		return
	}
	h.post(Message{Stream: h.id, Payload: b, Types: []string{typ}})
}

// chatSince is when the age of m's chat begins (Unix nanoseconds; 0: never stale): its acceptance, but not
// before it reached this hub, since the acceptance time may come from another node's clock.
func chatSince(m Message) int64 {
	if m.Accepted == 0 {
		return 0
	}
	return max(m.Accepted, m.arrived)
}

// flushGate returns a channel closed d after the first writer began to wait on it: every socket of the hub
// holding a write shares one timer, and their writes go out together.
func (h *Hub) flushGate(d time.Duration) <-chan struct{} {
	h.flushMu.Lock()
	defer h.flushMu.Unlock()
	if h.flushC == nil {
		ch := make(chan struct{})
		h.flushC = ch
		time.AfterFunc(d, func() {
			h.flushMu.Lock()
			h.flushC = nil
			h.flushMu.Unlock()
			close(ch)
		})
	}
	return h.flushC
}

// present is this node's count for the stream's presence: its connections and the sockets joining.
func (h *Hub) present() int { return int(h.count.Load() + h.joining.Load()) }

// Viewers returns this node's connection count for the stream.
func (h *Hub) Viewers() int { return int(h.count.Load()) }
