package stream

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
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
