// Package stream is the live room as transport: a registry of hubs (one per live stream on this node,
// stopped when the stream ends or empties), WebSocket clients with one reader and one writer goroutine each,
// the frame codec, presence, and the cross-node Fanout (memory, or Redis Pub/Sub).
//
// It decides nothing about what viewers may do: frames are decoded here and handed to engagement, whose
// Outcomes come back here to be delivered.
package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/kudos-live/kudos/engagement"
)

// Config configures a Registry. The zero value works.
type Config struct {
	// Node names this server among the nodes sharing a Fanout and Presence. Default "local".
	Node string
	// SendBuffer bounds each client's queue of outgoing messages. Chat in a full queue is skipped (the oldest
	// first, see chatBacklog); a client whose queue fills with other frames is dropped. Default 128: with the
	// socket's own buffers in front of it that is seconds of frames for a reader that stalls briefly. The
	// queue takes memory only while messages wait in it.
	SendBuffer int
	// IdleTimeout stops a hub this long after its last client left. Default 30 s.
	IdleTimeout time.Duration
	// FrameRate and FrameBurst limit each connection's frames. Default 20/s, burst 40.
	FrameRate  rate.Limit
	FrameBurst int
	// WriteDelay holds each socket's write this long after a message is queued, on streams with at least
	// WriteDelayFrom viewers on this node, so that a big show's messages go out together: a write syscall per
	// socket per batch instead of per message, which doubled fan-out throughput in BENCHMARKS.md for a few
	// tens of milliseconds of latency. Small rooms write at once. Defaults 50 ms from 1,000 viewers; a
	// negative WriteDelay turns it off.
	// Writes are held only while the node is busy: while this process used more than WriteDelayLoad of its
	// cores (GOMAXPROCS, or its cgroup's CPU limit if lower) over the last 200 ms, until it uses less than 0.6
	// of that; an idle node writes at once, whatever the room. Default 0.6; negative: always hold (big streams).
	WriteDelay     time.Duration
	WriteDelayFrom int
	WriteDelayLoad float64
	// MaxConnsPerUser bounds one user's open sockets on this node (tabs, devices). Default 5; -1: no limit.
	MaxConnsPerUser int
	// MaxConnsPerIP bounds the open sockets from one remote address on this node; generous, because shoppers
	// behind one NAT share an address. Default 1000; -1: no limit.
	MaxConnsPerIP int
	// HandshakeRate and HandshakeBurst limit how fast one user (a token's subject) may open sockets on this
	// node: a token bucket holding HandshakeBurst, refilled at HandshakeRate a second. A handshake past it is
	// refused (a *RateLimitedError: HTTP 429) before the stream is read or anything is recorded, so that a
	// connect/disconnect loop cannot flood viewer.joined/viewer.left events. Defaults 1/s and 10; a negative
	// rate (or rate.Inf): no limit.
	HandshakeRate  rate.Limit
	HandshakeBurst int
	// HandshakeIPRate and HandshakeIPBurst are the same per remote address; higher, because many shoppers
	// may share one address. A handshake takes a token from both buckets or from neither. Defaults 20/s and
	// MaxConnsPerIP (1000: everyone an address may have connected can reconnect at once, after a node
	// restart); a negative rate: no limit, which is also the default when MaxConnsPerIP is -1 (every socket
	// comes from a load balancer's address: limit per client address there).
	HandshakeIPRate  rate.Limit
	HandshakeIPBurst int
	// HandshakeKeys caps how many users, and how many addresses, the handshake limiter tracks at once; a
	// bucket is forgotten as soon as it has been idle long enough to be full again, and the least recently
	// used one beyond the cap. Default 65,536 each: about 200 bytes a key, 25 MiB with both full (a bucket
	// lives 10 s after a user's last handshake, 50 s after an address's, at the default rates).
	HandshakeKeys int
	// SampleRate is how many sampled (chat) messages per second each viewer receives at most when a stream
	// floods; the rest are skipped for that viewer (their own and the host's always arrive). Default 20.
	SampleRate int
	// AllowedOrigins lists the Origins (scheme://host[:port]) that may open sockets besides the server's own
	// host; "*" allows any. Default: same host only.
	AllowedOrigins []string
	// Fanout carries messages between nodes. Default: a MemoryFanout (single node).
	Fanout Fanout
	// Presence counts viewers over nodes. Default: a MemoryPresence (single node).
	Presence Presence
	// Metrics are the transport's collectors. Default: unregistered collectors.
	Metrics *Metrics
	// Logger receives structured logs. Default slog.Default().
	Logger *slog.Logger
}

func (c *Config) applyDefaults() {
	if c.Node == "" {
		c.Node = "local"
	}
	if c.SendBuffer <= 0 {
		c.SendBuffer = 128
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 30 * time.Second
	}
	if c.FrameRate <= 0 {
		c.FrameRate = 20
	}
	if c.WriteDelay == 0 {
		c.WriteDelay = 50 * time.Millisecond
	}
	if c.WriteDelayFrom <= 0 {
		c.WriteDelayFrom = 1000
	}
	if c.WriteDelayLoad == 0 {
		c.WriteDelayLoad = busyAbove
	}
	if c.MaxConnsPerUser == 0 {
		c.MaxConnsPerUser = 5
	}
	if c.MaxConnsPerIP == 0 {
		c.MaxConnsPerIP = 1000
	}
	if c.HandshakeRate == 0 {
		c.HandshakeRate = 1
	}
	if c.HandshakeBurst <= 0 {
		c.HandshakeBurst = 10
	}
	if c.HandshakeIPRate == 0 {
		c.HandshakeIPRate = 20
		if c.MaxConnsPerIP < 0 {
			c.HandshakeIPRate = -1
		}
	}
	if c.HandshakeIPBurst <= 0 {
		c.HandshakeIPBurst = 1000
		if c.MaxConnsPerIP > 0 {
			c.HandshakeIPBurst = c.MaxConnsPerIP
		}
	}
	if c.HandshakeKeys <= 0 {
		c.HandshakeKeys = 1 << 16
	}
	if c.SampleRate <= 0 {
		c.SampleRate = 20
	}
	if c.FrameBurst <= 0 {
		c.FrameBurst = 40
	}
	if c.Fanout == nil {
		c.Fanout = NewMemoryFanout()
	}
	if c.Presence == nil {
		c.Presence = NewMemoryPresence()
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics(nil)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Registry holds this node's hubs and serves WebSocket connections.
type Registry struct {
	cfg      Config
	svc      *engagement.Service
	fanout   Fanout
	presence Presence
	metrics  *Metrics
	log      *slog.Logger
	upgrader websocket.Upgrader

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // hubs and client goroutines

	mu      sync.Mutex
	hubs    map[string]*Hub
	closing bool
	perUser map[string]int
	perIP   map[string]int

	handshakes *handshakeLimiter
	load       *loadMeter // whether the node is busy: big streams' writes are held (Config.WriteDelay)

	// kudos_ws_chat_skipped_total by reason, and the chat.skipped frames sent
	skipSampled, skipBacklog, skipStale, markers prometheus.Counter
}

// ErrNotWebSocket is returned by ServeWS for a request that does not ask for a WebSocket upgrade.
var ErrNotWebSocket = errors.New("stream: not a WebSocket upgrade request")

// ErrTooManyConnections is returned by ServeWS when a user or an address has too many sockets open.
var ErrTooManyConnections = errors.New("stream: too many connections")

// ErrShuttingDown is returned by ServeWS once Shutdown has begun.
var ErrShuttingDown = errors.New("stream: registry shutting down")

// ErrHandshakeRateLimited is what a *RateLimitedError is (errors.Is): a user or an address opening sockets
// faster than Config.HandshakeRate or HandshakeIPRate allow.
var ErrHandshakeRateLimited = errors.New("stream: handshakes too fast")

// RateLimitedError is returned by ServeWS for a handshake over the rate limit.
type RateLimitedError struct {
	RetryAfter time.Duration // until the next handshake would be allowed
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("%v: retry after %v", ErrHandshakeRateLimited, e.RetryAfter)
}

// Is makes errors.Is(err, ErrHandshakeRateLimited) hold.
func (e *RateLimitedError) Is(target error) bool { return target == ErrHandshakeRateLimited }

// Session is what a socket is opened with: the actor its token names, when the token expires, and how a
// fresh token sent as auth.refresh is verified.
type Session struct {
	Actor engagement.Actor
	// Expires is when the token expires: the socket is closed then (4001 token_expired) unless the client
	// has sent a fresh token. Zero: never.
	Expires time.Time
	// Refresh verifies a token exactly as the handshake's was, returning the actor it names and its expiry;
	// nil refuses auth.refresh.
	Refresh func(token string) (engagement.Actor, time.Time, error)
}

// NewRegistry returns a Registry that runs interactions through svc.
func NewRegistry(cfg Config, svc *engagement.Service) *Registry {
	cfg.applyDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	r := &Registry{
		cfg:      cfg,
		svc:      svc,
		fanout:   cfg.Fanout,
		presence: cfg.Presence,
		metrics:  cfg.Metrics,
		log:      cfg.Logger,
		ctx:      ctx,
		cancel:   cancel,
		hubs:     map[string]*Hub{},
		perUser:  map[string]int{},
		perIP:    map[string]int{},
		handshakes: newHandshakeLimiter(float64(cfg.HandshakeRate), cfg.HandshakeBurst,
			float64(cfg.HandshakeIPRate), cfg.HandshakeIPBurst, cfg.HandshakeKeys),
		skipSampled: cfg.Metrics.ChatSkipped.WithLabelValues(skipSampled),
		skipBacklog: cfg.Metrics.ChatSkipped.WithLabelValues(skipBacklog),
		skipStale:   cfg.Metrics.ChatSkipped.WithLabelValues(skipStale),
		markers:     cfg.Metrics.FramesOut.WithLabelValues("chat.skipped"),
	}
	r.load = newLoadMeter(cfg.WriteDelayLoad, func(busy bool) {
		if busy {
			cfg.Metrics.WriteBatching.Set(1)
		} else {
			cfg.Metrics.WriteBatching.Set(0)
		}
	})
	r.upgrader = websocket.Upgrader{
		ReadBufferSize:  1024,
		WriteBufferSize: 4096,
		// Write buffers are taken from a pool only while a message is being written, so an idle viewer
		// holds none (gorilla keeps one per connection otherwise).
		WriteBufferPool: &sync.Pool{},
		// Origins are checked by OriginAllowed before the upgrade, so that a refusal is a problem body.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	return r
}

// OriginAllowed reports whether a browser at req's Origin may open a socket: no Origin (not a browser),
// the server's own host, or one of Config.AllowedOrigins.
func (r *Registry) OriginAllowed(req *http.Request) bool {
	origin := req.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, req.Host) {
		return true
	}
	return slices.Contains(r.cfg.AllowedOrigins, "*") || slices.ContainsFunc(r.cfg.AllowedOrigins, func(o string) bool {
		return strings.EqualFold(strings.TrimRight(o, "/"), origin)
	})
}

// acquire returns the stream's hub, starting it if needed, and counts a join on its way in.
func (r *Registry) acquire(id string) (*Hub, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closing {
		return nil, ErrShuttingDown
	}
	h, ok := r.hubs[id]
	if !ok {
		h = newHub(id, r)
		r.hubs[id] = h
		r.metrics.Hubs.Inc()
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			h.run(r.ctx)
		}()
	}
	h.pending++
	r.wg.Add(2) // the new connection's pumps, reserved while Shutdown cannot be waiting yet
	return h, nil
}

// hasHub reports whether a hub serves stream id on this node.
func (r *Registry) hasHub(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.hubs[id]
	return ok
}

// removeHub unregisters h if it may stop: always when force, else only with no clients and no joins pending.
func (r *Registry) removeHub(h *Hub, force bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !force && (h.pending > 0 || len(h.clients) > 0) {
		return false
	}
	if r.hubs[h.id] == h {
		delete(r.hubs, h.id)
		r.metrics.Hubs.Dec()
	}
	return true
}

// ServeWS upgrades the request to a WebSocket for the session's actor on stream and runs the connection
// until it ends, or the session's token expires without a fresh one. The caller has authenticated the actor
// and checked the Origin; ServeWS limits the handshake rate, checks the stream exists and builds the welcome
// before upgrading, so that an error can still be an HTTP answer (it is returned, nothing is written).
func (r *Registry) ServeWS(w http.ResponseWriter, req *http.Request, sess Session, streamID string) error {
	if r.ctx.Err() != nil {
		return ErrShuttingDown
	}
	actor := sess.Actor
	// Refuse plain GETs before anything is recorded: a join (and its event) is for sockets only.
	if !websocket.IsWebSocketUpgrade(req) {
		return ErrNotWebSocket
	}
	ip := remoteIP(req)
	if !r.admit(actor.User, ip) {
		r.metrics.Drops.WithLabelValues("connection limit").Inc()
		return ErrTooManyConnections
	}
	admitted := true
	defer func() {
		if admitted {
			r.release(actor.User, ip)
		}
	}()
	// The handshake rate, before any engagement work: a refused handshake reads nothing and records nothing.
	if ok, wait := r.handshakes.allow(actor.User, ip, time.Now()); !ok {
		r.metrics.Drops.WithLabelValues("handshake rate").Inc()
		r.log.Debug("handshake refused", "stream", streamID, "user", actor.User, "reason", "handshake rate")
		return &RateLimitedError{RetryAfter: wait}
	}
	welcome, err := r.svc.Join(req.Context(), actor, streamID)
	if err != nil {
		return err
	}
	h, err := r.acquire(streamID)
	if err != nil {
		return err
	}
	release := func() { // the join did not happen: give back the pending count and the pumps' slots
		r.mu.Lock()
		h.pending--
		r.mu.Unlock()
		r.wg.Add(-2)
	}
	// The upgrader writes its own response: carry over the request id the HTTP layer set for the access log.
	var header http.Header
	if id := w.Header().Get("X-Request-ID"); id != "" {
		header = http.Header{"X-Request-ID": {id}}
	}
	conn, err := r.upgrader.Upgrade(w, req, header)
	if err != nil {
		release()
		return nil // the upgrader has answered the client
	}
	st := welcome.Stream
	c := newClient(h, conn, actor, r.cfg.SendBuffer)
	c.staff = actor.CanHost(st)
	c.joined = time.Now()
	c.limiter = rate.NewLimiter(r.cfg.FrameRate, r.cfg.FrameBurst)
	c.expires, c.refresh = sess.Expires, sess.Refresh
	// Count this viewer in before reading the stream-wide count, so the welcome already includes them.
	h.joining.Add(1) // until the hub takes it in (or refuses it below)
	if err := r.presence.Set(req.Context(), streamID, r.cfg.Node, h.present()); err == nil {
		if n, err := r.presence.Count(req.Context(), streamID); err == nil {
			welcome.Viewers = n
		}
	}
	b, err := EncodeFrame("welcome", welcome)
	if err != nil {
		h.joining.Add(-1)
		release()
		_ = conn.Close()
		return fmt.Errorf("encode welcome: %w", err)
	}
	c.enqueue(outbound{payload: b})
	select {
	case h.join <- c:
	case <-h.done:
		h.joining.Add(-1)
		release()
		_ = conn.SetWriteDeadline(time.Now().Add(writeWait))
		_ = conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseTryAgainLater, "stream unavailable, try again"))
		_ = conn.Close()
		return nil
	}
	r.metrics.Connections.Inc()
	admitted = false // the connection's reader releases the slot when it ends
	writerDone := make(chan struct{})
	c.start(func() {
		close(writerDone)
		r.wg.Done()
	})
	if !c.staff {
		c.startWatching(r.ctx)
	}
	c.startExpiry()
	go func() {
		defer r.wg.Done()
		c.readPump(r.ctx)
		c.stopWatching()
		c.stopExpiry()
		<-writerDone
		r.release(actor.User, ip)
		r.metrics.Connections.Dec()
		select {
		case h.leave <- c:
		case <-h.done:
		}
		r.svc.Leave(context.WithoutCancel(r.ctx), actor, streamID, int64(time.Since(c.joined).Seconds()))
	}()
	return nil
}

// Deliver sends an outcome's frames to the stream's sockets on every node.
func (r *Registry) Deliver(ctx context.Context, out engagement.Outcome) error {
	if out.Empty() {
		return nil
	}
	var errs []error
	publish := func(m Message, frames []engagement.Frame) {
		payload, err := EncodeFrames(frames)
		if err != nil {
			errs = append(errs, err)
			return
		}
		m.Stream, m.Payload = out.Stream, payload
		for _, f := range frames {
			m.Types = append(m.Types, f.Type)
		}
		if err := r.fanout.Publish(ctx, m); err != nil {
			errs = append(errs, err)
		}
	}
	broadcast := func(frames []engagement.Frame, sampled bool) {
		m := Message{Sampled: sampled, From: out.From}
		if out.Delay > 0 {
			m.NotBeforeMS = time.Now().Add(out.Delay).UnixMilli()
		}
		for _, f := range frames {
			switch f.Type {
			case "stream.ended":
				m.End = true
			case "comment":
				m.Accepted = time.Now().Add(out.Delay).UnixNano()
			}
		}
		publish(m, frames)
	}
	chat, rest := splitChat(out)
	if len(chat) > 0 {
		broadcast(chat, true)
	}
	if len(rest) > 0 {
		broadcast(rest, false)
	}
	if len(out.Hosts) > 0 {
		publish(Message{HostsOnly: true}, out.Hosts)
	}
	for _, d := range out.Direct {
		publish(Message{User: d.User}, []engagement.Frame{d.Frame})
	}
	return errors.Join(errs...)
}

// splitChat separates a sampled outcome's comments (chat, which a viewer may be spared) from whatever else it
// broadcasts, which every viewer receives: only chat is ever skipped.
func splitChat(out engagement.Outcome) (chat, rest []engagement.Frame) {
	if !out.Sampled {
		return nil, out.Broadcast
	}
	for _, f := range out.Broadcast {
		if f.Type == "comment" {
			chat = append(chat, f)
		} else {
			rest = append(rest, f)
		}
	}
	return chat, rest
}

// Viewers returns this node's connections to stream.
func (r *Registry) Viewers(stream string) int {
	r.mu.Lock()
	h := r.hubs[stream]
	r.mu.Unlock()
	if h == nil {
		return 0
	}
	return h.Viewers()
}

// StreamViewers returns the stream-wide viewer count (all nodes).
func (r *Registry) StreamViewers(ctx context.Context, stream string) (int, error) {
	return r.presence.Count(ctx, stream)
}

// Shutdown closes every socket with 1001 (going away), after flushing what was queued to it, and waits for
// the hubs and connections to finish or ctx to end.
func (r *Registry) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	r.closing = true
	r.mu.Unlock()
	r.cancel()
	done := make(chan struct{})
	go func() {
		r.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stream shutdown: %w", ctx.Err())
	}
}

// admit counts a new socket for user and ip unless either is at its limit.
func (r *Registry) admit(user, ip string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if (r.cfg.MaxConnsPerUser > 0 && r.perUser[user] >= r.cfg.MaxConnsPerUser) ||
		(r.cfg.MaxConnsPerIP > 0 && r.perIP[ip] >= r.cfg.MaxConnsPerIP) {
		return false
	}
	r.perUser[user]++
	r.perIP[ip]++
	return true
}

func (r *Registry) release(user, ip string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.perUser[user]--; r.perUser[user] <= 0 {
		delete(r.perUser, user)
	}
	if r.perIP[ip]--; r.perIP[ip] <= 0 {
		delete(r.perIP, ip)
	}
}

// remoteIP is the peer address without its port. Proxies are not trusted: behind a load balancer, limit per
// IP there.
func remoteIP(req *http.Request) string {
	host, _, err := net.SplitHostPort(req.RemoteAddr)
	if err != nil {
		return req.RemoteAddr
	}
	return host
}
