package stream

// A client's outgoing side: its queue (chat skipped under load, a full queue of other frames dropping the
// socket), the writer goroutine that exists only while there is something to write, pings and the close.

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/gorilla/websocket"

	"github.com/kudos-live/kudos/engagement"
)

// outbound is one queued message: its envelopes and, for a comment, when it was accepted (Unix
// nanoseconds; 0: not timed), observed in kudos_ws_comment_fanout_seconds once it is written. Chat is
// someone else's comment, which may be skipped (chatBacklog, chatMaxAge).
type outbound struct {
	payload  []byte
	accepted int64
	chat     bool
	since    int64 // chat: when its age begins (chatSince); 0: never stale
}

// newClient returns a client of hub on conn with an empty queue of at most sendMax messages.
func newClient(hub *Hub, conn *websocket.Conn, actor engagement.Actor, sendMax int) *Client {
	return &Client{
		hub:      hub,
		conn:     conn,
		actor:    actor,
		done:     make(chan struct{}),
		readDone: make(chan struct{}),
		wake:     make(chan struct{}, 1),
		sendMax:  sendMax,
		log:      hub.reg.log,
	}
}

// enqueue queues o without blocking. Chat beyond chatBacklog, or in a full queue, pushes out the oldest
// chat waiting (counted, and told to the viewer); a client whose queue is full of other frames is dropped,
// not waited for.
func (c *Client) enqueue(o outbound) bool {
	select {
	case <-c.done:
		return false
	default:
	}
	c.qmu.Lock()
	if (o.chat && c.chatN >= chatBacklog) || len(c.queue) >= c.sendMax {
		if !c.dropOldestChat() {
			if o.chat { // a queue full of other frames: this chat is the one skipped
				c.skipped++
				c.qmu.Unlock()
				c.hub.reg.skipBacklog.Inc()
				return true
			}
			c.qmu.Unlock()
			c.kick(websocket.ClosePolicyViolation, reasonSlow)
			return false
		}
		c.hub.reg.skipBacklog.Inc()
	}
	if o.chat {
		c.chatN++
	}
	c.queue = append(c.queue, o)
	c.startWriterLocked()
	c.qmu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return true
}

// dropOldestChat skips the oldest chat message in the queue, reporting whether there was one; c.qmu is held.
func (c *Client) dropOldestChat() bool {
	if c.chatN == 0 {
		return false
	}
	for i, o := range c.queue {
		if o.chat {
			c.queue = slices.Delete(c.queue, i, i+1) // which clears the freed slot: no payload is kept
			c.chatN--
			c.skipped++
			return true
		}
	}
	return false
}

// skipChat notes n chat messages not sent to this viewer; the next message written tells them the count.
func (c *Client) skipChat(n int) {
	c.qmu.Lock()
	c.skipped += n
	c.qmu.Unlock()
}

// take empties the queue into a batch (reusing the writer's spare slice) with the count of chat skipped
// since the last batch; only the writer calls it.
func (c *Client) take() (batch []outbound, skipped int) {
	c.qmu.Lock()
	batch, c.queue, c.spare = c.queue, c.spare, nil
	c.chatN = 0
	skipped, c.skipped = c.skipped, 0
	c.qmu.Unlock()
	return batch, skipped
}

// queued is how many messages wait.
func (c *Client) queued() int {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	return len(c.queue)
}

// kick closes the connection with code and reason, once; the writer sends the close frame.
func (c *Client) kick(code int, reason string) {
	c.once.Do(func() {
		c.code, c.reason = code, reason
		close(c.done)
		c.qmu.Lock()
		c.startWriterLocked() // the writer sends the close frame
		c.qmu.Unlock()
		if reason != "" && code != websocket.CloseGoingAway && code != websocket.CloseNormalClosure {
			c.hub.reg.metrics.Drops.WithLabelValues(reason).Inc()
			level := slog.LevelWarn
			if code == closeTokenExpired {
				level = slog.LevelInfo // the client's business, not the server's trouble
			}
			c.log.Log(context.Background(), level, "dropping client", "stream", c.hub.id, "user", c.actor.User, "reason", reason)
		}
	})
}

// writerLinger is how long a socket's writer goroutine waits for more to write before it exits: a socket
// has a writer only while it has something to write (enqueue, the ping timer or a kick starts one), so an idle
// viewer holds no writer goroutine and no stack.
const writerLinger = time.Second

// spareMax is the largest batch slice a writer keeps for the next batch; a bigger one (after a burst) is
// left to the garbage collector.
const spareMax = 16

// start makes the client live once it has joined its hub: writes begin (the welcome is queued), pings are
// scheduled, and onClosed is called once the connection is closed, after the close frame.
func (c *Client) start(onClosed func()) {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	c.onClosed = onClosed
	c.live = true
	c.pingT = time.AfterFunc(pingPeriod, c.pingDue)
	c.startWriterLocked()
}

// startWriterLocked starts the writer goroutine unless one runs or the client is not live yet; c.qmu is held.
func (c *Client) startWriterLocked() {
	if c.writing || !c.live {
		return
	}
	c.writing = true
	go c.writeLoop()
}

// pingDue asks the writer for a ping, every pingPeriod.
func (c *Client) pingDue() {
	c.qmu.Lock()
	if c.kicked() { // closing: no more pings, and the timer is not armed again
		c.qmu.Unlock()
		return
	}
	c.pinging = true
	c.startWriterLocked()
	c.pingT.Reset(pingPeriod)
	c.qmu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// writeLoop is the socket's only writer while it runs: it writes what is queued, batching it into one
// WebSocket message, and the pings; it exits after writerLinger with nothing to write, and, once the client
// is kicked, sends the close frame and closes the connection. On a busy node (loadMeter) a big stream's
// writes are held until the hub's next flush (Config.WriteDelay) so that what follows goes out in the same
// syscall; otherwise, and in small rooms, a message goes out at once.
func (c *Client) writeLoop() {
	reg := c.hub.reg
	var linger *time.Timer
	defer func() {
		if linger != nil {
			linger.Stop()
		}
	}()
	for {
		select {
		case <-c.done:
			c.closeConn()
			return
		default:
		}
		c.qmu.Lock()
		n, ping := len(c.queue), c.pinging
		c.pinging = false
		c.qmu.Unlock()
		if n == 0 && !ping {
			if linger == nil {
				linger = time.NewTimer(writerLinger)
			} else {
				linger.Reset(writerLinger)
			}
			select {
			case <-c.wake:
			case <-c.done:
			case <-linger.C:
				c.qmu.Lock()
				if len(c.queue) == 0 && !c.pinging && !c.kicked() {
					c.writing = false            // enqueue starts another
					c.spare, c.stamps = nil, nil // an idle socket keeps no buffers either
					c.qmu.Unlock()
					return
				}
				c.qmu.Unlock()
			}
			continue
		}
		if d := reg.cfg.WriteDelay; n == 1 && d > 0 && c.hub.Viewers() >= reg.cfg.WriteDelayFrom &&
			reg.load.Busy(time.Now().UnixNano()) {
			select {
			case <-c.hub.flushGate(d):
			case <-c.done:
				continue
			}
		}
		if ping {
			_ = c.conn.SetWriteDeadline(time.Now().Add(writeWait))
			if err := c.conn.WriteMessage(websocket.PingMessage, nil); err != nil {
				c.writeFailed(err)
				continue
			}
		}
		if err := c.flush(); err != nil {
			c.writeFailed(err)
		}
	}
}

// kicked reports whether the client has been told to close.
func (c *Client) kicked() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// closeConn ends the connection from the writer: the close frame (after what is queued, except to a slow
// consumer), then the connection itself, then onClosed.
func (c *Client) closeConn() {
	c.qmu.Lock()
	if c.pingT != nil {
		c.pingT.Stop()
	}
	c.qmu.Unlock()
	c.writeClose()
	_ = c.conn.Close()
	if c.onClosed != nil {
		c.onClosed()
	}
}

// writeFailed ends a connection whose write failed: a missed write deadline is a client that stopped
// reading (counted and logged once); anything else is a peer already gone, which is no news.
func (c *Client) writeFailed(err error) {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.kick(websocket.CloseAbnormalClosure, reasonWriteTimeout)
		return
	}
	c.kick(websocket.CloseAbnormalClosure, "")
}

// flush writes what is queued as one message, envelopes separated by '\n': chat older than chatMaxAge is
// skipped, and a chat.skipped frame with the count of chat skipped since the last one begins the message
// (see next).
// Then it observes the fan-out latency of the comments written.
func (c *Client) flush() error {
	batch, kept, skipped := c.next(time.Now().UnixNano())
	defer func() {
		clear(batch)
		if cap(batch) <= spareMax {
			c.spare = batch[:0]
		}
	}()
	if len(kept) == 0 {
		return nil
	}
	_ = c.conn.SetWriteDeadline(time.Now().Add(writeWait))
	w, err := c.conn.NextWriter(websocket.TextMessage)
	if err != nil {
		return err
	}
	c.compose(w, kept, skipped)
	if err := w.Close(); err != nil {
		return err
	}
	if len(c.stamps) > 0 {
		now := time.Now().UnixNano()
		for _, at := range c.stamps {
			// Clamped: the stamp may come from another node's clock.
			c.hub.reg.metrics.CommentFanout.Observe(float64(max(now-at, 0)) / 1e9)
		}
	}
	return nil
}

// next takes what is queued at now (UnixNano) and returns it (batch, to be given back as c.spare) with what
// of it to write (kept) and the count of chat skipped to tell. When only skipped chat was queued nothing is
// written: the count waits for the next frame to the socket, so that a node too busy to deliver chat does not
// spend a write on every socket to say so.
func (c *Client) next(now int64) (batch, kept []outbound, skipped int) {
	batch, skipped = c.take()
	kept, skipped = c.fresh(batch, skipped, now)
	if len(kept) == 0 && skipped > 0 {
		c.skipChat(skipped)
		skipped = 0
	}
	return batch, kept, skipped
}

// fresh drops from batch, in place, the chat older than chatMaxAge at now (UnixNano, counted), and returns
// what is left with the count of chat skipped including them.
func (c *Client) fresh(batch []outbound, skipped int, now int64) ([]outbound, int) {
	kept, stale := batch[:0], 0
	for _, o := range batch {
		if o.chat && o.since != 0 && now-o.since > int64(chatMaxAge) {
			stale++
			continue
		}
		kept = append(kept, o)
	}
	if stale > 0 {
		c.hub.reg.skipStale.Add(float64(stale))
	}
	return kept, skipped + stale
}

// compose writes to w as one message, envelopes separated by '\n', the chat.skipped frame if skipped > 0
// (first: what was skipped came before what is written), then kept, and notes the acceptance times of the
// comments in it in c.stamps.
func (c *Client) compose(w io.Writer, kept []outbound, skipped int) {
	c.stamps = c.stamps[:0]
	if skipped > 0 {
		_, _ = w.Write(skippedFrame(skipped))
		c.hub.reg.markers.Inc()
	}
	for i, o := range kept {
		if i > 0 || skipped > 0 {
			_, _ = w.Write(newline)
		}
		_, _ = w.Write(o.payload)
		if o.accepted != 0 {
			c.stamps = append(c.stamps, o.accepted)
		}
	}
}

// skippedFrame is the chat.skipped envelope telling a viewer that n chat messages were not sent to them.
func skippedFrame(n int) []byte {
	b := make([]byte, 0, 48)
	b = append(b, `{"type":"chat.skipped","data":{"count":`...)
	b = strconv.AppendInt(b, int64(n), 10)
	return append(b, "}}"...)
}

var newline = []byte{'\n'}

// writeClose flushes what is queued (not to a slow consumer), sends the close frame, and waits briefly for
// the reader to see the peer's answering close, so that the connection is not cut under a peer that is
// still talking.
func (c *Client) writeClose() {
	if c.code == websocket.CloseAbnormalClosure {
		return // the connection is already broken
	}
	// What is queued goes first (the errors that told a flooding client to slow down, the last frames of a
	// stream that ended), except to a slow consumer, which would not read it.
	if c.reason != reasonSlow {
		if c.flush() != nil {
			return
		}
	}
	_ = c.conn.SetWriteDeadline(time.Now().Add(writeWait))
	_ = c.conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(c.code, c.reason))
	_ = c.conn.SetReadDeadline(time.Now().Add(closeGrace))
	select {
	case <-c.readDone:
	case <-time.After(closeGrace):
	}
}
