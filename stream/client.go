package stream

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/kudos-live/kudos/engagement"
)

// Connection timings, after gorilla's chat example: every write has a deadline, the pong handler pushes the
// read deadline, and pings go out at 9/10 of the pong wait so that one lost ping is not fatal.
const (
	writeWait      = 10 * time.Second
	pongWait       = 60 * time.Second
	pingPeriod     = pongWait * 9 / 10
	maxMessageSize = 4096
	closeGrace     = time.Second
)

// Chat under load. A viewer is sent chat only while it is fresh: at most chatBacklog chat messages wait on
// one socket (a newer one pushes the oldest out), and chat older than chatMaxAge when its write begins is
// skipped (its age counts from its acceptance, or from its arrival at this node's hub if that is later: the
// acceptance time may come from another node's clock). The viewer is told how many in a chat.skipped
// frame at the start of the next message written to it. Only other people's chat is ever skipped: the
// viewer's own comments, the host's, and every other frame (polls, quizzes, coupons, points, acks) always
// go out.
const (
	chatBacklog = 32
	chatMaxAge  = 500 * time.Millisecond
)

// Why chat was skipped, as counted in kudos_ws_chat_skipped_total.
const (
	skipSampled = "sampled" // the stream flooded: over the viewer's Config.SampleRate
	skipBacklog = "backlog" // chatBacklog chat messages were already waiting on the socket
	skipStale   = "stale"   // older than chatMaxAge when its write began
)

// closeTokenExpired is the close code of a socket whose token expired (4000-4999 are for applications).
const closeTokenExpired = 4001

// Close reasons, as sent in close frames and counted in kudos_ws_drops_total.
const (
	reasonSlow     = "slow consumer"
	reasonFlood    = "flooding after rate_limited"
	reasonShutdown = "server shutting down"
	reasonEnded    = "stream ended"
	reasonTooLarge = "message too large"
	// reasonWriteTimeout: a write missed its deadline (the client stopped reading); no close frame can be sent.
	reasonWriteTimeout = "write timeout"
	// reasonTokenExpired: the token the socket was opened (or last refreshed) with expired (close 4001).
	reasonTokenExpired = "token_expired"
)

// Client is one WebSocket connection: exactly one reader goroutine (readPump) and at most one writer
// (writeLoop), which runs only while there is something to write.
type Client struct {
	hub      *Hub
	conn     *websocket.Conn
	actor    engagement.Actor
	staff    bool
	done     chan struct{}
	readDone chan struct{} // closed when readPump returns
	once     sync.Once
	code     int
	reason   string
	joined   time.Time
	limiter  *rate.Limiter
	strikes  int // frames refused in a row by the limiter
	log      *slog.Logger

	// the send queue, filled by the hub, replies and the welcome, emptied by writeLoop; a client whose queue
	// reaches sendMax with no chat in it to skip is dropped, not waited for
	qmu     sync.Mutex
	queue   []outbound
	chatN   int           // skippable chat messages in queue
	skipped int           // chat skipped since the last chat.skipped frame
	wake    chan struct{} // capacity 1: something was queued
	sendMax int
	live    bool        // joined: enqueue starts the writer (start)
	writing bool        // a writer goroutine runs (writeLoop)
	pinging bool        // a ping is due
	pingT   *time.Timer // schedules pings
	// onClosed is called by the last writer once the connection is closed (set by start)
	onClosed func()

	// owned by the running writeLoop: the acceptance times of the timed frames in the message being written, and the
	// slice of the last batch, reused for the next
	stamps []int64
	spare  []outbound

	// owned by the hub's run goroutine: the chat sampling token bucket
	sampleTokens float64
	sampleAt     int64 // UnixNano of the last refill

	watchMu sync.Mutex
	watchT  *time.Timer

	// the token's expiry (zero: never), pushed back by auth.refresh; the timer closes the socket at it
	authMu  sync.Mutex
	expires time.Time
	expT    *time.Timer
	refresh func(token string) (engagement.Actor, time.Time, error) // nil: auth.refresh refused
}

// sample reports whether this viewer takes one more sampled (chat) message at now (UnixNano): a token bucket
// refilled at perSec a second holding at most one second's worth, so a steady perSec stream with jitter
// passes whole and a flood is thinned to perSec. Only the hub's run goroutine calls it.
func (c *Client) sample(now int64, perSec int) bool {
	if c.sampleAt == 0 {
		c.sampleTokens = float64(perSec)
	} else {
		c.sampleTokens = min(float64(perSec), c.sampleTokens+float64(now-c.sampleAt)*float64(perSec)/1e9)
	}
	c.sampleAt = now
	if c.sampleTokens < 1 {
		return false
	}
	c.sampleTokens--
	return true
}

// watchEvery is how often a connected viewer is credited for watching (the rule pays per full minute).
const watchEvery = time.Minute

// startWatching credits the viewer each full minute the socket stays open.
func (c *Client) startWatching(ctx context.Context) {
	c.watchMu.Lock()
	defer c.watchMu.Unlock()
	c.watchT = time.AfterFunc(watchEvery, func() { c.watched(ctx) })
}

func (c *Client) watched(ctx context.Context) {
	select {
	case <-c.done:
		return
	case <-ctx.Done():
		return
	default:
	}
	reg := c.hub.reg
	out := reg.svc.Watched(ctx, c.actor, c.hub.id)
	if err := reg.Deliver(ctx, out); err != nil {
		c.log.Warn("deliver watch points", "stream", c.hub.id, "user", c.actor.User, "err", err)
	}
	c.watchMu.Lock()
	defer c.watchMu.Unlock()
	select {
	case <-c.done:
	default:
		c.watchT.Reset(watchEvery)
	}
}

func (c *Client) stopWatching() {
	c.watchMu.Lock()
	defer c.watchMu.Unlock()
	if c.watchT != nil {
		c.watchT.Stop()
	}
}

// startExpiry arms the timer that closes the socket when its token expires.
func (c *Client) startExpiry() {
	c.authMu.Lock()
	defer c.authMu.Unlock()
	if !c.expires.IsZero() {
		c.expT = time.AfterFunc(time.Until(c.expires), c.expiryDue)
	}
}

// expiryDue closes the socket with 4001 unless a refresh has pushed the expiry back meanwhile.
func (c *Client) expiryDue() {
	c.authMu.Lock()
	if left := time.Until(c.expires); left > 0 {
		c.expT.Reset(left)
		c.authMu.Unlock()
		return
	}
	c.authMu.Unlock()
	c.kick(closeTokenExpired, reasonTokenExpired)
}

// setExpiry makes exp the socket's expiry (a refreshed token's; earlier or later than before).
func (c *Client) setExpiry(exp time.Time) {
	c.authMu.Lock()
	defer c.authMu.Unlock()
	c.expires = exp
	switch {
	case c.expT != nil:
		c.expT.Reset(time.Until(exp))
	case !exp.IsZero():
		c.expT = time.AfterFunc(time.Until(exp), c.expiryDue)
	}
}

func (c *Client) stopExpiry() {
	c.authMu.Lock()
	defer c.authMu.Unlock()
	if c.expT != nil {
		c.expT.Stop()
	}
}

// refreshAuth answers auth.refresh {"token"}: a token verified as the handshake's was, for the same user,
// role and stream scope, whose expiry then replaces the socket's. The socket's actor does not change.
func (c *Client) refreshAuth(env Envelope) {
	var data struct {
		Token string `json:"token"`
	}
	if len(env.Data) > 0 && string(env.Data) != "null" {
		if err := json.Unmarshal(env.Data, &data); err != nil {
			c.reply(encodeError(env.ID, engagement.Invalid("token", "data of auth.refresh must be {\"token\": string}")), string(engagement.CodeInvalid))
			return
		}
	}
	var err error
	switch {
	case data.Token == "":
		err = engagement.Errorf(engagement.CodeUnauthorized, "a token is required")
	case c.refresh == nil:
		err = engagement.Errorf(engagement.CodeUnauthorized, "this connection cannot refresh its token")
	}
	var act engagement.Actor
	var exp time.Time
	if err == nil {
		act, exp, err = c.refresh(data.Token)
	}
	if err == nil && (act.User != c.actor.User || act.Role != c.actor.Role || act.Stream != c.actor.Stream) {
		err = engagement.Errorf(engagement.CodeForbidden, "the token is for another user, role or stream than this connection's")
	}
	if err != nil {
		c.log.Info("token refresh refused", "stream", c.hub.id, "user", c.actor.User, "code", string(engagement.CodeOf(err)))
		c.reply(encodeError(env.ID, err), string(engagement.CodeOf(err)))
		return
	}
	c.setExpiry(exp)
	c.log.Debug("token refreshed", "stream", c.hub.id, "user", c.actor.User, "expires", exp)
	c.reply(encodeAck(env.ID, map[string]any{"expires_at": exp.UTC(), "expires_ms": exp.UnixMilli()}), "")
}

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

// readPump reads client frames until the connection fails or the client is kicked.
func (c *Client) readPump(ctx context.Context) {
	defer close(c.readDone)
	defer c.kick(websocket.CloseNormalClosure, "")
	c.conn.SetReadLimit(maxMessageSize)
	_ = c.conn.SetReadDeadline(time.Now().Add(pongWait))
	c.conn.SetPongHandler(func(string) error { return c.conn.SetReadDeadline(time.Now().Add(pongWait)) })
	for {
		_, msg, err := c.conn.ReadMessage()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				// gorilla has already sent close 1009; counted and logged as a drop, no second close frame.
				c.kick(websocket.CloseAbnormalClosure, reasonTooLarge)
			}
			return
		}
		c.handle(ctx, msg)
		select {
		case <-c.done:
			return
		default:
		}
	}
}

// floodLimit is how many frames in a row a client may send after being told rate_limited before it is closed.
const floodLimit = 20

func (c *Client) handle(ctx context.Context, msg []byte) {
	m := c.hub.reg.metrics
	env, act, err := DecodeClient(msg)
	m.FramesIn.WithLabelValues(metricType(env.Type, act, err)).Inc()
	if !c.limiter.Allow() {
		c.strikes++
		if c.strikes > floodLimit {
			c.kick(websocket.ClosePolicyViolation, reasonFlood)
			return
		}
		c.reply(encodeError(env.ID, engagement.Errorf(engagement.CodeRateLimited, "too many frames; slow down")), "rate_limited")
		return
	}
	c.strikes = 0
	if err != nil {
		c.reply(encodeError(env.ID, err), string(engagement.CodeOf(err)))
		return
	}
	if env.Type == typePing {
		b, _ := EncodeFrame("pong", map[string]string{"id": env.ID})
		c.reply(b, "")
		return
	}
	if env.Type == typeAuthRefresh {
		c.refreshAuth(env)
		return
	}
	out, err := c.hub.reg.svc.Handle(ctx, c.actor, c.hub.id, act)
	if err != nil {
		if engagement.CodeOf(err) == engagement.CodeInternal || engagement.CodeOf(err) == engagement.CodeUnavailable {
			c.log.Error("handle frame", "stream", c.hub.id, "user", c.actor.User, "type", env.Type, "err", err)
		}
		c.reply(encodeError(env.ID, err), string(engagement.CodeOf(err)))
		return
	}
	if _, isLike := act.(*engagement.LikeSend); !isLike {
		c.reply(encodeAck(env.ID, out.Reply), "")
	}
	if err := c.hub.reg.Deliver(ctx, out); err != nil {
		c.log.Error("deliver outcome", "stream", c.hub.id, "user", c.actor.User, "err", err)
	}
}

// metricType bounds the label values of frames_in: known types, or "invalid".
func metricType(typ string, act engagement.Action, err error) string {
	if typ == typePing || typ == typeAuthRefresh {
		return typ
	}
	if act != nil {
		return act.FrameType()
	}
	if err != nil && engagement.CodeOf(err) == engagement.CodeInvalid {
		if _, ok := engagement.NewAction(typ); ok {
			return typ
		}
	}
	return "invalid"
}

// reply queues an answer to this client; errCode, if set, is counted.
func (c *Client) reply(b []byte, errCode string) {
	if errCode != "" {
		c.hub.reg.metrics.Errors.WithLabelValues(errCode).Inc()
	}
	c.enqueue(outbound{payload: b})
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
